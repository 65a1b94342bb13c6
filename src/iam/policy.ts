/**
 * Policy grammar: validation with errors that point at the place (JSON path
 * and line:column), and compilation into matchers. Validation fails closed:
 * a document with any error yields no policy, so nothing half-parsed is ever
 * evaluated. Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
 */
import { CompiledCondition, parseOperator } from './conditions.ts'
import { parseJson, pathKey, JsonSyntaxError, type JsonValue, type Located } from './json.ts'
import { lintPolicy } from './lint.ts'
import { compileMatcher, globPattern, lowerPattern, type Matcher, type Pattern } from './match.ts'
import { Template, type Context } from './variables.ts'

export type PolicyKind =
  'identity' | 'boundary' | 'session' | 'scp' | 'rcp' | 'resource' | 'key' | 'trust' | 'endpoint'

/**
 * Size limits in characters of the policy with white space removed (AWS does
 * not count white space): managed identity policies and boundaries 6,144;
 * SCPs and RCPs 5,120; session policies 2,048; role trust policies 2,048;
 * bucket policies 20,480; VPC endpoint policies 20,480; key policies 32,768.
 */
export const POLICY_SIZE_LIMITS: Readonly<Record<PolicyKind, number>> = {
  identity: 6144,
  boundary: 6144,
  session: 2048,
  scp: 5120,
  rcp: 5120,
  trust: 2048,
  resource: 20480,
  endpoint: 20480,
  key: 32768,
}

const NEEDS_PRINCIPAL: ReadonlySet<PolicyKind> = new Set([
  'resource',
  'key',
  'trust',
  'endpoint',
  'rcp',
])
const NEEDS_RESOURCE: ReadonlySet<PolicyKind> = new Set(['identity', 'boundary', 'session'])
/** Kinds where IAM itself rejects duplicate Sids; elsewhere a duplicate is a warning. */
const UNIQUE_SIDS: ReadonlySet<PolicyKind> = new Set([
  'identity',
  'boundary',
  'session',
  'scp',
  'rcp',
])

export interface Issue {
  readonly severity: 'error' | 'warning'
  readonly code: string
  readonly message: string
  /** JSON path, e.g. `$.Statement[1].Condition.StringEquals`. */
  readonly path: string
  readonly line: number
  readonly column: number
}

export interface PrincipalSpec {
  readonly wildcard: boolean
  readonly aws: readonly string[]
  readonly service: readonly string[]
  readonly federated: readonly string[]
  readonly canonicalUser: readonly string[]
  /** Compiled from `aws`: accounts named (by id or root ARN), role ARNs without their paths, exact ARNs. */
  readonly accounts: ReadonlySet<string>
  readonly roles: ReadonlySet<string>
  readonly exact: ReadonlySet<string>
}

/** `arn:aws:iam::ACCOUNT:root` or a bare account id: the account; role ARNs lose their path. */
function compilePrincipals(
  aws: readonly string[],
): Pick<PrincipalSpec, 'accounts' | 'roles' | 'exact'> {
  const accounts = new Set<string>()
  const roles = new Set<string>()
  const exact = new Set<string>()
  for (const v of aws) {
    const root = /^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):root$/.exec(v)
    const role = /^arn:(aws(?:-cn|-us-gov)?):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(v)
    if (/^\d{12}$/.test(v)) accounts.add(v)
    else if (root !== null) accounts.add(root[1] ?? '')
    else if (role !== null)
      roles.add(`arn:${role[1] ?? 'aws'}:iam::${role[2] ?? ''}:role/${role[3] ?? ''}`)
    exact.add(v)
  }
  return { accounts, roles, exact }
}

export interface ActionMatcher {
  readonly raw: readonly string[]
  /** Lower-cased patterns: actions match case-insensitively. */
  readonly patterns: readonly Pattern[]
  readonly tests: readonly Matcher[]
}

