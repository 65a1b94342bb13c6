/**
 * Least-privilege lint: warnings, never errors, for valid policies that grant
 * more than their author probably meant. Each warning names the statement.
 * Sources: IAM's security best practices
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html) and
 * the NotAction / NotResource / NotPrincipal element pages.
 */
import { SERVICE_PREFIXES, SERVICES } from './catalogue/index.ts'
import { globMatch } from './match.ts'
import type { Policy, Statement } from './policy.ts'

export interface Finding {
  readonly code: string
  readonly path: string
  readonly message: string
}

/**
 * Actions that let a principal raise its own privileges (each alone, or
 * iam:PassRole with a service that runs code as the passed role).
 */
export const ESCALATION_ACTIONS = [
  'iam:createpolicyversion',
  'iam:setdefaultpolicyversion',
  'iam:attachuserpolicy',
  'iam:attachgrouppolicy',
  'iam:attachrolepolicy',
  'iam:putuserpolicy',
  'iam:putgrouppolicy',
  'iam:putrolepolicy',
  'iam:addusertogroup',
  'iam:updateassumerolepolicy',
  'iam:createaccesskey',
  'iam:createloginprofile',
  'iam:updateloginprofile',
  'iam:putuserpermissionsboundary',
  'iam:deleteuserpermissionsboundary',
  'iam:putrolepermissionsboundary',
  'iam:deleterolepermissionsboundary',
] as const

/** Keys whose negated test inside an Allow usually means the author wanted a Deny. */
const NETWORK_KEYS = new Set([
  'aws:sourcevpce',
  'aws:sourcevpc',
  'aws:sourceip',
  'aws:vpcsourceip',
  'aws:principalorgid',
  'aws:securetransport',
])

function grants(s: Statement, action: string): boolean {
  if (s.action !== undefined) return s.action.patterns.some((p) => globMatch(p, action))
  return s.notAction !== undefined && !s.notAction.patterns.some((p) => globMatch(p, action))
}

export function lintPolicy(policy: Policy, raw: string): Finding[] {
  const out: Finding[] = lintCatalogue(policy)
  const warn = (s: Statement, element: string | undefined, code: string, message: string) =>
    out.push({ code, path: element === undefined ? s.path : `${s.path}.${element}`, message })
  if (raw.includes('${') && policy.version !== '2012-10-17') {
    out.push({
      code: 'VariablesWithoutVersion',
      path: '$',
      message:
        '`${…}` is literal text here: policy variables are substituted only under "Version": "2012-10-17"',
    })
  }
  const identityLike =
    policy.kind === 'identity' || policy.kind === 'boundary' || policy.kind === 'session'
  for (const s of policy.statements) {
    if (s.effect !== 'Allow') continue
    if (s.notAction !== undefined)
      warn(
        s,
        'NotAction',
        'AllowWithNotAction',
        'Allow with NotAction grants every other action, including ones added to AWS later; list the actions instead',
      )
    if (s.notResource !== undefined)
      warn(
        s,
        'NotResource',
        'AllowWithNotResource',
        'Allow with NotResource grants every other resource; list the resources instead',
      )
    if (s.notPrincipal !== undefined)
      warn(
        s,
        'NotPrincipal',
        'AllowWithNotPrincipal',
        'Allow with NotPrincipal grants everyone else, anonymous callers included',
      )
    if (s.action?.raw.includes('*') === true)
      warn(s, 'Action', 'WildcardAction', 'Action "*" grants every action of every service')
    else {
      const services = s.action?.raw.filter((a) => /^[^:]+:\*$/.test(a)) ?? []
      if (services.length > 0)
        warn(
          s,
          'Action',
          'WildcardAction',
          `${services.map((a) => `\`${a}\``).join(', ')} grants every action of the service; name the actions needed`,
        )
    }
    if (
      identityLike &&
      s.resource?.some((t) => t.source === '*') === true &&
      s.action?.raw.some((a) => !/:(Get|List|Describe)/i.test(a)) === true
    ) {
      warn(
        s,
        'Resource',
        'WildcardResource',
        'Resource "*" with actions that change things: scope the resources',
      )
    }
    if (
      grants(s, 'iam:passrole') &&
      (s.resource === undefined ||
        s.resource.some((t) => t.source === '*' || t.source.endsWith(':role/*')))
    ) {
      warn(
        s,
        'Action',
        'PassRoleToAnyRole',
        'iam:PassRole on every role lets the holder hand any role, admin ones included, to a service it controls',
      )
    }
    const escalations = ESCALATION_ACTIONS.filter((a) => grants(s, a))
    if (escalations.length > 0 && identityLike) {
      warn(
        s,
        'Action',
        'PrivilegeEscalation',
        `grants ${escalations.slice(0, 4).join(', ')}${escalations.length > 4 ? ` and ${escalations.length - 4} more` : ''}: each lets a principal raise its own permissions`,
      )
    }
    const isPublic = s.principal?.wildcard === true
    if (isPublic && s.conditions.length === 0)
      warn(
        s,
        'Principal',
        'PublicPrincipal',
        'Principal "*" without a Condition grants access to anyone, anonymous callers included',
      )
    for (const c of s.conditions) {
      if (c.operator.base.negated && c.operator.set === undefined && NETWORK_KEYS.has(c.lkey)) {
        warn(
          s,
          'Condition',
          'InvertedCondition',
          `an Allow with ${c.operator.name} on \`${c.key}\` grants every request that does not come from there, including requests without the key; did you mean a Deny?`,
        )
      }
    }
  }
  return out
}

