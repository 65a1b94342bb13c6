/**
 * ObjectMetaStore: buckets and the metadata of the objects in them. Object
 * bodies live in a BlobStore as ciphertext; a row names its blob and its data
 * key, and is written only after the blob is durable.
 */

import type { Finding, Verdict } from '../scan/types.ts'

export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended'

/**
 * What happens to an upload the model scanner does not call clean: `report`
 * records the verdict, `enforce` also quarantines the object (reading it
 * needs strongroom:GetQuarantinedObject), `reject` refuses the upload; `off`
 * does not scan.
 */
export type ScanPolicy = 'off' | 'report' | 'enforce' | 'reject'

/** The scanner's verdict on one object version, kept with it. */
export interface ScanRecord {
  readonly verdict: Verdict
  readonly format: string
  /** Version of the scanner's rules that decided: a rescan redoes older ones. */
  readonly rules: string
  readonly at: number
  /** The first findings (at most 20). */
  readonly findings: readonly Finding[]
}

/** S3's four public-access-block switches; all on unless the owner turns them off. */
export interface PublicAccessBlock {
  readonly blockPublicAcls: boolean
  readonly ignorePublicAcls: boolean
  readonly blockPublicPolicy: boolean
  readonly restrictPublicBuckets: boolean
}

export const ALL_BLOCKED: PublicAccessBlock = {
  blockPublicAcls: true,
  ignorePublicAcls: true,
  blockPublicPolicy: true,
  restrictPublicBuckets: true,
}

export interface BucketRecord {
  readonly name: string
  readonly tenantId: string
  /** The tenant key that seals new objects of this bucket (its default encryption). */
  readonly keyId: string
  readonly policy: string | null
  readonly createdAt: number
  readonly versioning: Versioning
  readonly publicAccessBlock: PublicAccessBlock
  readonly scanPolicy: ScanPolicy
}

/** A deleted bucket's name, held for the tenant that deleted it. */
export interface BucketHold {
  readonly name: string
  readonly tenantId: string
  readonly deletedAt: number
}

/** Object tags in the order they were given: at most 10, keys unique. */
export type Tags = readonly (readonly [string, string])[]

/**
 * One version of an object. An unversioned bucket keeps one version per key,
 * with version id `null` (the string S3 uses). A delete marker has no body:
 * its blob, data key and key are empty strings.
 */
export interface ObjectRecord {
  readonly bucket: string
  readonly key: string
  readonly versionId: string
  readonly deleteMarker: boolean
  readonly size: number
  readonly etag: string
  readonly contentType: string | null
  /** User metadata (x-amz-meta-*), lower-cased names. */
  readonly metadata: Readonly<Record<string, string>>
  readonly tags: Tags
  /** Verified x-amz-checksum-* values of the body, by header name. */
  readonly checksums: Readonly<Record<string, string>>
  /** Opaque id of the ciphertext in the BlobStore. */
  readonly blob: string
  readonly dataKeyId: string
  /**
   * Hex SHA-256 of the sealed body's header, compared with the blob on every
   * read (blob storage is untrusted). Absent on rows written before it was kept.
   */
  readonly headerDigest?: string
  /** The tenant key that wrapped the data key. */
  readonly keyId: string
  readonly createdAt: number
  /** The model scanner's verdict; null when the bucket does not scan (or the object predates scanning). */
  readonly scan: ScanRecord | null
  /**
   * A multipart object's body: its parts as UploadPart sealed them, in
   * order (the row's `blob` is then `multipart-<upload id>`, its data key and
   * header digest empty: each part has its own). Records from getObject and
   * the versions a write or delete removed carry them; list results do not.
   */
  readonly parts?: readonly ObjectPart[]
}

/** One part of a multipart object's body: a sealed blob bound to (upload id, part number). */
export interface ObjectPart {
  readonly number: number
  readonly size: number
  /** Quoted hex MD5 of the part's plaintext. */
  readonly etag: string
  readonly blob: string
  readonly dataKeyId: string
  /** Hex SHA-256 of the sealed part's header (absent on parts sealed before it was kept). */
  readonly headerDigest?: string
}

/** The `blob` of a multipart object's row names its upload: `multipart-<upload id>`. */
export const MULTIPART_BLOB = 'multipart-'

/** The upload a multipart object's row names, or undefined for any other body. */
export function multipartUploadId(blob: string): string | undefined {
  return blob.startsWith(MULTIPART_BLOB) ? blob.slice(MULTIPART_BLOB.length) : undefined
}

