/** IdentityStore on SQLite: tenants, users, access keys, roles and their inline policies. */
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
import { isUniqueViolation, str, type Row, type SqliteDb, settle } from './db.ts'

export class SqliteIdentityStore implements IdentityStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createTenant(t: TenantRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)')
          .run(t.id, t.name, t.createdAt)
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError('TENANT_EXISTS', `tenant \`${t.name}\` already exists`, {
            cause: e,
          })
        throw e
      }
    })
  }

  getTenant(name: string): Promise<TenantRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM tenants WHERE name = ?').get(name) as Row | undefined
      return r && tenantOf(r)
    })
  }

  getTenantById(id: string): Promise<TenantRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM tenants WHERE id = ?').get(id) as Row | undefined
      return r && tenantOf(r)
    })
  }

  listTenants(): Promise<TenantRecord[]> {
    return settle(() => {
      return (this.db.stmt('SELECT * FROM tenants ORDER BY name').all() as Row[]).map(tenantOf)
    })
  }

  createUser(u: UserRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt('INSERT INTO users (tenant_id, name, id, created_at) VALUES (?, ?, ?, ?)')
          .run(u.tenantId, u.name, u.id, u.createdAt)
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError(
            'USER_EXISTS',
            `user \`${u.name}\` already exists in this tenant`,
            { cause: e },
          )
        throw e
      }
    })
  }

  getUser(tenantId: string, name: string): Promise<UserRecord | undefined> {
    return settle(() => readUser(this.db, tenantId, name))
  }

  listUsers(tenantId: string): Promise<UserRecord[]> {
    return settle(() => {
      return (
        this.db.stmt('SELECT * FROM users WHERE tenant_id = ? ORDER BY name').all(tenantId) as Row[]
      ).map(userOf)
    })
  }

  createAccessKey(k: AccessKeyRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          'INSERT INTO access_keys (id, tenant_id, user_name, secret, status, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(k.id, k.tenantId, k.userName, k.secret, k.status, k.createdAt)
    })
  }

  getAccessKey(id: string): Promise<AccessKeyRecord | undefined> {
    return settle(() => readAccessKey(this.db, id))
  }

  listAccessKeys(tenantId: string, userName: string): Promise<AccessKeyRecord[]> {
    return settle(() => {
      const rows = this.db
        .stmt(
          'SELECT * FROM access_keys WHERE tenant_id = ? AND user_name = ? ORDER BY created_at, id',
        )
        .all(tenantId, userName) as Row[]
      return rows.map(accessKeyOf)
    })
  }

  setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<void> {
    return settle(() => {
      this.db.stmt('UPDATE access_keys SET status = ? WHERE id = ?').run(status, id)
    })
  }

  deleteAccessKey(id: string): Promise<void> {
    return settle(() => {
      this.db.stmt('DELETE FROM access_keys WHERE id = ?').run(id)
    })
  }

  putUserPolicy(p: UserPolicyRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          `INSERT INTO user_policies (tenant_id, user_name, name, document) VALUES (?, ?, ?, ?)
          ON CONFLICT (tenant_id, user_name, name) DO UPDATE SET document = excluded.document`,
        )
        .run(p.tenantId, p.userName, p.name, p.document)
    })
  }

  listUserPolicies(tenantId: string, userName: string): Promise<UserPolicyRecord[]> {
    return settle(() => readUserPolicies(this.db, tenantId, userName))
  }

  createRole(r: RoleRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt(
            'INSERT INTO roles (tenant_id, name, id, path, description, trust_policy, max_session_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            r.tenantId,
            r.name,
            r.id,
            r.path,
            r.description,
            r.trustPolicy,
            r.maxSessionSeconds,
            r.createdAt,
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
    })
  }

  getRole(tenantId: string, name: string): Promise<RoleRecord | undefined> {
    return settle(() => readRole(this.db, tenantId, name))
  }

  listRoles(tenantId: string): Promise<RoleRecord[]> {
    return settle(() =>
      (
        this.db.stmt('SELECT * FROM roles WHERE tenant_id = ? ORDER BY name').all(tenantId) as Row[]
      ).map(roleOf),
    )
  }

  putRolePolicy(p: RolePolicyRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          `INSERT INTO role_policies (tenant_id, role_name, name, document) VALUES (?, ?, ?, ?)
          ON CONFLICT (tenant_id, role_name, name) DO UPDATE SET document = excluded.document`,
        )
        .run(p.tenantId, p.roleName, p.name, p.document)
    })
  }

  listRolePolicies(tenantId: string, roleName: string): Promise<RolePolicyRecord[]> {
    return settle(() => readRolePolicies(this.db, tenantId, roleName))
  }
}

// Reads on the caller's handle, for the port's methods and for ./principals.ts, which makes
// several of them at one instant.

export function readUser(db: SqliteDb, tenantId: string, name: string): UserRecord | undefined {
  const r = db
    .stmt('SELECT * FROM users WHERE tenant_id = ? AND name = ? COLLATE NOCASE')
    .get(tenantId, name) as Row | undefined
  return r && userOf(r)
}

export function readAccessKey(db: SqliteDb, id: string): AccessKeyRecord | undefined {
  const r = db.stmt('SELECT * FROM access_keys WHERE id = ?').get(id) as Row | undefined
  return r && accessKeyOf(r)
}

export function readUserPolicies(
  db: SqliteDb,
  tenantId: string,
  userName: string,
): UserPolicyRecord[] {
  const rows = db
    .stmt('SELECT * FROM user_policies WHERE tenant_id = ? AND user_name = ? ORDER BY name')
    .all(tenantId, userName) as Row[]
  return rows.map((r) => ({
    tenantId: str(r.tenant_id),
    userName: str(r.user_name),
    name: str(r.name),
    document: str(r.document),
  }))
}

export function readRole(db: SqliteDb, tenantId: string, name: string): RoleRecord | undefined {
  const r = db.stmt('SELECT * FROM roles WHERE tenant_id = ? AND name = ?').get(tenantId, name) as
    Row | undefined
  return r && roleOf(r)
}

export function readRolePolicies(
  db: SqliteDb,
  tenantId: string,
  roleName: string,
): RolePolicyRecord[] {
  const rows = db
    .stmt('SELECT * FROM role_policies WHERE tenant_id = ? AND role_name = ? ORDER BY name')
    .all(tenantId, roleName) as Row[]
  return rows.map((r) => ({
    tenantId: str(r.tenant_id),
    roleName: str(r.role_name),
    name: str(r.name),
    document: str(r.document),
  }))
}