// ---- the catalogue: actions, condition keys and resource types AWS defines

const PREFIXES = new Set(SERVICE_PREFIXES)
/** Per catalogued service: lower-cased action -> its name as AWS writes it. */
const NAMES = new Map(
  Object.entries(SERVICES).map(([s, c]) => [
    s,
    new Map(Object.keys(c.actions).map((a) => [a.toLowerCase(), a])),
  ]),
)

interface KnownAction {
  readonly action: string
  readonly resources: readonly string[]
  readonly keys: readonly string[]
}

/** `*` and `?` as IAM means them, case-insensitively. */
function globRegex(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** Compiled once per catalogue string (a finite set: policy text never lands here). */
function cached(cache: Map<string, RegExp>, compile: (s: string) => RegExp) {
  return (s: string): RegExp => {
    let re = cache.get(s)
    if (re === undefined) cache.set(s, (re = compile(s)))
    return re
  }
}

/** A catalogue key (`s3:ExistingObjectTag/<key>`, `aws:RequestTag/${TagKey}`) as a test. */
const keyRegex = cached(new Map(), (key) => {
  const body = key
    .replace(/\$\{[^}]*\}|<[^>]*>/g, '\0')
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\0/g, '.+')
  return new RegExp(`^${body}$`, 'i')
})

