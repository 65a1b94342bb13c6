/**
 * IdentityService: tenants, IAM users, roles, access keys and inline identity
 * policies, as the gateway, the CLI and later the IAM API use them. Names are
 * checked here, secrets are sealed here (under the RootSealer), and every
 * creation time comes from the injected clock; the store only keeps rows.
 */
import type { Clock } from '../clock.ts'
import type { GroupStore } from '../meta/groups.ts'
import type { OidcStore } from '../meta/oidc.ts'
import type { PrincipalState, PrincipalStore } from '../meta/principals.ts'
import { StrongroomError } from '../errors.ts'
import type { LoadedPolicy } from '../iam/load.ts'
import type { Issue } from '../iam/policy.ts'
import type { RootSealer } from '../kms/sealer.ts'
import type { AccessKeyUse, IamStore, TaggedKind, TagRecord } from '../meta/iam.ts'
import type {
  AttachedKind,
  ListedPolicy,
  ManagedPolicyRecord,
  PolicyStore,
  PolicyVersionRecord,
} from '../meta/policies.ts'
import type {
  AccessKeyRecord,
  IdentityStore,
  RolePolicyRecord,
  RoleRecord,
  TenantRecord,
  UserPolicyRecord,
  UserRecord,
} from '../meta/identity.ts'
import { GroupService } from './groups.ts'
import { policyDocuments } from './principal.ts'
import { OidcService, type OidcProvider } from './oidc.ts'
import {
  MAX_ATTACHED,
  MAX_MANAGED_POLICY_CHARS,
  parsePolicyArn,
  policyArn,
  uniqueId,
} from './managed.ts'
import {
  checkRoleSettings,
  createRole,
  getRole,
  putRolePolicy,
  rolePolicies,
  validPolicy,
  type NewRole,
} from './roles.ts'
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

/** Tags one IAM resource may carry (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
export const MAX_TAGS = 50
/** Access keys one user may have (AccessKeysPerUser). */
export const MAX_ACCESS_KEYS = 2
/** An access key's last use is written at most once a minute: signing a request costs no write. */
const KEY_USE_INTERVAL_MS = 60_000
const MAX_KEY_USES_TRACKED = 65_536

/** Tenants kept by id (tenantById). */
const MAX_TENANTS_KEPT = 10_000

export class IdentityService {
  private readonly store: IdentityStore &
    IamStore &
    PolicyStore &
    GroupStore &
    OidcStore &
    PrincipalStore
  private readonly sealer: RootSealer
  private readonly clock: Clock
  /** When each access key's use was last written (in this process). */
  private readonly keyUseWritten = new Map<string, number>()
  private readonly tenants = new Map<string, TenantRecord>()

  /** IAM groups, their members and inline policies. */
  readonly groups: GroupService
  /** OpenID Connect identity providers. */
  readonly oidc: OidcService

  constructor(
    store: IdentityStore & IamStore & PolicyStore & GroupStore & OidcStore & PrincipalStore,
    sealer: RootSealer,
    clock: Clock,
  ) {
    this.store = store
    this.sealer = sealer
    this.clock = clock
    this.groups = new GroupService(store, clock)
    this.oidc = new OidcService(store, clock)
  }

  // ---- tenants

  /**
   * The tenant's OpenID Connect provider for tokens of this issuer (`iss`: https://host/path),
   * if it trusts one: for AssumeRoleWithWebIdentity.
   */
  oidcProviderByIssuer(tenantId: string, issuerUrl: string): Promise<OidcProvider | undefined> {
    return this.oidc.byIssuer(tenantId, issuerUrl)
  }

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

