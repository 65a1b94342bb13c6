/**
 * GetAccountAuthorizationDetails: every user, group, role and customer-managed policy of the
 * caller's account with their inline policies, attachments, boundaries, tags and policy
 * versions, as IAM returns them (documents URL-encoded), in pages. Auditors and tools such as
 * Terraform's importers and access analyzers read an account's IAM state this way.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
 */
import { StrongroomError } from '../../errors.ts'
import { policyArn } from '../../identity/managed.ts'
import { roleArn } from '../../identity/roles.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation } from '../operation.ts'
import { members } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import { encodedDocument, intParam, iso, tagsNode } from './common.ts'
import { policyNode, versionNode } from './policies.ts'

const FILTERS = ['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy'] as const
type Filter = (typeof FILTERS)[number]
type Entry = readonly [
  'UserDetailList' | 'GroupDetailList' | 'RoleDetailList' | 'Policies',
  () => Promise<Node>,
]

const attachedNode = (ps: readonly { tenantId: string; name: string; path: string }[]) => ({
  member: ps.map((p) => ({ PolicyName: p.name, PolicyArn: policyArn(p.tenantId, p) })),
})
const inlineNode = (ps: readonly { name: string; document: string }[]) => ({
  member: ps.map((p) => ({ PolicyName: p.name, PolicyDocument: encodedDocument(p.document) })),
})
const boundaryNode = (b: { name: string } | undefined): Node =>
  b && { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: b.name }

async function details(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const given = members(p, 'Filter', 5)
  for (const f of given)
    if (!(FILTERS as readonly string[]).includes(f))
      throw new StrongroomError(
        'VALIDATION',
        `1 validation error detected: Value '${f.slice(0, 64)}' at 'filter' failed to satisfy constraint: Member must satisfy enum value set: [${FILTERS.join(', ')}]`,
      )
  const want = (f: Filter) => given.length === 0 || given.includes(f)
  const id = ctx.identity
  const t = ctx.tenant
  const entries: Entry[] = []
  if (want('User'))
    for (const u of await id.listUsers(t))
      entries.push([
        'UserDetailList',
        async () => ({
          Path: '/',
          UserName: u.name,
          UserId: u.id,
          Arn: `arn:aws:iam::${t.id}:user/${u.name}`,
          CreateDate: iso(u.createdAt),
          UserPolicyList: inlineNode(await id.userPolicyRecords(u)),
          GroupList: { member: (await id.groups.ofUser(u)).map((g) => g.name) },
          AttachedManagedPolicies: attachedNode(await id.attachedPolicies('user', u)),
          PermissionsBoundary: boundaryNode(await id.permissionsBoundary('user', t.id, u.name)),
          Tags: tagsNode(await id.tags(t.id, 'user', u.name)),
        }),
      ])
  if (want('Group'))
    for (const g of await id.groups.list(t))
      entries.push([
        'GroupDetailList',
        async () => ({
          Path: g.path,
          GroupName: g.name,
          GroupId: g.id,
          Arn: `arn:aws:iam::${t.id}:group${g.path}${g.name}`,
          CreateDate: iso(g.createdAt),
          GroupPolicyList: inlineNode(await id.groups.policies(g)),
          AttachedManagedPolicies: attachedNode(await id.attachedPolicies('group', g)),
        }),
      ])
  if (want('Role'))
    for (const r of await id.listRoles(t))
      entries.push([
        'RoleDetailList',
        async () => ({
          Path: r.path,
          RoleName: r.name,
          RoleId: r.id,
          Arn: roleArn(t.id, r),
          CreateDate: iso(r.createdAt),
          AssumeRolePolicyDocument: encodedDocument(r.trustPolicy),
          InstanceProfileList: { member: [] },
          RolePolicyList: inlineNode(await id.storedRolePolicies(r)),
          AttachedManagedPolicies: attachedNode(await id.attachedPolicies('role', r)),
          PermissionsBoundary: boundaryNode(await id.permissionsBoundary('role', t.id, r.name)),
          Tags: tagsNode(await id.tags(t.id, 'role', r.name)),
        }),
      ])
  // Strongroom has no AWS-managed policies: the filter AWSManagedPolicy lists none.
  if (want('LocalManagedPolicy'))
    for (const m of await id.listPolicies(t))
      entries.push([
        'Policies',
        async () => ({
          ...(policyNode(m, [m.attachments, m.boundaries], { description: true }) as object),
          PolicyVersionList: {
            member: (await id.listPolicyVersions(m)).map((v) => versionNode(m, v, true)),
          },
        }),
      ])
  const max = intParam(p, 'MaxItems') ?? 100
  if (max < 1 || max > 1000)
    throw new StrongroomError('VALIDATION', 'MaxItems must be between 1 and 1000')
  const marker = p.get('Marker')
  const from = marker === undefined ? 0 : Number(Buffer.from(marker, 'base64url').toString())
  if (!Number.isSafeInteger(from) || from < 0 || from > entries.length)
    throw new StrongroomError('INVALID_PARAMETER_VALUE', 'Marker is not one this call returned')
  const pageOf = entries.slice(from, from + max)
  const lists: Record<Entry[0], Node[]> = {
    UserDetailList: [],
    GroupDetailList: [],
    RoleDetailList: [],
    Policies: [],
  }
  for (const [list, node] of pageOf) lists[list].push(await node())
  const more = from + max < entries.length
  return {
    UserDetailList: { member: lists.UserDetailList },
    GroupDetailList: { member: lists.GroupDetailList },
    RoleDetailList: { member: lists.RoleDetailList },
    Policies: { member: lists.Policies },
    IsTruncated: more,
    Marker: more ? Buffer.from(String(from + max)).toString('base64url') : undefined,
  }
}

export const ACCOUNT_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'GetAccountAuthorizationDetails',
    action: 'iam:GetAccountAuthorizationDetails',
    params: ['Filter.', 'MaxItems', 'Marker'],
    resource: () => '*',
    handler: details,
  },
]
