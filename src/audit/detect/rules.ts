/**
 * Detection rules as the engine sees them: what load.ts makes of `rules.yaml` once every key,
 * type and field name has been checked. The YAML format is in docs/detection.md; this file is
 * its checked form. A rule is data: the engine has one code path per kind, never per rule.
 */

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

export const KINDS = ['match', 'threshold', 'baseline', 'first-seen', 'cross-tenant'] as const
export type Kind = (typeof KINDS)[number]

/** What `equals` and `in` compare with: strictly, by type (`200` is not `'200'`). */
export type Scalar = string | number | boolean

/** One entry of a named list (`lists:` in the rules file), such as a penetration-testing agent. */
export interface ListEntry {
  readonly name: string
  /** Case-insensitive: the entry matches a value that contains `contains` or matches `regex`. */
  readonly pattern: RegExp
  readonly ref: string | undefined
}

/**
 * A predicate over one event. A field with several values (`resources[].accountId`,
 * `resourceAccounts`) satisfies a leaf when any one of its values does; a missing field
 * satisfies only `exists: false`.
 */
export type Condition =
  | { readonly op: 'equals'; readonly field: string; readonly value: Scalar }
  | { readonly op: 'in'; readonly field: string; readonly values: readonly Scalar[] }
  | { readonly op: 'regex'; readonly field: string; readonly regex: RegExp }
  | { readonly op: 'exists'; readonly field: string; readonly exists: boolean }
  | {
      readonly op: 'inList'
      readonly field: string
      readonly list: string
      readonly entries: readonly ListEntry[]
    }
  | { readonly op: 'all' | 'any'; readonly of: readonly Condition[] }
  | { readonly op: 'not'; readonly of: Condition }

interface RuleBase {
  readonly id: string
  readonly title: string
  readonly severity: Severity
  readonly description: string
  /** Events the rule looks at; undefined: every event. */
  readonly where: Condition | undefined
  /** The fields whose values name a group (state, suppression and the alert's `group`). */
  readonly groupBy: readonly string[]
  /** Seconds after an alert during which the same group raises no other (0: never suppressed). */
  readonly suppressSeconds: number
  /** Groups the rule keeps state for; the least recently seen is forgotten past this. */
  readonly maxGroups: number
  /** The alert's one-line summary, `{field}` replaced by the event's value; undefined: the kind's. */
  readonly summary: string | undefined
}

export interface MatchRule extends RuleBase {
  readonly kind: 'match'
}

/** At least `count` matching events for one group within `windowSeconds`. */
export interface ThresholdRule extends RuleBase {
  readonly kind: 'threshold'
  readonly count: number
  readonly windowSeconds: number
}

/**
 * A group's total for the current clock hour (events counted, or a field summed) reaching
 * `factor` times the median of its active hours (hours with a non-zero total) over the past
 * `historyDays`, and at least `minValue`; silent until the group has `minActiveHours` of history.
 */
export interface BaselineRule extends RuleBase {
  readonly kind: 'baseline'
  /** undefined: count events; otherwise the numeric field to sum (negative or missing: 0). */
  readonly sum: string | undefined
  readonly factor: number
  readonly historyDays: number
  readonly minActiveHours: number
  readonly minValue: number
}

/**
 * A value of `field` the group has not used before (or not within `retainDays`), once the
 * group has been seen for `learningDays`. Each group remembers at most `maxValues` values.
 */
export interface FirstSeenRule extends RuleBase {
  readonly kind: 'first-seen'
  readonly field: string
  readonly learningDays: number
  readonly retainDays: number
  readonly maxValues: number
}

/**
 * The caller's account differs from an account that owns what the request names
 * (`recipientAccountId`, `resources[].accountId`). Anonymous callers have no account and are
 * not cross-tenant unless `includeAnonymous`.
 */
export interface CrossTenantRule extends RuleBase {
  readonly kind: 'cross-tenant'
  readonly includeAnonymous: boolean
}

export type Rule = MatchRule | ThresholdRule | BaselineRule | FirstSeenRule | CrossTenantRule

/** Caps that hold whatever a rules file says: memory stays bounded by construction. */
export const LIMITS = {
  rules: 200,
  groupsPerRule: 100_000,
  thresholdCount: 10_000,
  firstSeenValues: 10_000,
  historyDays: 90,
  conditionDepth: 16,
  listEntries: 1_000,
  fileBytes: 1 << 20,
} as const

export const DEFAULT_MAX_GROUPS = 10_000

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }

/**
 * Seconds in a duration written as a whole number of seconds or as `<n>s|m|h|d` (`90s`,
 * `10m`, `1h`, `7d`); undefined for anything else.
 */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined
  if (typeof v !== 'string') return undefined
  const m = /^(\d{1,9})([smhd])$/.exec(v)
  if (m === null) return undefined
  return Number(m[1]) * (UNITS[m[2] ?? ''] ?? Number.NaN)
}
