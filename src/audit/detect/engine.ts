/**
 * The detector: every rule over every event of the live audit stream, one pass, in order.
 *
 *   observe(event)
 *     → skip our own alerts (a DetectionAlert fed back must not feed itself)
 *     → for each rule: `where` holds? → group key from `groupBy` → the kind's step
 *     → an alert unless the group alerted less than `suppress` ago
 *
 * Time is the event's own `eventTime` (so a replay gives the alerts the live run gave), or
 * `now()` when an event has none. Per event the work is one pass over the rules, each step O(1)
 * but for a baseline's median, computed once per group and hour. State is bounded (state.ts)
 * and survives restarts through snapshot() and restore().
 *
 * observe never throws: a rule that fails on an event is counted in `stats().errors` and the
 * other rules still run, because one odd record must not blind the detector to the next.
 */
import type { AuditEvent } from '../event.ts'
import { alertEvent, MAX_EVIDENCE, oneLine, type Alert } from './alert.ts'
import { holds } from './condition.ts'
import { EventView } from './fields.ts'
import type { BaselineRule, CrossTenantRule, FirstSeenRule, Rule, ThresholdRule } from './rules.ts'
import {
  checkSnapshot,
  groupsOf,
  Lru,
  signature,
  SNAPSHOT_FORMAT,
  toJson,
  type BaselineState,
  type DetectorSnapshot,
  type FirstSeenState,
  type GroupState,
  type PlainState,
  type ThresholdState,
} from './state.ts'

export type { DetectorSnapshot } from './state.ts'

export interface DetectorOptions {
  /** Milliseconds since the epoch, for events without a usable eventTime (default Date.now). */
  readonly now?: () => number
  /** A cap on every rule's groups, below the rules' own `maxGroups` (tests, small machines). */
  readonly maxGroups?: number
}

export interface DetectorStats {
  readonly events: number
  readonly alerts: number
  /** Rule evaluations that failed on an event (and were skipped): 0 unless there is a bug. */
  readonly errors: number
}

interface Found {
  readonly evidence: readonly string[]
  readonly summary: string
}

const MAX_GROUP_PART = 200
const BASELINE_IDS = 10
/** Per event, the values a first-seen rule looks at. */
const MAX_NEW_VALUES = 16

type Rec = Readonly<Record<string, unknown>>

export class Detector {
  private readonly rules: readonly Rule[]
  private readonly now: () => number
  private readonly state = new Map<string, Lru<GroupState>>()
  private readonly medians = new WeakMap<BaselineState, { hour: number; median: number }>()
  private counts = { events: 0, alerts: 0, errors: 0 }

  constructor(rules: readonly Rule[], opts: DetectorOptions = {}) {
    this.rules = rules
    this.now = opts.now ?? Date.now
    for (const r of rules)
      this.state.set(r.id, new Lru(Math.min(r.maxGroups, opts.maxGroups ?? Infinity)))
  }

  /** The alerts this event raises (none for most). Accepts any value; never throws. */
  observe(event: AuditEvent): Alert[] {
    const raw: unknown = event
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return []
    const rec = raw as Rec
    if (rec.eventSource === 'strongroom.internal' && rec.eventName === 'DetectionAlert') return []
    this.counts.events++
    const ev = new EventView(rec)
    const t = eventSeconds(rec.eventTime) ?? Math.floor(this.now() / 1000)
    const out: Alert[] = []
    for (const rule of this.rules) {
      try {
        const a = this.apply(rule, ev, t)
        if (a !== undefined) out.push(a)
      } catch {
        this.counts.errors++
      }
    }
    this.counts.alerts += out.length
    return out
  }

  stats(): DetectorStats {
    return { ...this.counts }
  }

  /** Everything the rules remember, as JSON-safe data. */
  snapshot(): DetectorSnapshot {
    const rules: Record<string, { sig: string; groups: unknown[] }> = {}
    for (const r of this.rules)
      rules[r.id] = {
        sig: signature(r),
        groups: [...this.groups(r).entries()].map(([k, s]) => [k, toJson(s)]),
      }
    return { format: SNAPSHOT_FORMAT, rules }
  }

  /**
   * Replaces the state with a snapshot's (from snapshot(), through JSON). Rules the snapshot
   * does not know, or whose parameters changed since, start empty. INVALID_ARGUMENT for a
   * snapshot that is not one; the state is then unchanged.
   */
  restore(snapshot: unknown): void {
    const entries = checkSnapshot(snapshot)
    const next = new Map<string, Lru<GroupState>>()
    for (const r of this.rules) {
      const lru = new Lru<GroupState>(this.groups(r).cap)
      const groups = Object.hasOwn(entries, r.id) ? groupsOf(r, entries[r.id], lru.cap) : undefined
      for (const [k, s] of groups ?? []) lru.set(k, s)
      next.set(r.id, lru)
    }
    for (const [id, lru] of next) this.state.set(id, lru)
  }

