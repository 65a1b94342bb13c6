/** KeyStore on SQLite: keys, their versions, key policies and object data keys. */
import { StrongroomError } from '../../errors.ts'
import type { SQLInputValue } from 'node:sqlite'
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
import {
  bytes,
  insertDataKey,
  isUniqueViolation,
  num,
  numOrNull,
  str,
  type Row,
  type SqliteDb,
  settle,
} from './db.ts'

/** A key's row with its oldest alias (keys.alias is retired: aliases are key_aliases rows). */
const KEY = `SELECT k.*, (SELECT a.name FROM key_aliases a WHERE a.key_id = k.id
  ORDER BY a.created_at, a.name LIMIT 1) AS first_alias FROM keys k`

export class SqliteKeyStore implements KeyStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createKey(k: KeyRecord, first: KeyVersionRecord): Promise<void> {
    return settle(() => {
      try {
        this.db.tx(() => {
          this.db
            .stmt(
              `INSERT INTO keys (id, tenant_id, description, state, current_version, created_at,
          rotation_period_days, next_rotation_at, deletion_at, deleted_at, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(...keyValues(k))
          insertVersion(this.db, first, null)
          if (k.alias !== null)
            insertAlias(this.db, {
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
    })
  }

  getKey(keyId: string): Promise<KeyRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt(`${KEY} WHERE k.id = ?`).get(keyId) as Row | undefined
      return r && key(r)
    })
  }

  getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt(`${KEY} JOIN key_aliases x ON x.key_id = k.id WHERE x.tenant_id = ? AND x.name = ?`)
        .get(tenantId, alias) as Row | undefined
      return r && key(r)
    })
  }

  listKeys(tenantId: string): Promise<KeyRecord[]> {
    return settle(() => {
      const rows = this.db
        .stmt(`${KEY} WHERE k.tenant_id = ? ORDER BY k.created_at, k.id`)
        .all(tenantId) as Row[]
      return rows.map(key)
    })
  }

  updateKey(k: KeyRecord): Promise<void> {
    return settle(() => {
      writeKey(this.db, k)
    })
  }

  addKeyVersion(k: KeyRecord, v: KeyVersionRecord, type: RotationType): Promise<void> {
    return settle(() => {
      this.db.tx(() => {
        insertVersion(this.db, v, type)
        writeKey(this.db, k)
      })
    })
  }

  listKeyRotations(keyId: string): Promise<KeyRotation[]> {
    return settle(() => {
      const rows = this.db
        .stmt(
          'SELECT version, created_at, rotation FROM key_versions WHERE key_id = ? AND version > 1 ORDER BY version',
        )
        .all(keyId) as Row[]
      return rows.map((r) => ({
        version: num(r.version),
        rotatedAt: num(r.created_at),
        type: r.rotation === 'ON_DEMAND' ? 'ON_DEMAND' : 'AUTOMATIC',
      }))
    })
  }

  createAlias(a: AliasRecord): Promise<void> {
    return settle(() => {
      try {
        insertAlias(this.db, a)
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
    })
  }

  getAlias(tenantId: string, name: string): Promise<AliasRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt('SELECT * FROM key_aliases WHERE tenant_id = ? AND name = ?')
        .get(tenantId, name) as Row | undefined
      return r && alias(r)
    })
  }

  updateAlias(tenantId: string, name: string, keyId: string, at: number): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt(
            'UPDATE key_aliases SET key_id = ?, updated_at = ? WHERE tenant_id = ? AND name = ?',
          )
          .run(keyId, at, tenantId, name).changes > 0,
    )
  }

  deleteAlias(tenantId: string, name: string): Promise<boolean> {
    return settle(
      () =>
        this.db.stmt('DELETE FROM key_aliases WHERE tenant_id = ? AND name = ?').run(tenantId, name)
          .changes > 0,
    )
  }

  listAliases(tenantId: string): Promise<AliasRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt('SELECT * FROM key_aliases WHERE tenant_id = ? ORDER BY name')
          .all(tenantId) as Row[]
      ).map(alias),
    )
  }

  resealKeyVersion(keyId: string, version: number, material: Uint8Array): Promise<void> {
    return settle(() => {
      this.db
        .stmt('UPDATE key_versions SET material = ? WHERE key_id = ? AND version = ?')
        .run(material, keyId, version)
    })
  }

  reserveWraps(
    keyId: string,
    version: number,
    n: number,
    limit: number,
  ): Promise<{ start: number; end: number }> {
    return settle(() => {
      return this.db.tx(() => {
        const r = this.db
          .stmt('SELECT wraps FROM key_versions WHERE key_id = ? AND version = ?')
          .get(keyId, version) as Row | undefined
        if (r === undefined)
          throw new StrongroomError(
            'KEY_DELETED',
            `version ${version} of key \`${keyId}\` no longer exists`,
          )
        const start = num(r.wraps)
        const end = Math.max(start, Math.min(start + n, limit))
        if (end > start)
          this.db
            .stmt('UPDATE key_versions SET wraps = ? WHERE key_id = ? AND version = ?')
            .run(end, keyId, version)
        return { start, end }
      })
    })
  }

  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt('SELECT * FROM key_versions WHERE key_id = ? AND version = ?')
        .get(keyId, version) as Row | undefined
      return (
        r && {
          keyId: str(r.key_id),
          version: num(r.version),
          material: bytes(r.material),
          createdAt: num(r.created_at),
        }
      )
    })
  }

  dueKeys(now: number): Promise<KeyRecord[]> {
    return settle(() => {
      const rows = this.db
        .stmt(
          `${KEY} WHERE (k.state = 'PendingDeletion' AND k.deletion_at <= ?)
          OR (k.state = 'Enabled' AND k.next_rotation_at <= ?) ORDER BY k.id`,
        )
        .all(now, now) as Row[]
      return rows.map(key)
    })
  }

  shredKey(k: KeyRecord): Promise<void> {
    return settle(() => {
      this.db.tx(() => {
        this.db.stmt('DELETE FROM key_versions WHERE key_id = ?').run(k.id)
        this.db.stmt('DELETE FROM key_aliases WHERE key_id = ?').run(k.id)
        writeKey(this.db, k)
      })
      this.db.checkpoint()
    })
  }

  getKeyPolicy(keyId: string): Promise<string | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT document FROM key_policies WHERE key_id = ?').get(keyId) as
        Row | undefined
      return r && str(r.document)
    })
  }

  putKeyPolicy(keyId: string, document: string): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          `INSERT INTO key_policies (key_id, document) VALUES (?, ?)
          ON CONFLICT (key_id) DO UPDATE SET document = excluded.document`,
        )
        .run(keyId, document)
    })
  }

  putObjectKey(o: ObjectKeyRecord): Promise<void> {
    return settle(() => {
      insertDataKey(this.db, o.dataKeyId, o, o.createdAt)
    })
  }

  getObjectKey(dataKeyId: string): Promise<ObjectKeyRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM object_keys WHERE data_key_id = ?').get(dataKeyId) as
        Row | undefined
      return (
        r && {
          dataKeyId: str(r.data_key_id),
          tenantId: str(r.tenant_id),
          keyId: str(r.key_id),
          keyVersion: num(r.key_version),
          wrapped: bytes(r.wrapped),
          createdAt: num(r.created_at),
        }
      )
    })
  }

  deleteObjectKey(dataKeyId: string): Promise<boolean> {
    return settle(() => {
      const r = this.db.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(dataKeyId)
      if (r.changes > 0) this.db.checkpoint()
      return r.changes > 0
    })
  }
}

