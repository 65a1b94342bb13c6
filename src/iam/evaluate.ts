/**
 * The authorization decision, as AWS makes it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
 *  .../reference_policies_evaluation-logic-cross-account.html,
 *  .../access_policies_boundaries.html, .../access_policies.html#policies_session).
 * The whole logic is the table in `decide` below, and docs/iam-evaluation.md
 * says the same in prose. Pure: no I/O, no clock.
 */
import { actionMatches, resourceMatches, statementsFor, type PrincipalSpec } from './policy.ts'
import { isUnloadable, type LoadedPolicy, type UnloadablePolicy } from './load.ts'
import type { Context } from './variables.ts'

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'

export interface AuthzRequest {
  /** ARN of the caller: IAM user, role, assumed-role session, federated user, account root; or a service name; or `*` for anonymous. */
  readonly principal: string
  readonly principalAccount: string
  readonly action: string
  readonly resource: string
  /** Explicit because S3 ARNs carry no account. */
  readonly resourceAccount: string
  readonly context: Readonly<Record<string, string | readonly string[]>>
}

/**
 * The policies one request reads. Any of them may be an `UnloadablePolicy` (a stored
 * policy that no longer loads): it applies as an explicit Deny of every request, so a
 * caller that loads policies from storage cannot drop one and fail open.
 */
export interface PolicySet {
  readonly identity: readonly LoadedPolicy[]
  /** Bucket policy, KMS key policy or role trust policy of the resource. */
  readonly resource?: LoadedPolicy | undefined
  /** One list per organization level, root first; every level must allow. */
  readonly scps?: readonly (readonly LoadedPolicy[])[] | undefined
  /** Resource control policies per level; RCPFullAWSAccess is implied at every level. */
  readonly rcps?: readonly (readonly LoadedPolicy[])[] | undefined
  readonly boundary?: LoadedPolicy | undefined
  /**
   * The session policies (inline and managed) of a session that has any: a request must be allowed
   * by one of them. Given but empty (its managed policies deleted since), they allow nothing.
   */
  readonly session?: readonly LoadedPolicy[] | undefined
  readonly endpoint?: LoadedPolicy | undefined
}

export type Layer = 'scp' | 'rcp' | 'resource' | 'identity' | 'boundary' | 'session' | 'endpoint'

export interface StatementTrace {
  readonly index: number
  readonly sid: string | undefined
  readonly effect: 'Allow' | 'Deny'
  readonly matched: boolean
  /** Why it did not apply: action, resource, principal, or the condition that failed. */
  readonly reason: string | undefined
}

export interface PolicyTrace {
  readonly layer: Layer
  readonly name: string
  readonly statements: readonly StatementTrace[]
  /** Set when the stored policy could not be loaded: why. It then denied the request. */
  readonly unloadable?: string
}

export interface Trace {
  readonly decision: Decision
  /** The layer and rule that decided, in words. */
  readonly decidedBy: string
  readonly policies: readonly PolicyTrace[]
  /** Condition keys the policies read that the request did not carry. */
  readonly absentKeys: readonly string[]
}

export interface AuthzResult {
  readonly decision: Decision
  readonly trace?: Trace
}

// ---- principals

export type PrincipalType =
  'user' | 'role' | 'assumed-role' | 'federated-user' | 'root' | 'service' | 'anonymous' | 'other'

export interface PrincipalInfo {
  readonly arn: string
  readonly account: string
  readonly type: PrincipalType
  /** For assumed-role sessions: the role's ARN (what aws:PrincipalArn holds). */
  readonly roleArn: string | undefined
  readonly name: string | undefined
  /** Every identity the request speaks for: the principal, its role, its account. */
  readonly chain: readonly string[]
  /** The account the request named, which the memo of parsed principals checks. */
  readonly requestAccount?: string
  /** Context keys AWS derives from the principal, unless the request gives them. */
  readonly derived: readonly (readonly [string, readonly string[]])[]
}

const ARN_PRINCIPAL = /^arn:(aws|aws-cn|aws-us-gov):(iam|sts)::(\d{12}):(.+)$/

const MEMO_LIMIT = 65_536
const principals = new Map<string, PrincipalInfo>()
const lowerKeys = new Map<string, string>()

