/**
 * Customer-managed policies (query protocol, 2010-05-08): CreatePolicy, GetPolicy,
 * ListPolicies, DeletePolicy, their versions (at most five, one the default), their tags, and
 * attaching them to roles and users, whose requests their default version then governs.
 * Strongroom has no AWS-managed policies: Scope=AWS lists none, and their ARNs
 * (arn:aws:iam::aws:policy/…) are not found.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html
 */
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { policyArn, versionNumber } from '../../identity/managed.ts'
import type { TagRecord } from '../../meta/iam.ts'
import type { ManagedPolicyRecord, PolicyVersionRecord } from '../../meta/policies.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation, ResourceLookup } from '../operation.ts'
import { param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import {
  boolParam,
  checked,
  description,
  documentParam,
  encodedDocument,
  iso,
  nameParam,
  page,
  pageNode,
  pathParam,
  pathPrefix,
  roleNamed,
  roleResource,
  TAG_PARAMS,
  tagConditions,
  tagsNode,
  tagsParam,
  userNamed,
  userResource,
} from './common.ts'
import { tagOperations } from './tags.ts'

type Params = ReadonlyMap<string, string>

/** PolicyArn, checked for length (the service finds what it names). */
const arnParam = (p: Params) => checked(param(p, 'PolicyArn'), 'policyArn', 2048, undefined, 20)

const policyResource = (p: Params) => arnParam(p)

/** A policy as IAM writes it; its uses from the list, `tags` where the action returns them. */
export function policyNode(
  p: ManagedPolicyRecord,
  [attachments, boundaries]: readonly [number, number],
  o: { readonly tags?: readonly TagRecord[]; readonly description?: boolean } = {},
): Node {
  return {
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: policyArn(p.tenantId, p),
    Path: p.path,
    DefaultVersionId: `v${p.defaultVersion}`,
    AttachmentCount: attachments,
    PermissionsBoundaryUsageCount: boundaries,
    IsAttachable: true,
    Description: o.description === true && p.description !== '' ? p.description : undefined,
    CreateDate: iso(p.createdAt),
    UpdateDate: iso(p.updatedAt),
    Tags: o.tags === undefined ? undefined : tagsNode(o.tags),
  }
}

export function versionNode(
  p: ManagedPolicyRecord,
  v: PolicyVersionRecord,
  withDocument: boolean,
): Node {
  return {
    Document: withDocument ? encodedDocument(v.document) : undefined,
    VersionId: `v${v.version}`,
    IsDefaultVersion: v.version === p.defaultVersion,
    CreateDate: iso(v.createdAt),
  }
}

const named = (ctx: QueryAuthorized) => ctx.identity.policy(ctx.tenant, arnParam(ctx.params))

/** How many principals the policy is attached to, and how many it bounds. */
async function uses(ctx: QueryAuthorized, p: ManagedPolicyRecord): Promise<[number, number]> {
  const found = (await ctx.identity.listPolicies(ctx.tenant)).find((x) => x.name === p.name)
  return [found?.attachments ?? 0, found?.boundaries ?? 0]
}

async function createPolicy(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const name = nameParam(p, 'PolicyName', 128)
  const path = pathParam(p)
  const document = documentParam(p, 'PolicyDocument')
  const tags = tagsParam(p)
  let created: ManagedPolicyRecord
  try {
    created = await ctx.identity.createPolicy(ctx.tenant, {
      name,
      path,
      description: description(p) ?? '',
      document,
    })
  } catch (e) {
    if (isStrongroomError(e, 'ENTITY_EXISTS'))
      throw new StrongroomError(
        'ENTITY_EXISTS',
        `A policy called ${name} already exists. Duplicate names are not allowed.`,
        { cause: e },
      )
    throw e
  }
  if (tags.length > 0) await ctx.identity.tag(ctx.tenant.id, 'policy', created.name, tags)
  return { Policy: policyNode(created, [0, 0], { tags, description: true }) }
}

async function getPolicy(ctx: QueryAuthorized): Promise<Node> {
  const p = await named(ctx)
  const tags = await ctx.identity.tags(p.tenantId, 'policy', p.name)
  return { Policy: policyNode(p, await uses(ctx, p), { tags, description: true }) }
}

async function listPolicies(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const scope = p.get('Scope') ?? 'All'
  if (!['All', 'AWS', 'Local'].includes(scope))
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${scope.slice(0, 32)}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]`,
    )
  const usage = p.get('PolicyUsageFilter')
  if (usage !== undefined && usage !== 'PermissionsPolicy' && usage !== 'PermissionsBoundary')
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${usage.slice(0, 32)}' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]`,
    )
  const onlyAttached = boolParam(p, 'OnlyAttached')
  const prefix = pathPrefix(p)
  const all = scope === 'AWS' ? [] : await ctx.identity.listPolicies(ctx.tenant)
  const kept = all.filter(
    (x) =>
      x.path.startsWith(prefix) &&
      (!onlyAttached || x.attachments > 0) &&
      (usage === undefined ||
        (usage === 'PermissionsPolicy' ? x.attachments > 0 : x.boundaries > 0)),
  )
  const pg = page(p, kept, (x) => x.name)
  return pageNode(
    'Policies',
    pg.items.map((x) => policyNode(x, [x.attachments, x.boundaries])),
    pg,
  )
}

