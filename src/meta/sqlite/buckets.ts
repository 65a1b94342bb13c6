/** BucketStore on SQLite: buckets, their configuration, and the holds of deleted names. */
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
import { isUniqueViolation, num, str, type Row, type SqliteDb, settle } from './db.ts'

export class SqliteBucketStore implements BucketStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createBucket(b: BucketRecord): Promise<void> {
    return settle(() => {
      const pab = b.publicAccessBlock
      try {
        this.db.tx(() => {
          this.db
            .stmt(
              `INSERT INTO buckets (name, tenant_id, key_id, policy, created_at, versioning, block_public_acls,
              ignore_public_acls, block_public_policy, restrict_public_buckets, scan_policy)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              b.name,
              b.tenantId,
              b.keyId,
              b.policy,
              b.createdAt,
              b.versioning,
              Number(pab.blockPublicAcls),
              Number(pab.ignorePublicAcls),
              Number(pab.blockPublicPolicy),
              Number(pab.restrictPublicBuckets),
              b.scanPolicy,
            )
          // The name is in use again: whatever hold it had is over.
          this.db.stmt('DELETE FROM bucket_holds WHERE name = ?').run(b.name)
        })
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError('BUCKET_EXISTS', `bucket \`${b.name}\` already exists`, {
            cause: e,
          })
        throw e
      }
    })
  }

  getBucket(name: string): Promise<BucketRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM buckets WHERE name = ?').get(name) as Row | undefined
      return r && bucket(r)
    })
  }

  listBuckets(tenantId: string): Promise<BucketRecord[]> {
    return settle(() => {
      return (
        this.db
          .stmt('SELECT * FROM buckets WHERE tenant_id = ? ORDER BY name')
          .all(tenantId) as Row[]
      ).map(bucket)
    })
  }

  bucketsWithLifecycle(): Promise<BucketRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            "SELECT * FROM buckets WHERE json_array_length(settings, '$.lifecycle') > 0 ORDER BY name",
          )
          .all() as Row[]
      ).map(bucket),
    )
  }

  setBucketPolicy(name: string, policy: string | null): Promise<void> {
    return settle(() => {
      this.db.stmt('UPDATE buckets SET policy = ? WHERE name = ?').run(policy, name)
    })
  }

  setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void> {
    return settle(() => {
      // Object Lock keeps every version: such a bucket is never suspended, decided in the same
      // statement that would suspend it (a lock configured meanwhile counts).
      const r = this.db
        .stmt(
          `UPDATE buckets SET versioning = ?1 WHERE name = ?2
          AND NOT (?1 = 'Suspended' AND json_type(settings, '$.objectLock') IS NOT NULL)`,
        )
        .run(versioning, name)
      if (r.changes === 0 && versioning === 'Suspended')
        throw new StrongroomError(
          'INVALID_BUCKET_STATE',
          'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
        )
    })
  }

  setBucketKey(name: string, keyId: string): Promise<void> {
    return settle(() => {
      this.db.stmt('UPDATE buckets SET key_id = ? WHERE name = ?').run(keyId, name)
    })
  }

  setPublicAccessBlock(name: string, p: PublicAccessBlock): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          `UPDATE buckets SET block_public_acls = ?, ignore_public_acls = ?, block_public_policy = ?,
          restrict_public_buckets = ? WHERE name = ?`,
        )
        .run(
          Number(p.blockPublicAcls),
          Number(p.ignorePublicAcls),
          Number(p.blockPublicPolicy),
          Number(p.restrictPublicBuckets),
          name,
        )
    })
  }

  setScanPolicy(name: string, policy: ScanPolicy): Promise<void> {
    return settle(() => {
      this.db.stmt('UPDATE buckets SET scan_policy = ? WHERE name = ?').run(policy, name)
    })
  }

  updateSettings(
    name: string,
    patch: { readonly [K in keyof BucketSettings]?: BucketSettings[K] | null },
  ): Promise<void> {
    return settle(() => {
      // json_patch (RFC 7396): a null member removes the field; the update is one statement.
      // An Object Lock configuration needs versioning Enabled as that statement sees it.
      const locking = patch.objectLock !== undefined && patch.objectLock !== null
      const r = this.db
        .stmt(
          `UPDATE buckets SET settings = json_patch(settings, ?) WHERE name = ?${locking ? " AND versioning = 'Enabled'" : ''}`,
        )
        .run(JSON.stringify(patch), name)
      if (r.changes === 0 && locking)
        throw new StrongroomError(
          'INVALID_BUCKET_STATE',
          'Versioning must be Enabled on the bucket to apply an Object Lock configuration',
        )
    })
  }

  deleteBucket(name: string, at: number): Promise<'deleted' | 'objects' | 'uploads'> {
    return settle(() => {
      return this.db.tx(() => {
        if (
          this.db.stmt('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(name) !== undefined ||
          this.db.stmt('SELECT 1 FROM versions WHERE bucket = ? LIMIT 1').get(name) !== undefined
        )
          return 'objects'
        // Every row that names the bucket must be gone first (foreign keys): an unfinished
        // upload is content, as in S3, and its owner aborts it.
        if (this.db.stmt('SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1').get(name) !== undefined)
          return 'uploads'
        const b = this.db.stmt('SELECT tenant_id FROM buckets WHERE name = ?').get(name) as
          Row | undefined
        if (b === undefined) return 'deleted'
        this.db.stmt('DELETE FROM buckets WHERE name = ?').run(name)
        this.db
          .stmt(
            'INSERT OR REPLACE INTO bucket_holds (name, tenant_id, deleted_at) VALUES (?, ?, ?)',
          )
          .run(name, str(b.tenant_id), at)
        return 'deleted'
      })
    })
  }

  bucketHold(name: string): Promise<BucketHold | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM bucket_holds WHERE name = ?').get(name) as
        Row | undefined
      return r && { name: str(r.name), tenantId: str(r.tenant_id), deletedAt: num(r.deleted_at) }
    })
  }
}

function bucket(r: Row): BucketRecord {
  return {
    name: str(r.name),
    tenantId: str(r.tenant_id),
    keyId: str(r.key_id),
    policy: r.policy === null ? null : str(r.policy),
    createdAt: num(r.created_at),
    versioning: str(r.versioning) as Versioning,
    publicAccessBlock: {
      blockPublicAcls: num(r.block_public_acls) === 1,
      ignorePublicAcls: num(r.ignore_public_acls) === 1,
      blockPublicPolicy: num(r.block_public_policy) === 1,
      restrictPublicBuckets: num(r.restrict_public_buckets) === 1,
    },
    scanPolicy: str(r.scan_policy) as ScanPolicy,
    ...(typeof r.settings === 'string' && r.settings !== '{}'
      ? { settings: JSON.parse(r.settings) as BucketSettings }
      : {}),
  }
}