  /**
   * A tenant by its account id. Kept once read: a tenant's record never changes and tenants are
   * never deleted, and every signed request asks for its caller's (bounded; the oldest goes).
   */
  async tenantById(id: string): Promise<TenantRecord | undefined> {
    const hit = this.tenants.get(id)
    if (hit !== undefined) return hit
    const t = await this.store.getTenantById(id)
    if (t !== undefined) {
      if (this.tenants.size >= MAX_TENANTS_KEPT) {
        const oldest = this.tenants.keys().next().value
        if (oldest !== undefined) this.tenants.delete(oldest)
      }
      this.tenants.set(id, t)
    }
    return t
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

  /** Replaces the role's description, session limit and trust policy, each checked as at creation. */
  async updateRole(
    role: RoleRecord,
    change: {
      readonly description?: string | undefined
      readonly maxSessionSeconds?: number | undefined
      readonly trustPolicy?: string | undefined
    },
  ): Promise<{ role: RoleRecord; warnings: Issue[] }> {
    const next: RoleRecord = {
      ...role,
      ...(change.description === undefined ? {} : { description: change.description }),
      ...(change.maxSessionSeconds === undefined
        ? {}
        : { maxSessionSeconds: change.maxSessionSeconds }),
      ...(change.trustPolicy === undefined ? {} : { trustPolicy: change.trustPolicy }),
    }
    checkRoleSettings(next.maxSessionSeconds, next.description)
    const warnings =
      change.trustPolicy === undefined
        ? []
        : validPolicy(change.trustPolicy, 'trust', `${role.name} trust policy`)
    await this.store.updateRole(next)
    return { role: next, warnings }
  }

  /** ROLE_NOT_FOUND, or DELETE_CONFLICT while the role has inline or attached policies. */
  deleteRole(role: RoleRecord): Promise<void> {
    return this.store.deleteRole(role.tenantId, role.name)
  }

  /** NO_SUCH_ENTITY when the role has no policy of that name. */
  async deleteRolePolicy(role: RoleRecord, name: string): Promise<void> {
    if (!(await this.store.deleteRolePolicy(role.tenantId, role.name, name)))
      throw noPolicy('role', name)
  }

  /** USER_NOT_FOUND, or DELETE_CONFLICT while the user has access keys or policies. */
  deleteUser(user: UserRecord): Promise<void> {
    return this.store.deleteUser(user.tenantId, user.name)
  }

  /** NO_SUCH_ENTITY when the user has no policy of that name. */
  async deleteUserPolicy(user: UserRecord, name: string): Promise<void> {
    if (!(await this.store.deleteUserPolicy(user.tenantId, user.name, name)))
      throw noPolicy('user', name)
  }

  /** A new access key of the user through the IAM API: at most MAX_ACCESS_KEYS per user. */
  async createUserAccessKey(user: UserRecord): Promise<NewAccessKey> {
    const over = () =>
      new StrongroomError(
        'LIMIT_EXCEEDED',
        `Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS}`,
      )
    if ((await this.listAccessKeys(user)).length >= MAX_ACCESS_KEYS) throw over()
    const k = await this.createAccessKey(user)
    // Two requests at once may both have seen room: the one whose key is not among the first
    // two takes it back, so that the quota holds without a lock.
    const keys = await this.listAccessKeys(user)
    if (keys.slice(0, MAX_ACCESS_KEYS).every((x) => x.id !== k.accessKeyId)) {
      await this.deleteAccessKey(k.accessKeyId)
      throw over()
    }
    return k
  }

  /**
   * Notes that the key signed a request now: written at most once a minute per key, off the
   * request's path (a failed write is forgotten: the next use a minute on tries again).
   */
  keyUsed(key: AccessKeyRecord, service: string, region: string): void {
    const now = this.clock.now()
    const last = this.keyUseWritten.get(key.id)
    if (last !== undefined && now - last < KEY_USE_INTERVAL_MS) return
    if (this.keyUseWritten.size >= MAX_KEY_USES_TRACKED) this.keyUseWritten.clear()
    this.keyUseWritten.set(key.id, now)
    this.store
      .recordAccessKeyUse(key.id, { at: now, service, region })
      .catch(() => this.keyUseWritten.delete(key.id))
  }

  accessKeyUse(id: string): Promise<AccessKeyUse | undefined> {
    return this.store.accessKeyUse(id)
  }

  // ---- tags

  tags(tenantId: string, kind: TaggedKind, name: string): Promise<TagRecord[]> {
    return this.store.listTags(tenantId, kind, name)
  }

  /** Adds or replaces tags; LIMIT_EXCEEDED past MAX_TAGS on the resource. */
  tag(tenantId: string, kind: TaggedKind, name: string, tags: readonly TagRecord[]): Promise<void> {
    return this.store.tagResource(tenantId, kind, name, tags, MAX_TAGS)
  }

  untag(tenantId: string, kind: TaggedKind, name: string, keys: readonly string[]): Promise<void> {
    return this.store.untagResource(tenantId, kind, name, keys)
  }

  // ---- managed policies

  /** ENTITY_EXISTS when the name is taken; MALFORMED_POLICY for a document that does not parse. */
  async createPolicy(
    tenant: TenantRecord,
    p: { name: string; path: string; description: string; document: string },
  ): Promise<ManagedPolicyRecord> {
    managedDocument(p.document, p.name)
    const now = this.clock.now()
    const record: ManagedPolicyRecord = {
      tenantId: tenant.id,
      name: p.name,
      id: uniqueId('ANPA'),
      path: p.path,
      description: p.description,
      defaultVersion: 1,
      createdAt: now,
      updatedAt: now,
    }
    await this.store.createPolicy(record, p.document)
    return record
  }

  /** The tenant's policy this ARN names (path included); NO_SUCH_ENTITY when there is none. */
  async policy(tenant: TenantRecord, arn: string): Promise<ManagedPolicyRecord> {
    const { path, name } = parsePolicyArn(tenant, arn)
    const p = await this.store.getPolicy(tenant.id, name)
    if (p === undefined || p.path !== path || p.name !== name)
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `Policy ${arn.slice(0, 300)} does not exist or is not attachable.`,
      )
    return p
  }

