/**
 * KeyStore on PostgreSQL: keys, their versions, key policies and object data keys. A key's
 * changes that span rows (its first version, a rotation, shredding) are one transaction that
 * locks the key's row first, so that two gateways rotating or shredding one key take turns; the
 * wrap budget of a key version is counted under that version's row lock.
 */
import { StrongroomError } from '../../errors.ts'
import type {
  AliasRecord,
  KeyRecord,
  KeyRotation,
  KeyState,
  KeyStore,
  KeyTag,
  KeyVersionRecord,
  ObjectKeyRecord,
  RotationType,
} from '../keys.ts'
import { bytea, int, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

/** A key's row with its oldest alias (keys.alias is retired: aliases are key_aliases rows). */
const KEY = `SELECT k.*, (SELECT a.name FROM key_aliases a WHERE a.key_id = k.id
  ORDER BY a.created_at, a.name LIMIT 1) AS first_alias FROM keys k`

export class PgKeyStore implements KeyStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createKey(k: KeyRecord, first: KeyVersionRecord): Promise<void> {
    try {
      await this.db.tx(async (c) => {
        await c.query(
          `INSERT INTO keys (id, tenant_id, description, state, current_version, created_at,
          rotation_period_days, next_rotation_at, deletion_at, deleted_at, tags)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            k.id,
            k.tenantId,
            k.description,
            k.state,
            k.currentVersion,
            k.createdAt,
            k.rotationPeriodDays,
            k.nextRotationAt,
            k.deletionAt,
            k.deletedAt,
            JSON.stringify(k.tags),
          ],
        )
        await insertVersion(c, first, null)
        if (k.alias !== null)
          await insertAlias(c, {
            tenantId: k.tenantId,
            name: k.alias,
            keyId: k.id,
            createdAt: k.createdAt,
            updatedAt: k.createdAt,
          })
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
    const [r] = await this.db.query(`${KEY} WHERE k.id = $1`, [keyId])
    return r && key(r)
  }

  async getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined> {
    const [r] = await this.db.query(
      `${KEY} JOIN key_aliases x ON x.key_id = k.id WHERE x.tenant_id = $1 AND x.name = $2`,
      [tenantId, alias],
    )
    return r && key(r)
  }

  async listKeys(tenantId: string): Promise<KeyRecord[]> {
    return (
      await this.db.query(`${KEY} WHERE k.tenant_id = $1 ORDER BY k.created_at, k.id`, [tenantId])
    ).map(key)
  }

  async updateKey(k: KeyRecord): Promise<void> {
    await writeKey(this.db.any, k)
  }

  async addKeyVersion(k: KeyRecord, v: KeyVersionRecord, type: RotationType): Promise<void> {
    await this.db.tx(async (c) => {
      await c.query('SELECT 1 FROM keys WHERE id = $1 FOR UPDATE', [k.id])
      await insertVersion(c, v, type)
      await writeKey(c, k)
    })
  }

  async listKeyRotations(keyId: string): Promise<KeyRotation[]> {
    return (
      await this.db.query(
        'SELECT version, created_at, rotation FROM key_versions WHERE key_id = $1 AND version > 1 ORDER BY version',
        [keyId],
      )
    ).map((r) => ({
      version: int(r.version),
      rotatedAt: int(r.created_at),
      type: r.rotation === 'ON_DEMAND' ? 'ON_DEMAND' : 'AUTOMATIC',
    }))
  }

  async createAlias(a: AliasRecord): Promise<void> {
    try {
      await insertAlias(this.db.any, a)
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError(
          'KEY_EXISTS',
          `alias \`${a.name}\` is already in use in this tenant`,
          {
            cause: e,
          },
        )
      throw e
    }
  }

  async getAlias(tenantId: string, name: string): Promise<AliasRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT * FROM key_aliases WHERE tenant_id = $1 AND name = $2',
      [tenantId, name],
    )
    return r && alias(r)
  }

  async updateAlias(tenantId: string, name: string, keyId: string, at: number): Promise<boolean> {
    const r = await this.db.any.query(
      'UPDATE key_aliases SET key_id = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4',
      [keyId, at, tenantId, name],
    )
    return (r.rowCount ?? 0) > 0
  }

  async deleteAlias(tenantId: string, name: string): Promise<boolean> {
    const r = await this.db.any.query(
      'DELETE FROM key_aliases WHERE tenant_id = $1 AND name = $2',
      [tenantId, name],
    )
    return (r.rowCount ?? 0) > 0
  }

  async listAliases(tenantId: string): Promise<AliasRecord[]> {
    return (
      await this.db.query('SELECT * FROM key_aliases WHERE tenant_id = $1 ORDER BY name', [
        tenantId,
      ])
    ).map(alias)
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
        `${KEY} WHERE (k.state = 'PendingDeletion' AND k.deletion_at <= $1)
        OR (k.state = 'Enabled' AND k.next_rotation_at <= $1) ORDER BY k.id`,
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
      await c.query('DELETE FROM key_aliases WHERE key_id = $1', [k.id])
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

async function insertVersion(
  c: Queryable,
  v: KeyVersionRecord,
  type: RotationType | null,
): Promise<void> {
  await c.query(
    'INSERT INTO key_versions (key_id, version, material, created_at, rotation) VALUES ($1, $2, $3, $4, $5)',
    [v.keyId, v.version, Buffer.from(v.material), v.createdAt, type],
  )
}

async function insertAlias(c: Queryable, a: AliasRecord): Promise<void> {
  await c.query(
    'INSERT INTO key_aliases (tenant_id, name, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)',
    [a.tenantId, a.name, a.keyId, a.createdAt, a.updatedAt],
  )
}

function alias(r: Row): AliasRecord {
  return {
    tenantId: text(r.tenant_id),
    name: text(r.name),
    keyId: text(r.key_id),
    createdAt: int(r.created_at),
    updatedAt: int(r.updated_at),
  }
}

async function writeKey(c: Queryable, k: KeyRecord): Promise<void> {
  await c.query(
    `UPDATE keys SET description = $1, state = $2, current_version = $3,
    rotation_period_days = $4, next_rotation_at = $5, deletion_at = $6, deleted_at = $7, tags = $8
    WHERE id = $9`,
    [
      k.description,
      k.state,
      k.currentVersion,
      k.rotationPeriodDays,
      k.nextRotationAt,
      k.deletionAt,
      k.deletedAt,
      JSON.stringify(k.tags),
      k.id,
    ],
  )
}

const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : int(v))

function key(r: Row): KeyRecord {
  return {
    id: text(r.id),
    tenantId: text(r.tenant_id),
    alias: r.first_alias === null ? null : text(r.first_alias),
    description: text(r.description),
    state: text(r.state) as KeyState,
    currentVersion: int(r.current_version),
    createdAt: int(r.created_at),
    rotationPeriodDays: intOrNull(r.rotation_period_days),
    nextRotationAt: intOrNull(r.next_rotation_at),
    deletionAt: intOrNull(r.deletion_at),
    deletedAt: intOrNull(r.deleted_at),
    // Written only by writeKey and createKey, from a checked list.
    tags: JSON.parse(text(r.tags)) as KeyTag[],
  }
}
