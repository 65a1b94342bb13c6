/**
 * IdentityService: tenants, IAM users, roles, access keys and inline identity
 * policies, as the gateway, the CLI and later the IAM API use them. Names are
 * checked here, secrets are sealed here (under the RootSealer), and every
 * creation time comes from the injected clock; the store only keeps rows.
 */
import type { Clock } from '../clock.ts'
import { StrongroomError } from '../errors.ts'
import type { LoadedPolicy } from '../iam/load.ts'
import type { Issue } from '../iam/policy.ts'
import type { RootSealer } from '../kms/sealer.ts'
import type {
  AccessKeyRecord,
  IdentityStore,
  RolePolicyRecord,
  RoleRecord,
  TenantRecord,
  UserPolicyRecord,
  UserRecord,
} from '../meta/identity.ts'
import { createRole, getRole, putRolePolicy, rolePolicies, type NewRole } from './roles.ts'
import { createTenant, getTenant } from './tenants.ts'
import {
  accessKeySecretLabel,
  createAccessKey,
  createUser,
  getUser,
  putUserPolicy,
  userPolicies,
  type NewAccessKey,
} from './users.ts'

export class IdentityService {
  private readonly store: IdentityStore
  private readonly sealer: RootSealer
  private readonly clock: Clock

  constructor(store: IdentityStore, sealer: RootSealer, clock: Clock) {
    this.store = store
    this.sealer = sealer
    this.clock = clock
  }

  // ---- tenants

  /** NAME_INVALID for a name outside the rules; TENANT_EXISTS when it is taken. */
  createTenant(name: string): Promise<TenantRecord> {
    return createTenant(this.store, name, this.clock.now())
  }

  /** The tenant of this name; TENANT_NOT_FOUND (with what to do) when there is none. */
  tenant(name: string): Promise<TenantRecord> {
    return getTenant(this.store, name)
  }

  findTenant(name: string): Promise<TenantRecord | undefined> {
    return this.store.getTenant(name)
  }

  tenantById(id: string): Promise<TenantRecord | undefined> {
    return this.store.getTenantById(id)
  }

  listTenants(): Promise<TenantRecord[]> {
    return this.store.listTenants()
  }

  // ---- users

  /** NAME_INVALID for a name outside IAM's rules; USER_EXISTS when it is taken in the tenant. */
  createUser(tenant: TenantRecord, name: string): Promise<UserRecord> {
    return createUser(this.store, tenant, name, this.clock.now())
  }

  /** The tenant's user of this name; USER_NOT_FOUND (with what to do) when there is none. */
  user(tenant: TenantRecord, name: string): Promise<UserRecord> {
    return getUser(this.store, tenant, name)
  }

  findUser(tenantId: string, name: string): Promise<UserRecord | undefined> {
    return this.store.getUser(tenantId, name)
  }

  listUsers(tenant: TenantRecord): Promise<UserRecord[]> {
    return this.store.listUsers(tenant.id)
  }

  // ---- access keys

  /** A new access key (or the one `given`, for bootstrap); the secret is returned once and stored sealed. */
  createAccessKey(user: UserRecord, given?: NewAccessKey): Promise<NewAccessKey> {
    return createAccessKey(this.store, this.sealer, user, given, this.clock.now())
  }

  /** The access key with this id, whoever owns it (authentication starts from the id alone). */
  accessKey(id: string): Promise<AccessKeyRecord | undefined> {
    return this.store.getAccessKey(id)
  }

  /** The user's access key with this id; USER_NOT_FOUND when the user has none such. */
  async userAccessKey(
    tenant: TenantRecord,
    userName: string,
    id: string,
  ): Promise<AccessKeyRecord> {
    const k = await this.store.getAccessKey(id)
    if (k === undefined || k.tenantId !== tenant.id || k.userName !== userName)
      throw new StrongroomError(
        'USER_NOT_FOUND',
        `user \`${userName}\` of tenant \`${tenant.name}\` has no access key \`${id.slice(0, 128)}\`; list them with \`strongroom access-key list --tenant ${tenant.name} --user ${userName}\``,
      )
    return k
  }

  /** Oldest first. */
  listAccessKeys(user: UserRecord): Promise<AccessKeyRecord[]> {
    return this.store.listAccessKeys(user.tenantId, user.name)
  }

  setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<void> {
    return this.store.setAccessKeyStatus(id, status)
  }

  deleteAccessKey(id: string): Promise<void> {
    return this.store.deleteAccessKey(id)
  }

  /** The secret access key, unsealed: the caller zeroes it once the signature is checked. */
  secretOf(key: AccessKeyRecord): Buffer {
    return this.sealer.openSystemSecret(accessKeySecretLabel(key.id), key.secret)
  }

  // ---- policies

  /** Validates and stores (or replaces) an inline identity policy; returns its warnings. */
  putUserPolicy(user: UserRecord, name: string, document: string): Promise<Issue[]> {
    return putUserPolicy(this.store, user, name, document)
  }

  /**
   * The inline policies of the access key's user, as stored (by name), for a caller that
   * compiles them through its own cache (the gateway's PolicyCache); read from the key alone,
   * so that it can run beside the user's read.
   */
  storedPolicies(key: AccessKeyRecord): Promise<UserPolicyRecord[]> {
    return this.store.listUserPolicies(key.tenantId, key.userName)
  }

  /** The user's inline policies as stored, for a caller that compiles them through its own cache. */
  userPolicyRecords(user: UserRecord): Promise<UserPolicyRecord[]> {
    return this.store.listUserPolicies(user.tenantId, user.name)
  }

  /** The user's inline policies, compiled; one that no longer loads denies every request of the user. */
  userPolicies(user: UserRecord): Promise<LoadedPolicy[]> {
    return userPolicies(this.store, user)
  }

  // ---- roles

  /** NAME_INVALID, CONFIG_INVALID or MALFORMED_POLICY for bad input; ROLE_EXISTS when taken. */
  createRole(
    tenant: TenantRecord,
    role: NewRole,
  ): Promise<{ role: RoleRecord; warnings: Issue[] }> {
    return createRole(this.store, tenant, role, this.clock.now())
  }

  /** The tenant's role of this name (any case); ROLE_NOT_FOUND (with what to do) when there is none. */
  role(tenant: TenantRecord, name: string): Promise<RoleRecord> {
    return getRole(this.store, tenant, name)
  }

  findRole(tenantId: string, name: string): Promise<RoleRecord | undefined> {
    return this.store.getRole(tenantId, name)
  }

  listRoles(tenant: TenantRecord): Promise<RoleRecord[]> {
    return this.store.listRoles(tenant.id)
  }

  /** Validates and stores (or replaces) an inline role policy; returns its warnings. */
  putRolePolicy(role: RoleRecord, name: string, document: string): Promise<Issue[]> {
    return putRolePolicy(this.store, role, name, document)
  }

  /** The role's inline policies as stored, for a caller that compiles them through its own cache. */
  storedRolePolicies(role: RoleRecord): Promise<RolePolicyRecord[]> {
    return this.store.listRolePolicies(role.tenantId, role.name)
  }

  /** The role's inline policies, compiled; one that no longer loads denies every request. */
  rolePolicies(role: RoleRecord): Promise<LoadedPolicy[]> {
    return rolePolicies(this.store, role)
  }
}