/** Bounded memo: the same callers and keys recur request after request. */
function memo<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key)
  if (v === undefined) {
    if (map.size >= MEMO_LIMIT) map.clear()
    v = make()
    map.set(key, v)
  }
  return v
}

export function principalInfo(principal: string, account: string): PrincipalInfo {
  const hit = principals.get(principal)
  if (hit?.requestAccount === account) return hit
  if (principals.size >= MEMO_LIMIT) principals.clear()
  const info = parsePrincipal(principal, account)
  principals.set(principal, info)
  return info
}

function parsePrincipal(principal: string, account: string): PrincipalInfo {
  const p = parsePrincipalArn(principal, account)
  const derived: [string, string[]][] = []
  if (p.type !== 'anonymous' && p.type !== 'service') {
    derived.push(['aws:principalarn', [p.roleArn ?? p.arn]], ['aws:principalaccount', [p.account]])
  }
  if (p.type === 'user' && p.name !== undefined) derived.push(['aws:username', [p.name]])
  return { ...p, requestAccount: account, derived }
}

function parsePrincipalArn(
  principal: string,
  account: string,
): Omit<PrincipalInfo, 'derived' | 'requestAccount'> {
  const root = `arn:aws:iam::${account}:root`
  if (principal === '*' || principal === '') {
    return {
      arn: principal,
      account,
      type: 'anonymous',
      roleArn: undefined,
      name: undefined,
      chain: [],
    }
  }
  const m = ARN_PRINCIPAL.exec(principal)
  if (m === null) {
    const service = principal.endsWith('.amazonaws.com')
    return {
      arn: principal,
      account,
      type: service ? 'service' : 'other',
      roleArn: undefined,
      name: undefined,
      chain: [principal],
    }
  }
  const [, partition = 'aws', svc, acct = account, rest = ''] = m
  const rootArn = `arn:${partition}:iam::${acct}:root`
  if (svc === 'iam' && rest === 'root')
    return {
      arn: principal,
      account: acct,
      type: 'root',
      roleArn: undefined,
      name: undefined,
      chain: [rootArn],
    }
  if (svc === 'iam' && rest.startsWith('user/')) {
    return {
      arn: principal,
      account: acct,
      type: 'user',
      roleArn: undefined,
      name: rest.slice(rest.lastIndexOf('/') + 1),
      chain: [principal, rootArn],
    }
  }
  if (svc === 'iam' && rest.startsWith('role/')) {
    return {
      arn: principal,
      account: acct,
      type: 'role',
      roleArn: principal,
      name: rest.slice(rest.lastIndexOf('/') + 1),
      chain: [principal, rootArn],
    }
  }
  if (svc === 'sts' && rest.startsWith('assumed-role/')) {
    const [, role = '', session = ''] = rest.split('/')
    const roleArn = `arn:${partition}:iam::${acct}:role/${role}`
    return {
      arn: principal,
      account: acct,
      type: 'assumed-role',
      roleArn,
      name: session,
      chain: [principal, roleArn, rootArn],
    }
  }
  if (svc === 'sts' && rest.startsWith('federated-user/')) {
    return {
      arn: principal,
      account: acct,
      type: 'federated-user',
      roleArn: undefined,
      name: rest.slice(15),
      chain: [principal, rootArn],
    }
  }
  return {
    arn: principal,
    account: acct || account,
    type: 'other',
    roleArn: undefined,
    name: undefined,
    chain: [principal, root],
  }
}

/**
 * How a resource-policy statement names the caller:
 * - direct: the exact principal (user, session, federated user), a service, or `*`;
 * - role: the role whose session is calling (limited by boundary and session policy);
 * - account: the caller's account, which delegates to its IAM policies.
 */
export type Grant = 'direct' | 'role' | 'account'

/** The strongest way `spec` names the principal, or undefined. */
export function principalGrant(spec: PrincipalSpec, p: PrincipalInfo): Grant | undefined {
  if (spec.wildcard) return 'direct'
  if (p.type !== 'root' && spec.exact.has(p.arn)) return 'direct'
  if (p.type === 'assumed-role' && p.roleArn !== undefined && spec.roles.has(p.roleArn))
    return 'role'
  if (p.type !== 'anonymous' && spec.accounts.has(p.account)) return 'account'
  if (
    spec.service.includes(p.arn) ||
    spec.federated.includes(p.arn) ||
    spec.canonicalUser.includes(p.arn)
  )
    return 'direct'
  return undefined
}

