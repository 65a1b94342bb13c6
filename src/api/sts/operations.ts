/**
 * STS (query protocol, 2011-06-15): GetCallerIdentity, AssumeRole, GetSessionToken,
 * GetFederationToken, GetAccessKeyInfo. Each action is a declaration the pipeline decides
 * before its handler runs (AssumeRole with the role's trust policy as the resource policy);
 * the handlers check the request's values and seal the session (src/sts/token.ts).
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_Operations.html
 */
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { SessionClaims, SessionCredentials } from '../../sts/token.ts'
import { MAX_TOKEN_BYTES } from '../../sts/token.ts'
import {
  CHAINED_MAX_SECONDS,
  duration,
  externalId,
  federatedName,
  sessionName,
  MAX_SESSION_POLICY_ARNS,
  sessionPolicy,
  sessionPolicyArns,
  sessionTags,
} from '../../sts/limits.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { Caller, Conditions, QueryOperation } from '../operation.ts'
import { memberStructs, members, param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'

/** GetSessionToken's and GetFederationToken's longest session: 36 hours; 12 by default. */
const USER_SESSION_MAX = 129_600
const USER_SESSION_DEFAULT = 43_200

const TAG_PARAMS = ['Tags.', 'TransitiveTagKeys.']

/** Condition keys of the session tags a request passes (aws:RequestTag/…, aws:TagKeys). */
function tagConditions(p: ReadonlyMap<string, string>): Conditions {
  const out: Record<string, string | string[]> = {}
  const tags = memberStructs(p, 'Tags', ['Key', 'Value'] as const, 50)
  for (const t of tags) if (t.Key !== undefined) out[`aws:RequestTag/${t.Key}`] = t.Value ?? ''
  if (tags.length > 0) out['aws:TagKeys'] = tags.map((t) => t.Key ?? '')
  const transitive = members(p, 'TransitiveTagKeys', 50)
  if (transitive.length > 0) out['sts:TransitiveTagKeys'] = transitive
  return out
}

/**
 * Passing session tags needs sts:TagSession too, and setting a source identity
 * sts:SetSourceIdentity, whether the request sets them or a chained session carries them on
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html#id_credentials_temp_control-access_monitor-perms,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-chaining).
 */
function tagAndSourceActions(p: ReadonlyMap<string, string>, caller: Caller): string[] {
  const claims = caller.session?.claims
  const out: string[] = []
  const inherits = (claims?.transitiveTagKeys ?? []).length > 0
  if (p.has('Tags.member.1.Key') || p.has('Tags.member.1.Value') || inherits)
    out.push('sts:TagSession')
  if (p.has('SourceIdentity') || claims?.sourceIdentity !== undefined)
    out.push('sts:SetSourceIdentity')
  return out
}

function expiration(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function credentialsNode(c: SessionCredentials): Node {
  return {
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: expiration(c.expiration),
  }
}

/**
 * How much of the token's room the session takes, in percent: PackedPolicySize (where a
 * session policy or tags were given) and its successor SessionTokenUtilization, as AWS reports them.
 */
export function packedSize(c: SessionCredentials): number {
  return Math.ceil((Buffer.byteLength(c.sessionToken, 'base64') * 100) / MAX_TOKEN_BYTES)
}

/**
 * The tags a new session carries: those asked for, and a chained session's transitive tags,
 * which the request cannot change (AWS: "you cannot override" them).
 */
function tagsOf(
  ctx: QueryAuthorized,
): { tags: [string, string][]; transitive: string[] } | undefined {
  const p = ctx.params
  const asked = sessionTags(memberStructs(p, 'Tags', ['Key', 'Value'] as const, 50))
  const transitive = members(p, 'TransitiveTagKeys', 50)
  const keys = new Set(asked.map(([k]) => k.toLowerCase()))
  for (const k of transitive)
    if (!keys.has(k.toLowerCase()))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `TransitiveTagKeys names ${k.slice(0, 128)}, which is not among the session tags`,
      )
  const claims = ctx.caller.session?.claims
  // Transitive keys name tags regardless of case, as tag keys compare.
  const passing = new Set((claims?.transitiveTagKeys ?? []).map((k) => k.toLowerCase()))
  const inherited = (claims?.tags ?? []).filter(([k]) => passing.has(k.toLowerCase()))
  for (const [k] of inherited)
    if (keys.has(k.toLowerCase()))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `The session tag ${k} is transitive from the calling session and cannot be set again`,
      )
  const tags = [...inherited.map(([k, v]) => [k, v] as [string, string]), ...asked]
  if (tags.length === 0) return undefined
  return { tags, transitive: [...inherited.map(([k]) => k), ...transitive] }
}

