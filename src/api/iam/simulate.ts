/**
 * SimulateCustomPolicy and SimulatePrincipalPolicy, answered by Strongroom's own engine (the
 * one that decides every request): for each action and resource, the decision
 * (allowed / explicitDeny / implicitDeny), the statements that matched, the context keys the
 * policies read that the request did not give, and per policy layer its own decision in
 * EvalDecisionDetails. A simulation decides nothing about the request itself: the pipeline
 * has already allowed iam:Simulate… before the handler runs.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
 */
import { StrongroomError } from '../../errors.ts'
import type { Decision, PolicySet, Trace } from '../../iam/evaluate.ts'
import { loadStoredPolicy, type LoadedPolicy } from '../../iam/load.ts'
import type { PolicyKind } from '../../iam/policy.ts'
import { simulate } from '../../iam/simulate.ts'
import { roleArn, validPolicy } from '../../identity/roles.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { Conditions, QueryOperation } from '../operation.ts'
import { members, param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'

type Params = ReadonlyMap<string, string>

/** The most action × resource pairs one call evaluates. */
const MAX_EVALUATIONS = 1000
const DECISION: Record<Decision, string> = {
  Allow: 'allowed',
  ExplicitDeny: 'explicitDeny',
  ImplicitDeny: 'implicitDeny',
}
const SOURCE_TYPE: Record<string, string> = {
  identity: 'IAM Policy',
  resource: 'Resource Policy',
  boundary: 'Permissions Boundary Policy',
  session: 'Session Policy',
  scp: 'Service Control Policy',
}

const COMMON = [
  'PolicyInputList.',
  'PermissionsBoundaryPolicyInputList.',
  'ActionNames.',
  'ResourceArns.',
  'ResourcePolicy',
  'ResourceOwner',
  'CallerArn',
  'ContextEntries.',
  'ResourceHandlingOption',
  'MaxItems',
  'Marker',
]

/** Validates and loads each document of a list parameter (MalformedPolicyDocument otherwise). */
function policies(p: Params, list: string, kind: PolicyKind, max: number): LoadedPolicy[] {
  return members(p, list, max).map((doc, i) => {
    const name = `${list}.${String(i + 1)}`
    validPolicy(doc, kind, name)
    return loadStoredPolicy(doc, kind, name)
  })
}

/** ContextEntries: key, type and values, as the request context the engine reads. */
function contextEntries(p: Params): Conditions {
  const out: Record<string, string | string[]> = {}
  for (let i = 1; i <= 100; i++) {
    const at = `ContextEntries.member.${String(i)}`
    const key = p.get(`${at}.ContextKeyName`)
    if (key === undefined) break
    const values = members(p, `${at}.ContextKeyValues`, 100)
    const type = p.get(`${at}.ContextKeyType`) ?? 'string'
    out[key] = type.endsWith('List') ? values : (values[0] ?? '')
  }
  return out
}

/** Each policy layer's own verdict, and the statements that matched, from the engine's trace. */
function traceNodes(t: Trace | undefined): { matched: Node[]; details: Node[] } {
  const matched: Node[] = []
  const details: Node[] = []
  for (const pol of t?.policies ?? []) {
    const hits = pol.statements.filter((s) => s.matched)
    for (const s of hits)
      matched.push({
        SourcePolicyId: s.sid === undefined ? pol.name : `${pol.name}#${s.sid}`,
        SourcePolicyType: SOURCE_TYPE[pol.layer] ?? pol.layer,
      })
    const verdict = hits.some((s) => s.effect === 'Deny')
      ? 'explicitDeny'
      : hits.length > 0
        ? 'allowed'
        : 'implicitDeny'
    details.push({ key: `${SOURCE_TYPE[pol.layer] ?? pol.layer}: ${pol.name}`, value: verdict })
  }
  return { matched, details }
}

/** Evaluates every action on every resource and answers as IAM does, a page at a time. */
function evaluate(ctx: QueryAuthorized, set: PolicySet, principal: string): Node {
  const p = ctx.params
  const actions = members(p, 'ActionNames', 1000)
  if (actions.length === 0)
    throw new StrongroomError('MISSING_PARAMETER', 'The request must contain ActionNames')
  const resources = members(p, 'ResourceArns', 1000)
  const arns = resources.length === 0 ? ['*'] : resources
  if (actions.length * arns.length > MAX_EVALUATIONS)
    throw new StrongroomError(
      'VALIDATION',
      `A simulation evaluates at most ${String(MAX_EVALUATIONS)} action and resource pairs`,
    )
  const owner = /^arn:aws:iam::(\d{12}):/.exec(p.get('ResourceOwner') ?? '')?.[1]
  const context = { ...contextEntries(p) }
  const results: Node[] = []
  for (const action of actions)
    for (const resource of arns) {
      const r = simulate(
        {
          id: null,
          policies: set,
          request: {
            principal,
            principalAccount: ctx.tenant.id,
            action,
            resource,
            resourceAccount: owner ?? ctx.tenant.id,
            context,
          },
          extra: {},
        },
        true,
      )
      if ('error' in r) throw new StrongroomError('VALIDATION', r.error.message)
      const { matched, details } = traceNodes(r.trace)
      results.push({
        EvalActionName: action,
        EvalResourceName: resource,
        EvalDecision: DECISION[r.decision],
        MatchedStatements: { member: matched },
        MissingContextValues: { member: [...(r.trace?.absentKeys ?? [])] },
        EvalDecisionDetails: { entry: details },
      })
    }
  const max = Number(p.get('MaxItems') ?? '100')
  const start = Number(p.get('Marker') ?? '0')
  if (!Number.isInteger(max) || max < 1 || max > 1000 || !Number.isInteger(start) || start < 0)
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      'MaxItems is 1 to 1000; Marker is one this call returned',
    )
  const page = results.slice(start, start + max)
  const more = start + max < results.length
  return {
    EvaluationResults: { member: page },
    IsTruncated: more,
    Marker: more ? String(start + max) : undefined,
  }
}

