/**
 * Access keys of IAM users (query protocol, 2010-05-08): CreateAccessKey (at most two per
 * user), ListAccessKeys, UpdateAccessKey, DeleteAccessKey, each on the user named or, without
 * UserName, the calling user; GetAccessKeyLastUsed. A secret is answered once, at creation.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccessKeyLastUsed.html
 */
import { StrongroomError } from '../../errors.ts'
import type { AccessKeyRecord, UserRecord } from '../../meta/identity.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation } from '../operation.ts'
import { param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import { checked, iso, page, pageNode, userNamed, userResource } from './common.ts'

const KEY_ID = [/^[\w]+$/, '[\\w]+'] as const

function keyIdParam(p: ReadonlyMap<string, string>): string {
  return checked(param(p, 'AccessKeyId'), 'accessKeyId', 128, KEY_ID, 16)
}

const noKey = (id: string) =>
  new StrongroomError('NO_SUCH_ENTITY', `The Access Key with id ${id} cannot be found.`)

/** The user's key with the id the request names; NoSuchEntity for anyone else's. */
async function keyOf(ctx: QueryAuthorized, user: UserRecord): Promise<AccessKeyRecord> {
  const id = keyIdParam(ctx.params)
  const k = await ctx.identity.accessKey(id)
  if (k === undefined || k.tenantId !== user.tenantId || k.userName !== user.name) throw noKey(id)
  return k
}

async function createAccessKey(ctx: QueryAuthorized): Promise<Node> {
  const user = await userNamed(ctx, true)
  const k = await ctx.identity.createUserAccessKey(user)
  const record = await ctx.identity.accessKey(k.accessKeyId)
  return {
    AccessKey: {
      UserName: user.name,
      AccessKeyId: k.accessKeyId,
      Status: 'Active',
      SecretAccessKey: k.secretAccessKey,
      CreateDate: iso(record?.createdAt ?? ctx.now()),
    },
  }
}

async function listAccessKeys(ctx: QueryAuthorized): Promise<Node> {
  const user = await userNamed(ctx, true)
  const pg = page(ctx.params, await ctx.identity.listAccessKeys(user), (k) => k.id)
  return pageNode(
    'AccessKeyMetadata',
    pg.items.map((k) => ({
      UserName: user.name,
      AccessKeyId: k.id,
      Status: k.status,
      CreateDate: iso(k.createdAt),
    })),
    pg,
  )
}

async function updateAccessKey(ctx: QueryAuthorized): Promise<Node> {
  const status = param(ctx.params, 'Status')
  if (status !== 'Active' && status !== 'Inactive')
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${status.slice(0, 32)}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`,
    )
  const k = await keyOf(ctx, await userNamed(ctx, true))
  await ctx.identity.setAccessKeyStatus(k.id, status)
  return undefined
}

async function deleteAccessKey(ctx: QueryAuthorized): Promise<Node> {
  const k = await keyOf(ctx, await userNamed(ctx, true))
  await ctx.identity.deleteAccessKey(k.id)
  return undefined
}

/** "N/A" where the key was never used, as IAM answers. */
async function getAccessKeyLastUsed(ctx: QueryAuthorized): Promise<Node> {
  const id = keyIdParam(ctx.params)
  const k = await ctx.identity.accessKey(id)
  if (k === undefined || k.tenantId !== ctx.tenant.id) throw noKey(id)
  const use = await ctx.identity.accessKeyUse(id)
  return {
    UserName: k.userName,
    AccessKeyLastUsed: {
      LastUsedDate: use === undefined ? undefined : iso(use.at),
      ServiceName: use?.service ?? 'N/A',
      Region: use?.region ?? 'N/A',
    },
  }
}

export const ACCESS_KEY_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreateAccessKey',
    action: 'iam:CreateAccessKey',
    params: ['UserName'],
    resource: userResource,
    handler: createAccessKey,
  },
  {
    service: 'iam',
    name: 'ListAccessKeys',
    action: 'iam:ListAccessKeys',
    params: ['UserName', 'Marker', 'MaxItems'],
    resource: userResource,
    handler: listAccessKeys,
  },
  {
    service: 'iam',
    name: 'UpdateAccessKey',
    action: 'iam:UpdateAccessKey',
    params: ['UserName', 'AccessKeyId', 'Status'],
    resource: userResource,
    handler: updateAccessKey,
  },
  {
    service: 'iam',
    name: 'DeleteAccessKey',
    action: 'iam:DeleteAccessKey',
    params: ['UserName', 'AccessKeyId'],
    resource: userResource,
    handler: deleteAccessKey,
  },
  {
    service: 'iam',
    name: 'GetAccessKeyLastUsed',
    action: 'iam:GetAccessKeyLastUsed',
    params: ['AccessKeyId'],
    // On the key's user (in the caller's account); a key that is not there is decided on
    // user/* and then answered NoSuchEntity, the same for a key of another account.
    resource: async (p, account, l) => {
      const k = await l.identity.accessKey(keyIdParam(p))
      const name = k !== undefined && k.tenantId === account ? k.userName : '*'
      return `arn:aws:iam::${account}:user/${name}`
    },
    handler: getAccessKeyLastUsed,
  },
]
