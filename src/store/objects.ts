/**
 * Objects: every body is sealed under a fresh data key wrapped by the
 * bucket's tenant key, written as ciphertext to the BlobStore, and only then
 * recorded in metadata (with its wrapped data key). The ETag is the MD5 of
 * the plaintext, as S3 computes it for single-part uploads, since rclone, DVC
 * and s3fs compare it with their local files. A body is checked against what
 * its request declared (length, digests: `expect`) as it streams in; a
 * mismatch throws before anything commits. Multipart objects keep their parts
 * as they were sealed (src/store/multipart.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock.ts'
import type { Header } from '../crypto/header.ts'
import { openObject } from '../crypto/range.ts'
import { encrypt, type ByteSource as CryptoSource, type ExpectedHeader } from '../crypto/stream.ts'
import { isStrongroomError, StrongroomError } from '../errors.ts'
import { newDataKey, storedDataKey } from '../kms/envelope.ts'
import type { KeyCatalog } from '../kms/catalog.ts'
import type { KeyProvider } from '../kms/provider.ts'
import {
  multipartUploadId,
  type BucketRecord,
  type ObjectRecord,
  type ObjectStore,
  type PartRecord,
  type ScanRecord,
  type Tags,
  type UploadRecord,
  type WrappedDataKey,
  type WriteCondition,
  type SystemMetadata,
  lockedAt,
  type ObjectLock,
} from '../meta/objects.ts'
import type { BucketStore } from '../meta/buckets.ts'
import type { IdentityStore } from '../meta/identity.ts'
import type { KeyStore } from '../meta/keys.ts'
import type { MultipartStore } from '../meta/multipart.ts'
import type { TenantRecord } from '../meta/store.ts'
import type { VerdictStore } from '../meta/verdicts.ts'
import { newBlobId, type BlobStore, type OpenBlob } from './blobs.ts'
import { checked, type BodyDigests, type BodyExpectation } from './expect.ts'
import { completeUpload, openMultipart, putPart, type UploadedPart } from './multipart.ts'
import { ScanPool, type ScanOutcome, type StreamingScan } from './scan-pool.ts'
import {
  SCAN_IN_MEMORY,
  ScanRejected,
  scanSealed,
  type OpenedStoredObject,
  type PlainBody,
} from './scanning.ts'

export { ScanRejected, type OpenedStoredObject, type PlainBody }
export type { BodyExpectation, UploadedPart }

/**
 * Bodies up to this size are kept inline: their ciphertext is written in the
 * same SQLite transaction as their metadata row, so a small write costs one
 * (group-committed) fsync instead of a file's data, rename and directory
 * fsyncs. Larger bodies are files in the BlobStore.
 */
export const INLINE_MAX = 128 * 1024
const INLINE = 'inline-'
const isInline = (blob: string) => blob.startsWith(INLINE)

/** Random access over an inline body held in memory. */
function memorySource(data: Uint8Array): OpenBlob {
  const read = (position: number, length: number) =>
    data.subarray(position, Math.min(data.length, position + length))
  return {
    size: data.length,
    read: (p, n) => Promise.resolve(read(p, n)),
    close: () => Promise.resolve(),
  }
}

export interface PutInput {
  readonly bucket: BucketRecord
  readonly tenant: TenantRecord
  readonly key: string
  /** The plaintext body; it must be what `expect` says. */
  readonly body: CryptoSource
  /** What the request declared about the body: checked before the object becomes visible. */
  readonly expect: BodyExpectation
  readonly contentType: string | null
  readonly metadata: Readonly<Record<string, string>>
  /** System-defined metadata (Cache-Control, …, the SSE label); absent: none. */
  readonly system?: SystemMetadata
  /** Object Lock retention and legal hold for the new version; absent: none. */
  readonly lock?: ObjectLock
  readonly tags: Tags
  /** The tenant key to seal under; the bucket's default key when absent. */
  readonly keyId?: string
  /** If-None-Match / If-Match: checked when the row commits, against the version it replaces. */
  readonly condition?: WriteCondition
}

/** What to seal: a body, under which key, bound to which context. */
export interface SealRequest {
  readonly keyId: string
  readonly tenant: TenantRecord
  readonly context: Record<string, string>
  readonly body: CryptoSource
  readonly expect: BodyExpectation
  /** Scan the body under this path: kept in memory when small, else streamed to a scan worker. */
  readonly scanPath?: string
  /** Keep a small body's ciphertext for the metadata row instead of writing a blob. */
  readonly inlineAllowed?: boolean
}

