/**
 * Permissions boundaries (query protocol, 2010-05-08): Put/DeleteRolePermissionsBoundary and
 * Put/DeleteUserPermissionsBoundary, and the PermissionsBoundary parameter of CreateRole and
 * CreateUser. A boundary is a customer-managed policy whose default version is the most the
 * role's or user's identity policies may allow.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePermissionsBoundary.html
 */
import type { QueryAuthorized } from '../authorized.ts'
import type { Conditions, QueryOperation, ResourceLookup } from '../operation.ts'
import { param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import { checked, roleNamed, roleResource, userNamed, userResource } from './common.ts'

type Params = ReadonlyMap<string, string>

/** The PermissionsBoundary parameter: a policy ARN. */
export const boundaryParam = (p: Params) =>
  checked(param(p, 'PermissionsBoundary'), 'permissionsBoundary', 2048, undefined, 20)

/** iam:PermissionsBoundary: the boundary a request sets, for policies that require one. */
export function boundaryConditions(p: Params): Conditions {
  return p.has('PermissionsBoundary') ? { 'iam:PermissionsBoundary': boundaryParam(p) } : {}
}

/** Sets the boundary the request names on a role or user just made or named. */
export async function setBoundary(
  ctx: QueryAuthorized,
  kind: 'role' | 'user',
  principal: { readonly tenantId: string; readonly name: string },
): Promise<void> {
  const p = await ctx.identity.policy(ctx.tenant, boundaryParam(ctx.params))
  await ctx.identity.setPermissionsBoundary(kind, principal, p)
}

/** A GetRole's or GetUser's PermissionsBoundary element. */
export async function boundaryNode(
  ctx: QueryAuthorized,
  kind: 'role' | 'user',
  name: string,
): Promise<Node> {
  const b = await ctx.identity.permissionsBoundary(kind, ctx.tenant.id, name)
  return (
    b && { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: b.name }
  )
}

function boundaryOperations(
  noun: 'Role' | 'User',
  resource: (p: Params, account: string, l: ResourceLookup) => string | Promise<string>,
  principal: (
    ctx: QueryAuthorized,
  ) => Promise<{ readonly tenantId: string; readonly name: string }>,
): QueryOperation[] {
  const kind = noun === 'Role' ? 'role' : 'user'
  return [
    {
      service: 'iam',
      name: `Put${noun}PermissionsBoundary`,
      action: `iam:Put${noun}PermissionsBoundary`,
      params: [`${noun}Name`, 'PermissionsBoundary'],
      resource,
      conditions: boundaryConditions,
      handler: async (ctx) => {
        await setBoundary(ctx, kind, await principal(ctx))
        return undefined
      },
    },
    {
      service: 'iam',
      name: `Delete${noun}PermissionsBoundary`,
      action: `iam:Delete${noun}PermissionsBoundary`,
      params: [`${noun}Name`],
      resource,
      handler: async (ctx) => {
        await ctx.identity.setPermissionsBoundary(kind, await principal(ctx), undefined)
        return undefined
      },
    },
  ]
}

export const BOUNDARY_OPERATIONS: readonly QueryOperation[] = [
  ...boundaryOperations('Role', roleResource, roleNamed),
  ...boundaryOperations('User', userResource, (ctx) => userNamed(ctx)),
]
