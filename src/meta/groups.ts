/**
 * GroupStore: IAM groups of a tenant, their members (users of the same tenant) and their inline
 * policies. A group's attached managed policies are kept by the IamStore's attachments (kind
 * `group`). A user's requests are governed by the policies of every group it belongs to.
 */

export interface GroupRecord {
  readonly tenantId: string
  /** Unique in the tenant regardless of case. */
  readonly name: string
  /** AGPA…: AWS's shape of a group's unique id. */
  readonly id: string
  /** `/` or `/a/b/`. */
  readonly path: string
  readonly createdAt: number
}

export interface GroupPolicyRecord {
  readonly tenantId: string
  readonly groupName: string
  readonly name: string
  readonly document: string
}

export interface GroupStore {
  /** ENTITY_EXISTS when the name is taken in the tenant, in any case. */
  createGroup(group: GroupRecord): Promise<void>
  /** By name, regardless of case. */
  getGroup(tenantId: string, name: string): Promise<GroupRecord | undefined>
  /** By name. */
  listGroups(tenantId: string): Promise<GroupRecord[]>
  /**
   * NO_SUCH_ENTITY when there is none; DELETE_CONFLICT while it has members, inline policies or
   * attached managed policies.
   */
  deleteGroup(tenantId: string, name: string): Promise<void>
  /**
   * Adds the user (adding it again changes nothing); false, writing nothing, when the group or
   * the user does not exist; LIMIT_EXCEEDED past `max` groups for the user.
   */
  addUserToGroup(tenantId: string, group: string, user: string, max: number): Promise<boolean>
  /** False when the user was not a member. */
  removeUserFromGroup(tenantId: string, group: string, user: string): Promise<boolean>
  /** The members' user names, by name. */
  groupMembers(tenantId: string, group: string): Promise<string[]>
  /** The groups the user belongs to, by name. */
  groupsOfUser(tenantId: string, user: string): Promise<GroupRecord[]>
  /** Creates or replaces the group's policy of that name (the group must exist). */
  putGroupPolicy(policy: GroupPolicyRecord): Promise<void>
  /** By policy name. */
  listGroupPolicies(tenantId: string, group: string): Promise<GroupPolicyRecord[]>
  /** False when the group has no policy of that name. */
  deleteGroupPolicy(tenantId: string, group: string, name: string): Promise<boolean>
  /**
   * Every policy that reaches a user through its groups: each group's inline policies (`name`
   * the policy's) and the default version of each managed policy attached to a group (`name`
   * the policy's path and name: /a/NAME), by group, inline first, then name.
   */
  groupPolicyDocuments(tenantId: string, user: string): Promise<GroupPolicyDocument[]>
}

export interface GroupPolicyDocument {
  readonly group: string
  readonly kind: 'inline' | 'managed'
  readonly name: string
  readonly document: string
}
