/**
 * Objects: every body is sealed under a fresh data key wrapped by the
 * bucket's tenant key, written as ciphertext to the BlobStore, and only then
 * recorded in metadata (with its wrapped data key). The ETag is the MD5 of
 * the plaintext, as S3 computes it for single-part uploads, since rclone, DVC
 * and s3fs compare it with their local files.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Stores } from '../app.ts'
import type { Header } from '../crypto/header.ts'
import { openObject, type OpenedObject } from '../crypto/range.ts'
import { encrypt, type ByteSource as CryptoSource, type ExpectedHeader } from '../crypto/stream.ts'
import { StrongroomError } from '../errors.ts'
import { newDataKey, storedDataKey } from '../kms/envelope.ts'
import type { LocalKms } from '../kms/local.ts'
import type {
  BucketRecord,
  ObjectRecord,
  PartRecord,
  ScanRecord,
  Tags,
  UploadRecord,
  WrappedDataKey,
} from '../meta/objects.ts'
import type { TenantRecord } from '../meta/store.ts'
import { newBlobId, type BlobStore, type OpenBlob } from './blobs.ts'
import { ScanPool, type ScanOutcome, type StreamingScan } from './scan-pool.ts'
import { scanSealed } from './scanning.ts'

/** Bodies up to this size are scanned from the plaintext kept while sealing; larger ones are read back. */
const SCAN_IN_MEMORY = 1024 * 1024

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

/** An upload the bucket's `reject` scan policy refused; nothing of it was kept. */
export class ScanRejected extends StrongroomError {
  readonly scan: ScanRecord
  constructor(record: ScanRecord, key: string) {
    const first = record.findings[0]
    super(
      'SCAN_REJECTED',
      `the bucket's scan policy rejects ${record.verdict} uploads: ${key} ${first === undefined ? '' : `(${first.rule} at ${first.path} @${first.offset}: ${first.reason})`}`.trim(),
    )
    this.scan = record
  }
}

export interface PutInput {
  readonly bucket: BucketRecord
  readonly tenant: TenantRecord
  readonly key: string
  /** The plaintext body, exactly `length` bytes. */
  readonly body: CryptoSource
  readonly length: number
  readonly contentType: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly tags: Tags
  /** Checksums of the body by header name, complete once `verify` has run. */
  readonly checksums?: ReadonlyMap<string, string>
  /** The tenant key to seal under; the bucket's default key when absent. */
  readonly keyId?: string
  /** Last word before the object becomes visible: throw to refuse (a checksum that does not match). */
  readonly verify?: (md5: Buffer) => void
  /** The ETag to record instead of the MD5 of the body (multipart objects). */
  readonly etag?: string
}

export interface OpenedStoredObject {
  readonly object: OpenedObject
  close(): Promise<void>
}

export class ObjectService {
  private readonly meta: Stores
  private readonly blobs: BlobStore
  private readonly kms: LocalKms
  private readonly segmentSize: number
  private readonly pool: ScanPool

  /** `pool`: the scan workers every scan runs in (one worker with the default memory budget when absent). */
  constructor(meta: Stores, blobs: BlobStore, kms: LocalKms, segmentSize: number, pool?: ScanPool) {
    this.meta = meta
    this.blobs = blobs
    this.kms = kms
    this.segmentSize = segmentSize
    this.pool = pool ?? new ScanPool(1)
  }

