/**
 * IAM roles (query protocol, 2010-05-08): CreateRole, GetRole, ListRoles, UpdateRole,
 * UpdateAssumeRolePolicy, DeleteRole, the role's inline policies and tags, and
 * ListInstanceProfilesForRole (Strongroom has no instance profiles: always empty). Each decision
 * is on the role's ARN, path included.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
 */
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { roleArn } from '../../identity/roles.ts'
import type { TagRecord } from '../../meta/iam.ts'
import type { RoleRecord } from '../../meta/identity.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation } from '../operation.ts'
import type { Node } from '../xml.ts'
import {
  description,
  documentParam,
  encodedDocument,
  intParam,
  iso,
  nameParam,
  onEntity,
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
} from './common.ts'
import { boundaryConditions, boundaryNode, boundaryParam, setBoundary } from './boundaries.ts'
import { inlineOperations } from './inline.ts'
import { tagOperations } from './tags.ts'

/**
 * A role as IAM writes it; `tags` and `boundary` only where the action returns them (GetRole,
 * CreateRole).
 */
export function roleNode(role: RoleRecord, tags?: readonly TagRecord[], boundary?: Node): Node {
  return {
    Path: role.path,
    RoleName: role.name,
    RoleId: role.id,
    Arn: roleArn(role.tenantId, role),
    CreateDate: iso(role.createdAt),
    AssumeRolePolicyDocument: encodedDocument(role.trustPolicy),
    Description: role.description === '' ? undefined : role.description,
    MaxSessionDuration: role.maxSessionSeconds,
    PermissionsBoundary: boundary,
    Tags: tags === undefined ? undefined : tagsNode(tags),
  }
}

/** MaxSessionDuration: 3,600 to 43,200 seconds. */
function maxSession(p: ReadonlyMap<string, string>): number | undefined {
  const v = intParam(p, 'MaxSessionDuration')
  if (v === undefined) return undefined
  if (v < 3600 || v > 43_200)
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value ${v < 3600 ? 'greater than or equal to 3600' : 'less than or equal to 43200'}`,
    )
  return v
}

async function createRole(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const name = nameParam(p, 'RoleName')
  const path = pathParam(p)
  const trustPolicy = documentParam(p, 'AssumeRolePolicyDocument')
  const tags = tagsParam(p)
  // The boundary must exist before the role does.
  if (p.has('PermissionsBoundary')) await ctx.identity.policy(ctx.tenant, boundaryParam(p))
  let created: RoleRecord
  try {
    created = (
      await ctx.identity.createRole(ctx.tenant, {
        name,
        path,
        trustPolicy,
        description: description(p),
        maxSessionSeconds: maxSession(p),
      })
    ).role
  } catch (e) {
    if (isStrongroomError(e, 'ROLE_EXISTS'))
      throw new StrongroomError('ENTITY_EXISTS', `Role with name ${name} already exists.`, {
        cause: e,
      })
    throw e
  }
  if (tags.length > 0) await ctx.identity.tag(ctx.tenant.id, 'role', created.name, tags)
  if (p.has('PermissionsBoundary')) await setBoundary(ctx, 'role', created)
  return { Role: roleNode(created, tags, await boundaryNode(ctx, 'role', created.name)) }
}

async function getRole(ctx: QueryAuthorized): Promise<Node> {
  const role = await roleNamed(ctx)
  const [tags, boundary] = await Promise.all([
    ctx.identity.tags(role.tenantId, 'role', role.name),
    boundaryNode(ctx, 'role', role.name),
  ])
  return { Role: roleNode(role, tags, boundary) }
}

async function listRoles(ctx: QueryAuthorized): Promise<Node> {
  const prefix = pathPrefix(ctx.params)
  const roles = (await ctx.identity.listRoles(ctx.tenant)).filter((r) => r.path.startsWith(prefix))
  const pg = page(ctx.params, roles, (r) => r.name)
  return pageNode(
    'Roles',
    pg.items.map((r) => roleNode(r)),
    pg,
  )
}

async function updateRole(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const desc = description(p)
  const seconds = maxSession(p)
  const role = await roleNamed(ctx)
  await ctx.identity.updateRole(role, { description: desc, maxSessionSeconds: seconds })
  return {}
}

/** The older form of UpdateRole for the description alone; it answers the role. */
async function updateRoleDescription(ctx: QueryAuthorized): Promise<Node> {
  const desc = description(ctx.params) ?? ''
  const { role } = await ctx.identity.updateRole(await roleNamed(ctx), { description: desc })
  return { Role: roleNode(role) }
}

async function updateAssumeRolePolicy(ctx: QueryAuthorized): Promise<Node> {
  const doc = documentParam(ctx.params, 'PolicyDocument')
  const role = await roleNamed(ctx)
  await ctx.identity.updateRole(role, { trustPolicy: doc })
  return undefined
}

async function deleteRole(ctx: QueryAuthorized): Promise<Node> {
  await ctx.identity.deleteRole(await roleNamed(ctx))
  return undefined
}

async function listInstanceProfilesForRole(ctx: QueryAuthorized): Promise<Node> {
  await roleNamed(ctx)
  page(ctx.params, [], (x: string) => x)
  return { InstanceProfiles: { member: [] }, IsTruncated: false }
}

const role = onEntity('RoleName', roleResource)

export const ROLE_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreateRole',
    action: 'iam:CreateRole',
    params: [
      'RoleName',
      'Path',
      'AssumeRolePolicyDocument',
      'Description',
      'MaxSessionDuration',
      'PermissionsBoundary',
      ...TAG_PARAMS,
    ],
    resource: (p, account) =>
      `arn:aws:iam::${account}:role${pathParam(p)}${nameParam(p, 'RoleName')}`,
    // Tagging on creation needs the tag action too
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags_roles.html).
    also: (p) => (p.has('Tags.member.1.Key') ? ['iam:TagRole'] : []),
    conditions: (p) => ({ ...tagConditions(p), ...boundaryConditions(p) }),
    handler: createRole,
  },
  role('GetRole', [], getRole),
  {
    service: 'iam',
    name: 'ListRoles',
    action: 'iam:ListRoles',
    params: ['PathPrefix', 'Marker', 'MaxItems'],
    resource: () => '*',
    handler: listRoles,
  },
  role('UpdateRole', ['Description', 'MaxSessionDuration'], updateRole),
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRoleDescription.html
  role('UpdateRoleDescription', ['Description'], updateRoleDescription),
  role('UpdateAssumeRolePolicy', ['PolicyDocument'], updateAssumeRolePolicy),
  role('DeleteRole', [], deleteRole),
  role('ListInstanceProfilesForRole', ['Marker', 'MaxItems'], listInstanceProfilesForRole),
  ...inlineOperations({
    noun: 'Role',
    resource: roleResource,
    entity: roleNamed,
    list: (ctx, r) => ctx.identity.storedRolePolicies(r),
    put: (ctx, r, policy, doc) => ctx.identity.putRolePolicy(r, policy, doc),
    remove: (ctx, r, policy) => ctx.identity.deleteRolePolicy(r, policy),
  }),
  ...tagOperations(
    'Role',
    'RoleName',
    { kind: 'role', name: async (ctx) => (await roleNamed(ctx)).name },
    roleResource,
  ),
]
