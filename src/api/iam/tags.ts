/**
 * The tag actions every taggable IAM resource has, made once per kind: Tag…, Untag…, List…Tags
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_TagRole.html,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoleTags.html).
 */
import type { QueryOperation, ResourceLookup } from '../operation.ts'
import { page, pageNode, tagConditions, tagKeysParam, tagsParam, type TagTarget } from './common.ts'

/**
 * `noun` is the action's noun (Role: TagRole, UntagRole, ListRoleTags), `param` the parameter
 * naming the resource (RoleName, UserName, PolicyArn).
 */
export function tagOperations(
  noun: string,
  param: string,
  target: TagTarget,
  resource: (
    p: ReadonlyMap<string, string>,
    account: string,
    l: ResourceLookup,
  ) => string | Promise<string>,
): QueryOperation[] {
  return [
    {
      service: 'iam',
      name: `Tag${noun}`,
      action: `iam:Tag${noun}`,
      params: [param, 'Tags.'],
      resource,
      conditions: tagConditions,
      handler: async (ctx) => {
        const tags = tagsParam(ctx.params)
        const name = await target.name(ctx)
        await ctx.identity.tag(ctx.tenant.id, target.kind, name, tags)
        return undefined
      },
    },
    {
      service: 'iam',
      name: `Untag${noun}`,
      action: `iam:Untag${noun}`,
      params: [param, 'TagKeys.'],
      resource,
      conditions: tagConditions,
      handler: async (ctx) => {
        const keys = tagKeysParam(ctx.params)
        const name = await target.name(ctx)
        await ctx.identity.untag(ctx.tenant.id, target.kind, name, keys)
        return undefined
      },
    },
    {
      service: 'iam',
      name: `List${noun}Tags`,
      action: `iam:List${noun}Tags`,
      params: [param, 'Marker', 'MaxItems'],
      resource,
      handler: async (ctx) => {
        const name = await target.name(ctx)
        const tags = await ctx.identity.tags(ctx.tenant.id, target.kind, name)
        const pg = page(ctx.params, tags, (t) => t.key)
        return pageNode(
          'Tags',
          pg.items.map((t) => ({ Key: t.key, Value: t.value })),
          pg,
        )
      },
    },
  ]
}
