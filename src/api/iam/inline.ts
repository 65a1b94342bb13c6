/**
 * Inline policies of roles, users and groups, made once per kind: Put…Policy, Get…Policy,
 * List…Policies, Delete…Policy (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html).
 */
import { StrongroomError } from '../../errors.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation, ResourceLookup } from '../operation.ts'
import { documentParam, encodedDocument, nameParam, page, pageNode } from './common.ts'

/** How one kind of principal keeps its inline policies. */
export interface InlineKind<E extends { readonly name: string }> {
  /** Role, User or Group: PutRolePolicy, RoleName. */
  readonly noun: 'Role' | 'User' | 'Group'
  readonly resource: (
    p: ReadonlyMap<string, string>,
    account: string,
    l: ResourceLookup,
  ) => string | Promise<string>
  /** The principal the parameters name (NoSuchEntity when there is none). */
  readonly entity: (ctx: QueryAuthorized) => Promise<E>
  /** Its inline policies. */
  readonly list: (
    ctx: QueryAuthorized,
    e: E,
  ) => Promise<readonly { readonly name: string; readonly document: string }[]>
  readonly put: (ctx: QueryAuthorized, e: E, policy: string, doc: string) => Promise<unknown>
  readonly remove: (ctx: QueryAuthorized, e: E, policy: string) => Promise<void>
}

export function inlineOperations<E extends { readonly name: string }>(
  k: InlineKind<E>,
): QueryOperation[] {
  const owner = `${k.noun}Name`
  const entity = k.noun.toLowerCase()
  return [
    {
      service: 'iam',
      name: `Put${k.noun}Policy`,
      action: `iam:Put${k.noun}Policy`,
      params: [owner, 'PolicyName', 'PolicyDocument'],
      resource: k.resource,
      handler: async (ctx) => {
        const policy = nameParam(ctx.params, 'PolicyName', 128)
        const doc = documentParam(ctx.params, 'PolicyDocument')
        const e = await k.entity(ctx)
        await k.put(ctx, e, policy, doc)
        return undefined
      },
    },
    {
      service: 'iam',
      name: `Get${k.noun}Policy`,
      action: `iam:Get${k.noun}Policy`,
      params: [owner, 'PolicyName'],
      resource: k.resource,
      handler: async (ctx) => {
        const policy = nameParam(ctx.params, 'PolicyName', 128)
        const e = await k.entity(ctx)
        const found = (await k.list(ctx, e)).find((p) => p.name === policy)
        if (found === undefined)
          throw new StrongroomError(
            'NO_SUCH_ENTITY',
            `The ${entity} policy with name ${policy} cannot be found.`,
          )
        return {
          [owner]: e.name,
          PolicyName: found.name,
          PolicyDocument: encodedDocument(found.document),
        }
      },
    },
    {
      service: 'iam',
      name: `List${k.noun}Policies`,
      action: `iam:List${k.noun}Policies`,
      params: [owner, 'Marker', 'MaxItems'],
      resource: k.resource,
      handler: async (ctx) => {
        const e = await k.entity(ctx)
        const pg = page(ctx.params, await k.list(ctx, e), (p) => p.name)
        return pageNode(
          'PolicyNames',
          pg.items.map((p) => p.name),
          pg,
        )
      },
    },
    {
      service: 'iam',
      name: `Delete${k.noun}Policy`,
      action: `iam:Delete${k.noun}Policy`,
      params: [owner, 'PolicyName'],
      resource: k.resource,
      handler: async (ctx) => {
        const policy = nameParam(ctx.params, 'PolicyName', 128)
        const e = await k.entity(ctx)
        await k.remove(ctx, e, policy)
        return undefined
      },
    },
  ]
}