/** Which identities of the principal's chain a NotPrincipal names. */
function namedInNotPrincipal(
  spec: PrincipalSpec,
  p: PrincipalInfo,
): { all: boolean; any: boolean } {
  if (spec.wildcard) return { all: true, any: true }
  const listed = (id: string) =>
    spec.exact.has(id) ||
    (/^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:root$/.test(id) &&
      spec.accounts.has(id.split(':')[4] ?? '')) ||
    spec.service.includes(id) ||
    spec.federated.includes(id) ||
    spec.canonicalUser.includes(id)
  const hits = p.chain.map(listed)
  return { all: hits.length > 0 && hits.every(Boolean), any: hits.some(Boolean) }
}

// ---- context

export function buildContext(req: AuthzRequest, p: PrincipalInfo): Map<string, readonly string[]> {
  const ctx = new Map<string, readonly string[]>()
  for (const k in req.context) {
    const v = req.context[k]
    if (v !== undefined)
      ctx.set(
        memo(lowerKeys, k, () => k.toLowerCase()),
        typeof v === 'string' ? [v] : v,
      )
  }
  for (const [k, v] of p.derived) if (!ctx.has(k)) ctx.set(k, v)
  return ctx
}

// ---- statements

interface Applied {
  readonly allow: boolean
  readonly deny: boolean
  /** For resource-based policies: the strongest grant among applicable Allow statements. */
  readonly grant: Grant | undefined
}

const NONE: Applied = { allow: false, deny: false, grant: undefined }

/**
 * Applies one policy. Resource-side policies (resource, key, trust, RCP,
 * endpoint) check Principal/NotPrincipal; identity-side ones do not have them.
 */
function applyPolicy(
  policy: LoadedPolicy,
  action: string,
  req: AuthzRequest,
  ctx: Context,
  p: PrincipalInfo,
  layer: Layer,
  traces: PolicyTrace[] | undefined,
  absent: Set<string> | undefined,
): Applied {
  if (isUnloadable(policy)) return applyUnloadable(policy, layer, traces)
  let allow = false
  let deny = false
  let grant: Grant | undefined
  const candidates = traces === undefined ? statementsFor(policy, action) : policy.statements
  const stTraces: StatementTrace[] = []
  for (const s of candidates) {
    let reason: string | undefined
    let g: Grant | undefined = 'direct'
    if (traces !== undefined && !actionMatches(s, action))
      reason = `action \`${req.action}\` is not in its ${s.action ? 'Action' : 'NotAction exclusions'}`
    else if (!resourceMatches(s, req.resource, ctx))
      reason = `resource \`${req.resource}\` does not match its ${s.resource ? 'Resource' : 'NotResource'}`
    else {
      if (s.principal !== undefined) {
        g = principalGrant(s.principal, p)
        if (g === undefined) reason = `principal \`${p.arn}\` is not named in its Principal`
      } else if (s.notPrincipal !== undefined) {
        const named = namedInNotPrincipal(s.notPrincipal, p)
        // A Deny spares the caller only when every identity it speaks for is listed;
        // an Allow reaches the caller only when none of them is.
        const applies = s.effect === 'Deny' ? !named.all : !named.any
        if (!applies) reason = `principal \`${p.arn}\` is excluded by its NotPrincipal`
      }
      if (reason === undefined) {
        for (const c of s.conditions) {
          if (!c.test(ctx)) {
            if (traces !== undefined) {
              const f = c.explain(ctx)
              reason = `condition ${f.operator} on \`${f.key}\` is false: ${f.reason}`
            } else reason = 'condition'
            break
          }
        }
      }
    }
    if (absent !== undefined) for (const c of s.conditions) if (!ctx.has(c.lkey)) absent.add(c.key)
    if (reason === undefined) {
      if (s.effect === 'Deny') deny = true
      else {
        allow = true
        if (g !== undefined && (grant === undefined || rank(g) > rank(grant))) grant = g
      }
    }
    if (traces !== undefined)
      stTraces.push({
        index: s.index,
        sid: s.sid,
        effect: s.effect,
        matched: reason === undefined,
        reason,
      })
  }
  traces?.push({ layer, name: policy.name, statements: stTraces })
  return { allow, deny, grant }
}

