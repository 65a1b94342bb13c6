/**
 * Objects: every body is sealed under a fresh data key wrapped by the
 * bucket's tenant key, written as ciphertext to the BlobStore, and only then
 * recorded in metadata (with its wrapped data key). The ETag is the MD5 of
 * the plaintext, as S3 computes it for single-part uploads, since rclone, DVC
 * and s3fs compare it with their local files.
 */
import { createHash } from 'node:crypto'
import type { Stores } from '../app.ts'
import { openObject, type OpenedObject } from '../crypto/range.ts'
import { encrypt } from '../crypto/stream.ts'
import { StrongroomError } from '../errors.ts'
import { newDataKey, storedDataKey } from '../kms/envelope.ts'
import type { LocalKms } from '../kms/local.ts'
import type { BucketRecord, ObjectRecord } from '../meta/objects.ts'
import type { TenantRecord } from '../meta/store.ts'
import { newBlobId, type BlobStore, type OpenBlob } from './blobs.ts'

export interface PutInput {
  readonly bucket: BucketRecord
  readonly tenant: TenantRecord
  readonly key: string
  /** The plaintext body, exactly `length` bytes. */
  readonly body: AsyncIterable<Uint8Array>
  readonly length: number
  readonly contentType: string | null
  readonly metadata: Readonly<Record<string, string>>
  /** Last word before the object becomes visible: throw to refuse (a checksum that does not match). */
  readonly verify?: (md5: Buffer) => void
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

  constructor(meta: Stores, blobs: BlobStore, kms: LocalKms, segmentSize: number) {
    this.meta = meta
    this.blobs = blobs
    this.kms = kms
    this.segmentSize = segmentSize
  }

  async put(input: PutInput): Promise<ObjectRecord> {
    const key = await this.meta.getKey(input.bucket.keyId)
    if (key === undefined)
      throw new StrongroomError(
        'KEY_NOT_FOUND',
        `the key of bucket \`${input.bucket.name}\` no longer exists`,
      )
    const dk = await newDataKey(
      this.kms,
      { tenant: input.tenant, keyId: key.id, keyVersion: key.currentVersion },
      { bucket: input.bucket.name, key: input.key },
    )
    const md5 = createHash('md5')
    async function* tap(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const c of src) {
        md5.update(c)
        yield c
      }
    }
    const blob = newBlobId()
    let digest: Buffer | undefined
    try {
      await this.blobs.put(
        blob,
        encrypt(tap(input.body), {
          dataKey: dk.dataKey,
          dataKeyId: dk.dataKeyId,
          context: dk.context,
          plaintextLength: input.length,
          segmentSize: this.segmentSize,
        }),
        () => {
          digest = md5.digest()
          input.verify?.(digest)
        },
      )
    } finally {
      dk.dataKey.fill(0)
    }
    const record: ObjectRecord = {
      bucket: input.bucket.name,
      key: input.key,
      size: input.length,
      etag: `"${(digest ?? Buffer.alloc(16)).toString('hex')}"`,
      contentType: input.contentType,
      metadata: input.metadata,
      blob,
      dataKeyId: dk.dataKeyId,
      createdAt: Date.now(),
    }
    let replaced: ObjectRecord | undefined
    try {
      replaced = await this.meta.putObject(record, {
        keyId: key.id,
        keyVersion: dk.wrapped.keyVersion,
        wrapped: dk.wrappedBytes,
        tenantId: input.tenant.id,
      })
    } catch (e) {
      await this.blobs.delete(blob)
      throw e
    }
    if (replaced !== undefined) await this.blobs.delete(replaced.blob)
    return record
  }

  /** Opens a stored object for reading; the caller closes it. */
  async open(object: ObjectRecord): Promise<OpenedStoredObject> {
    let blob: OpenBlob
    try {
      blob = await this.blobs.open(object.blob)
    } catch {
      throw new StrongroomError(
        'INTERNAL',
        `the body of \`${object.bucket}/${object.key}\` is missing from the blob store`,
      )
    }
    try {
      const opened = await openObject(blob, {
        expectedContext: { bucket: object.bucket, key: object.key },
        dataKey: storedDataKey(this.kms, this.meta),
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

  async delete(bucket: string, key: string): Promise<boolean> {
    const removed = await this.meta.deleteObject(bucket, key)
    if (removed === undefined) return false
    await this.blobs.delete(removed.blob)
    return true
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
