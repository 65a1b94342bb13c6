/**
 * OpenID Connect identity providers (query protocol, 2010-05-08): Create, Get, List and
 * DeleteOpenIDConnectProvider, Add/RemoveClientID…, UpdateOpenIDConnectProviderThumbprint, and
 * their tags. AssumeRoleWithWebIdentity trusts tokens of the tenant's providers.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetOpenIDConnectProvider.html
 */
import { issuerKey, oidcArn } from '../../identity/oidc.ts'
import type { OidcProviderRecord } from '../../meta/oidc.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation } from '../operation.ts'
import { param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import {
  checked,
  iso,
  listParam,
  TAG_PARAMS,
  tagConditions,
  tagsNode,
  tagsParam,
} from './common.ts'
import { tagOperations } from './tags.ts'

type Params = ReadonlyMap<string, string>

const ARN = 'OpenIDConnectProviderArn'

const arnParam = (p: Params) =>
  checked(param(p, ARN), 'openIDConnectProviderArn', 2048, undefined, 20)

/** Client ids: 1 to 255 characters each. */
function clientIds(p: Params): string[] {
  return listParam(p, 'ClientIDList', 100).map((c, i) =>
    checked(c, `clientIDList.${i + 1}.member`, 255),
  )
}

const named = (ctx: QueryAuthorized): Promise<OidcProviderRecord> =>
  ctx.identity.oidc.byArn(ctx.tenant, arnParam(ctx.params))

async function createProvider(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const url = checked(param(p, 'Url'), 'url', 255)
  const tags = tagsParam(p)
  const created = await ctx.identity.oidc.create(ctx.tenant, {
    url,
    clientIds: clientIds(p),
    thumbprints: listParam(p, 'ThumbprintList', 5),
  })
  if (tags.length > 0) await ctx.identity.tag(ctx.tenant.id, 'oidc-provider', created.url, tags)
  return { OpenIDConnectProviderArn: oidcArn(created), Tags: tagsNode(tags) }
}

async function getProvider(ctx: QueryAuthorized): Promise<Node> {
  const p = await named(ctx)
  return {
    // As IAM answers it: the issuer without its scheme.
    Url: p.url,
    ClientIDList: { member: [...p.clientIds] },
    ThumbprintList: { member: [...p.thumbprints] },
    CreateDate: iso(p.createdAt),
    Tags: tagsNode(await ctx.identity.tags(p.tenantId, 'oidc-provider', p.url)),
  }
}

async function listProviders(ctx: QueryAuthorized): Promise<Node> {
  const all = await ctx.identity.oidc.list(ctx.tenant)
  return { OpenIDConnectProviderList: { member: all.map((p) => ({ Arn: oidcArn(p) })) } }
}

const onProvider = (
  name: string,
  params: readonly string[],
  handler: (ctx: QueryAuthorized) => Promise<Node>,
): QueryOperation => ({
  service: 'iam',
  name,
  action: `iam:${name}`,
  params: [ARN, ...params],
  resource: arnParam,
  handler,
})

export const OIDC_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'CreateOpenIDConnectProvider',
    action: 'iam:CreateOpenIDConnectProvider',
    params: ['Url', 'ClientIDList.', 'ThumbprintList.', ...TAG_PARAMS],
    resource: (p, account) =>
      `arn:aws:iam::${account}:oidc-provider/${issuerKey(checked(param(p, 'Url'), 'url', 255))}`,
    also: (p) => (p.has('Tags.member.1.Key') ? ['iam:TagOpenIDConnectProvider'] : []),
    conditions: tagConditions,
    handler: createProvider,
  },
  onProvider('GetOpenIDConnectProvider', [], getProvider),
  {
    service: 'iam',
    name: 'ListOpenIDConnectProviders',
    action: 'iam:ListOpenIDConnectProviders',
    params: [],
    resource: () => '*',
    handler: listProviders,
  },
  onProvider('DeleteOpenIDConnectProvider', [], async (ctx) => {
    await ctx.identity.oidc.delete(await named(ctx))
    return undefined
  }),
  onProvider('AddClientIDToOpenIDConnectProvider', ['ClientID'], async (ctx) => {
    const id = checked(param(ctx.params, 'ClientID'), 'clientID', 255)
    await ctx.identity.oidc.addClientId(await named(ctx), id)
    return undefined
  }),
  onProvider('RemoveClientIDFromOpenIDConnectProvider', ['ClientID'], async (ctx) => {
    const id = checked(param(ctx.params, 'ClientID'), 'clientID', 255)
    await ctx.identity.oidc.removeClientId(await named(ctx), id)
    return undefined
  }),
  onProvider('UpdateOpenIDConnectProviderThumbprint', ['ThumbprintList.'], async (ctx) => {
    const thumbprints = listParam(ctx.params, 'ThumbprintList', 5)
    await ctx.identity.oidc.setThumbprints(await named(ctx), thumbprints)
    return undefined
  }),
  ...tagOperations(
    'OpenIDConnectProvider',
    ARN,
    { kind: 'oidc-provider', name: async (ctx) => (await named(ctx)).url },
    arnParam,
  ),
]
