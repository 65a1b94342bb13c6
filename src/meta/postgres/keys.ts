/**
 * KeyStore on PostgreSQL: keys, their versions, key policies and object data keys. A key's
 * changes that span rows (its first version, a rotation, shredding) are one transaction that
 * locks the key's row first, so that two gateways rotating or shredding one key take turns; the
 * wrap budget of a key version is counted under that version's row lock.
 */
import { StrongroomError } from '../../errors.ts'
import type { KeyRecord, KeyState, KeyStore, KeyVersionRecord, ObjectKeyRecord } from '../keys.ts'
import { bytea, int, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

export class PgKeyStore implements KeyStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createKey(k: KeyRecord, first: KeyVersionRecord): Promise<void> {
    try {
      await this.db.tx(async (c) => {
        await c.query(
          `INSERT INTO keys (id, tenant_id, alias, description, state, current_version, created_at,
          rotation_period_days, next_rotation_at, deletion_at, deleted_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            k.id,
            k.tenantId,
            k.alias,
            k.description,
            k.state,
            k.currentVersion,
            k.createdAt,
            k.rotationPeriodDays,
            k.nextRotationAt,
            k.deletionAt,
            k.deletedAt,
          ],
        )
        await insertVersion(c, first)
      })
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError(
          'KEY_EXISTS',
          `alias \`${k.alias ?? ''}\` is already in use in this tenant`,
          { cause: e },
        )
      throw e
    }
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM keys WHERE id = $1', [keyId])
    return r && key(r)
  }

  async getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM keys WHERE tenant_id = $1 AND alias = $2', [
      tenantId,
      alias,
    ])
    return r && key(r)
  }

  async listKeys(tenantId: string): Promise<KeyRecord[]> {
    return (
      await this.db.query('SELECT * FROM keys WHERE tenant_id = $1 ORDER BY created_at, id', [
        tenantId,
      ])
    ).map(key)
  }

  async updateKey(k: KeyRecord): Promise<void> {
    await writeKey(this.db.any, k)
  }

  async addKeyVersion(k: KeyRecord, v: KeyVersionRecord): Promise<void> {
    await this.db.tx(async (c) => {
      await c.query('SELECT 1 FROM keys WHERE id = $1 FOR UPDATE', [k.id])
      await insertVersion(c, v)
      await writeKey(c, k)
    })
  }

  async resealKeyVersion(keyId: string, version: number, material: Uint8Array): Promise<void> {
    await this.db.query(
      'UPDATE key_versions SET material = $1 WHERE key_id = $2 AND version = $3',
      [Buffer.from(material), keyId, version],
    )
  }

  async reserveWraps(
    keyId: string,
    version: number,
    n: number,
    limit: number,
  ): Promise<{ start: number; end: number }> {
    return this.db.tx(async (c) => {
      const [r] = (
        await c.query(
          'SELECT wraps FROM key_versions WHERE key_id = $1 AND version = $2 FOR UPDATE',
          [keyId, version],
        )
      ).rows as Row[]
      if (r === undefined)
        throw new StrongroomError(
          'KEY_DELETED',
          `version ${version} of key \`${keyId}\` no longer exists`,
        )
      const start = int(r.wraps)
      const end = Math.max(start, Math.min(start + n, limit))
      if (end > start)
        await c.query('UPDATE key_versions SET wraps = $1 WHERE key_id = $2 AND version = $3', [
          end,
          keyId,
          version,
        ])
      return { start, end }
    })
  }

  async getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT * FROM key_versions WHERE key_id = $1 AND version = $2',
      [keyId, version],
    )
    return (
      r && {
        keyId: text(r.key_id),
        version: int(r.version),
        material: bytea(r.material),
        createdAt: int(r.created_at),
      }
    )
  }

  async dueKeys(now: number): Promise<KeyRecord[]> {
    return (
      await this.db.query(
        `SELECT * FROM keys WHERE (state = 'PendingDeletion' AND deletion_at <= $1)
        OR (state = 'Enabled' AND next_rotation_at <= $1) ORDER BY id`,
        [now],
      )
    ).map(key)
  }

  async shredKey(k: KeyRecord): Promise<void> {
    // The material's rows are deleted; PostgreSQL erases dead rows from disk only when VACUUM
    // reclaims them (SQLite's secure_delete has no counterpart).
    await this.db.tx(async (c) => {
      await c.query('SELECT 1 FROM keys WHERE id = $1 FOR UPDATE', [k.id])
      await c.query('DELETE FROM key_versions WHERE key_id = $1', [k.id])
      await writeKey(c, k)
    })
  }

  async getKeyPolicy(keyId: string): Promise<string | undefined> {
    const [r] = await this.db.query('SELECT document FROM key_policies WHERE key_id = $1', [keyId])
    return r && text(r.document)
  }

  async putKeyPolicy(keyId: string, document: string): Promise<void> {
    await this.db.query(
      `INSERT INTO key_policies (key_id, document) VALUES ($1, $2)
      ON CONFLICT (key_id) DO UPDATE SET document = excluded.document`,
      [keyId, document],
    )
  }

  async putObjectKey(o: ObjectKeyRecord): Promise<void> {
    await insertDataKey(this.db.any, o.dataKeyId, o, o.createdAt)
  }

  async getObjectKey(dataKeyId: string): Promise<ObjectKeyRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM object_keys WHERE data_key_id = $1', [dataKeyId])
    return (
      r && {
        dataKeyId: text(r.data_key_id),
        tenantId: text(r.tenant_id),
        keyId: text(r.key_id),
        keyVersion: int(r.key_version),
        wrapped: bytea(r.wrapped),
        createdAt: int(r.created_at),
      }
    )
  }

  async deleteObjectKey(dataKeyId: string): Promise<boolean> {
    const r = await this.db.any.query('DELETE FROM object_keys WHERE data_key_id = $1', [dataKeyId])
    return (r.rowCount ?? 0) > 0
  }
}

