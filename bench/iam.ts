/**
 * IAM decision benchmarks (issue 3), every figure next to others from the same run:
 *
 *   1. one principal with 10 attached policies (6 identity, 2 SCP levels, a
 *      permissions boundary, a bucket policy): latency per decision, p50/p99;
 *   2. 10,000 tenants, each with its own 10 policies loaded: a decision for a
 *      random tenant, p50/p99, as a ratio to (1) - flat, not linear in tenants;
 *   3. the same workload through @cloud-copilot/iam-simulate (runUnsafeSimulation:
 *      its fastest public entry point; it parses the policies on every call,
 *      since it exposes no preparsed form) and through @cedar-policy/cedar-wasm
 *      with the policy set preparsed (statefulIsAuthorized), on an equivalent
 *      Cedar policy set (same statements as permit/forbid rules).
 *
 * Usage: node bench/iam.ts [--decisions N] [--tenants N] [--json]
 */
import { parseArgs } from 'node:util'
import { preparsePolicySet, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs'
import { loadPolicy } from '@cloud-copilot/iam-policy'
// iam-simulate's public entry points parse every policy on every call; its core
// authorizer takes policies loaded once, like ours. The package does not export
// it, so the benchmark reaches it by path (reading, never copying, its code).
import { authorize as theirAuthorize } from '../node_modules/@cloud-copilot/iam-simulate/dist/esm/core_engine/CoreSimulatorEngine.js'
import { DiscoveryContextKeyConstraints } from '../node_modules/@cloud-copilot/iam-simulate/dist/esm/context_keys/discoveryContextKeyConstraints.js'
import { AwsRequestImpl } from '../node_modules/@cloud-copilot/iam-simulate/dist/esm/request/request.js'
import { RequestContextImpl } from '../node_modules/@cloud-copilot/iam-simulate/dist/esm/requestContext.js'
import { authorize, type AuthzRequest, type PolicySet } from '../src/iam/evaluate.ts'
import { policySet, workload } from './iam-workload.ts'

const { values } = parseArgs({
  options: {
    decisions: { type: 'string', default: '200000' },
    tenants: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
})
const DECISIONS = Number(values.decisions)
const TENANTS = Number(values.tenants)
const log = (s: string) => {
  if (!values.json) console.log(s)
}

function percentiles(ns: Float64Array) {
  const s = Float64Array.from(ns).sort()
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
  return { p50us: at(0.5) / 1000, p99us: at(0.99) / 1000 }
}

/** Times `fn` once per iteration; returns per-call nanoseconds (after a warm-up of a tenth). */
function measure(n: number, fn: (i: number) => void): Float64Array {
  for (let i = 0; i < Math.max(1, n / 10); i++) fn(i)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    fn(i)
    out[i] = Number(process.hrtime.bigint() - t0)
  }
  return out
}

const results: Record<string, unknown> = {
  node: process.version,
  decisions: DECISIONS,
  tenants: TENANTS,
}

// Timer overhead, the floor under every per-call figure.
const floor = percentiles(measure(DECISIONS, () => undefined))
results.timerFloor = floor

// ---- 1. one principal, 10 policies
const w0 = workload(0)
const set0 = policySet(w0)
if (authorize(w0.request, set0).decision !== 'Allow')
  throw new Error('the workload should be allowed')
const ten = percentiles(measure(DECISIONS, () => authorize(w0.request, set0)))
results.tenPolicies = ten
log(
  `strongroom, 10 policies (identity, SCP, boundary, bucket): p50 ${ten.p50us.toFixed(2)} µs, p99 ${ten.p99us.toFixed(2)} µs (targets 2 / 20 µs; timer floor p50 ${floor.p50us.toFixed(2)} µs)`,
)

// ---- 2. 10,000 tenants loaded; decisions for random tenants
const t0 = performance.now()
const tenants = new Map<string, PolicySet>()
const requests: AuthzRequest[] = []
for (let i = 0; i < TENANTS; i++) {
  const w = workload(i)
  tenants.set(w.acct, policySet(w))
  requests.push(w.request)
}
const loadMs = performance.now() - t0
const pick = (i: number) => requests[i] as AuthzRequest
const decideFor = (req: AuthzRequest) =>
  authorize(req, tenants.get(req.principalAccount) as PolicySet)
// (a) the target: decisions for one tenant while every tenant's policies are loaded
const one = pick(Math.floor(TENANTS / 2))
const oneTenant = percentiles(measure(DECISIONS, () => decideFor(one)))
// (b) every decision for a different random tenant: cache-cold, so memory latency shows;
//     over 100 tenants and over all of them, to see whether cost grows with the count
const randomOver = (n: number) => {
  const order = Uint32Array.from({ length: DECISIONS }, () => Math.floor(Math.random() * n))
  return percentiles(measure(DECISIONS, (i) => decideFor(pick(order[i] ?? 0))))
}
const random100 = randomOver(Math.min(100, TENANTS))
const randomAll = randomOver(TENANTS)
results.manyTenants = {
  loadMs,
  oneTenant: {
    ...oneTenant,
    ratioP50: oneTenant.p50us / ten.p50us,
    ratioP99: oneTenant.p99us / ten.p99us,
  },
  random100,
  randomAll: { ...randomAll, ratioToRandom100P50: randomAll.p50us / random100.p50us },
}
log(
  `strongroom, ${TENANTS} tenants loaded (${(loadMs / 1000).toFixed(1)} s to compile ${TENANTS * 10} policies):`,
)
log(
  `  one tenant: p50 ${oneTenant.p50us.toFixed(2)} µs, p99 ${oneTenant.p99us.toFixed(2)} µs = ${(oneTenant.p50us / ten.p50us).toFixed(2)}× / ${(oneTenant.p99us / ten.p99us).toFixed(2)}× the 10-policy figure (target ≤ 2×)`,
)
log(
  `  a random tenant each decision (cache-cold): among 100 p50 ${random100.p50us.toFixed(2)} µs, p99 ${random100.p99us.toFixed(2)} µs; among ${TENANTS} p50 ${randomAll.p50us.toFixed(2)} µs, p99 ${randomAll.p99us.toFixed(2)} µs`,
)

// ---- 3a. @cloud-copilot/iam-simulate on the same workload, policies loaded once
const named = (policy: unknown, name: string) => loadPolicy(policy, { name })
const theirRequest = {
  request: new AwsRequestImpl(
    w0.request.principal,
    { resource: w0.request.resource, accountId: w0.request.resourceAccount },
    w0.request.action,
    new RequestContextImpl(w0.request.context as Record<string, string>),
  ),
  sessionPolicy: undefined,
  identityPolicies: w0.identity.map((p, i) => named(p, `identity-${i}`)),
  serviceControlPolicies: w0.scps.map((level, l) => ({
    orgIdentifier: l === 0 ? 'r-root' : `ou-${l}`,
    policies: level.map((p, i) => named(p, `scp-${l}-${i}`)),
  })),
  resourceControlPolicies: [],
  resourcePolicy: named(w0.resource, 'bucket'),
  permissionBoundaries: [named(w0.boundary, 'boundary')],
  vpcEndpointPolicies: undefined,
  simulationParameters: {
    simulationMode: 'Strict' as const,
    discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
  },
}
const theirs = theirAuthorize(theirRequest).result
const simN = Math.max(1000, Math.floor(DECISIONS / 10))
const sim = percentiles(measure(simN, () => theirAuthorize(theirRequest)))
results.iamSimulate = { ...sim, decision: theirs, calls: simN, ratioP50: sim.p50us / ten.p50us }
log(
  `@cloud-copilot/iam-simulate (core authorizer, policies loaded once), same workload: ${theirs}; p50 ${sim.p50us.toFixed(1)} µs, p99 ${sim.p99us.toFixed(1)} µs → strongroom is ${(sim.p50us / ten.p50us).toFixed(0)}× faster at p50`,
)

// ---- 3b. Cedar (wasm), preparsed policy set, equivalent statements
const cedarPolicies = `
permit (principal == User::"alice", action in [Action::"s3:GetObject", Action::"s3:PutObject"], resource)
  when { resource.path like "team-0/models/*" && context.principalTag_team == "ml" };
permit (principal == User::"alice", action == Action::"s3:ListBucket", resource)
  when { resource.path == "team-0" && (context.prefix like "models/*" || context.prefix like "datasets/*") };
permit (principal == User::"alice", action in [Action::"kms:Decrypt", Action::"kms:GenerateDataKey"], resource)
  when { resource.path == "key-0" && context.encryptionContext_tenant == "team-0" };
forbid (principal, action == Action::"s3:DeleteObject", resource) unless { context has mfa && context.mfa };
permit (principal == User::"alice", action in [Action::"s3:GetObjectTagging", Action::"s3:PutObjectTagging"], resource)
  when { resource.path like "team-0/*" && ip(context.sourceIp).isInRange(ip("10.0.0.0/8")) };
permit (principal == User::"alice", action == Action::"dynamodb:GetItem", resource) when { resource.path == "table/runs" };
forbid (principal, action, resource) unless { context.requestedRegion == "us-east-1" };
forbid (principal, action, resource) when { !context.secureTransport };
permit (principal, action == Action::"s3:GetObject", resource) when { principal.account == "100000000000" && resource.path like "team-0/*" };
`
const pre = preparsePolicySet('bench', { staticPolicies: cedarPolicies })
if (pre.type !== 'success') throw new Error(`cedar: ${JSON.stringify(pre)}`)
const cedarCall = {
  principal: { type: 'User', id: 'alice' },
  action: { type: 'Action', id: 's3:GetObject' },
  resource: { type: 'Object', id: 'team-0/models/resnet.pt' },
  context: {
    principalTag_team: 'ml',
    sourceIp: { __extn: { fn: 'ip', arg: '10.1.2.3' } },
    secureTransport: true,
    requestedRegion: 'us-east-1',
    prefix: '',
    mfa: true,
    encryptionContext_tenant: '',
  },
  preparsedPolicySetId: 'bench',
  entities: [
    { uid: { type: 'User', id: 'alice' }, attrs: { account: '100000000000' }, parents: [] },
    {
      uid: { type: 'Object', id: 'team-0/models/resnet.pt' },
      attrs: { path: 'team-0/models/resnet.pt' },
      parents: [],
    },
  ],
}
const cedarAnswer = statefulIsAuthorized(cedarCall)
if (cedarAnswer.type !== 'success') throw new Error(`cedar: ${JSON.stringify(cedarAnswer)}`)
const cedarN = Math.max(1000, Math.floor(DECISIONS / 10))
const cedar = percentiles(measure(cedarN, () => statefulIsAuthorized(cedarCall)))
results.cedar = {
  ...cedar,
  decision: cedarAnswer.response.decision,
  calls: cedarN,
  ratioP50: cedar.p50us / ten.p50us,
}
log(
  `@cedar-policy/cedar-wasm (preparsed), equivalent set: ${cedarAnswer.response.decision}; p50 ${cedar.p50us.toFixed(1)} µs, p99 ${cedar.p99us.toFixed(1)} µs → strongroom is ${(cedar.p50us / ten.p50us).toFixed(0)}× faster at p50`,
)

if (values.json) console.log(JSON.stringify(results, null, 2))
