/**
 * `strongroom oidc-provider create|list`: the OpenID Connect issuers a tenant trusts for
 * AssumeRoleWithWebIdentity (Kubernetes service accounts, CI systems), on the same service as
 * IAM's CreateOpenIDConnectProvider.
 */
import { oidcArn } from '../../identity/oidc.ts'
import { readTextFile } from '../io.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'

const TENANT = {
  type: 'string',
  value: 'NAME',
  description: 'the tenant that trusts the issuer',
} as const

export const oidcProviderCreate: Command = {
  name: 'oidc-provider create',
  summary:
    "Trust an OpenID Connect issuer's tokens for AssumeRoleWithWebIdentity (a Kubernetes cluster, a CI system).",
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    url: { type: 'string', value: 'URL', description: 'the issuer, https://HOST[/PATH] (its iss)' },
    'client-id': {
      type: 'string',
      multiple: true,
      value: 'ID',
      description: 'an audience its tokens may carry, e.g. sts.amazonaws.com (repeatable)',
    },
    'jwks-file': {
      type: 'string',
      value: 'FILE',
      description:
        'the issuer’s JWKS, for a gateway that cannot reach it (default: fetched over HTTPS from its discovery document)',
    },
  },
  help: [
    'Roles then trust the provider by its ARN (Principal {"Federated": ARN}) and test its claims as',
    'HOST/PATH:sub and HOST/PATH:aud. The gateway fetches the issuer’s keys from',
    'URL/.well-known/openid-configuration over HTTPS (trusting oidcCaFile besides the system’s CAs)',
    'and keeps them an hour, unless --jwks-file gives them.',
    '',
    'Example:',
    '  strongroom oidc-provider create --tenant vision --url https://oidc.eks.example.com/id/ABC --client-id sts.amazonaws.com',
  ].join('\n'),
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', oidcProviderCreate)
    const url = requireOpt(ctx, 'url', oidcProviderCreate)
    const given = ctx.values['client-id']
    const clientIds = Array.isArray(given) ? given : []
    const jwksFile = stringOpt(ctx, 'jwks-file')
    const jwks = jwksFile === undefined ? undefined : await readTextFile(jwksFile, 'JWKS')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const p = await app.identity.oidc.create(tenant, { url, clientIds, thumbprints: [], jwks })
      const arn = oidcArn(p)
      ctx.print(`created OpenID Connect provider ${arn}`, {
        OpenIDConnectProviderArn: arn,
        Url: p.url,
        ClientIDList: p.clientIds,
        KeysInline: p.jwks !== null,
      })
    })
    return 0
  },
}

export const oidcProviderList: Command = {
  name: 'oidc-provider list',
  summary: 'List the OpenID Connect issuers a tenant trusts.',
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT },
  help: 'Example:\n  strongroom oidc-provider list --tenant vision --json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', oidcProviderList)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const all = await app.identity.oidc.list(tenant)
      ctx.print(
        all.length === 0
          ? `tenant ${tenant.name} trusts no OpenID Connect provider`
          : all.map((p) => `${oidcArn(p)}\t${p.clientIds.join(',')}`).join('\n'),
        all.map((p) => ({
          Arn: oidcArn(p),
          Url: p.url,
          ClientIDList: p.clientIds,
          KeysInline: p.jwks !== null,
        })),
      )
    })
    return 0
  },
}
