/**
 * The IAM entity a query request acts on, read before it is decided: the role an AssumeRole*
 * names (its trust policy is the resource policy) and the tags of a role or user, which
 * conditions see as aws:ResourceTag/KEY and iam:ResourceTag/KEY
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_iam-tags.html#access_iam-tags_control-resources,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags_roles.html).
 */
import type { App } from '../app.ts'
import { policyArn } from '../identity/managed.ts'
import { roleArn } from '../identity/roles.ts'
import type { TagRecord } from '../meta/iam.ts'
import type { RoleRecord } from '../meta/identity.ts'
import type { Conditions } from './operation.ts'

const ENTITY = /^arn:aws:iam::(\d{12}):(role|user)\/(?:[^/]*\/)*([\w+=,.@-]{1,128})$/

export interface IamTarget {
  /** The account of the resource (the role's, for AssumeRole*; the caller's otherwise). */
  readonly account: string
  /** The role an AssumeRole* names, when it exists under exactly that ARN (path included). */
  readonly role: RoleRecord | undefined
  /**
   * aws:ResourceTag/* and iam:ResourceTag/* of the role or user the request acts on, and, for
   * the actions that change its permissions, iam:PermissionsBoundary (its current boundary).
   */
  readonly conditions: Conditions
}

export async function iamTarget(
  identity: App['identity'],
  action: string,
  resource: string,
  callerAccount: string,
  assumesRole: boolean,
): Promise<IamTarget> {
  const m = ENTITY.exec(resource)
  const [account = '', kind = '', name = ''] = m === null ? [] : m.slice(1)
  if (assumesRole) {
    const state = kind === 'role' ? await identity.roleState(account, name) : undefined
    // The ARN must name the role exactly, path included.
    const role =
      state !== undefined && roleArn(account, state.record) === resource ? state.record : undefined
    return { account, role, conditions: tagConditions(role ? (state?.tags ?? []) : []) }
  }
  // Only the caller's own account's entities: another account's tags are not the caller's to read.
  const state =
    m === null || account !== callerAccount
      ? undefined
      : kind === 'role'
        ? await identity.roleState(account, name)
        : await identity.userState(account, name)
  const conditions: Record<string, string> = tagConditions(state?.tags ?? [])
  const boundary = state?.boundary
  if (boundary !== undefined && BOUNDARY_ACTIONS.has(action))
    conditions['iam:PermissionsBoundary'] = policyArn(account, boundary.policy)
  return { account: callerAccount, role: undefined, conditions }
}

/**
 * The actions on an existing role or user for which iam:PermissionsBoundary is its current
 * boundary, so that a delegated administrator can be allowed to change only users and roles
 * that keep a given boundary (a request that sets one names it itself, and that wins)
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html#access_policies_boundaries-delegate).
 */
const BOUNDARY_ACTIONS = new Set(
  ['Role', 'User'].flatMap((n) => [
    `iam:Attach${n}Policy`,
    `iam:Detach${n}Policy`,
    `iam:Put${n}Policy`,
    `iam:Delete${n}Policy`,
    `iam:Put${n}PermissionsBoundary`,
    `iam:Delete${n}PermissionsBoundary`,
  ]),
)

function tagConditions(tags: readonly TagRecord[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const t of tags) {
    out[`aws:ResourceTag/${t.key}`] = t.value
    out[`iam:ResourceTag/${t.key}`] = t.value
  }
  return out
}