  /** Seals `body` into a new blob under the bucket key, bound to `context`. Nothing refers to the blob yet. */
  private async seal(
    keyId: string,
    tenant: TenantRecord,
    context: Record<string, string>,
    body: CryptoSource,
    length: number,
    verify: ((md5: Buffer) => void) | undefined,
    /** Scan the body under this path: kept in memory when small, else streamed to a scan worker. */
    scanPath?: string,
    inlineAllowed = false,
  ): Promise<{
    /** The streaming scan's outcome, when a worker took it. */
    streamed: Promise<ScanOutcome> | undefined
    blob: string
    /** The ciphertext of a body small enough to keep inline; the blob id then starts with `inline-`. */
    inline: Buffer | undefined
    md5: Buffer
    dataKeyId: string
    /** Hex SHA-256 of the sealed header: kept in the row, compared on every read. */
    headerDigest: string
    wrapped: WrappedDataKey
    /** The plaintext, when asked to keep it and it is small. */
    plain: Buffer[] | undefined
    /** A copy of the data key, when asked to keep it and the body is too large to keep: the caller zeroes it. */
    dataKey: Buffer | undefined
  }> {
    const key = await this.meta.getKey(keyId)
    if (key?.tenantId !== tenant.id)
      throw new StrongroomError('KEY_NOT_FOUND', `the key \`${keyId}\` no longer exists`)
    const dk = await newDataKey(
      this.kms,
      { tenant, keyId: key.id, keyVersion: key.currentVersion },
      context,
    )
    const md5 = createHash('md5')
    const keep = scanPath !== undefined
    const plain = keep && length <= SCAN_IN_MEMORY ? ([] as Buffer[]) : undefined
    const stream: StreamingScan | undefined =
      keep && plain === undefined ? this.pool.start(length, scanPath) : undefined
    async function* tap(src: CryptoSource): AsyncGenerator<Uint8Array> {
      for await (const c of src) {
        md5.update(c)
        plain?.push(Buffer.from(c))
        if (stream !== undefined && !stream.writer.readerDone) await stream.writer.write(c)
        yield c
      }
    }
    const inline = inlineAllowed && length <= INLINE_MAX
    const blob = inline ? `${INLINE}${newBlobId()}` : newBlobId()
    const keptKey = keep && plain === undefined ? Buffer.from(dk.dataKey) : undefined
    let digest = Buffer.alloc(16)
    const finish = () => {
      digest = md5.digest()
      verify?.(digest)
    }
    let inlineData: Buffer | undefined
    let headerDigest = ''
    try {
      const sealed = encrypt(tap(body), {
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
        finish()
        inlineData = Buffer.concat(chunks)
      } else await this.blobs.put(blob, sealed, finish)
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
      md5: digest,
      dataKeyId: dk.dataKeyId,
      headerDigest,
      wrapped: {
        keyId: key.id,
        keyVersion: dk.wrapped.keyVersion,
        wrapped: dk.wrappedBytes,
        tenantId: tenant.id,
      },
      plain,
      dataKey: keptKey,
      inline: inlineData,
      streamed: stream?.outcome,
    }
  }

  /** Removes a body that no committed row names. Inline bodies never reached the disk. */
  private async discard(blob: string): Promise<void> {
    if (!isInline(blob)) await this.blobs.delete(blob)
  }

  /** Scans a sealed body in the scan worker: the plaintext kept while sealing, as it streamed, or read back. */
  private scanSealed(
    plain: Buffer[] | undefined,
    key: string,
    open: () => Promise<OpenedStoredObject>,
    streamed?: Promise<ScanOutcome>,
  ): Promise<ScanRecord> {
    return scanSealed(this.pool, plain, key, open, streamed)
  }

  /** Scans a stored version again (new rules) and records the verdict. */
  async rescan(object: ObjectRecord): Promise<ScanRecord> {
    const record = await this.scanSealed(undefined, object.key, () => this.open(object))
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
    const sealed = await this.seal(
      keyId,
      input.tenant,
      context,
      input.body,
      input.length,
      input.verify,
      policy !== 'off' ? input.key : undefined,
      true,
    )
    let scanned: ScanRecord | null = null
    if (policy !== 'off') {
      try {
        const kept = sealed.dataKey
        scanned = await this.scanSealed(
          sealed.plain,
          input.key,
          // A new body's data key is not stored yet (its row commits after the scan): use the one kept.
          () =>
            this.openSealed(
              sealed.blob,
              context,
              {
                dataKeyId: sealed.dataKeyId,
                plaintextLength: input.length,
                sha256: Buffer.from(sealed.headerDigest, 'hex'),
                what: input.key,
              },
              kept === undefined
                ? storedDataKey(this.kms, this.meta, sealed.dataKeyId)
                : () => Buffer.from(kept),
            ),
          sealed.streamed,
        )
      } catch (e) {
        await this.discard(sealed.blob)
        throw e
      } finally {
        sealed.dataKey?.fill(0)
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
      size: input.length,
      etag: input.etag ?? `"${sealed.md5.toString('hex')}"`,
      contentType: input.contentType,
      metadata: input.metadata,
      tags: input.tags,
      checksums: Object.fromEntries(input.checksums ?? []),
      blob: sealed.blob,
      dataKeyId: sealed.dataKeyId,
      headerDigest: sealed.headerDigest,
      keyId,
      createdAt: Date.now(),
      scan: scanned,
    }
    let replaced: ObjectRecord[]
    try {
      replaced = await this.meta.putObject(
        record,
        sealed.wrapped,
        input.bucket.versioning,
        sealed.inline,
      )
    } catch (e) {
      await this.discard(sealed.blob)
      throw e
    }
    await this.removeBlobs(replaced)
    return record
  }

  private async removeBlobs(records: readonly ObjectRecord[]): Promise<void> {
    // Inline bodies went with their rows, in the same transaction.
    for (const r of records) if (r.blob !== '' && !isInline(r.blob)) await this.blobs.delete(r.blob)
  }

  // ---- multipart

  async putPart(
    upload: UploadRecord,
    tenant: TenantRecord,
    number: number,
    body: CryptoSource,
    length: number,
    verify?: (md5: Buffer) => void,
  ): Promise<PartRecord> {
    const sealed = await this.seal(
      upload.keyId,
      tenant,
      partContext(upload, number),
      body,
      length,
      verify,
    )
    const part: PartRecord = {
      uploadId: upload.id,
      number,
      size: length,
      etag: `"${sealed.md5.toString('hex')}"`,
      blob: sealed.blob,
      dataKeyId: sealed.dataKeyId,
      headerDigest: sealed.headerDigest,
      createdAt: Date.now(),
    }
    let replaced: PartRecord | undefined
    try {
      replaced = await this.meta.putPart(part, sealed.wrapped)
    } catch (e) {
      await this.blobs.delete(sealed.blob)
      throw e
    }
    if (replaced !== undefined) await this.blobs.delete(replaced.blob)
    return part
  }

  /**
   * Assembles the parts into the object: each part is decrypted and verified
   * as it streams into one new sealed blob. The ETag is S3's: the MD5 of the
   * parts' binary MD5s, then `-N`.
   */
  async complete(
    upload: UploadRecord,
    bucket: BucketRecord,
    tenant: TenantRecord,
    parts: readonly PartRecord[],
  ): Promise<ObjectRecord> {
    const etag = `"${createHash('md5')
      .update(Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex'))))
      .digest('hex')}-${parts.length}"`
    const length = parts.reduce((n, p) => n + p.size, 0)
    const owner = await this.meta.getTenantById(bucket.tenantId)
    const openPart = (p: PartRecord) =>
      this.openSealed(
        p.blob,
        {
          ...partContext(upload, p.number),
          ...(owner === undefined ? {} : { tenant: owner.name }),
        },
        expectedOf(p, `${upload.key} part ${p.number}`),
        storedDataKey(this.kms, this.meta, p.dataKeyId, bucket.tenantId),
      )
    async function* body(): AsyncGenerator<Uint8Array> {
      for (const p of parts) {
        const opened = await openPart(p)
        try {
          if (p.size > 0) yield* opened.object.range(0, p.size - 1)
        } finally {
          await opened.close()
        }
      }
    }
    const record = await this.put({
      bucket,
      tenant,
      key: upload.key,
      body: body(),
      length,
      contentType: upload.contentType,
      metadata: upload.metadata,
      tags: upload.tags,
      keyId: upload.keyId,
      etag,
    })
    await this.abort(upload)
    return record
  }

  /** Removes an upload, its parts' rows, data keys and blobs. */
  async abort(upload: UploadRecord): Promise<void> {
    for (const p of await this.meta.deleteUpload(upload.id)) await this.blobs.delete(p.blob)
  }

  /**
   * Opens a stored object version for reading; the caller closes it. The blob
   * is untrusted: its header must hash to the digest in the row (rows from
   * before the digest was kept: name the row's data key and plaintext length),
   * be bound to the bucket's tenant, the bucket, the key and (since the
   * digest) the version id, and unwrap with the data key the row names.
   * Anything else is refused before a byte of plaintext is released.
   */
  async open(object: ObjectRecord): Promise<OpenedStoredObject> {
    const bucket = await this.meta.getBucket(object.bucket)
    const owner = bucket === undefined ? undefined : await this.meta.getTenantById(bucket.tenantId)
    if (bucket === undefined || owner === undefined)
      throw new StrongroomError('INTERNAL', `the bucket of \`${object.bucket}\` is gone`)
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
      storedDataKey(this.kms, this.meta, object.dataKeyId, bucket.tenantId),
    )
  }

  private async openSealed(
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
    } catch {
      throw new StrongroomError(
        'INTERNAL',
        `the body of \`${what}\` is missing from the blob store`,
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
  ): Promise<ObjectRecord | undefined> {
    if (versionId !== undefined || bucket.versioning === 'Unversioned') {
      const removed = await this.meta.deleteObject(bucket.name, key, versionId)
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
      createdAt: Date.now(),
      scan: null,
    }
    await this.removeBlobs(await this.meta.putObject(marker, undefined, bucket.versioning))
    return marker
  }

  /** Removes blobs that no metadata row names (left by a crash between blob and row). */
  async removeOrphans(): Promise<number> {
    const known = await this.meta.blobIds()
    let n = 0
    for (const id of await this.blobs.list()) {
      if (!known.has(id)) {
        await this.blobs.delete(id)
        n++
      }
    }
    return n
  }
}

/** An opaque version id: 32 URL-safe characters. */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url')
}

/** Whether a client's version id can name a version: one of ours, or `null` (unversioned). */
export function isVersionId(id: string): boolean {
  return id === 'null' || /^[\w-]{32}$/.test(id)
}

/** What a trusted row says about its sealed body. */
function expectedOf(
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

function partContext(upload: UploadRecord, number: number): Record<string, string> {
  return { bucket: upload.bucket, key: upload.key, uploadId: upload.id, part: String(number) }
}