/**
 * The managed session policies a request names (PolicyArns.member.N.arn): policies of `account`
 * that exist now, each as its ARN and unique id. A session keeps both and is evaluated by the
 * policy's default version as it is at each request; one deleted since (or made again: another
 * id) allows nothing.
 */
export async function managedSessionPolicies(
  ctx: QueryAuthorized,
  account: string,
): Promise<[string, string][] | undefined> {
  const p = ctx.params
  const asked = memberStructs(p, 'PolicyArns', ['arn'] as const, MAX_SESSION_POLICY_ARNS)
  if (asked.length === 0) return undefined
  const named = sessionPolicyArns(
    asked.map((a) => a.arn),
    p.get('Policy'),
    account,
  )
  const tenant = await ctx.identity.tenantById(account)
  const out: [string, string][] = []
  for (const { arn } of named) {
    const found =
      tenant &&
      (await ctx.identity.policy(tenant, arn).catch((e: unknown) => {
        if (isStrongroomError(e, 'NO_SUCH_ENTITY')) return undefined
        throw e
      }))
    if (found === undefined)
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `The policy ${arn.slice(0, 300)} does not exist or is not attachable.`,
      )
    out.push([arn, found.id])
  }
  return out
}

async function assumeRole(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const role = ctx.role
  const name = sessionName(param(p, 'RoleSessionName'))
  const caller = ctx.caller.session?.claims
  const chained = caller?.kind === 'role'
  const seconds = chained
    ? duration(
        p.get('DurationSeconds'),
        CHAINED_MAX_SECONDS,
        CHAINED_MAX_SECONDS,
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      )
    : duration(
        p.get('DurationSeconds'),
        3600,
        role.maxSessionSeconds,
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      )
  const ext = p.get('ExternalId')
  if (ext !== undefined) externalId(ext)
  const source = p.get('SourceIdentity')
  if (source !== undefined) sessionName(source, 'sourceIdentity')
  // A source identity, once set, stays with every session chained from it.
  if (
    caller?.sourceIdentity !== undefined &&
    source !== undefined &&
    source !== caller.sourceIdentity
  )
    throw new StrongroomError(
      'ACCESS_DENIED',
      'The source identity of a chained session cannot differ from the calling session’s',
    )
  const tagged = tagsOf(ctx)
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
    tags: tagged?.tags,
    transitiveTagKeys: tagged?.transitive,
    sourceIdentity: source ?? caller?.sourceIdentity,
    chained: chained || undefined,
  }
  const c = ctx.sessions.issue(claims)
  return {
    Credentials: credentialsNode(c),
    AssumedRoleUser: {
      AssumedRoleId: `${role.id}:${name}`,
      Arn: `arn:aws:sts::${role.tenantId}:assumed-role/${role.name}/${name}`,
    },
    PackedPolicySize: packs(claims) ? packedSize(c) : undefined,
    SourceIdentity: claims.sourceIdentity,
    SessionTokenUtilization: packedSize(c),
  }
}

/** PackedPolicySize is reported where a session policy (inline or managed) or tags were given. */
function packs(c: SessionClaims): boolean {
  return c.policy !== undefined || c.policyArns !== undefined || c.tags !== undefined
}

async function getSessionToken(ctx: QueryAuthorized): Promise<Node> {
  const user = await ctx.identity.user(ctx.tenant, ctx.caller.userName ?? '')
  const seconds = duration(
    ctx.params.get('DurationSeconds'),
    USER_SESSION_DEFAULT,
    USER_SESSION_MAX,
    'The requested DurationSeconds exceeds the 36 hour limit of GetSessionToken.',
  )
  const now = ctx.now()
  const c = ctx.sessions.issue({
    tenantId: user.tenantId,
    kind: 'user',
    name: user.name,
    principalId: user.id,
    sessionName: '',
    issuedAt: now,
    expiresAt: now + seconds * 1000,
  })
  return { Credentials: credentialsNode(c) }
}