/** Stores a data key with the row it seals, inside the caller's transaction. */
export async function insertDataKey(
  c: Queryable,
  dataKeyId: string,
  wk: { tenantId: string; keyId: string; keyVersion: number; wrapped: Uint8Array },
  createdAt: number,
): Promise<void> {
  await c.query(
    'INSERT INTO object_keys (data_key_id, tenant_id, key_id, key_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [dataKeyId, wk.tenantId, wk.keyId, wk.keyVersion, Buffer.from(wk.wrapped), createdAt],
  )
}

async function insertVersion(c: Queryable, v: KeyVersionRecord): Promise<void> {
  await c.query(
    'INSERT INTO key_versions (key_id, version, material, created_at) VALUES ($1, $2, $3, $4)',
    [v.keyId, v.version, Buffer.from(v.material), v.createdAt],
  )
}

async function writeKey(c: Queryable, k: KeyRecord): Promise<void> {
  await c.query(
    `UPDATE keys SET alias = $1, description = $2, state = $3, current_version = $4,
    rotation_period_days = $5, next_rotation_at = $6, deletion_at = $7, deleted_at = $8 WHERE id = $9`,
    [
      k.alias,
      k.description,
      k.state,
      k.currentVersion,
      k.rotationPeriodDays,
      k.nextRotationAt,
      k.deletionAt,
      k.deletedAt,
      k.id,
    ],
  )
}

const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : int(v))

function key(r: Row): KeyRecord {
  return {
    id: text(r.id),
    tenantId: text(r.tenant_id),
    alias: r.alias === null ? null : text(r.alias),
    description: text(r.description),
    state: text(r.state) as KeyState,
    currentVersion: int(r.current_version),
    createdAt: int(r.created_at),
    rotationPeriodDays: intOrNull(r.rotation_period_days),
    nextRotationAt: intOrNull(r.next_rotation_at),
    deletionAt: intOrNull(r.deletion_at),
    deletedAt: intOrNull(r.deleted_at),
  }
}
