/**
 * What a rule can ask of an event: a path into the CloudTrail record (`eventName`,
 * `requestParameters.verdict`, `resources[].accountId`, `strongroom.bytesOut`) or one of the
 * derived fields below, computed once per event and only when a rule asks.
 *
 * Every event is attacker-influenced (user agent, request parameters, policy text), and the
 * stream may carry records that are not events at all: nothing here assumes a shape, every
 * read checks its type, and every count, length and depth is bounded.
 */
import { publicStatement } from '../../iam/public.ts'
import type { JsonValue } from '../../iam/json.ts'
import { parsePolicy } from '../../iam/policy.ts'
import type { Scalar } from './rules.ts'

/** The fields the engine computes, each documented in docs/detection.md. */
export const DERIVED_FIELDS = [
  // The caller as a stable identity: the role's ARN for a role session (its session names
  // change with every AssumeRole), the ARN otherwise, the service for a service event
  // (`strongroom.internal`), `anonymous` for an unsigned request.
  'principal',
  // userIdentity.accountId: the caller's tenant (`anonymous` for an unsigned request).
  'callerAccount',
  // The accounts that own what the request names: recipientAccountId and resources[].accountId.
  'resourceAccounts',
  // resourceAccounts other than the caller's (all of them for an anonymous caller).
  'foreignAccounts',
  // sourceIPAddress as its network: an IPv4 /24 or an IPv6 /48; anything else as it is.
  'sourceNetwork',
  // vpcEndpointId, or `public` when the request did not come through an endpoint.
  'endpoint',
  // The user agent's first product name, lowercased: `aws-cli`, `boto3`, `rclone`, `curl`.
  'userAgentFamily',
  // Objects the request touched: DeleteObjects counts its keys, anything else 1.
  'objectCount',
  // The policy a request writes (bucketPolicy or policyDocument): does it allow everyone,
  // allow every action, and which actions does it allow.
  'policy.grantsPublic',
  'policy.grantsAllActions',
  'policy.allowedActions',
] as const
export type DerivedField = (typeof DERIVED_FIELDS)[number]

/** The top-level keys of a CloudTrail record (record contents, event version 1.11). */
const RECORD_KEYS = new Set([
  'eventVersion',
  'eventTime',
  'eventSource',
  'eventName',
  'awsRegion',
  'sourceIPAddress',
  'userAgent',
  'userIdentity',
  'requestParameters',
  'responseElements',
  'additionalEventData',
  'requestID',
  'eventID',
  'readOnly',
  'resources',
  'eventType',
  'recipientAccountId',
  'vpcEndpointId',
  'tlsDetails',
  'errorCode',
  'errorMessage',
  'serviceEventDetails',
  'strongroom',
])

const DERIVED = new Set<string>(DERIVED_FIELDS)
const SEGMENT = /^[A-Za-z_][\w:-]{0,63}(\[\])?$/
const MAX_SEGMENTS = 8
/** Values one field may yield; past this the rest are not looked at. */
const MAX_VALUES = 1000
/** Policy text longer than IAM's own limits is not parsed (IAM: 6,144 managed, S3: 20 KiB). */
const MAX_POLICY_CHARS = 131_072
const MAX_STATEMENTS = 1000

/** Why `field` is not a field a rule may name, or undefined when it is one. */
export function fieldProblem(field: string): string | undefined {
  if (DERIVED.has(field)) return undefined
  const parts = field.split('.')
  if (parts.length > MAX_SEGMENTS || !parts.every((p) => SEGMENT.test(p)))
    return 'is not a field path (names separated by `.`, `[]` after an array)'
  const top = (parts[0] ?? '').replace(/\[\]$/, '')
  if (!RECORD_KEYS.has(top))
    return `is neither a derived field nor a path into a CloudTrail record (\`${top}\` is not a record key)`
  return undefined
}