async function getFederationToken(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const name = federatedName(param(p, 'Name'))
  const seconds = duration(
    p.get('DurationSeconds'),
    USER_SESSION_DEFAULT,
    USER_SESSION_MAX,
    'The requested DurationSeconds exceeds the 36 hour limit of GetFederationToken.',
  )
  const tagged = tagsOf(ctx)
  const account = ctx.tenant.id
  const policy = sessionPolicy(p.get('Policy'))
  const policyArns = await managedSessionPolicies(ctx, account)
  const now = ctx.now()
  const claims: SessionClaims = {
    tenantId: account,
    kind: 'federated',
    name,
    principalId: `${account}:${name}`,
    sessionName: '',
    issuedAt: now,
    expiresAt: now + seconds * 1000,
    policy,
    policyArns,
    tags: tagged?.tags,
    transitiveTagKeys: tagged?.transitive,
    user: ctx.caller.userName,
    userId: ctx.caller.userId,
  }
  const c = ctx.sessions.issue(claims)
  return {
    Credentials: credentialsNode(c),
    FederatedUser: {
      FederatedUserId: claims.principalId,
      Arn: `arn:aws:sts::${account}:federated-user/${name}`,
    },
    SessionTokenUtilization: packedSize(c),
    PackedPolicySize: packs(claims) ? packedSize(c) : undefined,
  }
}

function getCallerIdentity(ctx: QueryAuthorized): Promise<Node> {
  const c = ctx.caller
  return Promise.resolve({ UserId: c.userId, Account: c.account, Arn: c.arn })
}

/**
 * The account an access key belongs to. A session's key (ASIA…) carries no account without
 * its token: only the caller's own is answered; another is InvalidParameterValue.
 */
async function getAccessKeyInfo(ctx: QueryAuthorized): Promise<Node> {
  const id = param(ctx.params, 'AccessKeyId')
  if (!/^[A-Z0-9]{16,128}$/.test(id))
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${id.slice(0, 32)}' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]*`,
    )
  if (id === ctx.caller.auth?.credential.accessKeyId) return { Account: ctx.caller.account }
  const key = await ctx.identity.accessKey(id)
  if (key === undefined)
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      `The access key ${id.slice(0, 32)} is not one this installation issued`,
    )
  return { Account: key.tenantId }
}

export const STS_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'sts',
    name: 'GetCallerIdentity',
    action: 'none',
    params: [],
    resource: () => '*',
    handler: getCallerIdentity,
  },
  {
    service: 'sts',
    name: 'AssumeRole',
    action: 'sts:AssumeRole',
    params: [
      'RoleArn',
      'RoleSessionName',
      'DurationSeconds',
      'ExternalId',
      'Policy',
      'PolicyArns.',
      'SourceIdentity',
      ...TAG_PARAMS,
    ],
    resource: (p) => param(p, 'RoleArn'),
    assumesRole: true,
    also: tagAndSourceActions,
    conditions: (p) => ({
      ...tagConditions(p),
      ...(p.has('RoleSessionName')
        ? { 'sts:RoleSessionName': p.get('RoleSessionName') ?? '' }
        : {}),
      ...(p.has('ExternalId') ? { 'sts:ExternalId': p.get('ExternalId') ?? '' } : {}),
      ...(p.has('SourceIdentity') ? { 'sts:SourceIdentity': p.get('SourceIdentity') ?? '' } : {}),
    }),
    handler: assumeRole,
  },
  {
    service: 'sts',
    name: 'GetSessionToken',
    // "No permissions are required for users to perform this operation."
    action: 'none',
    params: ['DurationSeconds'],
    resource: () => '*',
    callers: 'user',
    handler: getSessionToken,
  },
  {
    service: 'sts',
    name: 'GetFederationToken',
    action: 'sts:GetFederationToken',
    params: ['Name', 'Policy', 'PolicyArns.', 'DurationSeconds', 'Tags.'],
    resource: (p, account) => `arn:aws:sts::${account}:federated-user/${param(p, 'Name')}`,
    callers: 'user',
    also: (p) => (p.has('Tags.member.1.Key') ? ['sts:TagSession'] : []),
    conditions: tagConditions,
    handler: getFederationToken,
  },
  {
    service: 'sts',
    name: 'GetAccessKeyInfo',
    action: 'sts:GetAccessKeyInfo',
    params: ['AccessKeyId'],
    resource: () => '*',
    handler: getAccessKeyInfo,
  },
]
