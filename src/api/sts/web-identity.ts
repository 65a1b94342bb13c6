/**
 * AssumeRoleWithWebIdentity (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html):
 * unsigned; the web identity token is the caller's proof. Its issuer must be an OIDC provider
 * registered in the role's account; the token is verified against the provider's keys
 * (src/sts/web-identity.ts); the role's trust policy then decides with the provider as the
 * principal and the token's claims as condition keys (`HOST/PATH:sub`, `:aud`, `:oaud`, `:amr`,
 * with sts:RoleSessionName), so that EKS (IRSA) and GitHub Actions trust policies work as
 * written for AWS.
 */
import type { App } from '../../app.ts'
import { StrongroomError } from '../../errors.ts'
import { duration, sessionName, sessionPolicy } from '../../sts/limits.ts'
import type { SessionClaims } from '../../sts/token.ts'
import { claimedIssuer, providerKey, verifyWebIdentity } from '../../sts/web-identity.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { Caller, Conditions, QueryOperation } from '../operation.ts'
import { param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'
import { credentialsNode, managedSessionPolicies, packedSize } from './operations.ts'

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[^/]*\/)*[\w+=,.@-]{1,64}$/

async function identify(
  p: ReadonlyMap<string, string>,
  app: App,
  now: number,
): Promise<{ caller: Caller; conditions: Conditions; proof: Record<string, string> }> {
  const token = param(p, 'WebIdentityToken')
  const roleArn = param(p, 'RoleArn')
  const iss = claimedIssuer(token)
  const account = ROLE_ARN.exec(roleArn)?.[1]
  const tenant = account === undefined ? undefined : await app.identity.tenantById(account)
  const provider =
    tenant === undefined ? undefined : await app.identity.oidcProviderByIssuer(tenant.id, iss)
  if (tenant === undefined || provider === undefined)
    throw new StrongroomError(
      'INVALID_IDENTITY_TOKEN',
      `No OpenIDConnect provider found in your account for ${iss.slice(0, 200)}`,
    )
  const claims = await verifyWebIdentity(
    token,
    provider,
    await app.oidcKeys.keysFor(provider, token),
    now,
  )
  const key = providerKey(provider.url)
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud ?? '']
  // aws:…:aud is the authorized party where the token names one, else the audience.
  const azp = typeof claims.azp === 'string' ? claims.azp : undefined
  const conditions: Record<string, string | string[]> = {
    [`${key}:sub`]: claims.sub ?? '',
    [`${key}:aud`]: azp ?? (aud.length === 1 ? (aud[0] ?? '') : aud),
    [`${key}:oaud`]: aud.length === 1 ? (aud[0] ?? '') : aud,
    'aws:FederatedProvider': provider.arn,
  }
  if (Array.isArray(claims.amr)) conditions[`${key}:amr`] = claims.amr.map(String)
  return {
    caller: {
      arn: provider.arn,
      account: tenant.id,
      tenant,
      userId: undefined,
      userName: undefined,
      policies: [],
      auth: undefined,
      signingKey: undefined,
    },
    conditions,
    proof: {
      SubjectFromWebIdentityToken: claims.sub ?? '',
      Audience: azp ?? aud[0] ?? '',
      Provider: key,
    },
  }
}

async function assumeRoleWithWebIdentity(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const role = ctx.role
  const name = sessionName(param(p, 'RoleSessionName'))
  // One hour unless asked, as AWS's default.
  const seconds = duration(
    p.get('DurationSeconds'),
    3600,
    role.maxSessionSeconds,
    'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
  )
  const policy = sessionPolicy(p.get('Policy'))
  const policyArns = await managedSessionPolicies(ctx, role.tenantId)
  const now = ctx.now()
  const claims: SessionClaims = {
    tenantId: role.tenantId,
    kind: 'role',
    name: role.name,
    principalId: role.id,
    sessionName: name,
    issuedAt: now,
    expiresAt: now + seconds * 1000,
    policy,
    policyArns,
  }
  const c = ctx.sessions.issue(claims)
  return {
    Credentials: credentialsNode(c),
    SubjectFromWebIdentityToken: ctx.proof.SubjectFromWebIdentityToken,
    AssumedRoleUser: {
      AssumedRoleId: `${role.id}:${name}`,
      Arn: `arn:aws:sts::${role.tenantId}:assumed-role/${role.name}/${name}`,
    },
    Provider: ctx.proof.Provider,
    Audience: ctx.proof.Audience,
    PackedPolicySize: policy === undefined && policyArns === undefined ? undefined : packedSize(c),
    SessionTokenUtilization: packedSize(c),
  }
}

export const WEB_IDENTITY_OPERATION: QueryOperation = {
  service: 'sts',
  name: 'AssumeRoleWithWebIdentity',
  action: 'sts:AssumeRoleWithWebIdentity',
  params: [
    'RoleArn',
    'RoleSessionName',
    'WebIdentityToken',
    'DurationSeconds',
    'Policy',
    'PolicyArns.',
  ],
  resource: (p) => param(p, 'RoleArn'),
  assumesRole: true,
  callers: 'unsigned',
  identify,
  conditions: (p) =>
    p.has('RoleSessionName') ? { 'sts:RoleSessionName': p.get('RoleSessionName') ?? '' } : {},
  handler: assumeRoleWithWebIdentity,
}
