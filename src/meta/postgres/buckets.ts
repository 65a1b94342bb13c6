/**
 * BucketStore on PostgreSQL: buckets, their configuration, and the holds of deleted names.
 * Bucket names are COLLATE "C" (byte order, as SQLite's BINARY). A bucket's row is the lock its
 * rules hang on: object writes hold it FOR SHARE while they decide by its versioning
 * (./objects.ts), so a versioning change waits for them and they for it; a deletion holds it
 * FOR UPDATE while it finds the bucket empty, so no write lands in a bucket being deleted.
 */
import { StrongroomError } from '../../errors.ts'
import type {
  BucketHold,
  BucketRecord,
  BucketSettings,
  BucketStore,
  PublicAccessBlock,
  ScanPolicy,
  Versioning,
} from '../buckets.ts'
import { int, isUniqueViolation, text, type PgDb } from './db.ts'
import { HAS_LIFECYCLE } from './migrations.ts'

type Row = Record<string, unknown>

export class PgBucketStore implements BucketStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createBucket(b: BucketRecord): Promise<void> {
    const pab = b.publicAccessBlock
    try {
      await this.db.tx(async (c) => {
        await c.query(
          `INSERT INTO buckets (name, tenant_id, key_id, policy, created_at, versioning, block_public_acls,
          ignore_public_acls, block_public_policy, restrict_public_buckets, scan_policy)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            b.name,
            b.tenantId,
            b.keyId,
            b.policy,
            b.createdAt,
            b.versioning,
            pab.blockPublicAcls,
            pab.ignorePublicAcls,
            pab.blockPublicPolicy,
            pab.restrictPublicBuckets,
            b.scanPolicy,
          ],
        )
        // The name is in use again: whatever hold it had is over.
        await c.query('DELETE FROM bucket_holds WHERE name = $1', [b.name])
      })
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError('BUCKET_EXISTS', `bucket \`${b.name}\` already exists`, {
          cause: e,
        })
      throw e
    }
  }

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM buckets WHERE name = $1', [name])
    return r && bucket(r)
  }

  async listBuckets(tenantId: string): Promise<BucketRecord[]> {
    return (
      await this.db.query('SELECT * FROM buckets WHERE tenant_id = $1 ORDER BY name', [tenantId])
    ).map(bucket)
  }

  async bucketsWithLifecycle(): Promise<BucketRecord[]> {
    return (await this.db.query(`SELECT * FROM buckets WHERE ${HAS_LIFECYCLE} ORDER BY name`)).map(
      bucket,
    )
  }

  async setBucketPolicy(name: string, policy: string | null): Promise<void> {
    await this.db.query('UPDATE buckets SET policy = $1 WHERE name = $2', [policy, name])
  }

  async setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void> {
    // Object Lock keeps every version: such a bucket is never suspended, decided in the same
    // statement that would suspend it (the row as it is once locked: a lock configured
    // meanwhile counts).
    const r = await this.db.any.query(
      `UPDATE buckets SET versioning = $1 WHERE name = $2
      AND NOT ($1 = 'Suspended' AND (settings::jsonb -> 'objectLock') IS NOT NULL)`,
      [versioning, name],
    )
    if (r.rowCount === 0 && versioning === 'Suspended')
      throw new StrongroomError(
        'INVALID_BUCKET_STATE',
        'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
      )
  }

  async setBucketKey(name: string, keyId: string): Promise<void> {
    await this.db.query('UPDATE buckets SET key_id = $1 WHERE name = $2', [keyId, name])
  }

  async setPublicAccessBlock(name: string, p: PublicAccessBlock): Promise<void> {
    await this.db.query(
      `UPDATE buckets SET block_public_acls = $1, ignore_public_acls = $2, block_public_policy = $3,
      restrict_public_buckets = $4 WHERE name = $5`,
      [p.blockPublicAcls, p.ignorePublicAcls, p.blockPublicPolicy, p.restrictPublicBuckets, name],
    )
  }

  async setScanPolicy(name: string, policy: ScanPolicy): Promise<void> {
    await this.db.query('UPDATE buckets SET scan_policy = $1 WHERE name = $2', [policy, name])
  }

