/**
 * BucketStore: buckets (names are global), their configuration, and the hold
 * a deleted bucket's name keeps for the tenant that deleted it.
 */

export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended'

/**
 * What happens to an upload the model scanner does not call clean: `report`
 * records the verdict, `enforce` also quarantines the object (reading it
 * needs strongroom:GetQuarantinedObject), `reject` refuses the upload; `off`
 * does not scan.
 */
export type ScanPolicy = 'off' | 'report' | 'enforce' | 'reject'

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

/**
 * A lifecycle rule as Strongroom runs it
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html): a filter
 * (prefix, tags, sizes) and the expirations; storage-class transitions are not offered.
 */
export interface LifecycleRule {
  readonly id: string
  readonly enabled: boolean
  readonly prefix: string
  readonly tags: readonly (readonly [string, string])[]
  readonly sizeGreaterThan?: number
  readonly sizeLessThan?: number
  /** Current versions expire this many days after they were written… */
  readonly expirationDays?: number
  /** …or at midnight UTC of this date (epoch milliseconds). */
  readonly expirationDate?: number
  /** A delete marker with no older version left is removed. */
  readonly expiredObjectDeleteMarker?: boolean
  /** Noncurrent versions go this many days after they became noncurrent… */
  readonly noncurrentDays?: number
  /** …except the newest this many of them. */
  readonly newerNoncurrentVersions?: number
  /** Unfinished multipart uploads are aborted this many days after they began. */
  readonly abortIncompleteDays?: number
}

/** Object Lock on a bucket: once enabled it stays; the default retention is optional. */
export interface BucketObjectLock {
  readonly mode?: 'GOVERNANCE' | 'COMPLIANCE'
  readonly days?: number
  readonly years?: number
}

/** Bucket configuration held as one document; every field absent until set. */
export interface BucketSettings {
  readonly tags?: readonly (readonly [string, string])[]
  /** `AES256` when the owner's default encryption asked for SSE-S3 (sealing is the same). */
  readonly sse?: 'AES256'
  readonly lifecycle?: readonly LifecycleRule[]
  readonly objectLock?: BucketObjectLock
  /**
   * DeletePublicAccessBlock removed the configuration (every switch is off, and
   * GetPublicAccessBlock answers NoSuchPublicAccessBlockConfiguration) until one is put again.
   */
  readonly publicAccessBlockDeleted?: true
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
  /** Tags, the SSE label, lifecycle, Object Lock; absent: none set. */
  readonly settings?: BucketSettings
}

/** A deleted bucket's name, held for the tenant that deleted it. */
export interface BucketHold {
  readonly name: string
  readonly tenantId: string
  readonly deletedAt: number
}

export interface BucketStore {
  /** BUCKET_EXISTS when the name is taken (by anyone: bucket names are global). */
  createBucket(bucket: BucketRecord): Promise<void>
  getBucket(name: string): Promise<BucketRecord | undefined>
  /** The tenant's buckets by name. */
  listBuckets(tenantId: string): Promise<BucketRecord[]>
  /** Every bucket with lifecycle rules, by name (the lifecycle sweeper's work list). */
  bucketsWithLifecycle(): Promise<BucketRecord[]>
  setBucketPolicy(name: string, policy: string | null): Promise<void>
  /** INVALID_BUCKET_STATE for Suspended on a bucket with Object Lock, decided in the write. */
  setBucketVersioning(name: string, versioning: Exclude<Versioning, 'Unversioned'>): Promise<void>
  setBucketKey(name: string, keyId: string): Promise<void>
  setPublicAccessBlock(name: string, block: PublicAccessBlock): Promise<void>
  setScanPolicy(name: string, policy: ScanPolicy): Promise<void>
  /**
   * Sets the settings given, in one statement; a field given as null is removed. An Object
   * Lock configuration needs versioning Enabled when it is written (INVALID_BUCKET_STATE).
   */
  updateSettings(
    name: string,
    patch: { readonly [K in keyof BucketSettings]?: BucketSettings[K] | null },
  ): Promise<void>
  /**
   * Removes an empty bucket and records its name as held for its tenant
   * since `at` (see `bucketHold`). A bucket is empty, as S3 counts it, when it
   * holds no object version, no delete marker and no unfinished multipart
   * upload; otherwise nothing changes and the answer says which is left.
   * A bucket that does not exist answers 'deleted'.
   */
  deleteBucket(name: string, at: number): Promise<'deleted' | 'objects' | 'uploads'>
  /** Who deleted the last bucket of this name, and when; forgotten once the name is created again. */
  bucketHold(name: string): Promise<BucketHold | undefined>
}