async function deletePolicy(ctx: QueryAuthorized): Promise<Node> {
  await ctx.identity.deletePolicy(await named(ctx))
  return undefined
}

async function createPolicyVersion(ctx: QueryAuthorized): Promise<Node> {
  const document = documentParam(ctx.params, 'PolicyDocument')
  const setAsDefault = boolParam(ctx.params, 'SetAsDefault')
  const p = await named(ctx)
  const n = await ctx.identity.createPolicyVersion(p, document, setAsDefault)
  const v = await ctx.identity.policyVersion(p, n)
  const now = setAsDefault ? { ...p, defaultVersion: n } : p
  return { PolicyVersion: versionNode(now, v, false) }
}

async function getPolicyVersion(ctx: QueryAuthorized): Promise<Node> {
  const n = versionNumber(param(ctx.params, 'VersionId'))
  const p = await named(ctx)
  return { PolicyVersion: versionNode(p, await ctx.identity.policyVersion(p, n), true) }
}

async function listPolicyVersions(ctx: QueryAuthorized): Promise<Node> {
  const p = await named(ctx)
  const versions = await ctx.identity.listPolicyVersions(p)
  // Newest first, as IAM lists them; the marker is the version number, padded to sort.
  const pg = page(ctx.params, versions, (v) => String(1e9 - v.version).padStart(10, '0'))
  return pageNode(
    'Versions',
    pg.items.map((v) => versionNode(p, v, false)),
    pg,
  )
}

async function deletePolicyVersion(ctx: QueryAuthorized): Promise<Node> {
  const n = versionNumber(param(ctx.params, 'VersionId'))
  await ctx.identity.deletePolicyVersion(await named(ctx), n)
  return undefined
}

async function setDefaultPolicyVersion(ctx: QueryAuthorized): Promise<Node> {
  const n = versionNumber(param(ctx.params, 'VersionId'))
  await ctx.identity.setDefaultPolicyVersion(await named(ctx), n)
  return undefined
}

/**
 * Who uses the policy: the roles, users and groups it is attached to (or, with
 * PolicyUsageFilter=PermissionsBoundary, bounds), paged together in one order.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListEntitiesForPolicy.html
 */
async function listEntitiesForPolicy(ctx: QueryAuthorized): Promise<Node> {
  const params = ctx.params
  const filter = params.get('EntityFilter')
  const kinds = ['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy']
  if (filter !== undefined && !kinds.includes(filter))
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${filter.slice(0, 32)}' at 'entityFilter' failed to satisfy constraint: Member must satisfy enum value set: [${kinds.join(', ')}]`,
    )
  const usage = params.get('PolicyUsageFilter') ?? 'PermissionsPolicy'
  if (usage !== 'PermissionsPolicy' && usage !== 'PermissionsBoundary')
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${usage.slice(0, 32)}' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]`,
    )
  const prefix = pathPrefix(params)
  const p = await named(ctx)
  const all = await ctx.identity.policyEntities(
    p,
    usage === 'PermissionsPolicy' ? 'attached' : 'boundary',
  )
  const wanted = all.filter(
    (e) => (filter === undefined || e.kind === filter.toLowerCase()) && e.path.startsWith(prefix),
  )
  const pg = page(params, wanted, (e) => `${e.kind}/${e.name}`)
  const of = (kind: string, name: string, id: string) =>
    pg.items.filter((e) => e.kind === kind).map((e) => ({ [name]: e.name, [id]: e.id }))
  return {
    PolicyGroups: { member: of('group', 'GroupName', 'GroupId') },
    PolicyUsers: { member: of('user', 'UserName', 'UserId') },
    PolicyRoles: { member: of('role', 'RoleName', 'RoleId') },
    IsTruncated: pg.truncated,
    Marker: pg.marker,
  }
}