  async updateSettings(
    name: string,
    patch: { readonly [K in keyof BucketSettings]?: BucketSettings[K] | null },
  ): Promise<void> {
    // SQLite's json_patch (RFC 7396: a null member removes the field), applied to the row
    // locked FOR UPDATE: the check and the write see one state, as SQLite's one statement does.
    // An Object Lock configuration needs versioning Enabled as that row has it.
    const locking = patch.objectLock !== undefined && patch.objectLock !== null
    const written = await this.db.tx(async (c) => {
      const [r] = (
        await c.query('SELECT settings, versioning FROM buckets WHERE name = $1 FOR UPDATE', [name])
      ).rows as Row[]
      if (r === undefined || (locking && text(r.versioning) !== 'Enabled')) return false
      const next = mergePatch(JSON.parse(text(r.settings)), JSON.parse(JSON.stringify(patch)))
      await c.query('UPDATE buckets SET settings = $1 WHERE name = $2', [
        JSON.stringify(next),
        name,
      ])
      return true
    })
    if (!written && locking)
      throw new StrongroomError(
        'INVALID_BUCKET_STATE',
        'Versioning must be Enabled on the bucket to apply an Object Lock configuration',
      )
  }

  async deleteBucket(name: string, at: number): Promise<'deleted' | 'objects' | 'uploads'> {
    return this.db.tx(async (c) => {
      // The bucket's row first, FOR UPDATE: writes in flight (which hold it FOR SHARE, or KEY
      // SHARE through their foreign key) finish before the checks read, and new ones wait.
      const [b] = (
        await c.query('SELECT tenant_id FROM buckets WHERE name = $1 FOR UPDATE', [name])
      ).rows as Row[]
      if (b === undefined) return 'deleted'
      const any = async (table: string) =>
        ((await c.query(`SELECT 1 FROM ${table} WHERE bucket = $1 LIMIT 1`, [name])).rowCount ??
          0) > 0
      if ((await any('objects')) || (await any('versions'))) return 'objects'
      // Every row that names the bucket must be gone first (foreign keys): an unfinished
      // upload is content, as in S3, and its owner aborts it.
      if (await any('uploads')) return 'uploads'
      await c.query('DELETE FROM buckets WHERE name = $1', [name])
      await c.query(
        `INSERT INTO bucket_holds (name, tenant_id, deleted_at) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, deleted_at = excluded.deleted_at`,
        [name, text(b.tenant_id), at],
      )
      return 'deleted'
    })
  }

  async bucketHold(name: string): Promise<BucketHold | undefined> {
    const [r] = await this.db.query('SELECT * FROM bucket_holds WHERE name = $1', [name])
    return r && { name: text(r.name), tenantId: text(r.tenant_id), deletedAt: int(r.deleted_at) }
  }
}

/**
 * RFC 7396 JSON Merge Patch as SQLite's json_patch applies it: members of `patch` replace those
 * of `target` (objects merged recursively), a null member removes one; the target's members keep
 * their order and new ones follow.
 */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out = new Map(Object.entries(isObject(target) ? target : {}))
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) out.delete(k)
    else out.set(k, mergePatch(out.get(k), v))
  }
  return Object.fromEntries(out)
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function bucket(r: Row): BucketRecord {
  return {
    name: text(r.name),
    tenantId: text(r.tenant_id),
    keyId: text(r.key_id),
    policy: r.policy === null ? null : text(r.policy),
    createdAt: int(r.created_at),
    versioning: text(r.versioning) as Versioning,
    publicAccessBlock: {
      blockPublicAcls: r.block_public_acls === true,
      ignorePublicAcls: r.ignore_public_acls === true,
      blockPublicPolicy: r.block_public_policy === true,
      restrictPublicBuckets: r.restrict_public_buckets === true,
    },
    scanPolicy: text(r.scan_policy) as ScanPolicy,
    ...(typeof r.settings === 'string' && r.settings !== '{}'
      ? { settings: JSON.parse(r.settings) as BucketSettings }
      : {}),
  }
}
