/**
 * ObjectStore: the metadata of the objects in buckets, every version of
 * them, and small bodies kept inline with their rows. Object bodies live in a
 * BlobStore as ciphertext; a row names its blob and its data key, and is
 * written only after the blob is durable.
 */
import { StrongroomError } from '../errors.ts'
import type { BucketStore, Versioning } from './buckets.ts'
import type { WrappedDataKey } from './keys.ts'
import type { MultipartStore } from './multipart.ts'
import type { ScanRecord, VerdictStore } from './verdicts.ts'

// The records of the neighbouring ports, re-exported for the modules that imported them from here.
export {
  ALL_BLOCKED,
  type BucketObjectLock,
  type BucketHold,
  type LifecycleRule,
  type BucketRecord,
  type PublicAccessBlock,
  type ScanPolicy,
  type Versioning,
} from './buckets.ts'
export type { WrappedDataKey } from './keys.ts'
export type { PartRecord, UploadRecord } from './multipart.ts'
export type { ScanRecord } from './verdicts.ts'

/**
 * S3's system-defined metadata that a writer sets and every read returns
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#SysMetadata):
 * the headers, and `x-amz-server-side-encryption` when the writer asked for SSE-S3 (`AES256`).
 * Content-Type has its own field.
 */
export const SYSTEM_HEADERS = [
  'Cache-Control',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Expires',
  'x-amz-server-side-encryption',
] as const

export type SystemMetadata = Readonly<Partial<Record<(typeof SYSTEM_HEADERS)[number], string>>>

/**
 * A version's Object Lock state (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html):
 * retention until a time in a mode, and a legal hold, each independent of the other.
 */
export interface ObjectLock {
  readonly mode?: 'GOVERNANCE' | 'COMPLIANCE'
  /** Epoch milliseconds; set with `mode`. */
  readonly retainUntil?: number
  readonly legalHold?: boolean
}

/**
 * Whether Object Lock keeps a version at `now`: a legal hold, or a retention date not yet
 * reached (GOVERNANCE retention yields to a caller allowed to bypass it; COMPLIANCE to no one).
 */
export function lockedAt(
  lock: ObjectLock | undefined,
  now: number,
  bypassGovernance: boolean,
): string | undefined {
  if (lock === undefined) return undefined
  if (lock.legalHold === true) return 'it is under a legal hold'
  if (lock.retainUntil === undefined || lock.retainUntil <= now) return undefined
  if (lock.mode === 'GOVERNANCE' && bypassGovernance) return undefined
  return `it is retained in ${lock.mode ?? 'GOVERNANCE'} mode until ${new Date(lock.retainUntil).toISOString()}`
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
  /** System-defined metadata the writer set, by header name (see SYSTEM_HEADERS); absent: none. */
  readonly system?: SystemMetadata
  /** Object Lock: the version's retention and legal hold; absent: neither. */
  readonly lock?: ObjectLock
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
  /** The part's verified x-amz-checksum-* values, by header name; absent: none. */
  readonly checksums?: Readonly<Record<string, string>>
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

export interface ObjectStore {
  /**
   * Makes `object` (a body, or a delete marker without a key) the current
   * version of its key under the bucket's versioning, in one transaction:
   * unversioned, it replaces the current version; enabled, the current one
   * becomes noncurrent; suspended, it replaces the `null` version wherever it
   * is. Returns the versions it removed, whose blobs the caller then removes
   * (inline bodies, `inlineBody` among them, live and die with their rows; a
   * multipart body's part rows and data keys go with it, its parts loaded in
   * the record returned).
   */
  putObject(
    object: ObjectRecord,
    wrappedKey: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
    condition?: WriteCondition,
  ): Promise<ObjectRecord[]>
  /** The ciphertext of a small body kept with its row (written by putObject, removed with its version). */
  getInlineBody(blob: string): Promise<Uint8Array | undefined>
  /** The current version (which may be a delete marker), or the version named; a multipart body with its parts. */
  getObject(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined>
  /**
   * Removes one version and its data key (crypto-shredding the body); when it
   * was current, the newest noncurrent version becomes current. Without a
   * version id, removes the current version.
   */
  deleteObject(
    bucket: string,
    key: string,
    versionId?: string,
    /** Called in the transaction with the version about to go; throwing keeps it (Object Lock). */
    guard?: (o: ObjectRecord) => void,
  ): Promise<ObjectRecord | undefined>
  /** Replaces the tags of the current version or of the version named; false when there is none. */
  setObjectTags(
    bucket: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean>
  /**
   * Changes a version's Object Lock state in one transaction: `update` receives the state as
   * stored now and returns the new one (undefined: none) or throws to change nothing. False
   * when there is no such version.
   */
  updateObjectLock(
    bucket: string,
    key: string,
    versionId: string,
    update: (current: ObjectLock | undefined) => ObjectLock | undefined,
  ): Promise<boolean>
  /** Current versions that are not delete markers: keys in byte order after `after`, starting with `prefix`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): Promise<ListPage>
  /**
   * Every version and delete marker, by key then newest first, after the
   * version `afterVersionId` of `afterKey` (or after every version of
   * `afterKey` when no version id is given; from the newest version of
   * `afterKey` when that version no longer exists, so that none is skipped).
   */
  listVersions(
    bucket: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]>
  /** Every blob id a row refers to (objects, versions, parts of uploads and of objects), for removing orphans at start-up. */
  blobIds(): Promise<Set<string>>
  /** The parts of a multipart object's body (the upload its row names), in order; empty for none. */
  objectParts(uploadId: string): Promise<ObjectPart[]>
}

/** The object-side ports together, as one adapter serves them (the former single port). */
export type ObjectMetaStore = BucketStore & ObjectStore & MultipartStore & VerdictStore

/**
 * A conditional write (S3's If-None-Match: * and If-Match on PutObject), checked against the
 * current version in the same transaction that replaces it, so that two writers cannot both
 * pass (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 */
export interface WriteCondition {
  /** The key must have no current object (a delete marker counts as none). */
  readonly ifNoneMatch?: boolean
  /** The current object's ETag must be this one (quotes optional). */
  readonly ifMatch?: string
}

/** Throws PreconditionFailed (or NoSuchKey for If-Match on a missing key) unless `etag` meets it. */
export function checkWriteCondition(etag: string | undefined, c: WriteCondition): void {
  if (c.ifMatch !== undefined) {
    if (etag === undefined)
      throw new StrongroomError('NO_SUCH_KEY', 'The specified key does not exist (If-Match)')
    if (unquote(c.ifMatch) !== unquote(etag))
      throw new StrongroomError(
        'PRECONDITION_FAILED',
        'At least one of the pre-conditions you specified did not hold (If-Match)',
        { details: { Condition: 'If-Match' } },
      )
  }
  if (c.ifNoneMatch === true && etag !== undefined)
    throw new StrongroomError(
      'PRECONDITION_FAILED',
      'At least one of the pre-conditions you specified did not hold (If-None-Match)',
      { details: { Condition: 'If-None-Match' } },
    )
}

const unquote = (e: string): string => e.trim().replace(/^"(.*)"$/, '$1')