function resourcePolicy(p: Params): LoadedPolicy | undefined {
  const text = p.get('ResourcePolicy')
  if (text === undefined) return undefined
  validPolicy(text, 'resource', 'ResourcePolicy')
  return loadStoredPolicy(text, 'resource', 'ResourcePolicy')
}

function simulateCustomPolicy(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const identity = policies(p, 'PolicyInputList', 'identity', 100)
  if (identity.length === 0)
    throw new StrongroomError('MISSING_PARAMETER', 'The request must contain PolicyInputList')
  const [boundary] = policies(p, 'PermissionsBoundaryPolicyInputList', 'boundary', 1)
  const caller = p.get('CallerArn') ?? `arn:aws:iam::${ctx.tenant.id}:user/SimulatedUser`
  return Promise.resolve(evaluate(ctx, { identity, resource: resourcePolicy(p), boundary }, caller))
}

/** The user's or role's own policies as the gateway would use them, plus any given. */
async function simulatePrincipalPolicy(ctx: QueryAuthorized): Promise<Node> {
  const p = ctx.params
  const source = param(p, 'PolicySourceArn')
  const m = /^arn:aws:iam::(\d{12}):(user|role)\/(?:[^/]*\/)*([\w+=,.@-]{1,64})$/.exec(source)
  if (m?.[1] !== ctx.tenant.id)
    throw new StrongroomError(
      'NO_SUCH_ENTITY',
      `The user or role with ARN ${source.slice(0, 300)} cannot be found.`,
    )
  const kind = m[2] === 'role' ? 'role' : 'user'
  const name = m[3] ?? ''
  const found =
    kind === 'role'
      ? await ctx.identity.findRole(ctx.tenant.id, name)
      : await ctx.identity.findUser(ctx.tenant.id, name)
  if (found === undefined)
    throw new StrongroomError('NO_SUCH_ENTITY', `The ${kind} with name ${name} cannot be found.`)
  const [docs, bound] = await Promise.all([
    ctx.identity.identityPolicyDocuments(kind, ctx.tenant.id, found.name),
    ctx.identity.permissionsBoundary(kind, ctx.tenant.id, found.name),
  ])
  const identity = [
    ...docs.map((d) => loadStoredPolicy(d.document, 'identity', d.name)),
    ...policies(p, 'PolicyInputList', 'identity', 100),
  ]
  const [given] = policies(p, 'PermissionsBoundaryPolicyInputList', 'boundary', 1)
  const boundary =
    given ??
    (bound === undefined ? undefined : loadStoredPolicy(bound.document, 'boundary', bound.name))
  return evaluate(
    ctx,
    { identity, resource: resourcePolicy(p), boundary },
    p.get('CallerArn') ?? source,
  )
}

export const SIMULATE_OPERATIONS: readonly QueryOperation[] = [
  {
    service: 'iam',
    name: 'SimulateCustomPolicy',
    action: 'iam:SimulateCustomPolicy',
    params: COMMON,
    resource: () => '*',
    handler: simulateCustomPolicy,
  },
  {
    service: 'iam',
    name: 'SimulatePrincipalPolicy',
    action: 'iam:SimulatePrincipalPolicy',
    params: ['PolicySourceArn', ...COMMON],
    // The stored principal's ARN (names are found regardless of case).
    resource: async (p, account, l) => {
      const source = param(p, 'PolicySourceArn')
      const m = /^arn:aws:iam::(\d{12}):(user|role)\/(?:[^/]*\/)*([\w+=,.@-]{1,64})$/.exec(source)
      if (m?.[1] !== account) return source
      if (m[2] === 'role') {
        const role = await l.identity.findRole(account, m[3] ?? '')
        return role === undefined ? source : roleArn(account, role)
      }
      const user = await l.identity.findUser(account, m[3] ?? '')
      return user === undefined ? source : `arn:aws:iam::${account}:user/${user.name}`
    },
    handler: simulatePrincipalPolicy,
  },
]
