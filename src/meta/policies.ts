/**
 * PolicyStore: customer-managed policies of a tenant, their versions (at most five, one the
 * default), their attachments to roles, users and groups, and their use as permissions
 * boundaries. Checks that AWS makes atomically (nothing attached to a deleted policy, at most
 * five versions) are made by the store in the same transaction as the write.
 */

/** Who a managed policy is attached to. */
export type AttachedKind = 'role' | 'user' | 'group'

/** A customer-managed policy: its versions are PolicyVersionRecords, one of them the default. */
export interface ManagedPolicyRecord {
  readonly tenantId: string
  /** Unique in the tenant regardless of case. */
  readonly name: string
  /** ANPA…: AWS's shape of a policy's unique id. */
  readonly id: string
  /** `/` or `/a/b/`. */
  readonly path: string
  readonly description: string
  /** The default version's number (v1 is 1). */
  readonly defaultVersion: number
  readonly createdAt: number
  /** When a version was last added or made the default. */
  readonly updatedAt: number
}

export interface PolicyVersionRecord {
  readonly version: number
  /** The policy JSON as given (validated before it is stored). */
  readonly document: string
  readonly createdAt: number
}

/** A policy as ListPolicies counts its uses. */
export interface ListedPolicy extends ManagedPolicyRecord {
  /** Roles, users and groups it is attached to. */
  readonly attachments: number
  /** Roles and users whose permissions boundary it is. */
  readonly boundaries: number
}

/** The most versions a managed policy keeps (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html). */
export const MAX_POLICY_VERSIONS = 5

/** A role, user or group that uses a policy. */
export interface PolicyEntity {
  readonly kind: AttachedKind
  readonly name: string
  /** AROA…, AIDA…, AGPA…. */
  readonly id: string
  /** Its path (a user's is `/`). */
  readonly path: string
}

export interface PolicyStore {
  /** Creates the policy with `document` as its version 1, the default; ENTITY_EXISTS when the name is taken. */
  createPolicy(policy: ManagedPolicyRecord, document: string): Promise<void>
  /** By name, regardless of case. */
  getPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | undefined>
  /**
   * By name, with how many principals each is attached to and how many roles and users it is
   * the permissions boundary of.
   */
  listPolicies(tenantId: string): Promise<ListedPolicy[]>
  /**
   * Deletes the policy, its one version and its tags; NO_SUCH_ENTITY when there is none,
   * DELETE_CONFLICT while it is attached, a permissions boundary, or has versions besides the
   * default.
   */
  deletePolicy(tenantId: string, name: string): Promise<void>
  /**
   * Adds the next version (optionally as the default) and returns its number; NO_SUCH_ENTITY
   * when the policy is gone, LIMIT_EXCEEDED when it has MAX_POLICY_VERSIONS already.
   */
  addPolicyVersion(
    tenantId: string,
    name: string,
    document: string,
    at: number,
    setAsDefault: boolean,
  ): Promise<number>
  getPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
  ): Promise<PolicyVersionRecord | undefined>
  /** Newest first. */
  listPolicyVersions(tenantId: string, name: string): Promise<PolicyVersionRecord[]>
  /** NO_SUCH_ENTITY when there is no such version, DELETE_CONFLICT for the default one. */
  deletePolicyVersion(tenantId: string, name: string, version: number): Promise<void>
  /** NO_SUCH_ENTITY when there is no such version. */
  setDefaultPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
    at: number,
  ): Promise<void>

  /**
   * Attaches the policy (attaching it again changes nothing); false, writing nothing, when the
   * principal or the policy does not exist; LIMIT_EXCEEDED past `max` attached policies.
   */
  attachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
    max: number,
  ): Promise<boolean>
  /** False when it was not attached. */
  detachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
  ): Promise<boolean>
  /**
   * Who uses the policy: the principals it is attached to (`attached`), or the roles and users
   * it is the permissions boundary of (`boundary`); by kind, then name as stored.
   */
  policyEntities(
    tenantId: string,
    name: string,
    usage: 'attached' | 'boundary',
  ): Promise<PolicyEntity[]>
  /** The policies attached to the principal, by name. */
  listAttachedPolicies(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<ManagedPolicyRecord[]>
  /**
   * Sets (a policy name) or removes (null) the role's or user's permissions boundary; false,
   * writing nothing, when the principal or the policy does not exist.
   */
  setPermissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
    policyName: string | null,
  ): Promise<boolean>
  /** The role's or user's permissions boundary and its default version's document, if it has one. */
  permissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
  ): Promise<{ readonly policy: ManagedPolicyRecord; readonly document: string } | undefined>
  /** The default version's document of each policy attached to the principal, by policy name. */
  attachedDocuments(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<{ readonly policy: ManagedPolicyRecord; readonly document: string }[]>
}
