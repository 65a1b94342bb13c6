/**
 * IamStore on PostgreSQL: role and user changes and deletions, IAM tags, and access keys' last
 * use. Every check AWS makes atomically (nothing left on a deleted role or user, at most `max`
 * tags) runs in the transaction of the write it guards, after locking what it depends on: the
 * role's or user's row (FOR UPDATE: a policy attached, a key or a membership added meanwhile
 * waits, then finds it gone), or, for tags, which need no entity, an advisory lock on the
 * resource's name.
 */
import { StrongroomError } from '../../errors.ts'
import type { AccessKeyUse, IamStore, TaggedKind, TagRecord } from '../iam.ts'
import type { RoleRecord } from '../identity.ts'
import { int, text, type PgDb, type Queryable } from './db.ts'
import { attachmentCount } from './policies.ts'

type Row = Record<string, unknown>

const rows = async (c: Queryable, sql: string, params: unknown[]): Promise<Row[]> =>
  (await c.query(sql, params)).rows as Row[]

const count = async (c: Queryable, sql: string, params: unknown[]): Promise<number> =>
  int((await rows(c, sql, params))[0]?.n)

export class PgIamStore implements IamStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async updateRole(r: RoleRecord): Promise<void> {
    const changed = await this.db.any.query(
      'UPDATE roles SET description = $1, trust_policy = $2, max_session_seconds = $3 WHERE tenant_id = $4 AND name = $5',
      [r.description, r.trustPolicy, r.maxSessionSeconds, r.tenantId, r.name],
    )
    if (changed.rowCount === 0)
      throw new StrongroomError('ROLE_NOT_FOUND', `role \`${r.name}\` does not exist`)
  }

  deleteRole(tenantId: string, name: string): Promise<void> {
    return this.db.tx(async (c) => {
      // Locked: an inline policy (its foreign key) or an attachment (attachPolicy locks the
      // role too) added meanwhile waits for this transaction; one committed before is counted.
      const [role] = await rows(
        c,
        'SELECT name FROM roles WHERE tenant_id = $1 AND name = $2 FOR UPDATE',
        [tenantId, name],
      )
      const inline = await count(
        c,
        'SELECT count(*) AS n FROM role_policies WHERE tenant_id = $1 AND role_name = $2',
        [tenantId, name],
      )
      const attached = await attachmentCount(c, tenantId, 'role', name)
      if (inline + attached > 0)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete entity, must remove policies first.',
        )
      if (role === undefined)
        throw new StrongroomError('ROLE_NOT_FOUND', `role \`${name}\` does not exist`)
      await c.query('DELETE FROM roles WHERE tenant_id = $1 AND name = $2', [tenantId, name])
      await dropTags(c, tenantId, 'role', name)
    })
  }

  async deleteRolePolicy(tenantId: string, roleName: string, name: string): Promise<boolean> {
    const gone = await this.db.any.query(
      'DELETE FROM role_policies WHERE tenant_id = $1 AND role_name = $2 AND name = $3',
      [tenantId, roleName, name],
    )
    return (gone.rowCount ?? 0) > 0
  }

  deleteUser(tenantId: string, name: string): Promise<void> {
    return this.db.tx(async (c) => {
      // SQLite deletes a user by its name exactly as stored (users.name is a byte-wise column
      // there, only its uniqueness ignoring case): so here. Locked: a key, an inline policy, a
      // membership (their foreign keys) or an attachment (attachPolicy locks the user too)
      // added meanwhile waits for this transaction; one committed before is counted.
      const [user] = await rows(
        c,
        'SELECT name FROM users WHERE tenant_id = $1 AND name = $2::citext AND name::text = $2::text FOR UPDATE',
        [tenantId, name],
      )
      if (user !== undefined) {
        const params = [tenantId, name]
        const keys = await count(
          c,
          'SELECT count(*) AS n FROM access_keys WHERE tenant_id = $1 AND user_name = $2',
          params,
        )
        if (keys > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must delete access keys first.',
          )
        const groups = await count(
          c,
          'SELECT count(*) AS n FROM group_members WHERE tenant_id = $1 AND user_name = $2',
          params,
        )
        if (groups > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove user from all groups first.',
          )
        const inline = await count(
          c,
          'SELECT count(*) AS n FROM user_policies WHERE tenant_id = $1 AND user_name = $2',
          params,
        )
        if (inline > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove policies first.',
          )
      }
      // Counted whether or not the user is there, as SQLite does (its attachments' principal
      // ignores case, so a name in another case can find some).
      if ((await attachmentCount(c, tenantId, 'user', name)) > 0)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete entity, must remove policies first.',
        )
      if (user === undefined)
        throw new StrongroomError('USER_NOT_FOUND', `user \`${name}\` does not exist`)
      await c.query('DELETE FROM users WHERE tenant_id = $1 AND name = $2', [tenantId, name])
      await dropTags(c, tenantId, 'user', name)
    })
  }

  async deleteUserPolicy(tenantId: string, userName: string, name: string): Promise<boolean> {
    // The user by its name exactly as stored, as SQLite's byte-wise user_name column finds it.
    const gone = await this.db.any.query(
      `DELETE FROM user_policies WHERE tenant_id = $1 AND user_name = $2::citext AND name = $3
        AND EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND name = $2::citext
          AND name::text = $2::text)`,
      [tenantId, userName, name],
    )
    return (gone.rowCount ?? 0) > 0
  }

  // ---- tags

  tagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    tags: readonly TagRecord[],
    max: number,
  ): Promise<void> {
    return this.db.tx(async (c) => {
      // A tagged resource need not have a row (SQLite tags any name): two taggings of the same
      // one are serialized by a lock on its name instead, so the count below holds.
      await c.query(
        "SELECT pg_advisory_xact_lock(hashtextextended('strongroom.iam_tags/' || $1::text || '/' || $2::text || '/' || lower($3::text), 0))",
        [tenantId, kind, name],
      )
      // One statement for all: of keys repeated regardless of case, the last given wins, as
      // SQLite's one upsert after the other.
      await c.query(
        `INSERT INTO iam_tags (tenant_id, kind, name, key, value)
          SELECT DISTINCT ON (t.key::citext) $1, $2, $3, t.key, t.value
          FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(key, value, i)
          ORDER BY t.key::citext, t.i DESC
        ON CONFLICT (tenant_id, kind, name, key) DO UPDATE SET key = excluded.key, value = excluded.value`,
        [tenantId, kind, name, tags.map((t) => t.key), tags.map((t) => t.value)],
      )
      const n = await count(
        c,
        'SELECT count(*) AS n FROM iam_tags WHERE tenant_id = $1 AND kind = $2 AND name = $3',
        [tenantId, kind, name],
      )
      if (n > max)
        throw new StrongroomError(
          'LIMIT_EXCEEDED',
          `The number of tags has reached the maximum limit of ${max}.`,
        )
    })
  }

  async untagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    keys: readonly string[],
  ): Promise<void> {
    await this.db.query(
      'DELETE FROM iam_tags WHERE tenant_id = $1 AND kind = $2 AND name = $3 AND key = ANY($4::citext[])',
      [tenantId, kind, name, [...keys]],
    )
  }

  listTags(tenantId: string, kind: TaggedKind, name: string): Promise<TagRecord[]> {
    return readTags(this.db.any, tenantId, kind, name)
  }

  // ---- access keys' last use

  async recordAccessKeyUse(id: string, use: AccessKeyUse): Promise<void> {
    await this.db.query(
      'UPDATE access_keys SET last_used_at = $1, last_used_service = $2, last_used_region = $3 WHERE id = $4',
      [use.at, use.service, use.region, id],
    )
  }

  async accessKeyUse(id: string): Promise<AccessKeyUse | undefined> {
    const [r] = await this.db.query(
      'SELECT last_used_at, last_used_service, last_used_region FROM access_keys WHERE id = $1',
      [id],
    )
    if (r === undefined || r.last_used_at === null) return undefined
    return {
      at: int(r.last_used_at),
      service: text(r.last_used_service),
      region: text(r.last_used_region),
    }
  }
}

async function dropTags(
  c: Queryable,
  tenantId: string,
  kind: TaggedKind,
  name: string,
): Promise<void> {
  await c.query('DELETE FROM iam_tags WHERE tenant_id = $1 AND kind = $2 AND name = $3', [
    tenantId,
    kind,
    name,
  ])
}

/** The tags on one IAM resource, by key regardless of case (SQLite's NOCASE order). */
export async function readTags(
  c: Queryable,
  tenantId: string,
  kind: TaggedKind,
  name: string,
): Promise<TagRecord[]> {
  return (
    await rows(
      c,
      'SELECT key, value FROM iam_tags WHERE tenant_id = $1 AND kind = $2 AND name = $3 ORDER BY lower(key::text) COLLATE "C"',
      [tenantId, kind, name],
    )
  ).map((r) => ({ key: text(r.key), value: text(r.value) }))
}
