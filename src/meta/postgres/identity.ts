/**
 * IdentityStore on PostgreSQL: tenants, users, access keys, roles and their inline policies.
 * User and role names match regardless of case (citext columns), as IAM's do; lists sort as
 * SQLite's do whatever the database's locale: users by byte order, roles regardless of case.
 */
import { StrongroomError } from '../../errors.ts'
import type {
  AccessKeyRecord,
  IdentityStore,
  RolePolicyRecord,
  RoleRecord,
  TenantRecord,
  UserPolicyRecord,
  UserRecord,
} from '../identity.ts'
import { accessKeyOf, roleOf, tenantOf, userOf } from '../rows.ts'
import { isForeignKeyViolation, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

export class PgIdentityStore implements IdentityStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createTenant(t: TenantRecord): Promise<void> {
    try {
      await this.db.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [
        t.id,
        t.name,
        t.createdAt,
      ])
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError('TENANT_EXISTS', `tenant \`${t.name}\` already exists`, {
          cause: e,
        })
      throw e
    }
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM tenants WHERE name = $1', [name])
    return r && tenantOf(r)
  }

  async getTenantById(id: string): Promise<TenantRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM tenants WHERE id = $1', [id])
    return r && tenantOf(r)
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.db.query('SELECT * FROM tenants ORDER BY name COLLATE "C"')).map(tenantOf)
  }

  async createUser(u: UserRecord): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO users (tenant_id, name, id, created_at) VALUES ($1, $2, $3, $4)',
        [u.tenantId, u.name, u.id, u.createdAt],
      )
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError(
          'USER_EXISTS',
          `user \`${u.name}\` already exists in this tenant`,
          {
            cause: e,
          },
        )
      throw e
    }
  }

  getUser(tenantId: string, name: string): Promise<UserRecord | undefined> {
    return readUser(this.db.any, tenantId, name)
  }

  async listUsers(tenantId: string): Promise<UserRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM users WHERE tenant_id = $1 ORDER BY name::text COLLATE "C"',
        [tenantId],
      )
    ).map(userOf)
  }

  async createAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO access_keys (id, tenant_id, user_name, secret, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [k.id, k.tenantId, k.userName, Buffer.from(k.secret), k.status, k.createdAt],
    )
  }

  getAccessKey(id: string): Promise<AccessKeyRecord | undefined> {
    return readAccessKey(this.db.any, id)
  }

  async listAccessKeys(tenantId: string, userName: string): Promise<AccessKeyRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM access_keys WHERE tenant_id = $1 AND user_name = $2 ORDER BY created_at, id COLLATE "C"',
        [tenantId, userName],
      )
    ).map(accessKeyOf)
  }

  async setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<void> {
    await this.db.query('UPDATE access_keys SET status = $1 WHERE id = $2', [status, id])
  }

  async deleteAccessKey(id: string): Promise<void> {
    await this.db.query('DELETE FROM access_keys WHERE id = $1', [id])
  }

  async putUserPolicy(p: UserPolicyRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO user_policies (tenant_id, user_name, name, document) VALUES ($1, $2, $3, $4)
      ON CONFLICT (tenant_id, user_name, name) DO UPDATE SET document = excluded.document`,
      [p.tenantId, p.userName, p.name, p.document],
    )
  }

  listUserPolicies(tenantId: string, userName: string): Promise<UserPolicyRecord[]> {
    return readUserPolicies(this.db.any, tenantId, userName)
  }

  async createRole(r: RoleRecord): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO roles (tenant_id, name, id, path, description, trust_policy, max_session_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [
          r.tenantId,
          r.name,
          r.id,
          r.path,
          r.description,
          r.trustPolicy,
          r.maxSessionSeconds,
          r.createdAt,
        ],
      )
    } catch (e) {
      if (isUniqueViolation(e))
        throw new StrongroomError(
          'ROLE_EXISTS',
          `role \`${r.name}\` already exists in this tenant`,
          {
            cause: e,
          },
        )
      throw e
    }
  }

  getRole(tenantId: string, name: string): Promise<RoleRecord | undefined> {
    return readRole(this.db.any, tenantId, name)
  }

  async listRoles(tenantId: string): Promise<RoleRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM roles WHERE tenant_id = $1 ORDER BY lower(name::text) COLLATE "C"',
        [tenantId],
      )
    ).map(roleOf)
  }

  async putRolePolicy(p: RolePolicyRecord): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO role_policies (tenant_id, role_name, name, document) VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id, role_name, name) DO UPDATE SET document = excluded.document`,
        [p.tenantId, p.roleName, p.name, p.document],
      )
    } catch (e) {
      if (isForeignKeyViolation(e))
        throw new StrongroomError('ROLE_NOT_FOUND', `role \`${p.roleName}\` does not exist`, {
          cause: e,
        })
      throw e
    }
  }

  listRolePolicies(tenantId: string, roleName: string): Promise<RolePolicyRecord[]> {
    return readRolePolicies(this.db.any, tenantId, roleName)
  }
}

// Reads on a given connection, for the port's methods and for ./principals.ts, which makes
// several of them in one transaction.

export async function readUser(
  c: Queryable,
  tenantId: string,
  name: string,
): Promise<UserRecord | undefined> {
  const [r] = (
    await c.query('SELECT * FROM users WHERE tenant_id = $1 AND name = $2', [tenantId, name])
  ).rows as Row[]
  return r && userOf(r)
}

export async function readAccessKey(
  c: Queryable,
  id: string,
): Promise<AccessKeyRecord | undefined> {
  const [r] = (await c.query('SELECT * FROM access_keys WHERE id = $1', [id])).rows as Row[]
  return r && accessKeyOf(r)
}

export async function readUserPolicies(
  c: Queryable,
  tenantId: string,
  userName: string,
): Promise<UserPolicyRecord[]> {
  const rows = (
    await c.query(
      'SELECT * FROM user_policies WHERE tenant_id = $1 AND user_name = $2 ORDER BY name COLLATE "C"',
      [tenantId, userName],
    )
  ).rows as Row[]
  return rows.map((r) => ({
    tenantId: text(r.tenant_id),
    userName: text(r.user_name),
    name: text(r.name),
    document: text(r.document),
  }))
}

export async function readRole(
  c: Queryable,
  tenantId: string,
  name: string,
): Promise<RoleRecord | undefined> {
  const [r] = (
    await c.query('SELECT * FROM roles WHERE tenant_id = $1 AND name = $2', [tenantId, name])
  ).rows as Row[]
  return r && roleOf(r)
}

export async function readRolePolicies(
  c: Queryable,
  tenantId: string,
  roleName: string,
): Promise<RolePolicyRecord[]> {
  const rows = (
    await c.query(
      'SELECT * FROM role_policies WHERE tenant_id = $1 AND role_name = $2 ORDER BY name COLLATE "C"',
      [tenantId, roleName],
    )
  ).rows as Row[]
  return rows.map((r) => ({
    tenantId: text(r.tenant_id),
    roleName: text(r.role_name),
    name: text(r.name),
    document: text(r.document),
  }))
}