/** A sealed body that no row names yet. */
export interface Sealed {
  /** The blob id; it starts with `inline-` when the ciphertext is in `inline`. */
  readonly blob: string
  readonly inline: Buffer | undefined
  /** What was computed over the plaintext (its MD5, the verified checksums). */
  readonly digests: BodyDigests
  readonly dataKeyId: string
  /** Hex SHA-256 of the sealed header: kept in the row, compared on every read. */
  readonly headerDigest: string
  readonly wrapped: WrappedDataKey
  /** For the scan: the plaintext (small bodies), a copy of the data key (large ones: the caller zeroes it), a worker's outcome. */
  readonly scan: {
    readonly plain: Buffer[] | undefined
    readonly dataKey: Buffer | undefined
    readonly streamed: Promise<ScanOutcome> | undefined
  }
}

/** The metadata ports the object service uses. */
export type ObjectServiceMeta = ObjectStore &
  MultipartStore &
  Pick<VerdictStore, 'setObjectScan'> &
  Pick<BucketStore, 'getBucket'> &
  Pick<IdentityStore, 'getTenantById'> &
  Pick<KeyStore, 'getObjectKey'>

/** What an ObjectService is composed of (app.ts builds it once). */
export interface ObjectServiceParts {
  readonly meta: ObjectServiceMeta
  readonly blobs: BlobStore
  /** Wraps and unwraps data keys. */
  readonly provider: KeyProvider
  /** Where a tenant key is looked up before a body is sealed under it. */
  readonly keys: Pick<KeyCatalog, 'describe'>
  /** Object and part creation times, scan times. */
  readonly clock: Clock
  readonly segmentSize: number
  /** The scan workers every scan runs in (one worker with the default memory budget when absent). */
  readonly pool?: ScanPool | undefined
}

export class ObjectService {
  readonly meta: ObjectServiceMeta
  readonly blobs: BlobStore
  readonly provider: KeyProvider
  readonly keys: Pick<KeyCatalog, 'describe'>
  readonly clock: Clock
  readonly pool: ScanPool
  private readonly segmentSize: number

  constructor(parts: ObjectServiceParts) {
    this.meta = parts.meta
    this.blobs = parts.blobs
    this.provider = parts.provider
    this.keys = parts.keys
    this.clock = parts.clock
    this.segmentSize = parts.segmentSize
    this.pool = parts.pool ?? new ScanPool(1)
  }

