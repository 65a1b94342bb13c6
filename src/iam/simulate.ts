/**
 * The simulator's document format (docs/iam-simulator.md), which is also the
 * project's IAM test-vector format:
 *
 *   { "id"?, "identityPolicies": [policy…], "resourcePolicy"?, "scps"?: [[policy…]…],
 *     "rcps"?: [[policy…]…], "permissionBoundary"?, "sessionPolicy"?, "vpcEndpointPolicy"?,
 *     "request": { "principal", "principalAccount", "action", "resource", "resourceAccount", "context" } }
 *
 * Every policy is validated before anything is evaluated; a document with an
 * invalid policy or request yields its errors and no decision.
 */
import {
  authorize,
  type AuthzRequest,
  type Decision,
  type PolicySet,
  type Trace,
} from './evaluate.ts'
import { parseJson, pathKey, JsonSyntaxError, type JsonValue, type Located } from './json.ts'
import { parsePolicy, type Issue, type Policy, type PolicyKind } from './policy.ts'

export interface SimulationInput {
  readonly id: string | null
  readonly policies: PolicySet
  readonly request: AuthzRequest
  /** Anything else the document carries (expected, category, …), untouched. */
  readonly extra: Readonly<Record<string, JsonValue>>
}

export type SimulationResult =
  | {
      readonly id: string | null
      readonly decision: Decision
      readonly trace?: Trace
      readonly warnings: readonly Issue[]
    }
  | {
      readonly id: string | null
      readonly error: { readonly message: string; readonly issues: readonly Issue[] }
    }

const KNOWN = new Set([
  'id',
  'identityPolicies',
  'resourcePolicy',
  'scps',
  'rcps',
  'permissionBoundary',
  'sessionPolicy',
  'vpcEndpointPolicy',
  'request',
])

/** Which kind of resource-based policy applies, from the request: key policy, trust policy or bucket (resource) policy. */
function resourceKind(req: { action?: unknown; resource?: unknown }): PolicyKind {
  const resource = typeof req.resource === 'string' ? req.resource : ''
  if (/^arn:aws[^:]*:kms:/.test(resource)) return 'key'
  if (
    typeof req.action === 'string' &&
    /^sts:AssumeRole/i.test(req.action) &&
    /^arn:aws[^:]*:iam::\d{12}:role\//.test(resource)
  )
    return 'trust'
  return 'resource'
}

/** Reads one document (text) into validated policies and a request. */
export function readSimulationText(
  text: string,
): SimulationInput | { id: string | null; issues: Issue[] } {
  let parsed
  try {
    parsed = parseJson(text)
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e
    return {
      id: null,
      issues: [
        {
          severity: 'error',
          code: 'InvalidJson',
          message: e.message,
          path: '$',
          line: e.at.line,
          column: e.at.column,
        },
      ],
    }
  }
  return readSimulation(parsed.value, parsed.positions)
}