/** A row of ListObjectVersions: the versions of a key come newest first. */
export interface VersionRecord extends ObjectRecord {
  readonly isLatest: boolean
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
  readonly tags: Tags
  /** The tenant key its parts and the completed object are sealed under. */
  readonly keyId: string
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
  /** Hex SHA-256 of the sealed part's header (absent on parts written before it was kept). */
  readonly headerDigest?: string
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
  setBucketVersioning(name: string, versioning: Exclude<Versioning, 'Unversioned'>): Promise<void>
  setBucketKey(name: string, keyId: string): Promise<void>
  setPublicAccessBlock(name: string, block: PublicAccessBlock): Promise<void>
  setScanPolicy(name: string, policy: ScanPolicy): Promise<void>
  /** Records a (re)scan of one version; false when the version is gone. */
  setObjectScan(bucket: string, key: string, versionId: string, scan: ScanRecord): Promise<boolean>
  /**
   * Removes an empty bucket and records its name as held for its tenant
   * since `at` (see `bucketHold`). A bucket is empty, as S3 counts it, when it
   * holds no object version, no delete marker and no unfinished multipart
   * upload; otherwise nothing changes and the answer says which is left.
   */
  deleteBucket(name: string, at: number): Promise<'deleted' | 'objects' | 'uploads'>
  /** Who deleted the last bucket of this name, and when; forgotten once the name is created again. */
  bucketHold(name: string): Promise<BucketHold | undefined>
  /**
   * Makes `object` (a body, or a delete marker without a key) the current
   * version of its key under the bucket's versioning, in one transaction:
   * unversioned, it replaces the current version; enabled, the current one
   * becomes noncurrent; suspended, it replaces the `null` version wherever it
   * is. Returns the versions it removed, whose blobs the caller then removes
   * (inline bodies, `inlineBody` among them, live and die with their rows).
   */
  putObject(
    object: ObjectRecord,
    wrappedKey: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
  ): Promise<ObjectRecord[]>
  /** The ciphertext of a small body kept with its row (written by putObject, removed with its version). */
  getInlineBody(blob: string): Promise<Uint8Array | undefined>
  /** The current version (which may be a delete marker), or the version named. */
  getObject(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined>
  /**
   * Removes one version and its data key (crypto-shredding the body); when it
   * was current, the newest noncurrent version becomes current. Without a
   * version id, removes the current version.
   */
  deleteObject(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined>
  /** Replaces the tags of the current version or of the version named; false when there is none. */
  setObjectTags(
    bucket: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean>
  /** Current versions that are not delete markers: keys in byte order after `after`, starting with `prefix`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): Promise<ListPage>
  /**
   * Every version and delete marker, by key then newest first, after the
   * version `afterVersionId` of `afterKey` (or after every version of
   * `afterKey` when no version id is given).
   */
  listVersions(
    bucket: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]>
  /** Every blob id a row refers to (objects, versions and parts), for removing orphans at start-up. */
  blobIds(): Promise<Set<string>>

  createUpload(upload: UploadRecord): Promise<void>
  getUpload(id: string): Promise<UploadRecord | undefined>
  listUploads(bucket: string, prefix: string, limit: number): Promise<UploadRecord[]>
  /** Stores a part (and its data key), replacing one with the same number; returns the replaced part. */
  putPart(part: PartRecord, key: WrappedDataKey): Promise<PartRecord | undefined>
  listParts(uploadId: string): Promise<PartRecord[]>
  /** Removes the upload, its parts and their data keys; returns the parts removed. */
  deleteUpload(uploadId: string): Promise<PartRecord[]>
  /**
   * CompleteMultipartUpload in one transaction: the parts named become the
   * body of `object` (whose blob is `multipart-<upload id>`), keeping their
   * blobs and data keys; `object` becomes the current version as putObject
   * makes it; the upload and its other parts (and their data keys) go. The
   * parts must still be the ones given (same blob), else nothing changes
   * (INTERNAL: the upload changed meanwhile). Returns the versions replaced
   * (parts loaded) and the parts left out, whose blobs the caller removes.
   */
  completeUpload(
    object: ObjectRecord,
    parts: readonly PartRecord[],
    versioning: Versioning,
  ): Promise<{ replaced: ObjectRecord[]; unused: PartRecord[] }>
  /** The parts of a multipart object's body, in order (empty when the upload names none). */
  objectParts(uploadId: string): Promise<ObjectPart[]>
}
