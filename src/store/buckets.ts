/**
 * BucketService: buckets as the gateway, the CLI and later APIs see them.
 * The rules live here, once: bucket names (S3's), global uniqueness, the
 * hold a deleted name keeps for its tenant, the tenant's default bucket key,
 * deletion only when empty, and every configuration switch. Times come from
 * the injected clock. Authorization is the caller's (the pipeline decides
 * before it calls); this service never sees a request.
 */
import type { Clock } from '../clock.ts'
import { StrongroomError, isStrongroomError } from '../errors.ts'
import type { KeyCatalog } from '../kms/catalog.ts'
import {
  ALL_BLOCKED,
  type BucketRecord,
  type BucketSettings,
  type BucketStore,
  type PublicAccessBlock,
  type ScanPolicy,
  type Versioning,
} from '../meta/buckets.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyRecord } from '../meta/keys.ts'
import { defaultBucketKey } from './bucket-keys.ts'

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * S3's rules for general purpose bucket names: 3 to 63 lowercase letters,
 * digits, dots and hyphens, starting and ending with a letter or digit; no
 * `..`, not an IPv4 address, none of the reserved prefixes and suffixes
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
 */
export function validBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !/\.\.|^\d+\.\d+\.\d+\.\d+$|^xn--|-s3alias$|--ol-s3$/.test(name)
}

/** A new bucket's configuration, as S3 starts one. */
const NEW_BUCKET = {
  policy: null,
  versioning: 'Unversioned',
  publicAccessBlock: ALL_BLOCKED,
  scanPolicy: 'report',
} as const

/** As S3 answers DeletePublicAccessBlock: every switch off. */
export const NONE_BLOCKED: PublicAccessBlock = {
  blockPublicAcls: false,
  ignorePublicAcls: false,
  blockPublicPolicy: false,
  restrictPublicBuckets: false,
}

export interface BucketServiceOptions {
  /** How long a deleted bucket's name stays its tenant's, in seconds (config `bucketNameHold`). */
  readonly nameHoldSeconds: number
}

export class BucketService {
  private readonly store: BucketStore
  private readonly keys: Pick<KeyCatalog, 'byAlias' | 'createKey'>
  private readonly clock: Clock
  private readonly holdMs: number

  constructor(
    store: BucketStore,
    keys: Pick<KeyCatalog, 'byAlias' | 'createKey'>,
    clock: Clock,
    options: BucketServiceOptions,
  ) {
    this.store = store
    this.keys = keys
    this.clock = clock
    this.holdMs = options.nameHoldSeconds * 1000
  }

  /**
   * Creates a bucket for `tenant`, sealed under the tenant's default bucket key
   * (created on first use). BUCKET_NAME_INVALID for a name outside S3's rules;
   * BUCKET_OWNED when the tenant has it already; BUCKET_EXISTS when another
   * tenant has it; BUCKET_NAME_HELD while another tenant's deletion of the name
   * is recent (a deletion is never a takeover).
   */
  async create(tenant: TenantRecord, name: string): Promise<BucketRecord> {
    this.checkName(name)
    const existing = await this.store.getBucket(name)
    if (existing !== undefined) throw taken(name, existing.tenantId === tenant.id)
    const now = this.clock.now()
    const hold = await this.store.bucketHold(name)
    if (hold !== undefined && hold.tenantId !== tenant.id && now - hold.deletedAt < this.holdMs)
      throw new StrongroomError(
        'BUCKET_NAME_HELD',
        `bucket name \`${name}\` was deleted recently by another tenant and is held until ${new Date(hold.deletedAt + this.holdMs).toISOString()}`,
        { details: { BucketName: name } },
      )
    const key = await defaultBucketKey(this.keys, tenant)
    const bucket: BucketRecord = {
      name,
      tenantId: tenant.id,
      keyId: key.id,
      createdAt: now,
      ...NEW_BUCKET,
    }
    try {
      await this.store.createBucket(bucket)
    } catch (e) {
      // Created by another request since the check above.
      if (!isStrongroomError(e, 'BUCKET_EXISTS')) throw e
      const winner = await this.store.getBucket(name)
      throw taken(name, winner?.tenantId === tenant.id, e)
    }
    return bucket
  }

