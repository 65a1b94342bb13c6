/**
 * IamStore on SQLite: role and user changes and deletions, IAM tags, and access keys' last
 * use. Every check AWS makes atomically (nothing left on a deleted role) runs in the
 * transaction of the write it guards.
 */
import type { SQLInputValue } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import type { RoleRecord } from '../identity.ts'
import type { AccessKeyUse, IamStore, TaggedKind, TagRecord } from '../iam.ts'
import { num, str, type Row, type SqliteDb, settle } from './db.ts'
import { attachmentCount } from './policies.ts'

const count = (db: SqliteDb, sql: string, ...args: SQLInputValue[]): number =>
  num((db.stmt(sql).get(...args) as Row).n)

export class SqliteIamStore implements IamStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  updateRole(r: RoleRecord): Promise<void> {
    return settle(() => {
      const changed = this.db
        .stmt(
          'UPDATE roles SET description = ?, trust_policy = ?, max_session_seconds = ? WHERE tenant_id = ? AND name = ?',
        )
        .run(r.description, r.trustPolicy, r.maxSessionSeconds, r.tenantId, r.name)
      if (changed.changes === 0)
        throw new StrongroomError('ROLE_NOT_FOUND', `role \`${r.name}\` does not exist`)
    })
  }

  deleteRole(tenantId: string, name: string): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const inline = count(
          this.db,
          'SELECT count(*) AS n FROM role_policies WHERE tenant_id = ? AND role_name = ?',
          tenantId,
          name,
        )
        const attached = attachmentCount(this.db, tenantId, 'role', name)
        if (inline + attached > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove policies first.',
          )
        const gone = this.db
          .stmt('DELETE FROM roles WHERE tenant_id = ? AND name = ?')
          .run(tenantId, name)
        if (gone.changes === 0)
          throw new StrongroomError('ROLE_NOT_FOUND', `role \`${name}\` does not exist`)
        this.dropTags(tenantId, 'role', name)
      }),
    )
  }

  deleteRolePolicy(tenantId: string, roleName: string, name: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt('DELETE FROM role_policies WHERE tenant_id = ? AND role_name = ? AND name = ?')
          .run(tenantId, roleName, name).changes > 0,
    )
  }

  deleteUser(tenantId: string, name: string): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const keys = count(
          this.db,
          'SELECT count(*) AS n FROM access_keys WHERE tenant_id = ? AND user_name = ?',
          tenantId,
          name,
        )
        if (keys > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must delete access keys first.',
          )
        const groups = count(
          this.db,
          'SELECT count(*) AS n FROM group_members WHERE tenant_id = ? AND user_name = ?',
          tenantId,
          name,
        )
        if (groups > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove user from all groups first.',
          )
        const inline = count(
          this.db,
          'SELECT count(*) AS n FROM user_policies WHERE tenant_id = ? AND user_name = ?',
          tenantId,
          name,
        )
        if (inline + attachmentCount(this.db, tenantId, 'user', name) > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove policies first.',
          )
        const gone = this.db
          .stmt('DELETE FROM users WHERE tenant_id = ? AND name = ?')
          .run(tenantId, name)
        if (gone.changes === 0)
          throw new StrongroomError('USER_NOT_FOUND', `user \`${name}\` does not exist`)
        this.dropTags(tenantId, 'user', name)
      }),
    )
  }

  deleteUserPolicy(tenantId: string, userName: string, name: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt('DELETE FROM user_policies WHERE tenant_id = ? AND user_name = ? AND name = ?')
          .run(tenantId, userName, name).changes > 0,
    )
  }

  // ---- tags

  tagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    tags: readonly TagRecord[],
    max: number,
  ): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const put = this.db.stmt(
          `INSERT INTO iam_tags (tenant_id, kind, name, key, value) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (tenant_id, kind, name, key) DO UPDATE SET key = excluded.key, value = excluded.value`,
        )
        for (const t of tags) put.run(tenantId, kind, name, t.key, t.value)
        const n = count(
          this.db,
          'SELECT count(*) AS n FROM iam_tags WHERE tenant_id = ? AND kind = ? AND name = ?',
          tenantId,
          kind,
          name,
        )
        if (n > max)
          throw new StrongroomError(
            'LIMIT_EXCEEDED',
            `The number of tags has reached the maximum limit of ${max}.`,
          )
      }),
    )
  }

  untagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    keys: readonly string[],
  ): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const del = this.db.stmt(
          'DELETE FROM iam_tags WHERE tenant_id = ? AND kind = ? AND name = ? AND key = ?',
        )
        for (const k of keys) del.run(tenantId, kind, name, k)
      }),
    )
  }

  listTags(tenantId: string, kind: TaggedKind, name: string): Promise<TagRecord[]> {
    return settle(() => readTags(this.db, tenantId, kind, name))
  }

  private dropTags(tenantId: string, kind: TaggedKind, name: string): void {
    this.db
      .stmt('DELETE FROM iam_tags WHERE tenant_id = ? AND kind = ? AND name = ?')
      .run(tenantId, kind, name)
  }

  // ---- access keys' last use

  recordAccessKeyUse(id: string, use: AccessKeyUse): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          'UPDATE access_keys SET last_used_at = ?, last_used_service = ?, last_used_region = ? WHERE id = ?',
        )
        .run(use.at, use.service, use.region, id)
    })
  }

  accessKeyUse(id: string): Promise<AccessKeyUse | undefined> {
    return settle(() => {
      const r = this.db
        .stmt(
          'SELECT last_used_at, last_used_service, last_used_region FROM access_keys WHERE id = ?',
        )
        .get(id) as Row | undefined
      if (r === undefined || r.last_used_at === null) return undefined
      return {
        at: num(r.last_used_at),
        service: str(r.last_used_service),
        region: str(r.last_used_region),
      }
    })
  }
}

/** The tags on one IAM resource, by key. */
export function readTags(
  db: SqliteDb,
  tenantId: string,
  kind: TaggedKind,
  name: string,
): TagRecord[] {
  return (
    db
      .stmt(
        'SELECT key, value FROM iam_tags WHERE tenant_id = ? AND kind = ? AND name = ? ORDER BY key',
      )
      .all(tenantId, kind, name) as Row[]
  ).map((r) => ({ key: str(r.key), value: str(r.value) }))
}