  private groups(rule: Rule): Lru<GroupState> {
    const g = this.state.get(rule.id)
    if (g === undefined) throw new Error(`no state for rule ${rule.id}`)
    return g
  }

  private apply(rule: Rule, ev: EventView, t: number): Alert | undefined {
    const notes: string[] = []
    if (rule.where !== undefined && !holds(rule.where, ev, notes)) return undefined
    let group = rule.groupBy.map((f) => ev.text(f).slice(0, MAX_GROUP_PART)).join('|')
    const id = ev.str('requestID') ?? '-'
    let found: Found | undefined
    switch (rule.kind) {
      case 'match':
        found = this.suppressed(rule, group, t) ? undefined : { evidence: [id], summary: '' }
        break
      case 'cross-tenant': {
        const foreign = this.foreign(rule, ev)
        if (foreign === undefined) return undefined
        group = `${group}|${foreign.slice(0, MAX_GROUP_PART)}`
        found = this.suppressed(rule, group, t)
          ? undefined
          : { evidence: [id], summary: crossSummary(ev, foreign) }
        break
      }
      case 'threshold':
        found = this.threshold(rule, group, t, id)
        break
      case 'baseline':
        found = this.baseline(rule, group, t, id, ev)
        break
      case 'first-seen':
        found = this.firstSeen(rule, group, t, id, ev)
        break
    }
    if (found === undefined) return undefined
    const summary =
      rule.summary !== undefined
        ? rule.summary.replace(/\{([^{}]*)\}/g, (_m, f: string) => ev.text(f).slice(0, 100))
        : found.summary || defaultSummary(rule, ev)
    return alertEvent({
      ruleId: rule.id,
      title: rule.title,
      severity: rule.severity,
      group,
      time: t,
      trigger: {
        requestID: id,
        awsRegion: ev.str('awsRegion') ?? '',
        recipientAccountId:
          ev.str('recipientAccountId') ?? String(ev.scalars('callerAccount')[0] ?? ''),
        resources: resourcesOf(ev.raw.resources),
      },
      evidence: found.evidence,
      summary: notes.length > 0 ? `${summary} (${[...new Set(notes)].join(', ')})` : summary,
    })
  }

  /** For a plain group: true if it alerted less than `suppress` ago; otherwise records this alert. */
  private suppressed(rule: Rule, group: string, t: number): boolean {
    const lru = this.groups(rule)
    const st = (lru.get(group) as PlainState | undefined) ?? { a: null }
    lru.set(group, st)
    if (quiet(rule, st, t)) return true
    st.a = t
    return false
  }

  private foreign(rule: CrossTenantRule, ev: EventView): string | undefined {
    const caller = ev.text('callerAccount')
    if (caller === '-' || (caller === 'anonymous' && !rule.includeAnonymous)) return undefined
    const foreign = ev.scalars('foreignAccounts').map(String)
    return foreign.length === 0 ? undefined : foreign.join(',')
  }

  private threshold(rule: ThresholdRule, group: string, t: number, id: string): Found | undefined {
    const lru = this.groups(rule)
    const st = (lru.get(group) as ThresholdState | undefined) ?? { a: null, t: [], r: [] }
    lru.set(group, st)
    st.t.push(t)
    st.r.push(id)
    if (st.t.length > rule.count) {
      st.t.shift()
      st.r.shift()
    }
    const first = st.t[0] ?? t
    if (st.t.length < rule.count || t - first > rule.windowSeconds || quiet(rule, st, t))
      return undefined
    const found = {
      evidence: st.r.slice(-MAX_EVIDENCE),
      summary: `${st.t.length} events in ${Math.max(0, Math.round(t - first))} s (threshold ${rule.count} in ${rule.windowSeconds} s)`,
    }
    st.a = t
    st.t = []
    st.r = []
    return found
  }

  private baseline(
    rule: BaselineRule,
    group: string,
    t: number,
    id: string,
    ev: EventView,
  ): Found | undefined {
    const lru = this.groups(rule)
    const hour = Math.floor(t / 3600)
    let st = lru.get(group) as BaselineState | undefined
    if (st === undefined) {
      st = { a: null, h: hour, v: 0, r: [], hist: [] }
    }
    lru.set(group, st)
    const value = rule.sum === undefined ? 1 : sumOf(ev, rule.sum)
    if (hour < st.h) {
      // A late event: it counts towards its own hour's history, and raises nothing.
      const past = st.hist.find((p) => p[0] === hour)
      if (past !== undefined && value > 0) {
        past[1] += value
        this.medians.delete(st)
      }
      return undefined
    }
    if (hour > st.h) {
      if (st.v > 0) st.hist.push([st.h, st.v])
      const oldest = hour - rule.historyDays * 24
      while ((st.hist[0]?.[0] ?? oldest) < oldest) st.hist.shift()
      st.h = hour
      st.v = 0
      st.r = []
    }
    const before = st.v
    st.v += value
    st.r.push(id)
    if (st.r.length > BASELINE_IDS) st.r.shift()
    if (st.hist.length < rule.minActiveHours) return undefined
    const median = this.median(st)
    const limit = Math.max(rule.factor * median, rule.minValue)
    if (!(before < limit && st.v >= limit) || quiet(rule, st, t)) return undefined
    st.a = t
    const unit = unitOf(rule.sum)
    const ratio = median > 0 ? `${(st.v / median).toFixed(1)}×` : 'over'
    return {
      evidence: [...st.r],
      summary:
        `${amount(st.v, unit)} this hour, ${ratio} the hourly median ${amount(median, unit)} ` +
        `of ${st.hist.length} active hours (limit ${amount(limit, unit)})`,
    }
  }