  /**
   * BUCKET_NAME_INVALID unless `name` follows S3's rules: what `create` checks first, for a
   * caller that must refuse a bad name before it reads anything else of the request.
   */
  checkName(name: string): void {
    if (!validBucketName(name))
      throw new StrongroomError(
        'BUCKET_NAME_INVALID',
        `bucket name \`${name.slice(0, 80)}\` is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit`,
        { details: { BucketName: name } },
      )
  }

  get(name: string): Promise<BucketRecord | undefined> {
    return this.store.getBucket(name)
  }

  /** The bucket; BUCKET_NOT_FOUND when there is none of that name. */
  async require(name: string): Promise<BucketRecord> {
    const b = await this.store.getBucket(name)
    if (b === undefined)
      throw new StrongroomError('BUCKET_NOT_FOUND', `there is no bucket \`${name.slice(0, 80)}\``)
    return b
  }

  /** The tenant's buckets, by name. */
  list(tenant: TenantRecord): Promise<BucketRecord[]> {
    return this.store.listBuckets(tenant.id)
  }

  /**
   * Deletes the bucket if it is empty as S3 counts it (no version, no delete
   * marker, no unfinished upload) and holds its name for its tenant; otherwise
   * changes nothing and answers what is left.
   */
  delete(name: string): Promise<'deleted' | 'objects' | 'uploads'> {
    return this.store.deleteBucket(name, this.clock.now())
  }

  /** Stores a bucket policy the caller has validated (protocol limits and messages are the caller's). */
  setPolicy(name: string, policy: string): Promise<void> {
    return this.store.setBucketPolicy(name, policy)
  }

  deletePolicy(name: string): Promise<void> {
    return this.store.setBucketPolicy(name, null)
  }

  setVersioning(name: string, status: Exclude<Versioning, 'Unversioned'>): Promise<void> {
    return this.store.setBucketVersioning(name, status)
  }

  /** Seals the bucket's new objects under `keyId` (a key of the bucket's tenant, resolved by the caller). */
  setKey(name: string, keyId: string): Promise<void> {
    return this.store.setBucketKey(name, keyId)
  }

  /** Back to the tenant's default bucket key (objects are never stored unencrypted); returns it. */
  async resetKey(bucket: BucketRecord, tenant: TenantRecord): Promise<KeyRecord> {
    if (tenant.id !== bucket.tenantId)
      throw new StrongroomError(
        'INTERNAL',
        `bucket \`${bucket.name}\` does not belong to tenant \`${tenant.name}\``,
      )
    const key = await defaultBucketKey(this.keys, tenant)
    await this.store.setBucketKey(bucket.name, key.id)
    return key
  }

  /**
   * The configuration, and that it is one: the mark of a deleted one goes first, so that a
   * write cut in between leaves the switches it found with no mark (the previous answer).
   */
  async setPublicAccessBlock(name: string, block: PublicAccessBlock): Promise<void> {
    await this.store.updateSettings(name, { publicAccessBlockDeleted: null })
    await this.store.setPublicAccessBlock(name, block)
  }

  /**
   * As S3 does: deleting the configuration turns every switch off, and there is none to get
   * until one is put. The switches go off first: a write cut in between leaves them off and
   * the configuration answered as four `false`s.
   */
  async deletePublicAccessBlock(name: string): Promise<void> {
    await this.store.setPublicAccessBlock(name, NONE_BLOCKED)
    await this.store.updateSettings(name, { publicAccessBlockDeleted: true })
  }

  setScanPolicy(name: string, policy: ScanPolicy): Promise<void> {
    return this.store.setScanPolicy(name, policy)
  }

  /** Every bucket with lifecycle rules (the sweeper's work list). */
  withLifecycle(): Promise<BucketRecord[]> {
    return this.store.bucketsWithLifecycle()
  }

  /** Sets the settings given (tags, the SSE label, lifecycle, Object Lock); null removes one. */
  updateSettings(
    name: string,
    patch: { readonly [K in keyof BucketSettings]?: BucketSettings[K] | null },
  ): Promise<void> {
    return this.store.updateSettings(name, patch)
  }
}

/** The errors carry the name as `BucketName`, which a protocol may show beside its own message. */
function taken(name: string, own: boolean, cause?: unknown): StrongroomError {
  const details = { BucketName: name }
  return own
    ? new StrongroomError('BUCKET_OWNED', `you already own bucket \`${name}\``, {
        cause,
        details,
      })
    : new StrongroomError(
        'BUCKET_EXISTS',
        `bucket \`${name}\` already exists: bucket names are shared by every tenant; choose another`,
        { cause, details },
      )
}