type Rec = Readonly<Record<string, unknown>>

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function get(v: unknown, key: string): unknown {
  return isRec(v) && Object.hasOwn(v, key) ? v[key] : undefined
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** The values at `path` (non-null leaves; arrays flattened only where the path says `[]`). */
function atPath(root: unknown, path: string): unknown[] {
  let cur: unknown[] = [root]
  for (const seg of path.split('.')) {
    const flat = seg.endsWith('[]')
    const key = flat ? seg.slice(0, -2) : seg
    const next: unknown[] = []
    for (const v of cur) {
      const x = get(v, key)
      if (x === undefined || x === null) continue
      if (!flat) next.push(x)
      else if (Array.isArray(x))
        for (const y of x.slice(0, MAX_VALUES)) if (y !== undefined && y !== null) next.push(y)
      if (next.length >= MAX_VALUES) break
    }
    cur = next
  }
  return cur
}

/**
 * One event as rules see it. Fields are computed on first use and kept for the other rules
 * that read the same event.
 */
export class EventView {
  readonly raw: Rec
  private readonly memo = new Map<string, readonly unknown[]>()

  constructor(raw: Rec) {
    this.raw = raw
  }

  /** Every value of `field`: scalars, or objects and arrays where the path ends on one. */
  values(field: string): readonly unknown[] {
    let v = this.memo.get(field)
    if (v === undefined) {
      v = DERIVED.has(field) ? this.derive(field as DerivedField) : atPath(this.raw, field)
      this.memo.set(field, v)
    }
    return v
  }

  /** The scalar values of `field` (strings, finite numbers, booleans). */
  scalars(field: string): Scalar[] {
    return this.values(field).filter(
      (v): v is Scalar =>
        typeof v === 'string' ||
        typeof v === 'boolean' ||
        (typeof v === 'number' && Number.isFinite(v)),
    )
  }

  /** The field's values as one text (`-` when it has none), for groups and summaries. */
  text(field: string): string {
    const s = [...new Set(this.scalars(field).map(String))]
    return s.length === 0 ? '-' : s.join(',')
  }

  str(key: string): string | undefined {
    return str(get(this.raw, key))
  }

  private derive(f: DerivedField): readonly unknown[] {
    const one = (v: unknown) => (v === undefined ? [] : [v])
    const ui = get(this.raw, 'userIdentity')
    switch (f) {
      case 'principal':
        return [principalOf(ui)]
      case 'callerAccount':
        return one(str(get(ui, 'accountId')))
      case 'resourceAccounts':
        return resourceAccounts(this.raw)
      case 'foreignAccounts': {
        const caller = str(get(ui, 'accountId'))
        if (caller === undefined) return []
        return resourceAccounts(this.raw).filter((a) => caller === 'anonymous' || a !== caller)
      }
      case 'sourceNetwork':
        return one(networkOf(this.str('sourceIPAddress')))
      case 'endpoint':
        return [this.str('vpcEndpointId') ?? 'public']
      case 'userAgentFamily':
        return one(agentFamily(this.str('userAgent')))
      case 'objectCount':
        return [objectCount(this.raw)]
      case 'policy.grantsPublic':
        return one(policyOf(this.raw)?.public)
      case 'policy.grantsAllActions':
        return one(policyOf(this.raw)?.allActions)
      case 'policy.allowedActions':
        return policyOf(this.raw)?.actions ?? []
    }
  }
}

function principalOf(ui: unknown): string {
  // Strongroom's own service events (a scan verdict) name the service that acted.
  if (get(ui, 'type') === 'AWSService') return str(get(ui, 'invokedBy')) ?? 'anonymous'
  if (get(ui, 'type') === 'AssumedRole') {
    const role = str(get(get(get(ui, 'sessionContext'), 'sessionIssuer'), 'arn'))
    if (role !== undefined) return role
  }
  return str(get(ui, 'arn')) ?? 'anonymous'
}

function resourceAccounts(raw: Rec): string[] {
  const out = new Set<string>()
  const r = str(get(raw, 'recipientAccountId'))
  if (r !== undefined) out.add(r)
  for (const a of atPath(raw, 'resources[].accountId'))
    if (typeof a === 'string' && a !== '') out.add(a)
  return [...out]
}

/** `a.b.c.0/24` for IPv4, `x:y:z::/48` for IPv6, the value itself for anything else. */
export function networkOf(ip: string | undefined): string | undefined {
  if (ip === undefined || ip.length > 64) return ip?.slice(0, 64)
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (v4 !== null && v4.slice(1).every((o) => Number(o) <= 255))
    return `${v4[1] ?? ''}.${v4[2] ?? ''}.${v4[3] ?? ''}.0/24`
  const groups = ipv6Groups(ip)
  if (groups === undefined) return ip
  return `${groups.slice(0, 3).join(':')}::/48`
}

/** The eight groups of an IPv6 address (normalised hex), or undefined when it is not one. */
function ipv6Groups(ip: string): string[] | undefined {
  let s = ip.replace(/%.*$/, '').toLowerCase()
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (tail !== null) {
    const o = tail.slice(1).map(Number)
    if (o.some((x) => x > 255)) return undefined
    const [a = 0, b = 0, c = 0, d = 0] = o
    s = s.slice(0, tail.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const split = (h: string | undefined) => (h === undefined || h === '' ? [] : h.split(':'))
  const head = split(halves[0])
  const rest = split(halves[1])
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined
  return all.map((g) => g.replace(/^0+(?=.)/, ''))
}

/** The first product token of a user agent, lowercased and bounded. */
export function agentFamily(ua: string | undefined): string | undefined {
  if (ua === undefined) return undefined
  const m = /^\s*\[?([^\s/();[\]]{1,64})/.exec(ua)
  return m?.[1]?.toLowerCase()
}

function objectCount(raw: Rec): number {
  if (get(raw, 'eventName') !== 'DeleteObjects') return 1
  const rp = get(raw, 'requestParameters')
  const objects = get(get(rp, 'delete') ?? get(rp, 'Delete'), 'Object')
  if (Array.isArray(objects)) return Math.min(objects.length, 100_000)
  // The gateway's own events name each key it decided (one evaluation a key).
  const decided = get(get(raw, 'strongroom'), 'evaluations')
  const deletes = Array.isArray(decided)
    ? decided.filter((d) => /^s3:DeleteObject(Version)?$/.test(String(get(d, 'action')))).length
    : 0
  return Math.max(1, Math.min(deletes, 100_000))
}

interface PolicyFacts {
  readonly public: boolean
  readonly allActions: boolean
  readonly actions: readonly string[]
}

const policyMemo = new WeakMap<Rec, PolicyFacts | null>()

/** What the policy the request writes allows; undefined when it writes none (or not JSON). */
function policyOf(raw: Rec): PolicyFacts | undefined {
  let p = policyMemo.get(raw)
  if (p === undefined) {
    p = analysePolicy(policyDocument(raw)) ?? null
    policyMemo.set(raw, p)
  }
  return p ?? undefined
}

function policyDocument(raw: Rec): unknown {
  const rp = get(raw, 'requestParameters')
  for (const key of ['bucketPolicy', 'policyDocument', 'policy']) {
    const v = get(rp, key)
    if (isRec(v)) return v
    if (typeof v === 'string' && v.length <= MAX_POLICY_CHARS) {
      try {
        return JSON.parse(v) as unknown
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v.slice(0, MAX_VALUES) : v === undefined ? [] : [v]
}

function analysePolicy(doc: unknown): PolicyFacts | undefined {
  if (!isRec(doc)) return undefined
  let pub = false
  let all = false
  const actions = new Set<string>()
  for (const st of list(get(doc, 'Statement')).slice(0, MAX_STATEMENTS)) {
    if (!isRec(st) || get(st, 'Effect') !== 'Allow') continue
    if (get(st, 'NotAction') !== undefined) all = true
    for (const a of list(get(st, 'Action')))
      if (typeof a === 'string' && actions.size < MAX_VALUES) {
        actions.add(a)
        if (a === '*' || a === '*:*') all = true
      }
  }
  // Public as S3 means it: the gateway's own rule (src/iam/public.ts), on the policy as
  // the IAM engine reads it; a document that engine refuses was refused to the caller too.
  const parsed = parsePolicy(doc as JsonValue, 'resource')
  if (parsed.policy !== undefined && publicStatement(parsed.policy) !== undefined) pub = true
  return { public: pub, allActions: all, actions: [...actions] }
}