  private median(st: BaselineState): number {
    const cached = this.medians.get(st)
    if (cached?.hour === st.h) return cached.median
    const v = st.hist.map((p) => p[1]).sort((x, y) => x - y)
    const mid = v.length >> 1
    const median = v.length % 2 === 1 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2
    this.medians.set(st, { hour: st.h, median })
    return median
  }

  private firstSeen(
    rule: FirstSeenRule,
    group: string,
    t: number,
    id: string,
    ev: EventView,
  ): Found | undefined {
    const lru = this.groups(rule)
    const st = (lru.get(group) as FirstSeenState | undefined) ?? {
      a: null,
      s: t,
      v: new Map<string, number>(),
    }
    lru.set(group, st)
    const learned = t - st.s >= rule.learningDays * 86_400
    const fresh: string[] = []
    const values = [...new Set(ev.scalars(rule.field).map((v) => String(v).slice(0, 256)))]
    for (const v of values.slice(0, MAX_NEW_VALUES)) {
      const last = st.v.get(v)
      if ((last === undefined || t - last > rule.retainDays * 86_400) && learned) fresh.push(v)
      st.v.delete(v)
      st.v.set(v, Math.max(t, last ?? t))
      if (st.v.size > rule.maxValues) {
        const oldest = st.v.keys().next()
        if (oldest.done !== true) st.v.delete(oldest.value)
      }
    }
    if (fresh.length === 0 || quiet(rule, st, t)) return undefined
    st.a = t
    const shown = fresh.map((v) => `\`${oneLine(v, 100)}\``).join(', ')
    return {
      evidence: [id],
      summary: `new ${rule.field} ${shown}, after ${st.v.size - fresh.length} known`,
    }
  }
}

/** Whether the group alerted less than the rule's `suppress` ago. */
function quiet(rule: Rule, st: { a: number | null }, t: number): boolean {
  return rule.suppressSeconds > 0 && st.a !== null && t - st.a < rule.suppressSeconds
}

function eventSeconds(v: unknown): number | undefined {
  if (typeof v !== 'string' || v.length > 40) return undefined
  const ms = Date.parse(v)
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined
}

function sumOf(ev: EventView, field: string): number {
  let s = 0
  for (const v of ev.scalars(field)) if (typeof v === 'number' && v > 0) s += Math.min(v, 1e15)
  return s
}

/** How a baseline's amounts read: bytes in binary units, or a count of something. */
function unitOf(sum: string | undefined): string {
  if (sum === undefined) return 'events'
  if (sum === 'objectCount') return 'objects'
  return /bytes/i.test(sum) ? 'bytes' : sum
}

function amount(n: number, unit: string): string {
  if (unit !== 'bytes') return `${Number.isInteger(n) ? String(n) : n.toFixed(1)} ${unit}`
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? String(Math.round(v)) : v.toFixed(1)} ${units[i] ?? ''}`
}

function resourcesOf(v: unknown): AuditEvent['resources'] {
  if (!Array.isArray(v)) return []
  const out: { ARN: string; accountId: string; type: string }[] = []
  for (const r of v.slice(0, 10)) {
    if (typeof r !== 'object' || r === null) continue
    const { ARN, accountId, type } = r as Rec
    if (typeof ARN === 'string' && typeof accountId === 'string' && typeof type === 'string')
      out.push({
        ARN: oneLine(ARN, 512),
        accountId: oneLine(accountId, 64),
        type: oneLine(type, 64),
      })
  }
  return out
}

function crossSummary(ev: EventView, foreign: string): string {
  const outcome =
    ev.values('errorCode').length > 0 ? `refused (${ev.text('errorCode')})` : 'allowed'
  return (
    `${ev.text('principal')} of account ${ev.text('callerAccount')} called ${ev.text('eventName')} ` +
    `on account ${foreign}'s resources: ${outcome}`
  )
}

function defaultSummary(rule: Rule, ev: EventView): string {
  const err = ev.values('errorCode').length > 0 ? ` (${ev.text('errorCode')})` : ''
  return (
    `${rule.title}: ${ev.text('eventName')}${err} by ${ev.text('principal')} ` +
    `from ${ev.text('sourceIPAddress')}`
  )
}
