/**
 * ObjectMetaStore: buckets and the metadata of the objects in them. Object
 * bodies live in a BlobStore as ciphertext; a row names its blob and its data
 * key, and is written only after the blob is durable.
 */

export interface BucketRecord {
  readonly name: string
  readonly tenantId: string
  /** The tenant key that seals new objects of this bucket. */
  readonly keyId: string
  readonly policy: string | null
  readonly createdAt: number
}

export interface ObjectRecord {
  readonly bucket: string
  readonly key: string
  readonly size: number
  readonly etag: string
  readonly contentType: string | null
  /** User metadata (x-amz-meta-*), lower-cased names. */
  readonly metadata: Readonly<Record<string, string>>
  /** Opaque id of the ciphertext in the BlobStore. */
  readonly blob: string
  readonly dataKeyId: string
  readonly createdAt: number
}

export interface ListPage {
  readonly objects: ObjectRecord[]
  /** Set when more keys follow: the last key returned. */
  readonly truncatedAfter: string | undefined
}

export interface UploadRecord {
  readonly id: string
  readonly bucket: string
  readonly key: string
  readonly contentType: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly createdAt: number
}

export interface PartRecord {
  readonly uploadId: string
  readonly number: number
  readonly size: number
  /** Quoted hex MD5 of the part's plaintext. */
  readonly etag: string
  readonly blob: string
  readonly dataKeyId: string
  readonly createdAt: number
}

export interface WrappedDataKey {
  readonly keyId: string
  readonly keyVersion: number
  readonly wrapped: Uint8Array
  readonly tenantId: string
}

export interface ObjectMetaStore {
  /** BUCKET_EXISTS when the name is taken (by anyone: bucket names are global). */
  createBucket(bucket: BucketRecord): Promise<void>
  getBucket(name: string): Promise<BucketRecord | undefined>
  listBuckets(tenantId: string): Promise<BucketRecord[]>
  setBucketPolicy(name: string, policy: string | null): Promise<void>
  /** False when the bucket is not empty. */
  deleteBucket(name: string): Promise<boolean>
  /**
   * Replaces the object's row and its data-key row in one transaction;
   * returns the row it replaced, whose blob the caller then removes.
   */
  putObject(
    object: ObjectRecord,
    wrappedKey: { keyId: string; keyVersion: number; wrapped: Uint8Array; tenantId: string },
  ): Promise<ObjectRecord | undefined>
  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>
  /** Removes the row and its data key (crypto-shredding the body); returns what was removed. */
  deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined>
  /** Keys in byte order after `after`, starting with `prefix`, at most `limit`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): Promise<ListPage>
  /** Every blob id a row refers to (objects and parts), for removing orphans at start-up. */
  blobIds(): Promise<Set<string>>

  createUpload(upload: UploadRecord): Promise<void>
  getUpload(id: string): Promise<UploadRecord | undefined>
  listUploads(bucket: string, prefix: string, limit: number): Promise<UploadRecord[]>
  /** Stores a part (and its data key), replacing one with the same number; returns the replaced part. */
  putPart(part: PartRecord, key: WrappedDataKey): Promise<PartRecord | undefined>
  listParts(uploadId: string): Promise<PartRecord[]>
  /** Removes the upload, its parts and their data keys; returns the parts removed. */
  deleteUpload(uploadId: string): Promise<PartRecord[]>
}
