/**
 * MultipartStore: unfinished multipart uploads and their parts. Each part is
 * sealed under its own data key, stored with the part in one transaction.
 */
import type { Versioning } from './buckets.ts'
import type { WrappedDataKey } from './keys.ts'
import type { ChecksumAlgorithm } from '../store/checksums.ts'
import type { ObjectLock, ObjectRecord, SystemMetadata, Tags, WriteCondition } from './objects.ts'

export interface UploadRecord {
  readonly id: string
  readonly bucket: string
  readonly key: string
  readonly contentType: string | null
  readonly metadata: Readonly<Record<string, string>>
  /** System-defined metadata for the completed object (ObjectRecord.system). */
  readonly system?: SystemMetadata
  readonly tags: Tags
  /** The tenant key its parts and the completed object are sealed under. */
  readonly keyId: string
  readonly createdAt: number
  /** x-amz-checksum-algorithm of CreateMultipartUpload: every part carries it; absent: none. */
  readonly checksumAlgorithm?: ChecksumAlgorithm
  /** Object Lock retention and legal hold for the completed object; absent: none. */
  readonly lock?: ObjectLock
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
  /** The part's verified x-amz-checksum-* values, by header name; absent: none. */
  readonly checksums?: Readonly<Record<string, string>>
  readonly createdAt: number
}

/** Where a listing of uploads resumes: ListMultipartUploads' key-marker and upload-id-marker. */
export interface UploadCursor {
  readonly key: string
  readonly uploadId?: string
}

export interface MultipartStore {
  createUpload(upload: UploadRecord): Promise<void>
  getUpload(id: string): Promise<UploadRecord | undefined>
  /**
   * The bucket's uploads whose key starts with `prefix`, by key (bytewise) then oldest
   * first, after `after`: past every upload of `after.key`, or, with `after.uploadId`,
   * past that upload of the key (an id that is not one of the key's uploads, such as one
   * aborted since it was listed: from the key's first upload, so that none is skipped).
   */
  listUploads(
    bucket: string,
    prefix: string,
    after: UploadCursor | undefined,
    limit: number,
  ): Promise<UploadRecord[]>
  /** Stores a part (and its data key), replacing one with the same number; returns the replaced part. */
  putPart(part: PartRecord, key: WrappedDataKey): Promise<PartRecord | undefined>
  /** By part number. */
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
    /** Checked against the version the object replaces, as putObject checks it. */
    condition?: WriteCondition,
  ): Promise<{ replaced: ObjectRecord[]; unused: PartRecord[] }>
}
