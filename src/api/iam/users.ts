/**
 * IAM users (query protocol, 2010-05-08): CreateUser, GetUser (the caller without UserName),
 * ListUsers, UpdateUser, DeleteUser, the user's inline policies and tags. Strongroom keeps every
 * user at path `/` (its ARNs and sessions name users so), so another path and renaming are
 * refused with what to do instead.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html
 */
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { validPolicy } from '../../identity/roles.ts'
import type { TagRecord } from '../../meta/iam.ts'
import type { UserRecord } from '../../meta/identity.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation } from '../operation.ts'
import type { Node } from '../xml.ts'
import {
  iso,
  nameParam,
  onEntity,
  page,
  pageNode,
  pathParam,
  pathPrefix,
  TAG_PARAMS,
  tagConditions,
  tagsNode,
  tagsParam,
  userNamed,
  userResource,
} from './common.ts'
import { boundaryConditions, boundaryNode, boundaryParam, setBoundary } from './boundaries.ts'
import { inlineOperations } from './inline.ts'
import { tagOperations } from './tags.ts'

/**
 * A user as IAM writes it; `tags` and `boundary` only where the action returns them (GetUser,
 * CreateUser).
 */
export function userNode(user: UserRecord, tags?: readonly TagRecord[], boundary?: Node): Node {
  return {
    Path: '/',
    UserName: user.name,
    UserId: user.id,
    Arn: `arn:aws:iam::${user.tenantId}:user/${user.name}`,
    CreateDate: iso(user.createdAt),
    PermissionsBoundary: boundary,
    Tags: tags === undefined ? undefined : tagsNode(tags),
  }
}

/** Only `/`: a user elsewhere would have an ARN that no session or policy of ours names. */
function rootPath(path: string): void {
  if (path !== '/')
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      `Strongroom keeps every user at path /, not ${path.slice(0, 64)}: leave Path out, and tell users apart by name or tags`,
    )
}

async function createUser(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const name = nameParam(p, 'UserName')
  rootPath(pathParam(p))
  const tags = tagsParam(p)
  if (p.has('PermissionsBoundary')) await ctx.identity.policy(ctx.tenant, boundaryParam(p))
  let user: UserRecord
  try {
    user = await ctx.identity.createUser(ctx.tenant, name)
  } catch (e) {
    if (isStrongroomError(e, 'USER_EXISTS'))
      throw new StrongroomError('ENTITY_EXISTS', `User with name ${name} already exists.`, {
        cause: e,
      })
    throw e
  }
  if (tags.length > 0) await ctx.identity.tag(ctx.tenant.id, 'user', user.name, tags)
  if (p.has('PermissionsBoundary')) await setBoundary(ctx, 'user', user)
  return { User: userNode(user, tags, await boundaryNode(ctx, 'user', user.name)) }
}

async function getUser(ctx: QueryAuthorized): Promise<Node> {
  const user = await userNamed(ctx, true)
  const [tags, boundary] = await Promise.all([
    ctx.identity.tags(user.tenantId, 'user', user.name),
    boundaryNode(ctx, 'user', user.name),
  ])
  return { User: userNode(user, tags, boundary) }
}

async function listUsers(ctx: QueryAuthorized): Promise<Node> {
  const prefix = pathPrefix(ctx.params)
  const users = prefix === '/' ? await ctx.identity.listUsers(ctx.tenant) : []
  const pg = page(ctx.params, users, (u) => u.name)
  return pageNode(
    'Users',
    pg.items.map((u) => userNode(u)),
    pg,
  )
}

async function updateUser(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const newName = p.has('NewUserName') ? nameParam(p, 'NewUserName') : undefined
  const newPath = p.has('NewPath') ? pathParam(p, 'NewPath') : undefined
  const user = await userNamed(ctx)
  if (newName !== undefined && newName !== user.name)
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      `Strongroom does not rename users (${user.name} to ${newName}): create ${newName}, give it the policies and keys it needs, then delete ${user.name}`,
    )
  if (newPath !== undefined) rootPath(newPath)
  return undefined
}

async function deleteUser(ctx: QueryAuthorized): Promise<Node> {
  await ctx.identity.deleteUser(await userNamed(ctx))
  return undefined
}

const user = onEntity('UserName', userResource)

export const USER_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreateUser',
    action: 'iam:CreateUser',
    params: ['UserName', 'Path', 'PermissionsBoundary', ...TAG_PARAMS],
    resource: (p, account) => `arn:aws:iam::${account}:user/${nameParam(p, 'UserName')}`,
    also: (p) => (p.has('Tags.member.1.Key') ? ['iam:TagUser'] : []),
    conditions: (p) => ({ ...tagConditions(p), ...boundaryConditions(p) }),
    handler: createUser,
  },
  // Without UserName, the caller itself (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html).
  user('GetUser', [], getUser),
  {
    service: 'iam',
    name: 'ListUsers',
    action: 'iam:ListUsers',
    params: ['PathPrefix', 'Marker', 'MaxItems'],
    resource: () => '*',
    handler: listUsers,
  },
  user('UpdateUser', ['NewUserName', 'NewPath'], updateUser),
  user('DeleteUser', [], deleteUser),
  ...inlineOperations({
    noun: 'User',
    resource: userResource,
    entity: (ctx) => userNamed(ctx),
    list: (ctx, u) => ctx.identity.userPolicyRecords(u),
    // Checked here first: the service answers the CLI's CONFIG_INVALID, IAM answers
    // MalformedPolicyDocument.
    put: (ctx, u, policy, doc) => {
      validPolicy(doc, 'identity', policy)
      return ctx.identity.putUserPolicy(u, policy, doc)
    },
    remove: (ctx, u, policy) => ctx.identity.deleteUserPolicy(u, policy),
  }),
  ...tagOperations(
    'User',
    'UserName',
    { kind: 'user', name: async (ctx) => (await userNamed(ctx)).name },
    userResource,
  ),
]
