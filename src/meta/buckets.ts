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

export interface BucketStore {
  /** BUCKET_EXISTS when the name is taken (by anyone: bucket names are global). */
  createBucket(bucket: BucketRecord): Promise<void>
  getBucket(name: string): Promise<BucketRecord | undefined>
  /** The tenant's buckets by name. */
  listBuckets(tenantId: string): Promise<BucketRecord[]>
  setBucketPolicy(name: string, policy: string | null): Promise<void>
  setBucketVersioning(name: string, versioning: Exclude<Versioning, 'Unversioned'>): Promise<void>
  setBucketKey(name: string, keyId: string): Promise<void>
  setPublicAccessBlock(name: string, block: PublicAccessBlock): Promise<void>
  setScanPolicy(name: string, policy: ScanPolicy): Promise<void>
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