export function readSimulation(
  doc: JsonValue,
  positions?: ReadonlyMap<string, Located>,
): SimulationInput | { id: string | null; issues: Issue[] } {
  const issues: Issue[] = []
  const at = (path: string) => positions?.get(path) ?? { line: 0, column: 0 }
  const err = (path: string, message: string) =>
    issues.push({ severity: 'error', code: 'InvalidInput', message, path, ...at(path) })
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    err('$', 'a simulation document must be a JSON object')
    return { id: null, issues }
  }
  const id = typeof doc.id === 'string' ? doc.id : null
  const requestRaw = doc.request
  const request = readRequest(requestRaw, err)
  const kindOfResource = resourceKind(
    typeof requestRaw === 'object' && requestRaw !== null && !Array.isArray(requestRaw)
      ? requestRaw
      : {},
  )
  const one = (key: string, kind: PolicyKind): Policy | undefined => {
    const v = doc[key]
    if (v === undefined) return undefined
    const r = parsePolicy(v, kind, {
      name: key,
      basePath: pathKey('$', key),
      ...(positions ? { positions } : {}),
    })
    issues.push(...r.errors)
    return r.policy
  }
  const list = (key: string, kind: PolicyKind): Policy[] => {
    const v = doc[key]
    if (v === undefined) return []
    if (!Array.isArray(v)) {
      err(pathKey('$', key), `${key} must be an array of policies`)
      return []
    }
    return v.flatMap((pol, i) => {
      const r = parsePolicy(pol, kind, {
        name: `${key}[${i}]`,
        basePath: `${pathKey('$', key)}[${i}]`,
        ...(positions ? { positions } : {}),
      })
      issues.push(...r.errors)
      return r.policy === undefined ? [] : [r.policy]
    })
  }
  const levels = (key: string, kind: PolicyKind): Policy[][] | undefined => {
    const v = doc[key]
    if (v === undefined) return undefined
    if (!Array.isArray(v) || !v.every(Array.isArray)) {
      err(pathKey('$', key), `${key} must be an array of levels, each an array of policies`)
      return undefined
    }
    return v.map((level, li) =>
      (level as JsonValue[]).flatMap((pol, i) => {
        const path = `${pathKey('$', key)}[${li}][${i}]`
        const r = parsePolicy(pol, kind, {
          name: `${key}[${li}][${i}]`,
          basePath: path,
          ...(positions ? { positions } : {}),
        })
        issues.push(...r.errors)
        return r.policy === undefined ? [] : [r.policy]
      }),
    )
  }
  if (!Array.isArray(doc.identityPolicies))
    err(pathKey('$', 'identityPolicies'), 'identityPolicies must be an array (use [] for none)')
  const session = one('sessionPolicy', 'session')
  const policies: PolicySet = {
    identity: list('identityPolicies', 'identity'),
    resource: one('resourcePolicy', kindOfResource),
    scps: levels('scps', 'scp'),
    rcps: levels('rcps', 'rcp'),
    boundary: one('permissionBoundary', 'boundary'),
    session: session && [session],
    endpoint: one('vpcEndpointPolicy', 'endpoint'),
  }
  if (issues.length > 0 || request === undefined) return { id, issues }
  const extra: Record<string, JsonValue> = {}
  for (const [k, v] of Object.entries(doc)) if (!KNOWN.has(k)) extra[k] = v
  return { id, policies, request, extra }
}

function readRequest(
  v: JsonValue | undefined,
  err: (path: string, message: string) => void,
): AuthzRequest | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    err(
      '$.request',
      'request must be an object with principal, principalAccount, action, resource, resourceAccount and context',
    )
    return undefined
  }
  const field = (k: string): string | undefined => {
    const x = v[k]
    if (typeof x !== 'string') {
      err(`$.request.${k}`, `request.${k} must be a string`)
      return undefined
    }
    return x
  }
  const principal = field('principal')
  const principalAccount = field('principalAccount')
  const action = field('action')
  const resource = field('resource')
  const resourceAccount = field('resourceAccount')
  const context: Record<string, string | string[]> = {}
  const c = v.context ?? {}
  if (typeof c !== 'object' || Array.isArray(c))
    err('$.request.context', 'request.context must be an object')
  else {
    for (const [k, x] of Object.entries(c)) {
      if (typeof x === 'string') context[k] = x
      else if (Array.isArray(x) && x.every((y) => typeof y === 'string')) context[k] = x
      else
        err(
          `$.request.context${pathKey('', k)}`,
          `context value of \`${k}\` must be a string or an array of strings`,
        )
    }
  }
  if (
    principal === undefined ||
    principalAccount === undefined ||
    action === undefined ||
    resource === undefined ||
    resourceAccount === undefined
  )
    return undefined
  return { principal, principalAccount, action, resource, resourceAccount, context }
}

export function simulate(input: SimulationInput, explain: boolean): SimulationResult {
  const r = authorize(input.request, input.policies, { explain })
  return r.trace === undefined
    ? { id: input.id, decision: r.decision, warnings: [] }
    : { id: input.id, decision: r.decision, trace: r.trace, warnings: [] }
}