const onPolicy = (
  name: string,
  params: readonly string[],
  handler: (ctx: QueryAuthorized) => Promise<Node>,
): QueryOperation => ({
  service: 'iam',
  name,
  action: `iam:${name}`,
  params: ['PolicyArn', ...params],
  resource: policyResource,
  handler,
})

/** Attach…, Detach… and ListAttached…Policies of roles, users or groups, decided on the principal's ARN. */
export function attachOperations(
  noun: 'Role' | 'User' | 'Group',
  resource: (p: Params, account: string, l: ResourceLookup) => string | Promise<string>,
  principal: (
    ctx: QueryAuthorized,
  ) => Promise<{ readonly tenantId: string; readonly name: string }>,
): QueryOperation[] {
  const kind = noun === 'Role' ? 'role' : noun === 'User' ? 'user' : 'group'
  const owner = `${noun}Name`
  // iam:PolicyARN names the policy attached or detached, for conditions that limit which.
  const conditions = (p: Params) => (p.has('PolicyArn') ? { 'iam:PolicyARN': arnParam(p) } : {})
  return [
    {
      service: 'iam',
      name: `Attach${noun}Policy`,
      action: `iam:Attach${noun}Policy`,
      params: [owner, 'PolicyArn'],
      resource,
      conditions,
      handler: async (ctx) => {
        const [who, p] = [await principal(ctx), await named(ctx)]
        await ctx.identity.attachPolicy(kind, who, p)
        return undefined
      },
    },
    {
      service: 'iam',
      name: `Detach${noun}Policy`,
      action: `iam:Detach${noun}Policy`,
      params: [owner, 'PolicyArn'],
      resource,
      conditions,
      handler: async (ctx) => {
        const [who, p] = [await principal(ctx), await named(ctx)]
        await ctx.identity.detachPolicy(kind, who, p)
        return undefined
      },
    },
    {
      service: 'iam',
      name: `ListAttached${noun}Policies`,
      action: `iam:ListAttached${noun}Policies`,
      params: [owner, 'PathPrefix', 'Marker', 'MaxItems'],
      resource,
      handler: async (ctx) => {
        const prefix = pathPrefix(ctx.params)
        const who = await principal(ctx)
        const attached = (await ctx.identity.attachedPolicies(kind, who)).filter((p) =>
          p.path.startsWith(prefix),
        )
        const pg = page(ctx.params, attached, (p) => p.name)
        return pageNode(
          'AttachedPolicies',
          pg.items.map((p) => ({ PolicyName: p.name, PolicyArn: policyArn(p.tenantId, p) })),
          pg,
        )
      },
    },
  ]
}

export const POLICY_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreatePolicy',
    action: 'iam:CreatePolicy',
    params: ['PolicyName', 'Path', 'PolicyDocument', 'Description', ...TAG_PARAMS],
    resource: (p, account) =>
      `arn:aws:iam::${account}:policy${pathParam(p)}${nameParam(p, 'PolicyName', 128)}`,
    also: (p) => (p.has('Tags.member.1.Key') ? ['iam:TagPolicy'] : []),
    conditions: tagConditions,
    handler: createPolicy,
  },
  onPolicy('GetPolicy', [], getPolicy),
  {
    service: 'iam',
    name: 'ListPolicies',
    action: 'iam:ListPolicies',
    params: ['Scope', 'OnlyAttached', 'PathPrefix', 'PolicyUsageFilter', 'Marker', 'MaxItems'],
    resource: () => '*',
    handler: listPolicies,
  },
  onPolicy('DeletePolicy', [], deletePolicy),
  onPolicy(
    'ListEntitiesForPolicy',
    ['EntityFilter', 'PathPrefix', 'PolicyUsageFilter', 'Marker', 'MaxItems'],
    listEntitiesForPolicy,
  ),
  onPolicy('CreatePolicyVersion', ['PolicyDocument', 'SetAsDefault'], createPolicyVersion),
  onPolicy('GetPolicyVersion', ['VersionId'], getPolicyVersion),
  onPolicy('ListPolicyVersions', ['Marker', 'MaxItems'], listPolicyVersions),
  onPolicy('DeletePolicyVersion', ['VersionId'], deletePolicyVersion),
  onPolicy('SetDefaultPolicyVersion', ['VersionId'], setDefaultPolicyVersion),
  ...tagOperations(
    'Policy',
    'PolicyArn',
    { kind: 'policy', name: async (ctx) => (await named(ctx)).name },
    policyResource,
  ),
  ...attachOperations('Role', roleResource, roleNamed),
  ...attachOperations('User', userResource, (ctx) => userNamed(ctx)),
]