export interface Statement {
  readonly index: number
  readonly path: string
  readonly sid: string | undefined
  readonly effect: 'Allow' | 'Deny'
  readonly principal: PrincipalSpec | undefined
  readonly notPrincipal: PrincipalSpec | undefined
  readonly action: ActionMatcher | undefined
  readonly notAction: ActionMatcher | undefined
  readonly resource: readonly Template[] | undefined
  readonly notResource: readonly Template[] | undefined
  readonly conditions: readonly CompiledCondition[]
}

export interface Policy {
  readonly kind: PolicyKind
  readonly name: string
  readonly version: string | undefined
  readonly id: string | undefined
  readonly statements: readonly Statement[]
  /** Statements whose Action/NotAction admit an action, by lower-cased action. */
  readonly byAction: Map<string, readonly Statement[]>
}

export interface ParseResult {
  readonly policy: Policy | undefined
  readonly errors: readonly Issue[]
  readonly warnings: readonly Issue[]
}

export interface ParseOptions {
  readonly name?: string
  /** Positions from the document the policy was read from, and the policy's path inside it. */
  readonly positions?: ReadonlyMap<string, Located>
  readonly basePath?: string
  /**
   * Run the linter (warnings only: unknown actions, keys, resource types). On by default; off
   * where nobody reads warnings, such as a stored policy loaded to decide a request.
   */
  readonly lint?: boolean
}

/** Parses policy text (strict JSON: duplicate keys are errors). */
export function parsePolicyText(
  text: string,
  kind: PolicyKind,
  name = 'policy',
  options: { readonly lint?: boolean } = {},
): ParseResult {
  try {
    const { value, positions } = parseJson(text)
    return parsePolicy(value, kind, { name, positions, ...options })
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      return {
        policy: undefined,
        errors: [
          {
            severity: 'error',
            code: 'InvalidJson',
            message: e.message,
            path: '$',
            line: e.at.line,
            column: e.at.column,
          },
        ],
        warnings: [],
      }
    }
    throw e
  }
}

const ACTION = /^[a-zA-Z0-9-]+:[a-zA-Z0-9*?_-]+$/
const ACCOUNT = /^\d{12}$/
const AWS_PRINCIPAL =
  /^arn:aws(-cn|-us-gov)?:(iam::\d{12}:(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+)|sts::\d{12}:(assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+|federated-user\/[\w+=,.@-]+))$/
const SERVICE_PRINCIPAL = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/
const FEDERATED_PRINCIPAL =
  /^(arn:aws(-cn|-us-gov)?:iam::\d{12}:(oidc-provider|saml-provider)\/.+|[a-z0-9][a-z0-9.-]*[a-z0-9])$/
const CONDITION_KEY = /^[A-Za-z0-9_.:/-]+$/