function insertVersion(db: SqliteDb, v: KeyVersionRecord, type: RotationType | null): void {
  db.stmt(
    'INSERT INTO key_versions (key_id, version, material, created_at, rotation) VALUES (?, ?, ?, ?, ?)',
  ).run(v.keyId, v.version, v.material, v.createdAt, type)
}

function insertAlias(db: SqliteDb, a: AliasRecord): void {
  db.stmt(
    'INSERT INTO key_aliases (tenant_id, name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
  ).run(a.tenantId, a.name, a.keyId, a.createdAt, a.updatedAt)
}

function alias(r: Row): AliasRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    keyId: str(r.key_id),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }
}

/** The stored tags: written only by writeKey and keyValues, from a checked list. */
function tags(v: unknown): KeyTag[] {
  return JSON.parse(str(v as string)) as KeyTag[]
}

function writeKey(db: SqliteDb, k: KeyRecord): void {
  db.stmt(
    `UPDATE keys SET description = ?, state = ?, current_version = ?, rotation_period_days = ?,
        next_rotation_at = ?, deletion_at = ?, deleted_at = ?, tags = ? WHERE id = ?`,
  ).run(
    k.description,
    k.state,
    k.currentVersion,
    k.rotationPeriodDays,
    k.nextRotationAt,
    k.deletionAt,
    k.deletedAt,
    JSON.stringify(k.tags),
    k.id,
  )
}

function key(r: Row): KeyRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    alias: r.first_alias === null ? null : str(r.first_alias),
    description: str(r.description),
    state: str(r.state) as KeyState,
    currentVersion: num(r.current_version),
    createdAt: num(r.created_at),
    rotationPeriodDays: numOrNull(r.rotation_period_days),
    nextRotationAt: numOrNull(r.next_rotation_at),
    deletionAt: numOrNull(r.deletion_at),
    deletedAt: numOrNull(r.deleted_at),
    tags: tags(r.tags),
  }
}

function keyValues(k: KeyRecord): SQLInputValue[] {
  return [
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
  ]
}
