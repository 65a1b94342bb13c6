/**
 * Condition operators, compiled once per policy. Semantics, from AWS's
 * condition-operator and multivalued-key pages
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
 *  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
 *
 * - several values for one key are ORed; several keys and operators are ANDed;
 * - an absent key makes an operator false, except negated operators (true),
 *   `...IfExists` (true) and `Null` (which tests presence);
 * - ForAnyValue: some request value satisfies the operator (false when absent, with
 *   IfExists too);
 *   ForAllValues: every request value does (true when absent or empty);
 *   a negated operator under a set qualifier is negated per value;
 * - without a qualifier, a multivalued request key matches when any value matches
 *   (negated: when none does).
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from './match.ts'
import { Template, type Context } from './variables.ts'

type Family = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'Ip' | 'Arn' | 'Null'

interface BaseOp {
  readonly family: Family
  readonly negated: boolean
  readonly variant: 'equals' | 'ignorecase' | 'like' | 'lt' | 'lte' | 'gt' | 'gte'
}

const BASE: Readonly<Record<string, BaseOp>> = {
  StringEquals: { family: 'String', negated: false, variant: 'equals' },
  StringNotEquals: { family: 'String', negated: true, variant: 'equals' },
  StringEqualsIgnoreCase: { family: 'String', negated: false, variant: 'ignorecase' },
  StringNotEqualsIgnoreCase: { family: 'String', negated: true, variant: 'ignorecase' },
  StringLike: { family: 'String', negated: false, variant: 'like' },
  StringNotLike: { family: 'String', negated: true, variant: 'like' },
  NumericEquals: { family: 'Numeric', negated: false, variant: 'equals' },
  NumericNotEquals: { family: 'Numeric', negated: true, variant: 'equals' },
  NumericLessThan: { family: 'Numeric', negated: false, variant: 'lt' },
  NumericLessThanEquals: { family: 'Numeric', negated: false, variant: 'lte' },
  NumericGreaterThan: { family: 'Numeric', negated: false, variant: 'gt' },
  NumericGreaterThanEquals: { family: 'Numeric', negated: false, variant: 'gte' },
  DateEquals: { family: 'Date', negated: false, variant: 'equals' },
  DateNotEquals: { family: 'Date', negated: true, variant: 'equals' },
  DateLessThan: { family: 'Date', negated: false, variant: 'lt' },
  DateLessThanEquals: { family: 'Date', negated: false, variant: 'lte' },
  DateGreaterThan: { family: 'Date', negated: false, variant: 'gt' },
  DateGreaterThanEquals: { family: 'Date', negated: false, variant: 'gte' },
  Bool: { family: 'Bool', negated: false, variant: 'equals' },
  BinaryEquals: { family: 'Binary', negated: false, variant: 'equals' },
  IpAddress: { family: 'Ip', negated: false, variant: 'equals' },
  NotIpAddress: { family: 'Ip', negated: true, variant: 'equals' },
  ArnEquals: { family: 'Arn', negated: false, variant: 'like' },
  ArnLike: { family: 'Arn', negated: false, variant: 'like' },
  ArnNotEquals: { family: 'Arn', negated: true, variant: 'like' },
  ArnNotLike: { family: 'Arn', negated: true, variant: 'like' },
  Null: { family: 'Null', negated: false, variant: 'equals' },
}

/** Families whose values may hold policy variables (AWS: string, ARN and Boolean operators). */
const VARIABLES_ALLOWED: ReadonlySet<Family> = new Set(['String', 'Arn', 'Bool'])

export interface ParsedOperator {
  readonly name: string
  readonly base: BaseOp
  readonly set: 'any' | 'all' | undefined
  readonly ifExists: boolean
}