/** Validates and compiles a policy given as a JSON value. */
export function parsePolicy(
  doc: JsonValue,
  kind: PolicyKind,
  options: ParseOptions = {},
): ParseResult {
  const base = options.basePath ?? '$'
  const errors: Issue[] = []
  const warnings: Issue[] = []
  const at = (path: string): Located => options.positions?.get(path) ?? { line: 0, column: 0 }
  const issue = (severity: 'error' | 'warning', code: string, path: string, message: string) => {
    const loc = at(path)
    ;(severity === 'error' ? errors : warnings).push({
      severity,
      code,
      message,
      path,
      line: loc.line,
      column: loc.column,
    })
  }
  const err = (code: string, path: string, message: string) => issue('error', code, path, message)

  if (!isObject(doc)) {
    err('InvalidPolicy', base, 'a policy must be a JSON object')
    return { policy: undefined, errors, warnings }
  }
  const size = JSON.stringify(doc).length
  if (size > POLICY_SIZE_LIMITS[kind]) {
    err(
      'PolicyTooLarge',
      base,
      `the ${kind} policy is ${size} characters without white space; the limit is ${POLICY_SIZE_LIMITS[kind]}`,
    )
  }
  for (const k of Object.keys(doc)) {
    if (k !== 'Version' && k !== 'Id' && k !== 'Statement')
      err(
        'UnknownElement',
        pathKey(base, k),
        `unknown policy element \`${k}\`; expected Version, Id or Statement`,
      )
  }
  const version = doc.Version
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    err(
      'InvalidVersion',
      pathKey(base, 'Version'),
      `Version must be "2012-10-17" or "2008-10-17", got ${JSON.stringify(version)}`,
    )
  }
  const substitute = version === '2012-10-17'
  if (doc.Id !== undefined && typeof doc.Id !== 'string')
    err('InvalidId', pathKey(base, 'Id'), 'Id must be a string')

  const stPath = pathKey(base, 'Statement')
  const rawStatements = doc.Statement
  let list: { value: JsonValue; path: string }[] = []
  if (rawStatements === undefined) err('MissingStatement', base, 'the policy has no Statement')
  else if (Array.isArray(rawStatements)) {
    if (rawStatements.length === 0) err('MissingStatement', stPath, 'Statement is an empty array')
    list = rawStatements.map((value, i) => ({ value, path: `${stPath}[${i}]` }))
  } else list = [{ value: rawStatements, path: stPath }]

  const statements: Statement[] = []
  const sids = new Map<string, string>()
  list.forEach(({ value: st, path }, index) => {
    if (!isObject(st)) {
      err('InvalidStatement', path, 'a statement must be a JSON object')
      return
    }
    const allowed = [
      'Sid',
      'Effect',
      'Principal',
      'NotPrincipal',
      'Action',
      'NotAction',
      'Resource',
      'NotResource',
      'Condition',
    ]
    for (const k of Object.keys(st)) {
      if (!allowed.includes(k))
        err(
          'UnknownElement',
          pathKey(path, k),
          `unknown statement element \`${k}\`; expected one of ${allowed.join(', ')}`,
        )
    }
    let sid: string | undefined
    if (st.Sid !== undefined) {
      if (typeof st.Sid !== 'string')
        err('InvalidSid', pathKey(path, 'Sid'), 'Sid must be a string')
      else {
        sid = st.Sid
        const prev = sids.get(sid)
        if (prev !== undefined) {
          issue(
            UNIQUE_SIDS.has(kind) ? 'error' : 'warning',
            'DuplicateSid',
            pathKey(path, 'Sid'),
            `Sid \`${sid}\` is also used at ${prev}; Sids must be unique within a policy`,
          )
        } else sids.set(sid, pathKey(path, 'Sid'))
      }
    }
    const effect = st.Effect
    if (effect !== 'Allow' && effect !== 'Deny') {
      err(
        'InvalidEffect',
        effect === undefined ? path : pathKey(path, 'Effect'),
        `Effect must be "Allow" or "Deny", got ${effect === undefined ? 'nothing' : JSON.stringify(effect)}`,
      )
    }
    const pair = (a: string, b: string, required: boolean) => {
      if (st[a] !== undefined && st[b] !== undefined)
        err('ConflictingElements', pathKey(path, b), `a statement cannot have both ${a} and ${b}`)
      else if (required && st[a] === undefined && st[b] === undefined)
        err('MissingElement', path, `the statement needs ${a} or ${b}`)
    }
    pair('Action', 'NotAction', true)
    pair('Resource', 'NotResource', NEEDS_RESOURCE.has(kind))
    pair('Principal', 'NotPrincipal', NEEDS_PRINCIPAL.has(kind))
    if (!NEEDS_PRINCIPAL.has(kind)) {
      for (const k of ['Principal', 'NotPrincipal']) {
        if (st[k] !== undefined)
          err(
            'PrincipalNotAllowed',
            pathKey(path, k),
            `${k} is not allowed in ${kind === 'scp' ? 'a service control' : `an ${kind}`} policy`,
          )
      }
    }

    const actions = (k: string): ActionMatcher | undefined => {
      const vals = strings(st[k], pathKey(path, k), `${k} entries`)
      if (vals === undefined) return undefined
      vals.forEach((a, i) => {
        if (a !== '*' && !ACTION.test(a))
          err(
            'InvalidAction',
            `${pathKey(path, k)}${Array.isArray(st[k]) ? `[${i}]` : ''}`,
            `\`${a}\` is not an action: use service:Action, wildcards allowed (s3:Get*), or *`,
          )
      })
      const patterns = vals.map((a) => lowerPattern(globPattern(a)))
      return { raw: vals, patterns, tests: patterns.map((p) => compileMatcher(p, false)) }
    }
    const resources = (k: string): Template[] | undefined => {
      const vals = strings(st[k], pathKey(path, k), `${k} entries`)
      if (vals === undefined) return undefined
      const out: Template[] = []
      vals.forEach((r, i) => {
        const p = `${pathKey(path, k)}${Array.isArray(st[k]) ? `[${i}]` : ''}`
        if (r !== '*' && !(r.startsWith('arn:') && r.split(':').length >= 6)) {
          err(
            'InvalidResource',
            p,
            `\`${r.slice(0, 100)}\` is not an ARN (arn:partition:service:region:account:resource) or *`,
          )
          return
        }
        try {
          out.push(new Template(r, substitute))
        } catch (e) {
          err('InvalidVariable', p, (e as Error).message)
        }
      })
      return out
    }
    const principals = (k: string): PrincipalSpec | undefined => {
      const v = st[k]
      const p = pathKey(path, k)
      if (v === undefined) return undefined
      if (v === '*') {
        return {
          wildcard: true,
          aws: [],
          service: [],
          federated: [],
          canonicalUser: [],
          ...compilePrincipals([]),
        }
      }
      if (!isObject(v)) {
        err(
          'InvalidPrincipal',
          p,
          `${k} must be "*" or an object with AWS, Service, Federated or CanonicalUser`,
        )
        return undefined
      }
      const spec = {
        wildcard: false,
        aws: [] as string[],
        service: [] as string[],
        federated: [] as string[],
        canonicalUser: [] as string[],
      }
      for (const [type, raw] of Object.entries(v)) {
        const tp = pathKey(p, type)
        const vals = strings(raw, tp, `${type} principals`) ?? []
        for (const val of vals) {
          const bad = (why: string) =>
            err(
              'InvalidPrincipal',
              tp,
              `\`${val.slice(0, 100)}\` is not a valid ${type} principal: ${why}`,
            )
          switch (type) {
            case 'AWS':
              if (val === '*') spec.wildcard = true
              else if (val.includes('*') || val.includes('?'))
                bad('wildcards are not allowed in principals, except a lone *')
              else if (!ACCOUNT.test(val) && !AWS_PRINCIPAL.test(val))
                bad(
                  'use a 12-digit account id or an IAM user, role, root, assumed-role or federated-user ARN',
                )
              else spec.aws.push(val)
              break
            case 'Service':
              if (!SERVICE_PRINCIPAL.test(val)) bad('use a service name such as s3.amazonaws.com')
              else spec.service.push(val)
              break
            case 'Federated':
              if (!FEDERATED_PRINCIPAL.test(val)) bad('use an identity provider ARN or domain')
              else spec.federated.push(val)
              break
            case 'CanonicalUser':
              if (!/^[0-9a-f]{64}$/.test(val)) bad('use a 64-character canonical user id')
              else spec.canonicalUser.push(val)
              break
            default:
              err(
                'InvalidPrincipal',
                tp,
                `unknown principal type \`${type}\`; expected AWS, Service, Federated or CanonicalUser`,
              )
          }
        }
      }
      return { ...spec, ...compilePrincipals(spec.aws) }
    }
    const conditions = (): CompiledCondition[] => {
      const c = st.Condition
      const cp = pathKey(path, 'Condition')
      if (c === undefined) return []
      if (!isObject(c)) {
        err('InvalidCondition', cp, 'Condition must be an object of operators')
        return []
      }
      const out: CompiledCondition[] = []
      for (const [opName, block] of Object.entries(c)) {
        const op = parseOperator(opName)
        const op_path = pathKey(cp, opName)
        if (typeof op === 'string') {
          err('InvalidOperator', op_path, op)
          continue
        }
        if (!isObject(block)) {
          err('InvalidCondition', op_path, `${opName} must map condition keys to values`)
          continue
        }
        for (const [key, raw] of Object.entries(block)) {
          const kp = pathKey(op_path, key)
          if (!CONDITION_KEY.test(key)) {
            err('InvalidConditionKey', kp, `\`${key}\` is not a condition key`)
            continue
          }
          const vals = scalars(raw, kp)
          if (vals === undefined) continue
          try {
            out.push(new CompiledCondition(op, key, vals, substitute))
          } catch (e) {
            err('InvalidConditionValue', kp, (e as Error).message)
          }
        }
      }
      return out
    }
    const statement: Statement = {
      index,
      path,
      sid,
      effect: effect === 'Deny' ? 'Deny' : 'Allow',
      principal: principals('Principal'),
      notPrincipal: principals('NotPrincipal'),
      action: actions('Action'),
      notAction: actions('NotAction'),
      resource: resources('Resource'),
      notResource: resources('NotResource'),
      conditions: conditions(),
    }
    statements.push(statement)
  })

  function strings(v: JsonValue | undefined, path: string, what: string): string[] | undefined {
    if (v === undefined) return undefined
    const arr = Array.isArray(v) ? v : [v]
    if (arr.length === 0) {
      err('EmptyValue', path, `${what} must not be an empty list`)
      return undefined
    }
    const out: string[] = []
    arr.forEach((x, i) => {
      if (typeof x !== 'string')
        err('InvalidValue', Array.isArray(v) ? `${path}[${i}]` : path, `${what} must be strings`)
      else out.push(x)
    })
    return out
  }
  function scalars(v: JsonValue, path: string): string[] | undefined {
    const arr = Array.isArray(v) ? v : [v]
    if (arr.length === 0) {
      err('EmptyValue', path, 'a condition key needs at least one value')
      return undefined
    }
    const out: string[] = []
    for (const x of arr) {
      if (typeof x === 'string') out.push(x)
      else if (typeof x === 'number' || typeof x === 'boolean') out.push(String(x))
      else {
        err('InvalidConditionValue', path, 'condition values must be strings, numbers or booleans')
        return undefined
      }
    }
    return out
  }

  if (errors.length > 0) return { policy: undefined, errors, warnings }
  const policy: Policy = {
    kind,
    name: options.name ?? 'policy',
    version: typeof version === 'string' ? version : undefined,
    id: typeof doc.Id === 'string' ? doc.Id : undefined,
    statements,
    byAction: new Map(),
  }
  if (options.lint !== false)
    for (const f of lintPolicy(policy, JSON.stringify(doc)))
      issue('warning', f.code, f.path, f.message)
  return { policy, errors, warnings }
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const CACHE_LIMIT = 4096

/** The statements of `policy` whose Action (or NotAction) admits `a` (lower-cased), memoised per action. */
export function statementsFor(policy: Policy, a: string): readonly Statement[] {
  const hit = policy.byAction.get(a)
  if (hit !== undefined) return hit
  const out = policy.statements.filter((s) => actionMatches(s, a))
  if (policy.byAction.size >= CACHE_LIMIT) policy.byAction.clear()
  policy.byAction.set(a, out)
  return out
}

/** `action` must be lower-cased. */
export function actionMatches(s: Statement, action: string): boolean {
  if (s.action !== undefined) return s.action.tests.some((t) => t(action))
  if (s.notAction !== undefined) return !s.notAction.tests.some((t) => t(action))
  return false
}

/** Resource or NotResource admits `resource`; an absent element admits everything. */
export function resourceMatches(s: Statement, resource: string, ctx: Context): boolean {
  if (s.resource !== undefined) return s.resource.some((t) => templateArnMatch(t, resource, ctx))
  if (s.notResource !== undefined)
    return !s.notResource.some((t) => templateArnMatch(t, resource, ctx))
  return true
}

function templateArnMatch(t: Template, resource: string, ctx: Context): boolean {
  return t.matchArn(resource, ctx)
}
