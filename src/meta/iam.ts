/**
 * IamStore: what the IAM API keeps beside the IdentityStore's users, roles and inline
 * policies: changes and deletions of those, tags on IAM resources, and when each access key was
 * last used (customer-managed policies are the PolicyStore's, policies.ts). Checks that AWS
 * makes atomically (a role with policies cannot be deleted) are made by the store in the same
 * transaction as the write.
 */
import type { RoleRecord } from './identity.ts'

/** The IAM resources that carry tags, by kind; `name` is the entity's name (an OIDC provider's URL host and path). */
export type TaggedKind = 'role' | 'user' | 'policy' | 'oidc-provider'

export interface TagRecord {
  readonly key: string
  readonly value: string
}

/** The last request an access key signed: when, to which service, in which region. */
export interface AccessKeyUse {
  readonly at: number
  readonly service: string
  readonly region: string
}

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
}
