/**
 * IamStore: what the IAM API keeps beside the IdentityStore's users, roles and inline
 * policies: changes and deletions of those, tags on IAM resources, customer-managed policies
 * (versions and attachments), and when each access key was last used. Checks that AWS makes
 * atomically (a role with policies cannot be deleted, a policy has at most five versions) are
 * made by the store in the same transaction as the write.
 */
import type { RoleRecord } from './identity.ts'

/** The IAM resources that carry tags, by kind; `name` is the entity's name (an OIDC provider's URL host and path). */
export type TaggedKind = 'role' | 'user' | 'policy' | 'oidc-provider'

export interface TagRecord {
  readonly key: string
  readonly value: string
}

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

/** The last request an access key signed: when, to which service, in which region. */
export interface AccessKeyUse {
  readonly at: number
  readonly service: string
  readonly region: string
}

/** The most versions a managed policy keeps (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html). */
export const MAX_POLICY_VERSIONS = 5

export interface IamStore {
  /** Replaces the role's description, session limit and trust policy; ROLE_NOT_FOUND when it is gone. */
  updateRole(role: RoleRecord): Promise<void>
  /**
   * Deletes the role and its tags; ROLE_NOT_FOUND when there is none, DELETE_CONFLICT while it
   * has inline policies or attached managed policies.
   */
  deleteRole(tenantId: string, name: string): Promise<void>
  /** False when the role has no policy of that name. */
  deleteRolePolicy(tenantId: string, roleName: string, name: string): Promise<boolean>
  /**
   * Deletes the user and its tags; USER_NOT_FOUND when there is none, DELETE_CONFLICT while it
   * has access keys, inline policies or attached managed policies, or belongs to a group.
   */
  deleteUser(tenantId: string, name: string): Promise<void>
  /** False when the user has no policy of that name. */
  deleteUserPolicy(tenantId: string, userName: string, name: string): Promise<boolean>

  /**
   * Adds or replaces tags (by key, regardless of case); LIMIT_EXCEEDED, writing nothing, when
   * the resource would carry more than `max`.
   */
  tagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    tags: readonly TagRecord[],
    max: number,
  ): Promise<void>
  /** Removes the tags of these keys (regardless of case); keys it does not carry are ignored. */
  untagResource(
    tenantId: string,
    kind: TaggedKind,
    name: string,
    keys: readonly string[],
  ): Promise<void>
  /** By key. */
  listTags(tenantId: string, kind: TaggedKind, name: string): Promise<TagRecord[]>

  /** Records the key's last use (a key that is gone is ignored). */
  recordAccessKeyUse(id: string, use: AccessKeyUse): Promise<void>
  /** Undefined when the key was never used (or is gone). */
  accessKeyUse(id: string): Promise<AccessKeyUse | undefined>

  /** Creates the policy with `document` as its version 1, the default; ENTITY_EXISTS when the name is taken. */
  createPolicy(policy: ManagedPolicyRecord, document: string): Promise<void>
  /** By name, regardless of case. */
  getPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | undefined>
  /** By name, with how many principals each is attached to. */
  listPolicies(tenantId: string): Promise<(ManagedPolicyRecord & { attachments: number })[]>
  /**
   * Deletes the policy, its one version and its tags; NO_SUCH_ENTITY when there is none,
   * DELETE_CONFLICT while it is attached or has versions besides the default.
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
  /** The policies attached to the principal, by name. */
  listAttachedPolicies(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<ManagedPolicyRecord[]>
  /** The default version's document of each policy attached to the principal, by policy name. */
  attachedDocuments(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<{ readonly policy: ManagedPolicyRecord; readonly document: string }[]>
}
