/** GroupStore on SQLite: IAM groups, their members and inline policies. */
import type { SQLInputValue } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import type { GroupPolicyDocument, GroupPolicyRecord, GroupRecord, GroupStore } from '../groups.ts'
import { isUniqueViolation, num, str, type Row, type SqliteDb, settle } from './db.ts'

const count = (db: SqliteDb, sql: string, ...args: SQLInputValue[]): number =>
  num((db.stmt(sql).get(...args) as Row).n)

export class SqliteGroupStore implements GroupStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createGroup(g: GroupRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt(
            'INSERT INTO iam_groups (tenant_id, name, id, path, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(g.tenantId, g.name, g.id, g.path, g.createdAt)
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError('ENTITY_EXISTS', `Group with name ${g.name} already exists.`, {
            cause: e,
          })
        throw e
      }
    })
  }

  getGroup(tenantId: string, name: string): Promise<GroupRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt('SELECT * FROM iam_groups WHERE tenant_id = ? AND name = ?')
        .get(tenantId, name) as Row | undefined
      return r && group(r)
    })
  }

  listGroups(tenantId: string): Promise<GroupRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt('SELECT * FROM iam_groups WHERE tenant_id = ? ORDER BY name')
          .all(tenantId) as Row[]
      ).map(group),
    )
  }

  deleteGroup(tenantId: string, name: string): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const members = count(
          this.db,
          'SELECT count(*) AS n FROM group_members WHERE tenant_id = ? AND group_name = ?',
          tenantId,
          name,
        )
        if (members > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove users from group first.',
          )
        const policies =
          count(
            this.db,
            'SELECT count(*) AS n FROM group_policies WHERE tenant_id = ? AND group_name = ?',
            tenantId,
            name,
          ) +
          count(
            this.db,
            "SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = ? AND kind = 'group' AND principal = ?",
            tenantId,
            name,
          )
        if (policies > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete entity, must remove policies first.',
          )
        const gone = this.db
          .stmt('DELETE FROM iam_groups WHERE tenant_id = ? AND name = ?')
          .run(tenantId, name)
        if (gone.changes === 0)
          throw new StrongroomError(
            'NO_SUCH_ENTITY',
            `The group with name ${name.slice(0, 128)} cannot be found.`,
          )
      }),
    )
  }

  addUserToGroup(tenantId: string, group: string, user: string, max: number): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        const g = this.db
          .stmt('SELECT name FROM iam_groups WHERE tenant_id = ? AND name = ?')
          .get(tenantId, group) as Row | undefined
        const u = this.db
          .stmt('SELECT name FROM users WHERE tenant_id = ? AND name = ? COLLATE NOCASE')
          .get(tenantId, user) as Row | undefined
        if (g === undefined || u === undefined) return false
        this.db
          .stmt(
            'INSERT INTO group_members (tenant_id, group_name, user_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
          )
          .run(tenantId, str(g.name), str(u.name))
        const groups = count(
          this.db,
          'SELECT count(*) AS n FROM group_members WHERE tenant_id = ? AND user_name = ?',
          tenantId,
          str(u.name),
        )
        if (groups > max)
          throw new StrongroomError(
            'LIMIT_EXCEEDED',
            `Cannot exceed quota for GroupsPerUser: ${max}`,
          )
        return true
      }),
    )
  }

  removeUserFromGroup(tenantId: string, group: string, user: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt(
            'DELETE FROM group_members WHERE tenant_id = ? AND group_name = ? AND user_name = ? COLLATE NOCASE',
          )
          .run(tenantId, group, user).changes > 0,
    )
  }

  groupMembers(tenantId: string, group: string): Promise<string[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            'SELECT user_name FROM group_members WHERE tenant_id = ? AND group_name = ? ORDER BY user_name',
          )
          .all(tenantId, group) as Row[]
      ).map((r) => str(r.user_name)),
    )
  }

  groupsOfUser(tenantId: string, user: string): Promise<GroupRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            `SELECT g.* FROM group_members m JOIN iam_groups g
              ON g.tenant_id = m.tenant_id AND g.name = m.group_name
            WHERE m.tenant_id = ? AND m.user_name = ? COLLATE NOCASE ORDER BY g.name`,
          )
          .all(tenantId, user) as Row[]
      ).map(group),
    )
  }

  putGroupPolicy(p: GroupPolicyRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          `INSERT INTO group_policies (tenant_id, group_name, name, document) VALUES (?, ?, ?, ?)
          ON CONFLICT (tenant_id, group_name, name) DO UPDATE SET document = excluded.document`,
        )
        .run(p.tenantId, p.groupName, p.name, p.document)
    })
  }

  listGroupPolicies(tenantId: string, group: string): Promise<GroupPolicyRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt('SELECT * FROM group_policies WHERE tenant_id = ? AND group_name = ? ORDER BY name')
          .all(tenantId, group) as Row[]
      ).map((r) => ({
        tenantId: str(r.tenant_id),
        groupName: str(r.group_name),
        name: str(r.name),
        document: str(r.document),
      })),
    )
  }

  deleteGroupPolicy(tenantId: string, group: string, name: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt('DELETE FROM group_policies WHERE tenant_id = ? AND group_name = ? AND name = ?')
          .run(tenantId, group, name).changes > 0,
    )
  }

  groupPolicyDocuments(tenantId: string, user: string): Promise<GroupPolicyDocument[]> {
    return settle(() => readGroupDocuments(this.db, tenantId, user))
  }
}

/** Every policy that reaches the user through its groups (GroupStore.groupPolicyDocuments). */
export function readGroupDocuments(
  db: SqliteDb,
  tenantId: string,
  user: string,
): GroupPolicyDocument[] {
  return (
    db
      .stmt(
        `SELECT m.group_name AS g, 0 AS managed, p.name AS name, p.document AS document
              FROM group_members m JOIN group_policies p
                ON p.tenant_id = m.tenant_id AND p.group_name = m.group_name
              WHERE m.tenant_id = ? AND m.user_name = ? COLLATE NOCASE
            UNION ALL
            SELECT m.group_name AS g, 1 AS managed, mp.path || mp.name AS name, v.document AS document
              FROM group_members m
              JOIN policy_attachments a ON a.tenant_id = m.tenant_id AND a.kind = 'group'
                AND a.principal = m.group_name
              JOIN managed_policies mp ON mp.tenant_id = a.tenant_id AND mp.name = a.policy_name
              JOIN policy_versions v ON v.tenant_id = mp.tenant_id AND v.policy_name = mp.name
                AND v.version = mp.default_version
              WHERE m.tenant_id = ? AND m.user_name = ? COLLATE NOCASE
            ORDER BY g, managed, name`,
      )
      .all(tenantId, user, tenantId, user) as Row[]
  ).map((r) => ({
    group: str(r.g),
    kind: num(r.managed) === 1 ? 'managed' : 'inline',
    name: str(r.name),
    document: str(r.document),
  }))
}

function group(r: Row): GroupRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    id: str(r.id),
    path: str(r.path),
    createdAt: num(r.created_at),
  }
}