  /** Seals a body into a new blob under a tenant key, bound to its context. Nothing refers to the blob yet. */
  async seal(request: SealRequest): Promise<Sealed> {
    const { keyId, tenant, expect } = request
    const key = await this.keys.describe(keyId)
    if (key?.tenantId !== tenant.id)
      throw new StrongroomError('KEY_NOT_FOUND', `the key \`${keyId}\` no longer exists`)
    const dk = await newDataKey(
      this.provider,
      { tenant, keyId: key.id, keyVersion: key.currentVersion },
      request.context,
    )
    const length = expect.length
    const keep = request.scanPath !== undefined
    const plain = keep && length <= SCAN_IN_MEMORY ? ([] as Buffer[]) : undefined
    const stream: StreamingScan | undefined =
      keep && plain === undefined ? this.pool.start(length, request.scanPath ?? '') : undefined
    let digests: BodyDigests | undefined
    async function* tap(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const c of src) {
        plain?.push(Buffer.from(c))
        if (stream !== undefined && !stream.writer.readerDone) await stream.writer.write(c)
        yield c
      }
    }
    const inline = request.inlineAllowed === true && length <= INLINE_MAX
    const blob = inline ? `${INLINE}${newBlobId()}` : newBlobId()
    const keptKey = keep && plain === undefined ? Buffer.from(dk.dataKey) : undefined
    let inlineData: Buffer | undefined
    let headerDigest = ''
    try {
      // The checks run as the last byte goes in: a mismatch throws before the blob is committed.
      const sealed = encrypt(tap(checked(request.body, expect, (d) => (digests = d))), {
        dataKey: dk.dataKey,
        dataKeyId: dk.dataKeyId,
        context: dk.context,
        plaintextLength: length,
        segmentSize: this.segmentSize,
        onHeader: (h) => (headerDigest = h.aad.toString('hex')),
      })
      if (inline) {
        const chunks: Uint8Array[] = []
        for await (const c of sealed) chunks.push(c)
        inlineData = Buffer.concat(chunks)
      } else await this.blobs.put(blob, sealed)
      if (digests === undefined)
        throw new StrongroomError('INTERNAL', 'the body was sealed without being checked')
      stream?.writer.end(true)
    } catch (e) {
      stream?.writer.end(false)
      keptKey?.fill(0)
      throw e
    } finally {
      dk.dataKey.fill(0)
    }
    return {
      blob,
      inline: inlineData,
      digests,
      dataKeyId: dk.dataKeyId,
      headerDigest,
      wrapped: {
        keyId: key.id,
        keyVersion: dk.wrapped.keyVersion,
        wrapped: dk.wrappedBytes,
        tenantId: tenant.id,
      },
      scan: { plain, dataKey: keptKey, streamed: stream?.outcome },
    }
  }

  /** Removes a body that no committed row names. Inline bodies never reached the disk. */
  async discard(blob: string): Promise<void> {
    if (!isInline(blob)) await this.blobs.delete(blob)
  }

  /** Scans a stored version again (new rules) and records the verdict. */
  async rescan(object: ObjectRecord): Promise<ScanRecord> {
    const record = await scanSealed(
      this.pool,
      undefined,
      object.key,
      () => this.open(object),
      this.clock,
    )
    await this.meta.setObjectScan(object.bucket, object.key, object.versionId, record)
    return record
  }

  async put(input: PutInput): Promise<ObjectRecord> {
    const keyId = input.keyId ?? input.bucket.keyId
    // The version id is chosen before sealing so that the body is bound to it: a blob copied
    // over another version of the same key does not open as that version.
    const versionId = input.bucket.versioning === 'Enabled' ? newVersionId() : 'null'
    const context = { bucket: input.bucket.name, key: input.key, versionId }
    const policy = input.bucket.scanPolicy
    const length = input.expect.length
    const sealed = await this.seal({
      keyId,
      tenant: input.tenant,
      context,
      body: input.body,
      expect: input.expect,
      ...(policy !== 'off' ? { scanPath: input.key } : {}),
      inlineAllowed: true,
    })
    let scanned: ScanRecord | null = null
    if (policy !== 'off') {
      const kept = sealed.scan.dataKey
      try {
        scanned = await scanSealed(
          this.pool,
          sealed.scan.plain,
          input.key,
          // A new body's data key is not stored yet (its row commits after the scan): use the one kept.
          () =>
            this.openSealed(
              sealed.blob,
              context,
              {
                dataKeyId: sealed.dataKeyId,
                plaintextLength: length,
                sha256: Buffer.from(sealed.headerDigest, 'hex'),
                what: input.key,
              },
              kept === undefined
                ? storedDataKey(this.provider, this.meta, sealed.dataKeyId)
                : () => Buffer.from(kept),
            ),
          this.clock,
          sealed.scan.streamed,
        )
      } catch (e) {
        await this.discard(sealed.blob)
        throw e
      } finally {
        kept?.fill(0)
      }
      if (policy === 'reject' && scanned.verdict !== 'clean') {
        await this.discard(sealed.blob)
        throw new ScanRejected(scanned, input.key)
      }
    }
    const record: ObjectRecord = {
      bucket: input.bucket.name,
      key: input.key,
      versionId,
      deleteMarker: false,
      size: length,
      etag: `"${sealed.digests.md5.toString('hex')}"`,
      contentType: input.contentType,
      metadata: input.metadata,
      ...(input.system === undefined || Object.keys(input.system).length === 0
        ? {}
        : { system: input.system }),
      ...(input.lock === undefined ? {} : { lock: input.lock }),
      tags: input.tags,
      checksums: sealed.digests.checksums,
      blob: sealed.blob,
      dataKeyId: sealed.dataKeyId,
      headerDigest: sealed.headerDigest,
      keyId,
      createdAt: this.clock.now(),
      scan: scanned,
    }
    let replaced: ObjectRecord[]
    try {
      replaced = await this.meta.putObject(
        record,
        sealed.wrapped,
        input.bucket.versioning,
        sealed.inline,
        input.condition,
      )
    } catch (e) {
      await this.discard(sealed.blob)
      throw e
    }
    await this.removeBlobs(replaced)
    return record
  }

  /** Removes the blobs of versions no row names any more (a multipart one's parts), a few at a time. */
  async removeBlobs(records: readonly ObjectRecord[]): Promise<void> {
    const ids: string[] = []
    for (const r of records) {
      // Inline bodies went with their rows, in the same transaction; so did a multipart body's part rows.
      if (r.parts !== undefined) ids.push(...r.parts.map((p) => p.blob))
      else if (r.blob !== '' && !isInline(r.blob) && multipartUploadId(r.blob) === undefined)
        ids.push(r.blob)
    }
    await this.deleteBlobs(ids)
  }

  /** Deletes blobs no row names, eight at a time (a large multipart object has thousands of parts). */
  async deleteBlobs(ids: readonly string[]): Promise<void> {
    let next = 0
    const worker = async () => {
      for (let i = next++; i < ids.length; i = next++) await this.blobs.delete(ids[i] ?? '')
    }
    await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker))
  }

  // ---- multipart (src/store/multipart.ts)

  /** UploadPart: the part is sealed on its own, bound to (upload id, part number). */
  putPart(
    upload: UploadRecord,
    tenant: TenantRecord,
    number: number,
    body: CryptoSource,
    expect: BodyExpectation,
  ): Promise<UploadedPart> {
    return putPart(this, { upload, tenant, number, body, expect })
  }

  /** CompleteMultipartUpload: the parts become the object's body as they are, in one metadata transaction. */
  complete(
    upload: UploadRecord,
    bucket: BucketRecord,
    tenant: TenantRecord,
    parts: readonly PartRecord[],
    condition?: WriteCondition,
  ): Promise<ObjectRecord> {
    return completeUpload(this, { upload, bucket, tenant, parts, condition })
  }

  /** Removes an upload, its parts' rows, data keys and blobs. */
  async abort(upload: UploadRecord): Promise<void> {
    await this.deleteBlobs((await this.meta.deleteUpload(upload.id)).map((p) => p.blob))
  }

  /**
   * Opens a stored object version for reading; the caller closes it. The blob
   * is untrusted: its header must hash to the digest in the row (rows from
   * before the digest was kept: name the row's data key and plaintext length),
   * be bound to the bucket's tenant, the bucket, the key and (since the
   * digest) the version id, and unwrap with the data key the row names.
   * Anything else is refused before a byte of plaintext is released. A
   * multipart object checks each part so (src/store/multipart.ts).
   */
  async open(object: ObjectRecord): Promise<OpenedStoredObject> {
    const bucket = await this.meta.getBucket(object.bucket)
    const owner = bucket === undefined ? undefined : await this.meta.getTenantById(bucket.tenantId)
    if (bucket === undefined || owner === undefined)
      throw new StrongroomError('INTERNAL', `the bucket of \`${object.bucket}\` is gone`)
    const uploadId = multipartUploadId(object.blob)
    if (uploadId !== undefined) return openMultipart(this, { object, uploadId, owner, bucket })
    const what = `${object.bucket}/${object.key} version ${object.versionId}`
    return this.openSealed(
      object.blob,
      {
        tenant: owner.name,
        bucket: object.bucket,
        key: object.key,
        // Bodies sealed before the digest was kept were not bound to their version id.
        ...(object.headerDigest === undefined ? {} : { versionId: object.versionId }),
      },
      expectedOf(object, what),
      storedDataKey(this.provider, this.meta, object.dataKeyId, bucket.tenantId),
    )
  }

  /** Opens one sealed body, checked against what its row says and the context it must be bound to. */
  async openSealed(
    id: string,
    context: Record<string, string>,
    expected: ExpectedHeader & { readonly what: string },
    dataKey: (header: Header) => Uint8Array | Promise<Uint8Array>,
  ): Promise<OpenedStoredObject> {
    const what = expected.what
    let blob: OpenBlob
    try {
      if (isInline(id)) {
        const data = await this.meta.getInlineBody(id)
        if (data === undefined) throw new Error('no inline body')
        blob = memorySource(data)
      } else blob = await this.blobs.open(id)
    } catch (e) {
      // A blob store that cannot be reached is not a missing body: the request may be retried.
      if (isStrongroomError(e, 'SERVICE_UNAVAILABLE')) throw e
      throw new StrongroomError(
        'INTERNAL',
        `the body of \`${what}\` is missing from the blob store`,
        { cause: e },
      )
    }
    try {
      const opened = await openObject(blob, {
        expectedHeader: expected,
        expectedContext: context,
        dataKey,
      })
      return {
        object: opened,
        async close() {
          opened.close()
          await blob.close()
        },
      }
    } catch (e) {
      await blob.close()
      throw e
    }
  }

  /**
   * DeleteObject as S3 does it: with a version id, that version is removed
   * for good (its data key shredded); without one, an unversioned bucket
   * removes the object and a versioned one puts a delete marker on top.
   * Returns the version removed or the marker added (undefined when nothing
   * was there to remove).
   */
  async delete(
    bucket: BucketRecord,
    key: string,
    versionId?: string,
    options: {
      readonly bypassGovernance?: boolean
      /** Removes the version only if it is still this one (the lifecycle sweeper's listing). */
      readonly onlyIf?: (o: ObjectRecord) => boolean
    } = {},
  ): Promise<ObjectRecord | undefined> {
    if (versionId !== undefined || bucket.versioning === 'Unversioned') {
      // Object Lock is checked in the transaction that removes the version: a retention
      // extended or a hold placed meanwhile still keeps it. No caller can skip this.
      const now = this.clock.now()
      const removed = await this.meta.deleteObject(bucket.name, key, versionId, (o) => {
        if (options.onlyIf !== undefined && !options.onlyIf(o))
          throw new StrongroomError(
            'PRECONDITION_FAILED',
            'the version changed since it was listed',
          )
        const why = lockedAt(o.lock, now, options.bypassGovernance === true)
        if (why !== undefined)
          throw new StrongroomError(
            'ACCESS_DENIED',
            `Access Denied: the object version is protected by Object Lock: ${why}`,
          )
      })
      if (removed !== undefined) await this.removeBlobs([removed])
      return removed
    }
    const marker: ObjectRecord = {
      bucket: bucket.name,
      key,
      versionId: bucket.versioning === 'Enabled' ? newVersionId() : 'null',
      deleteMarker: true,
      size: 0,
      etag: '',
      contentType: null,
      metadata: {},
      tags: [],
      checksums: {},
      blob: '',
      dataKeyId: '',
      keyId: '',
      createdAt: this.clock.now(),
      scan: null,
    }
    await this.removeBlobs(await this.meta.putObject(marker, undefined, bucket.versioning))
    return marker
  }

  /**
   * Removes blobs that no metadata row names (left by a crash between blob and row). With
   * several gateways, another one's put is a blob without its row until the put commits: only
   * blobs older than `graceMs` go, and the rows are read after the blobs are listed.
   */
  async removeOrphans(graceMs = 0): Promise<number> {
    const listed = await this.blobs.list()
    const known = await this.meta.blobIds()
    const before = Date.now() - graceMs
    let n = 0
    for (const { id, modified } of listed) {
      if (!known.has(id) && (graceMs === 0 || modified < before)) {
        await this.blobs.delete(id)
        n++
      }
    }
    return n
  }
}

/**
 * An opaque version id: 32 URL-safe characters, never starting with `-`, which command lines
 * (the aws CLI's `--version-id -5S…`) would read as an option.
 */
export function newVersionId(): string {
  for (;;) {
    const id = randomBytes(24).toString('base64url')
    if (id[0] !== '-') return id
  }
}

/** Whether a client's version id can name a version: one of ours, or `null` (unversioned). */
export function isVersionId(id: string): boolean {
  return id === 'null' || /^[\w-]{32}$/.test(id)
}

/** What a trusted row says about its sealed body. */
export function expectedOf(
  row: { dataKeyId: string; size: number; headerDigest?: string },
  what: string,
): ExpectedHeader & { readonly what: string } {
  return {
    dataKeyId: row.dataKeyId,
    plaintextLength: row.size,
    ...(row.headerDigest === undefined ? {} : { sha256: Buffer.from(row.headerDigest, 'hex') }),
    what,
  }
}