/** An ARN format (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`) as a test. */
const arnRegex = cached(new Map(), (format) => {
  const vars = [...format.matchAll(/\$\{([^}]*)\}/g)]
  let body = ''
  let from = 0
  vars.forEach((m, i) => {
    body += format.slice(from, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    // The last part of a resource may hold `/` (object keys, paths), but never a bucket name.
    body += i === vars.length - 1 && m[1] !== 'BucketName' ? '.+' : '[^:/]+'
    from = m.index + m[0].length
  })
  return new RegExp(`^${body}${format.slice(from).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'i')
})

/** Some strings the Resource pattern matches: each `*` tried as one segment and as two. */
function samples(resource: string): string[] {
  const base = resource.replace(/\$\{[^}]*\}/g, 'x').replace(/\?/g, 'x')
  const stars = base.split('*').length - 1
  if (stars === 0) return [base]
  if (stars > 4) return [base.replaceAll('*', 'x'), base.replaceAll('*', 'x/x')]
  const out: string[] = []
  for (let mask = 0; mask < 1 << stars; mask++) {
    let i = 0
    out.push(base.replace(/\*/g, () => ((mask >> i++) & 1 ? 'x/x' : 'x')))
  }
  return out
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    prev = row
  }
  return prev[b.length] ?? 0
}

/** The nearest candidate, if it is near enough to be a likely typo. */
function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  const w = word.toLowerCase()
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase())
    if (d < bestD) [best, bestD] = [c, d]
  }
  return bestD <= Math.max(2, Math.floor(w.length / 3)) ? best : undefined
}

const didYouMean = (s: string | undefined) => (s === undefined ? '' : `; did you mean \`${s}\`?`)

/**
 * The catalogue's actions a statement's Action entry names; undefined when it
 * cannot tell (`*`, or a service Strongroom has no catalogue of).
 */
function resolveAction(
  raw: string,
  warn: (code: string, message: string) => void,
): KnownAction[] | undefined {
  const colon = raw.indexOf(':')
  if (colon < 0) return undefined
  const service = raw.slice(0, colon).toLowerCase()
  const name = raw.slice(colon + 1)
  if (!PREFIXES.has(service) && !/[*?]/.test(service)) {
    warn(
      'UnknownService',
      `no service has the prefix \`${raw.slice(0, colon)}\` (in \`${raw}\`)${didYouMean(closest(service, PREFIXES))}`,
    )
    return []
  }
  const catalogue = SERVICES[service]
  const names = NAMES.get(service)
  if (catalogue === undefined || names === undefined) return undefined
  const known = (a: string): KnownAction => {
    const [resources = [], keys = []] = catalogue.actions[a] ?? []
    return { action: `${service}:${a}`, resources, keys }
  }
  if (/[*?]/.test(name)) {
    const re = globRegex(name)
    const hits = [...names.values()].filter((a) => re.test(a))
    if (hits.length === 0) warn('UnknownAction', `\`${raw}\` matches no action of ${service}`)
    return hits.map(known)
  }
  const a = names.get(name.toLowerCase())
  if (a !== undefined) return [known(a)]
  warn(
    'UnknownAction',
    `\`${raw}\` is not an action of ${service}${didYouMean(
      ((a) => (a === undefined ? undefined : `${service}:${a}`))(closest(name, names.values())),
    )}`,
  )
  return []
}

/**
 * As IAM Access Analyzer's policy checks do
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html),
 * from AWS's Service Authorization Reference (src/iam/catalogue/): actions no
 * service defines, condition keys that no action of the statement carries, and
 * resources of a type the action does not act on. All are warnings: a policy
 * naming them is valid, it just does not do what it says.
 */
export function lintCatalogue(policy: Policy): Finding[] {
  const out: Finding[] = []
  for (const s of policy.statements) {
    if (s.action === undefined && s.notAction === undefined) continue
    const groups: { raw: string; actions: KnownAction[] }[] = []
    let complete = s.action !== undefined
    for (const raw of (s.action ?? s.notAction)?.raw ?? []) {
      const element = s.action === undefined ? 'NotAction' : 'Action'
      const actions = resolveAction(raw, (code, message) =>
        out.push({ code, path: `${s.path}.${element}`, message }),
      )
      if (actions === undefined) complete = false
      else if (actions.length > 0) groups.push({ raw, actions })
    }
    // Keys and resources can be judged only when every action the statement names is known.
    if (!complete || groups.length === 0) continue
    const all = groups.flatMap((g) => g.actions)
    const names = groups.map((g) => `\`${g.raw}\``).join(', ')
    for (const c of s.conditions) {
      const service = c.key.slice(0, c.key.indexOf(':')).toLowerCase()
      if (SERVICES[service] === undefined) continue
      if (all.some((a) => a.keys.some((k) => keyRegex(k).test(c.key)))) continue
      const near = closest(
        c.key,
        all.flatMap((a) => a.keys).filter((k) => k.toLowerCase().startsWith(`${service}:`)),
      )
      out.push({
        code: 'UnsupportedConditionKey',
        path: `${s.path}.Condition`,
        message: `no action of the statement (${names}) carries the condition key \`${c.key}\`: requests for them never have it${didYouMean(near)}`,
      })
    }
    const resources = s.resource?.map((t) => t.source)
    if (resources === undefined || resources.includes('*')) continue
    const tried = resources.map(samples)
    const accepts = (a: KnownAction) =>
      a.resources.some((type) => {
        const format = SERVICES[a.action.slice(0, a.action.indexOf(':'))]?.resources[type]
        if (format === undefined) return true
        const re = arnRegex(format)
        return tried.some((xs) => xs.some((x) => re.test(x)))
      })
    for (const g of groups) {
      // A wildcard is fine if any action it matches takes one of the resources.
      if (g.actions.some((a) => a.resources.length > 0 && accepts(a))) continue
      const a = g.actions[0]
      if (a === undefined) continue
      const service = a.action.slice(0, a.action.indexOf(':'))
      const types = [...new Set(g.actions.flatMap((x) => x.resources))]
      out.push({
        code: 'UnsupportedResource',
        path: `${s.path}.Resource`,
        message:
          types.length === 0
            ? `\`${g.raw}\` acts on no particular resource: only "Resource": "*" applies to it`
            : `\`${g.raw}\` acts on ${types.map((t) => `${t} (${SERVICES[service]?.resources[t] ?? ''})`).join(', ')}; no resource of the statement is one`,
      })
    }
  }
  return out
}