  listPolicies(tenant: TenantRecord): Promise<ListedPolicy[]> {
    return this.store.listPolicies(tenant.id)
  }

  deletePolicy(p: ManagedPolicyRecord): Promise<void> {
    return this.store.deletePolicy(p.tenantId, p.name)
  }

  /** A new version (LIMIT_EXCEEDED past five), optionally the default; returns its number. */
  createPolicyVersion(p: ManagedPolicyRecord, document: string, setAsDefault: boolean) {
    managedDocument(document, p.name)
    return this.store.addPolicyVersion(p.tenantId, p.name, document, this.clock.now(), setAsDefault)
  }

  async policyVersion(p: ManagedPolicyRecord, version: number): Promise<PolicyVersionRecord> {
    const v = await this.store.getPolicyVersion(p.tenantId, p.name, version)
    if (v === undefined)
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `Policy ${policyArn(p.tenantId, p)} version v${version} does not exist or is not attachable.`,
      )
    return v
  }

  /** Newest first. */
  listPolicyVersions(p: ManagedPolicyRecord): Promise<PolicyVersionRecord[]> {
    return this.store.listPolicyVersions(p.tenantId, p.name)
  }

  deletePolicyVersion(p: ManagedPolicyRecord, version: number): Promise<void> {
    return this.store.deletePolicyVersion(p.tenantId, p.name, version)
  }

  setDefaultPolicyVersion(p: ManagedPolicyRecord, version: number): Promise<void> {
    return this.store.setDefaultPolicyVersion(p.tenantId, p.name, version, this.clock.now())
  }

  /** Attaches the policy to the role or user (which must exist: NO_SUCH_ENTITY otherwise). */
  async attachPolicy(
    kind: AttachedKind,
    principal: { readonly tenantId: string; readonly name: string },
    p: ManagedPolicyRecord,
  ): Promise<void> {
    if (!(await this.store.attachPolicy(p.tenantId, kind, principal.name, p.name, MAX_ATTACHED)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `The ${kind} with name ${principal.name} cannot be found.`,
      )
  }

  /** NO_SUCH_ENTITY when the policy was not attached. */
  async detachPolicy(
    kind: AttachedKind,
    principal: { readonly tenantId: string; readonly name: string },
    p: ManagedPolicyRecord,
  ): Promise<void> {
    if (!(await this.store.detachPolicy(p.tenantId, kind, principal.name, p.name)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `Policy ${policyArn(p.tenantId, p)} was not found.`,
      )
  }

  /** Who uses the policy: the principals it is attached to, or those it bounds. */
  policyEntities(p: ManagedPolicyRecord, usage: 'attached' | 'boundary') {
    return this.store.policyEntities(p.tenantId, p.name, usage)
  }

  attachedPolicies(
    kind: AttachedKind,
    principal: { readonly tenantId: string; readonly name: string },
  ): Promise<ManagedPolicyRecord[]> {
    return this.store.listAttachedPolicies(principal.tenantId, kind, principal.name)
  }

  /** Sets (a policy) or removes (undefined) the role's or user's permissions boundary. */
  async setPermissionsBoundary(
    kind: 'role' | 'user',
    principal: { readonly tenantId: string; readonly name: string },
    p: ManagedPolicyRecord | undefined,
  ): Promise<void> {
    const name = p?.name ?? null
    if (!(await this.store.setPermissionsBoundary(principal.tenantId, kind, principal.name, name)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `The ${kind} with name ${principal.name} cannot be found.`,
      )
  }

  /**
   * The role's or user's permissions boundary, if it has one: the policy's ARN and its default
   * version's document, for a caller that compiles it through its own cache.
   */
  async permissionsBoundary(
    kind: 'role' | 'user',
    tenantId: string,
    name: string,
  ): Promise<{ readonly name: string; readonly document: string } | undefined> {
    const b = await this.store.permissionsBoundary(tenantId, kind, name)
    return b && { name: policyArn(tenantId, b.policy), document: b.document }
  }

  /**
   * A role's or user's identity policies as stored, for a caller that compiles them through its
   * own cache: its inline policies (by name) and the default version of each attached managed
   * policy (named by its ARN).
   */
  async identityPolicyDocuments(
    kind: 'role' | 'user',
    tenantId: string,
    name: string,
  ): Promise<{ readonly name: string; readonly document: string }[]> {
    const state =
      kind === 'role'
        ? await this.store.roleState(tenantId, name)
        : await this.store.userState(tenantId, name)
    return state === undefined ? [] : policyDocuments(state).identity
  }

  /** The user's state (record, policies, boundary, tags) at one instant; undefined when there is none. */
  userState(
    tenantId: string,
    name: string,
    sessionPolicies?: readonly string[],
  ): Promise<PrincipalState<UserRecord> | undefined> {
    return this.store.userState(tenantId, name, sessionPolicies)
  }

  /** The role's state at one instant; undefined when there is none. */
  roleState(
    tenantId: string,
    name: string,
    sessionPolicies?: readonly string[],
  ): Promise<PrincipalState<RoleRecord> | undefined> {
    return this.store.roleState(tenantId, name, sessionPolicies)
  }

  /** The access key and its user's state at one instant (authentication's one read). */
  accessKeyState(
    id: string,
  ): Promise<
    | { readonly key: AccessKeyRecord; readonly user: PrincipalState<UserRecord> | undefined }
    | undefined
  > {
    return this.store.accessKeyState(id)
  }
}

/** A managed policy's document: valid, and at most 6,144 characters (LIMIT_EXCEEDED beyond). */
function managedDocument(document: string, name: string): Issue[] {
  if (document.length > MAX_MANAGED_POLICY_CHARS)
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `Cannot exceed quota for PolicySize: ${MAX_MANAGED_POLICY_CHARS}`,
    )
  return validPolicy(document, 'identity', name)
}

function noPolicy(owner: string, name: string): StrongroomError {
  return new StrongroomError(
    'NO_SUCH_ENTITY',
    `The ${owner} policy with name ${name.slice(0, 128)} cannot be found.`,
  )
}
