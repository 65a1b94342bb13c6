/**
 * IAM groups (query protocol, 2010-05-08): CreateGroup, GetGroup (with its users), ListGroups,
 * DeleteGroup, AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser, the group's inline
 * policies and attached managed policies, which govern every member's requests.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateGroup.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetGroup.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteGroup.html
 */
import { StrongroomError } from '../../errors.ts'
import { groupArn } from '../../identity/groups.ts'
import type { GroupRecord } from '../../meta/groups.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation, ResourceLookup } from '../operation.ts'
import type { Node } from '../xml.ts'
import {
  iso,
  nameParam,
  onEntity,
  page,
  pageNode,
  pathParam,
  pathPrefix,
  userNamed,
  userResource,
} from './common.ts'
import { inlineOperations } from './inline.ts'
import { attachOperations } from './policies.ts'
import { userNode } from './users.ts'

type Params = ReadonlyMap<string, string>

/** Group names are up to 128 characters (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateGroup.html). */
const groupName = (p: Params) => nameParam(p, 'GroupName', 128)

/** The group's ARN, with the path of the group of that name (`/` when there is none). */
async function groupResource(p: Params, account: string, l: ResourceLookup): Promise<string> {
  const name = groupName(p)
  const g = await l.identity.groups.find(account, name)
  return groupArn(g ?? { tenantId: account, path: '/', name })
}

async function groupNamed(ctx: QueryAuthorized): Promise<GroupRecord> {
  const name = groupName(ctx.params)
  const g = await ctx.identity.groups.find(ctx.tenant.id, name)
  if (g === undefined)
    throw new StrongroomError('NO_SUCH_ENTITY', `The group with name ${name} cannot be found.`)
  return g
}

function groupNode(g: GroupRecord): Node {
  return {
    Path: g.path,
    GroupName: g.name,
    GroupId: g.id,
    Arn: groupArn(g),
    CreateDate: iso(g.createdAt),
  }
}

async function createGroup(ctx: QueryAuthorized): Promise<Node> {
  const name = groupName(ctx.params)
  const path = pathParam(ctx.params)
  return { Group: groupNode(await ctx.identity.groups.create(ctx.tenant, name, path)) }
}

async function getGroup(ctx: QueryAuthorized): Promise<Node> {
  const g = await groupNamed(ctx)
  const members = new Set(await ctx.identity.groups.members(g))
  const users = (await ctx.identity.listUsers(ctx.tenant)).filter((u) => members.has(u.name))
  const pg = page(ctx.params, users, (u) => u.name)
  return {
    Group: groupNode(g),
    ...(pageNode(
      'Users',
      pg.items.map((u) => userNode(u)),
      pg,
    ) as Record<string, Node>),
  }
}

async function listGroups(ctx: QueryAuthorized): Promise<Node> {
  const prefix = pathPrefix(ctx.params)
  const groups = (await ctx.identity.groups.list(ctx.tenant)).filter((g) =>
    g.path.startsWith(prefix),
  )
  const pg = page(ctx.params, groups, (g) => g.name)
  return pageNode('Groups', pg.items.map(groupNode), pg)
}

async function deleteGroup(ctx: QueryAuthorized): Promise<Node> {
  await ctx.identity.groups.delete(await groupNamed(ctx))
  return undefined
}

async function addUserToGroup(ctx: QueryAuthorized): Promise<Node> {
  const g = await groupNamed(ctx)
  await ctx.identity.groups.addUser(g, await userNamed(ctx))
  return undefined
}

async function removeUserFromGroup(ctx: QueryAuthorized): Promise<Node> {
  const g = await groupNamed(ctx)
  await ctx.identity.groups.removeUser(g, await userNamed(ctx))
  return undefined
}

async function listGroupsForUser(ctx: QueryAuthorized): Promise<Node> {
  const user = await userNamed(ctx)
  const pg = page(ctx.params, await ctx.identity.groups.ofUser(user), (g) => g.name)
  return pageNode('Groups', pg.items.map(groupNode), pg)
}

const group = onEntity('GroupName', groupResource)

export const GROUP_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreateGroup',
    action: 'iam:CreateGroup',
    params: ['GroupName', 'Path'],
    resource: (p, account) => `arn:aws:iam::${account}:group${pathParam(p)}${groupName(p)}`,
    handler: createGroup,
  },
  group('GetGroup', ['Marker', 'MaxItems'], getGroup),
  {
    service: 'iam',
    name: 'ListGroups',
    action: 'iam:ListGroups',
    params: ['PathPrefix', 'Marker', 'MaxItems'],
    resource: () => '*',
    handler: listGroups,
  },
  group('DeleteGroup', [], deleteGroup),
  group('AddUserToGroup', ['UserName'], addUserToGroup),
  group('RemoveUserFromGroup', ['UserName'], removeUserFromGroup),
  {
    service: 'iam',
    name: 'ListGroupsForUser',
    action: 'iam:ListGroupsForUser',
    params: ['UserName', 'Marker', 'MaxItems'],
    resource: userResource,
    handler: listGroupsForUser,
  },
  ...inlineOperations({
    noun: 'Group',
    resource: groupResource,
    entity: groupNamed,
    list: (ctx, g) => ctx.identity.groups.policies(g),
    put: (ctx, g, policy, doc) => ctx.identity.groups.putPolicy(g, policy, doc),
    remove: (ctx, g, policy) => ctx.identity.groups.deletePolicy(g, policy),
  }),
  ...attachOperations('Group', groupResource, groupNamed),
]