/** Parses an operator name; returns an error message when it is not one. */
export function parseOperator(name: string): ParsedOperator | string {
  let rest = name
  let set: 'any' | 'all' | undefined
  if (rest.startsWith('ForAnyValue:')) {
    set = 'any'
    rest = rest.slice(12)
  } else if (rest.startsWith('ForAllValues:')) {
    set = 'all'
    rest = rest.slice(13)
  }
  let ifExists = false
  if (rest.endsWith('IfExists')) {
    ifExists = true
    rest = rest.slice(0, -8)
  }
  const base = Object.hasOwn(BASE, rest) ? BASE[rest] : undefined
  if (base === undefined) return `unknown condition operator \`${name}\``
  if (base.family === 'Null' && (ifExists || set !== undefined))
    return `\`${name}\` is not valid: Null takes no IfExists or set qualifier`
  return { name, base, set, ifExists }
}

export interface ConditionFailure {
  readonly operator: string
  readonly key: string
  readonly reason: string
}

/** One operator applied to one key, with the policy values compiled for its family. */
export class CompiledCondition {
  readonly operator: ParsedOperator
  /** As written in the policy. */
  readonly key: string
  readonly lkey: string
  readonly raw: readonly string[]
  private readonly templates: readonly Template[]
  private readonly numbers: readonly number[]
  private readonly cidrs: readonly Cidr[]
  private readonly nullWant: boolean

