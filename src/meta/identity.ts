/**
 * IdentityStore: tenants (which behave as AWS accounts), the IAM users of each
 * tenant, their access keys (secrets sealed under the root key by the caller)
 * and their inline identity policies.
 */

export interface TenantRecord {
  readonly id: string
  readonly name: string
  readonly createdAt: number
}

export interface UserRecord {
  readonly tenantId: string
  readonly name: string
  /** AWS-style unique id (AIDA…), the value of aws:userid. */
  readonly id: string
  readonly createdAt: number
}

export interface AccessKeyRecord {
  /** AKIA…: public. */
  readonly id: string
  readonly tenantId: string
  readonly userName: string
  /** The secret access key, sealed under the root key. */
  readonly secret: Uint8Array
  readonly status: 'Active' | 'Inactive'
  readonly createdAt: number
}

export interface UserPolicyRecord {
  readonly tenantId: string
  readonly userName: string
  readonly name: string
  /** The policy JSON as the user gave it (validated before it is stored). */
  readonly document: string
}

/** An IAM role: who may assume it (its trust policy) and for how long a session may last. */
export interface RoleRecord {
  readonly tenantId: string
  /** Unique in the tenant regardless of case. */
  readonly name: string
  /** AWS-style unique id (AROA…): the first half of an assumed-role session's aws:userid. */
  readonly id: string
  /** `/` or `/a/b/`. */
  readonly path: string
  readonly description: string
  /** The trust policy JSON as given (validated before it is stored). */
  readonly trustPolicy: string
  /** 3,600 to 43,200. */
  readonly maxSessionSeconds: number
  readonly createdAt: number
}

export interface RolePolicyRecord {
  readonly tenantId: string
  readonly roleName: string
  readonly name: string
  readonly document: string
}

export interface IdentityStore {
  /** TENANT_EXISTS when the name is taken. */
  createTenant(record: TenantRecord): Promise<void>
  getTenant(name: string): Promise<TenantRecord | undefined>
  getTenantById(id: string): Promise<TenantRecord | undefined>
  /** By name. */
  listTenants(): Promise<TenantRecord[]>

  /** USER_EXISTS when the name is taken in the tenant, in any case. */
  createUser(user: UserRecord): Promise<void>
  /** By name, regardless of case. */
  getUser(tenantId: string, name: string): Promise<UserRecord | undefined>
  /** By name. */
  listUsers(tenantId: string): Promise<UserRecord[]>
  createAccessKey(key: AccessKeyRecord): Promise<void>
  getAccessKey(id: string): Promise<AccessKeyRecord | undefined>
  /** Oldest first. */
  listAccessKeys(tenantId: string, userName: string): Promise<AccessKeyRecord[]>
  setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<void>
  deleteAccessKey(id: string): Promise<void>
  /** Creates or replaces the user's policy of that name. */
  putUserPolicy(policy: UserPolicyRecord): Promise<void>
  /** By policy name. */
  listUserPolicies(tenantId: string, userName: string): Promise<UserPolicyRecord[]>

  /** ROLE_EXISTS when the name is taken in the tenant, in any case. */
  createRole(role: RoleRecord): Promise<void>
  /** By name, regardless of case. */
  getRole(tenantId: string, name: string): Promise<RoleRecord | undefined>
  /** By name. */
  listRoles(tenantId: string): Promise<RoleRecord[]>
  /** Creates or replaces the role's policy of that name. */
  putRolePolicy(policy: RolePolicyRecord): Promise<void>
  /** By policy name. */
  listRolePolicies(tenantId: string, roleName: string): Promise<RolePolicyRecord[]>
}