const DENY_ALL: Applied = { allow: false, deny: true, grant: undefined }

/** A policy that could not be loaded denies every request that reads it, whatever it said. */
function applyUnloadable(
  policy: UnloadablePolicy,
  layer: Layer,
  traces: PolicyTrace[] | undefined,
): Applied {
  traces?.push({ layer, name: policy.name, statements: [], unloadable: policy.reason })
  return DENY_ALL
}

const rank = (g: Grant) => (g === 'direct' ? 3 : g === 'role' ? 2 : 1)

/** Resources whose own policy must allow (alone or by delegating to the account): KMS keys and role trust. */
function resourcePolicyRequired(req: AuthzRequest): 'key' | 'trust' | undefined {
  if (/^arn:aws(-cn|-us-gov)?:kms:[^:]*:\d{12}:key\//.test(req.resource)) return 'key'
  if (
    /^sts:(AssumeRole|TagSession|SetSourceIdentity)/i.test(req.action) &&
    /^arn:aws(-cn|-us-gov)?:iam::\d{12}:role\//.test(req.resource)
  )
    return 'trust'
  return undefined
}

/** Decides one request. With `explain`, also returns the full trace (allocated only then). */
export function authorize(
  req: AuthzRequest,
  set: PolicySet,
  options: { explain?: boolean } = {},
): AuthzResult {
  const explain = options.explain === true
  const p = principalInfo(req.principal, req.principalAccount)
  const ctx = buildContext(req, p)
  const action = req.action.toLowerCase()
  const traces: PolicyTrace[] | undefined = explain ? [] : undefined
  const absent = explain ? new Set<string>() : undefined
  let deny = false
  const apply = (policy: LoadedPolicy | undefined, layer: Layer): Applied => {
    if (policy === undefined) return NONE
    const a = applyPolicy(policy, action, req, ctx, p, layer, traces, absent)
    deny ||= a.deny
    return a
  }
  // Without a trace to fill, the first explicit Deny settles the request.
  const settled = () => deny && !explain

  let scpLevelWithoutAllow = -1
  const scps = set.scps ?? []
  for (let l = 0; l < scps.length && !settled(); l++) {
    let allowed = false
    for (const pol of scps[l] ?? []) allowed = apply(pol, 'scp').allow || allowed
    if (!allowed && scpLevelWithoutAllow < 0) scpLevelWithoutAllow = l
  }
  for (const level of set.rcps ?? []) for (const pol of level) if (!settled()) apply(pol, 'rcp')
  let identityAllows = false
  for (const pol of set.identity)
    if (!settled()) identityAllows = apply(pol, 'identity').allow || identityAllows
  const resource = settled() ? NONE : apply(set.resource, 'resource')
  const boundary = settled() ? NONE : apply(set.boundary, 'boundary')
  let sessionAllows = false
  for (const pol of set.session ?? [])
    if (!settled()) sessionAllows = apply(pol, 'session').allow || sessionAllows
  const endpoint = settled() ? NONE : apply(set.endpoint, 'endpoint')
  if (settled()) return { decision: 'ExplicitDeny' }

  const sameAccount = req.principalAccount === req.resourceAccount
  const [decision, decidedBy] = decide({
    deny,
    denyLayer: firstDenyLayer(traces),
    scpLevelWithoutAllow,
    endpointAllows: set.endpoint === undefined || endpoint.allow,
    // The account root user holds every permission in its own account that the other layers leave it.
    identityAllows: identityAllows || (p.type === 'root' && sameAccount),
    anonymous: p.type === 'anonymous',
    boundaryAllows: set.boundary === undefined || boundary.allow,
    sessionAllows: set.session === undefined || sessionAllows,
    grant: resource.grant,
    hasResourcePolicy: set.resource !== undefined,
    sameAccount,
    required: resourcePolicyRequired(req),
  })
  if (traces === undefined) return { decision }
  return {
    decision,
    trace: { decision, decidedBy, policies: traces, absentKeys: [...(absent ?? [])].sort() },
  }
}

function firstDenyLayer(traces: PolicyTrace[] | undefined): string {
  for (const t of traces ?? []) {
    if (t.unloadable !== undefined)
      return `${t.layer} policy \`${t.name}\`, which cannot be loaded (${t.unloadable}) and so denies every request`
    const s = t.statements.find((x) => x.matched && x.effect === 'Deny')
    if (s !== undefined)
      return `${t.layer} policy \`${t.name}\`, statement ${s.sid === undefined ? `#${s.index}` : `\`${s.sid}\``}`
  }
  return 'a Deny statement'
}

export interface Facts {
  readonly deny: boolean
  readonly denyLayer: string
  /** Index of the first SCP level without an applicable Allow, or -1. */
  readonly scpLevelWithoutAllow: number
  readonly endpointAllows: boolean
  /** The caller is anonymous: it has no identity, boundary or session policies. */
  readonly anonymous: boolean
  readonly identityAllows: boolean
  readonly boundaryAllows: boolean
  readonly sessionAllows: boolean
  readonly grant: Grant | undefined
  readonly hasResourcePolicy: boolean
  readonly sameAccount: boolean
  readonly required: 'key' | 'trust' | undefined
}

/**
 * The decision table. Each row is checked in order; the first that holds decides.
 *
 *  1. a Deny applies in any policy of any layer                       -> ExplicitDeny
 *  2. SCPs govern the caller's account and a level has no Allow        -> ImplicitDeny
 *  3. the request came through an endpoint whose policy does not allow -> ImplicitDeny
 *     (RCPs: RCPFullAWSAccess is implied at every level, so they only deny: row 1)
 *  3a. an anonymous caller is allowed only by a resource policy that
 *     grants to everyone (Principal "*")                               -> Allow, else ImplicitDeny
 *  4. same account, the resource policy names the caller directly      -> Allow
 *     (user, session or federated-user ARN, service, or *: no boundary or session policy limits it)
 *  5. same account, the resource policy names the caller's role, and
 *     the boundary and session policy (where present) allow            -> Allow
 *  6. same account, a key policy or trust policy that does not
 *     delegate to the account                                          -> ImplicitDeny
 *  7. identity allows, boundary and session policy (where present)
 *     allow, and - across accounts - the resource policy allows in any
 *     way (naming the caller, its role or its account)                 -> Allow
 *  8. otherwise                                                        -> ImplicitDeny
 */
export function decide(f: Facts): [Decision, string] {
  if (f.deny) return ['ExplicitDeny', `explicit Deny in ${f.denyLayer}`]
  if (f.scpLevelWithoutAllow >= 0)
    return [
      'ImplicitDeny',
      `no service control policy at organization level ${f.scpLevelWithoutAllow} allows the action`,
    ]
  if (!f.endpointAllows)
    return ['ImplicitDeny', 'the VPC endpoint policy does not allow the request']
  if (f.anonymous) {
    return f.grant === 'direct'
      ? ['Allow', 'the resource-based policy grants to everyone, anonymous callers included']
      : ['ImplicitDeny', 'anonymous caller: no resource-based policy grants to everyone']
  }
  const limits = f.boundaryAllows && f.sessionAllows
  if (f.sameAccount && f.grant === 'direct')
    return ['Allow', 'the resource-based policy names the caller directly']
  if (f.sameAccount && f.grant === 'role' && limits)
    return ['Allow', "the resource-based policy names the caller's role"]
  const what = f.required === 'key' ? 'key policy' : 'trust policy'
  if (f.sameAccount && f.required !== undefined && f.grant === undefined) {
    return ['ImplicitDeny', `the ${what} neither names the caller nor delegates to its account`]
  }
  if (!f.identityAllows) {
    return [
      'ImplicitDeny',
      f.sameAccount
        ? 'no identity-based or resource-based policy allows the action'
        : 'cross-account: no identity-based policy of the caller allows the action',
    ]
  }
  if (!f.boundaryAllows)
    return ['ImplicitDeny', 'the permissions boundary does not allow the action']
  if (!f.sessionAllows) return ['ImplicitDeny', 'the session policy does not allow the action']
  if (!f.sameAccount && f.grant === undefined) {
    return [
      'ImplicitDeny',
      f.hasResourcePolicy
        ? "cross-account: the resource-based policy does not allow the caller's account"
        : 'cross-account: the resource has no resource-based policy that allows the caller',
    ]
  }
  return [
    'Allow',
    f.sameAccount
      ? 'an identity-based policy allows the action'
      : 'cross-account: the identity-based and resource-based policies both allow',
  ]
}