  /** `values` are the policy's values as strings; throws a message string when one is malformed. */
  constructor(
    operator: ParsedOperator,
    key: string,
    values: readonly string[],
    substitute: boolean,
  ) {
    this.operator = operator
    this.key = key
    this.lkey = key.toLowerCase()
    this.raw = values
    const fam = operator.base.family
    const allowVars = substitute && VARIABLES_ALLOWED.has(fam)
    if (substitute && !VARIABLES_ALLOWED.has(fam)) {
      for (const v of values) {
        if (/\$\{[^}]*\}/.test(v) && !/^\$\{[*?$]\}$/.test(v))
          throw new Error(`policy variables are not allowed in ${operator.name} values (\`${v}\`)`)
      }
    }
    this.templates =
      fam === 'String' || fam === 'Arn' || fam === 'Bool'
        ? values.map((v) => new Template(v, allowVars))
        : []
    this.numbers = []
    this.cidrs = []
    this.nullWant = false
    switch (fam) {
      case 'Numeric':
        this.numbers = values.map((v) => {
          const n = parseNumber(v)
          if (n === undefined) throw new Error(`\`${v}\` is not a number (${operator.name})`)
          return n
        })
        break
      case 'Date':
        this.numbers = values.map((v) => {
          const n = parseDate(v)
          if (n === undefined)
            throw new Error(
              `\`${v}\` is not a date: use ISO 8601 (2026-01-31T12:00:00Z) or epoch seconds (${operator.name})`,
            )
          return n
        })
        break
      case 'Ip':
        this.cidrs = values.map((v) => {
          const c = parseCidr(v)
          if (c === undefined)
            throw new Error(`\`${v}\` is not an IP address or CIDR range (${operator.name})`)
          return c
        })
        break
      case 'Bool':
      case 'Null':
        for (const v of values) {
          if (!/^(true|false)$/i.test(v) && !(fam === 'Bool' && v.includes('${'))) {
            throw new Error(`\`${v}\` is not true or false (${operator.name})`)
          }
        }
        this.nullWant = values.some((v) => v.toLowerCase() === 'true')
        if (fam === 'Null' && values.some((v) => v.toLowerCase() !== values[0]?.toLowerCase())) {
          throw new Error(`${operator.name} on \`${key}\` has both true and false`)
        }
        break
      case 'Binary':
        for (const v of values) {
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0)
            throw new Error(`\`${v}\` is not base64 (${operator.name})`)
        }
        break
      case 'String':
      case 'Arn':
        break
    }
  }

  /** Policy value `i` matches request value `v` (in the operator's positive sense). */
  private one(i: number, v: string, ctx: Context): boolean {
    const { family, variant } = this.operator.base
    switch (family) {
      case 'String': {
        const t = this.templates[i]
        if (t === undefined) return false
        if (variant === 'like') return t.matchGlob(v, ctx)
        const s = t.string(ctx)
        if (s === undefined) return false
        return variant === 'ignorecase' ? s.toLowerCase() === v.toLowerCase() : s === v
      }
      case 'Arn':
        return this.templates[i]?.matchArn(v, ctx) === true
      case 'Bool': {
        const s = this.templates[i]?.string(ctx)
        return s !== undefined && s.toLowerCase() === v.toLowerCase()
      }
      case 'Numeric':
      case 'Date': {
        const want = this.numbers[i]
        const got = family === 'Numeric' ? parseNumber(v) : parseDate(v)
        if (want === undefined || got === undefined) return false
        switch (variant) {
          case 'lt':
            return got < want
          case 'lte':
            return got <= want
          case 'gt':
            return got > want
          case 'gte':
            return got >= want
          case 'equals':
          case 'ignorecase':
          case 'like':
            return got === want
        }
        return false
      }
      case 'Ip': {
        const c = this.cidrs[i]
        const ip = parseIp(v)
        return c !== undefined && ip !== undefined && cidrContains(c, ip)
      }
      case 'Binary':
        return base64Equal(this.raw[i] ?? '', v)
      case 'Null':
        return false
    }
  }

  private anyPolicyValue(v: string, ctx: Context): boolean {
    for (let i = 0; i < this.raw.length; i++) if (this.one(i, v, ctx)) return true
    return false
  }

  /** Evaluates against the request context. */
  test(ctx: Context): boolean {
    const values = ctx.get(this.lkey)
    const { base, set, ifExists } = this.operator
    if (base.family === 'Null')
      return (values === undefined || values.length === 0) === this.nullWant
    if (values === undefined || (set !== undefined && values.length === 0)) {
      // ForAnyValue is false for an absent key, IfExists or not: there is no value of which
      // any matches (the multivalued-key page; AWS answers ForAnyValue:StringEqualsIfExists
      // on an absent key with a denial). Read as true it would fail open in an Allow.
      if (set === 'any') return false
      if (ifExists) return true
      if (set === 'all') return true
      return base.negated
    }
    if (set === 'any') {
      for (const v of values) if (this.anyPolicyValue(v, ctx) !== base.negated) return true
      return false
    }
    if (set === 'all') {
      for (const v of values) if (this.anyPolicyValue(v, ctx) === base.negated) return false
      return true
    }
    let matched = false
    for (const v of values) {
      if (this.anyPolicyValue(v, ctx)) {
        matched = true
        break
      }
    }
    return matched !== base.negated
  }

  /** Why `test` was false, for explanations. */
  explain(ctx: Context): ConditionFailure {
    const values = ctx.get(this.lkey)
    const policy = this.raw.map((v) => `\`${v}\``).join(', ')
    const reason =
      this.operator.base.family === 'Null'
        ? `key is ${values === undefined ? 'absent' : 'present'}, the condition wants it ${this.nullWant ? 'absent' : 'present'}`
        : values === undefined
          ? 'key is absent from the request'
          : `request value${values.length === 1 ? '' : 's'} ${values.map((v) => `\`${v}\``).join(', ')} against ${policy}`
    return { operator: this.operator.name, key: this.key, reason }
  }
}

export function parseNumber(v: string): number | undefined {
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) return undefined
  const n = Number(v)
  return Number.isFinite(n) ? n : undefined
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** ISO 8601 (UTC unless an offset is given) or epoch seconds; milliseconds since the epoch. */
export function parseDate(v: string): number | undefined {
  const s = v.trim()
  if (/^-?\d{1,12}$/.test(s)) return Number(s) * 1000
  if (!ISO.test(s)) return undefined
  const withZone = /T/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s
  const t = Date.parse(withZone)
  return Number.isNaN(t) ? undefined : t
}

function base64Equal(a: string, b: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b)) return false
  return Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'))
}
