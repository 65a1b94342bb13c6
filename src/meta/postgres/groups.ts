/**
 * GroupStore on PostgreSQL: IAM groups, their members and inline policies. A group's deletion
 * locks its row (FOR UPDATE) before counting what hangs on it; adding a member locks the user's
 * row against another addition (the GroupsPerUser quota counts one after the other) and the
 * group's against its deletion. Lists sort as SQLite's do: groups regardless of case, members
 * and inline policies by byte.
 */
import { StrongroomError } from '../../errors.ts'
import type { GroupPolicyDocument, GroupPolicyRecord, GroupRecord, GroupStore } from '../groups.ts'
import { int, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

const rows = async (c: Queryable, sql: string, params: unknown[]): Promise<Row[]> =>
  (await c.query(sql, params)).rows as Row[]

const count = async (c: Queryable, sql: string, params: unknown[]): Promise<number> =>
  int((await rows(c, sql, params))[0]?.n)

export class PgGroupStore implements GroupStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createGroup(g: GroupRecord): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO iam_groups (tenant_id, name, id, path, created_at) VALUES ($1, $2, $3, $4, $5)',
        [g.tenantId, g.name, g.id, g.path, g.createdAt],
      )
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError('ENTITY_EXISTS', `Group with name ${g.name} already exists.`, {
          cause: e,
        })
      throw e
    }
  }

  async getGroup(tenantId: string, name: string): Promise<GroupRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM iam_groups WHERE tenant_id = $1 AND name = $2', [
      tenantId,
      name,
    ])
    return r && group(r)
  }

  async listGroups(tenantId: string): Promise<GroupRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM iam_groups WHERE tenant_id = $1 ORDER BY lower(name::text) COLLATE "C"',
        [tenantId],
      )
    ).map(group)
  }

  deleteGroup(tenantId: string, name: string): Promise<void> {
    return this.db.tx(async (c) => {
      // Locked: a member or an inline policy (their foreign keys) or an attachment
      // (attachPolicy locks the group too) added meanwhile waits for this transaction; one
      // committed before is counted.
      const [g] = await rows(
        c,
        'SELECT name FROM iam_groups WHERE tenant_id = $1 AND name = $2 FOR UPDATE',
        [tenantId, name],
      )
      const members = await count(
        c,
        'SELECT count(*) AS n FROM group_members WHERE tenant_id = $1 AND group_name = $2',
        [tenantId, name],
      )
      if (members > 0)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete entity, must remove users from group first.',
        )
      const policies =
        (await count(
          c,
          'SELECT count(*) AS n FROM group_policies WHERE tenant_id = $1 AND group_name = $2',
          [tenantId, name],
        )) +
        (await count(
          c,
          "SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = $1 AND kind = 'group' AND principal = $2",
          [tenantId, name],
        ))
      if (policies > 0)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete entity, must remove policies first.',
        )
      if (g === undefined)
        throw new StrongroomError(
          'NO_SUCH_ENTITY',
          `The group with name ${name.slice(0, 128)} cannot be found.`,
        )
      await c.query('DELETE FROM iam_groups WHERE tenant_id = $1 AND name = $2', [tenantId, name])
    })
  }

  addUserToGroup(tenantId: string, group: string, user: string, max: number): Promise<boolean> {
    return this.db.tx(async (c) => {
      // The user's row, locked against another addition (the quota below counts one after the
      // other) and its deletion; the group's, against its deletion.
      const [u] = await rows(
        c,
        'SELECT name FROM users WHERE tenant_id = $1 AND name = $2 FOR NO KEY UPDATE',
        [tenantId, user],
      )
      const [g] = await rows(
        c,
        'SELECT name FROM iam_groups WHERE tenant_id = $1 AND name = $2 FOR KEY SHARE',
        [tenantId, group],
      )
      if (g === undefined || u === undefined) return false
      await c.query(
        'INSERT INTO group_members (tenant_id, group_name, user_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [tenantId, text(g.name), text(u.name)],
      )
      const groups = await count(
        c,
        'SELECT count(*) AS n FROM group_members WHERE tenant_id = $1 AND user_name = $2',
        [tenantId, text(u.name)],
      )
      if (groups > max)
        throw new StrongroomError('LIMIT_EXCEEDED', `Cannot exceed quota for GroupsPerUser: ${max}`)
      return true
    })
  }

  async removeUserFromGroup(tenantId: string, group: string, user: string): Promise<boolean> {
    const gone = await this.db.any.query(
      'DELETE FROM group_members WHERE tenant_id = $1 AND group_name = $2 AND user_name = $3',
      [tenantId, group, user],
    )
    return (gone.rowCount ?? 0) > 0
  }

  async groupMembers(tenantId: string, group: string): Promise<string[]> {
    return (
      await this.db.query(
        'SELECT user_name FROM group_members WHERE tenant_id = $1 AND group_name = $2 ORDER BY user_name::text COLLATE "C"',
        [tenantId, group],
      )
    ).map((r) => text(r.user_name))
  }

  async groupsOfUser(tenantId: string, user: string): Promise<GroupRecord[]> {
    return (
      await this.db.query(
        `SELECT g.* FROM group_members m JOIN iam_groups g
          ON g.tenant_id = m.tenant_id AND g.name = m.group_name
        WHERE m.tenant_id = $1 AND m.user_name = $2 ORDER BY lower(g.name::text) COLLATE "C"`,
        [tenantId, user],
      )
    ).map(group)
  }

  async putGroupPolicy(p: GroupPolicyRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO group_policies (tenant_id, group_name, name, document) VALUES ($1, $2, $3, $4)
      ON CONFLICT (tenant_id, group_name, name) DO UPDATE SET document = excluded.document`,
      [p.tenantId, p.groupName, p.name, p.document],
    )
  }

  async listGroupPolicies(tenantId: string, group: string): Promise<GroupPolicyRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM group_policies WHERE tenant_id = $1 AND group_name = $2 ORDER BY name COLLATE "C"',
        [tenantId, group],
      )
    ).map((r) => ({
      tenantId: text(r.tenant_id),
      groupName: text(r.group_name),
      name: text(r.name),
      document: text(r.document),
    }))
  }

  async deleteGroupPolicy(tenantId: string, group: string, name: string): Promise<boolean> {
    const gone = await this.db.any.query(
      'DELETE FROM group_policies WHERE tenant_id = $1 AND group_name = $2 AND name = $3',
      [tenantId, group, name],
    )
    return (gone.rowCount ?? 0) > 0
  }

  groupPolicyDocuments(tenantId: string, user: string): Promise<GroupPolicyDocument[]> {
    return readGroupDocuments(this.db.any, tenantId, user)
  }
}

/**
 * Every policy that reaches the user through its groups (GroupStore.groupPolicyDocuments): by
 * group regardless of case, inline first, then by name byte-wise, as SQLite sorts its union (by
 * the first select's collations: group_members.group_name NOCASE, group_policies.name BINARY).
 */
export async function readGroupDocuments(
  c: Queryable,
  tenantId: string,
  user: string,
): Promise<GroupPolicyDocument[]> {
  return (
    await rows(
      c,
      `SELECT g, managed, name, document FROM (
          SELECT m.group_name::text AS g, 0 AS managed, p.name AS name, p.document AS document
            FROM group_members m JOIN group_policies p
              ON p.tenant_id = m.tenant_id AND p.group_name = m.group_name
            WHERE m.tenant_id = $1 AND m.user_name = $2
          UNION ALL
          SELECT m.group_name::text AS g, 1 AS managed, mp.path || mp.name::text AS name,
              v.document AS document
            FROM group_members m
            JOIN policy_attachments a ON a.tenant_id = m.tenant_id AND a.kind = 'group'
              AND a.principal = m.group_name
            JOIN managed_policies mp ON mp.tenant_id = a.tenant_id AND mp.name = a.policy_name
            JOIN policy_versions v ON v.tenant_id = mp.tenant_id AND v.policy_name = mp.name
              AND v.version = mp.default_version
            WHERE m.tenant_id = $1 AND m.user_name = $2) d
        ORDER BY lower(g) COLLATE "C", managed, name COLLATE "C"`,
      [tenantId, user],
    )
  ).map((r) => ({
    group: text(r.g),
    kind: int(r.managed) === 1 ? 'managed' : 'inline',
    name: text(r.name),
    document: text(r.document),
  }))
}

function group(r: Row): GroupRecord {
  return {
    tenantId: text(r.tenant_id),
    name: text(r.name),
    id: text(r.id),
    path: text(r.path),
    createdAt: int(r.created_at),
  }
}
