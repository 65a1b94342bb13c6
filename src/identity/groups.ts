/**
 * IAM groups of a tenant: a named set of users whose inline and attached policies govern every
 * member's requests. Its ARN is arn:aws:iam::ACCOUNT:group/PATH/NAME and its unique id AGPA…
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html).
 */
import type { Clock } from '../clock.ts'
import { StrongroomError } from '../errors.ts'
import type { Issue } from '../iam/policy.ts'
import type { GroupPolicyRecord, GroupRecord, GroupStore } from '../meta/groups.ts'
import type { TenantRecord, UserRecord } from '../meta/identity.ts'
import { uniqueId } from './managed.ts'
import { validPolicy } from './roles.ts'

/** Groups one user may belong to (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
export const MAX_GROUPS_PER_USER = 10

export function groupArn(g: Pick<GroupRecord, 'tenantId' | 'path' | 'name'>): string {
  return `arn:aws:iam::${g.tenantId}:group${g.path}${g.name}`
}

export class GroupService {
  private readonly store: GroupStore
  private readonly clock: Clock

  constructor(store: GroupStore, clock: Clock) {
    this.store = store
    this.clock = clock
  }

  /** ENTITY_EXISTS when the name is taken in any case (names and paths are checked by the caller). */
  async create(tenant: TenantRecord, name: string, path: string): Promise<GroupRecord> {
    const g: GroupRecord = {
      tenantId: tenant.id,
      name,
      id: uniqueId('AGPA'),
      path,
      createdAt: this.clock.now(),
    }
    await this.store.createGroup(g)
    return g
  }

  find(tenantId: string, name: string): Promise<GroupRecord | undefined> {
    return this.store.getGroup(tenantId, name)
  }

  list(tenant: TenantRecord): Promise<GroupRecord[]> {
    return this.store.listGroups(tenant.id)
  }

  /** DELETE_CONFLICT while it has members or policies. */
  delete(g: GroupRecord): Promise<void> {
    return this.store.deleteGroup(g.tenantId, g.name)
  }

  /** NO_SUCH_ENTITY when the user is gone; LIMIT_EXCEEDED past ten groups. */
  async addUser(g: GroupRecord, user: UserRecord): Promise<void> {
    if (!(await this.store.addUserToGroup(g.tenantId, g.name, user.name, MAX_GROUPS_PER_USER)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `The user with name ${user.name} cannot be found.`,
      )
  }

  /** NO_SUCH_ENTITY when the user is not a member. */
  async removeUser(g: GroupRecord, user: UserRecord): Promise<void> {
    if (!(await this.store.removeUserFromGroup(g.tenantId, g.name, user.name)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `The user with name ${user.name} is not in group ${g.name}.`,
      )
  }

  members(g: GroupRecord): Promise<string[]> {
    return this.store.groupMembers(g.tenantId, g.name)
  }

  ofUser(user: UserRecord): Promise<GroupRecord[]> {
    return this.store.groupsOfUser(user.tenantId, user.name)
  }

  /** Validates and stores (or replaces) an inline group policy; returns its warnings. */
  async putPolicy(g: GroupRecord, name: string, document: string): Promise<Issue[]> {
    const warnings = validPolicy(document, 'identity', name)
    await this.store.putGroupPolicy({ tenantId: g.tenantId, groupName: g.name, name, document })
    return warnings
  }

  policies(g: GroupRecord): Promise<GroupPolicyRecord[]> {
    return this.store.listGroupPolicies(g.tenantId, g.name)
  }

  /** NO_SUCH_ENTITY when the group has no policy of that name. */
  async deletePolicy(g: GroupRecord, name: string): Promise<void> {
    if (!(await this.store.deleteGroupPolicy(g.tenantId, g.name, name)))
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `The group policy with name ${name.slice(0, 128)} cannot be found.`,
      )
  }
}
