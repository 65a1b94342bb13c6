/**
 * What the detector remembers per rule and group, bounded: each rule keeps at most `maxGroups`
 * groups and forgets the least recently seen first (a Map in recency order: every access is
 * O(1)); within a group, a threshold keeps `count` events, a baseline `historyDays × 24` hourly
 * totals, a first-seen rule `maxValues` values. The snapshot is this state as JSON, checked
 * field by field on restore: a snapshot is a file on disk, and files get truncated and edited.
 */
import { StrongroomError } from '../../errors.ts'
import type { Rule } from './rules.ts'

/** A map that forgets its least recently used key past `cap`. */
export class Lru<V> {
  readonly cap: number
  private readonly m = new Map<string, V>()

  constructor(cap: number) {
    this.cap = cap
  }

  get size(): number {
    return this.m.size
  }

  /** The value for `key`, which becomes the most recently used. */
  get(key: string): V | undefined {
    const v = this.m.get(key)
    if (v !== undefined) {
      this.m.delete(key)
      this.m.set(key, v)
    }
    return v
  }

  set(key: string, value: V): void {
    this.m.delete(key)
    this.m.set(key, value)
    if (this.m.size > this.cap) {
      const oldest = this.m.keys().next()
      if (oldest.done !== true) this.m.delete(oldest.value)
    }
  }

  /** Least recently used first: the order a restore must replay to rebuild the same map. */
  entries(): IterableIterator<[string, V]> {
    return this.m.entries()
  }
}

/** Seconds since the epoch of the group's last alert, or null: suppression. */
interface Alerted {
  a: number | null
}
export type PlainState = Alerted
export interface ThresholdState extends Alerted {
  /** Times and requestIDs of the group's last `count` matching events. */
  t: number[]
  r: string[]
}
export interface BaselineState extends Alerted {
  /** The current hour (seconds / 3600), its total and its last requestIDs. */
  h: number
  v: number
  r: string[]
  /** Earlier active hours within the history: [hour, total], oldest first. */
  hist: [number, number][]
}
export interface FirstSeenState extends Alerted {
  /** When the group was first seen: its learning period runs from here. */
  s: number
  /** Values seen, each with when it was last seen, least recently seen first. */
  v: Map<string, number>
}
export type GroupState = PlainState | ThresholdState | BaselineState | FirstSeenState

export const SNAPSHOT_FORMAT = 'strongroom-detector/1'

export interface DetectorSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT
  readonly rules: Readonly<Record<string, { readonly sig: string; readonly groups: unknown[] }>>
}

/**
 * What a rule's state depends on: its kind, filter, grouping and kind parameters. A restored
 * rule whose signature changed starts empty, since its old counts meant something else.
 */
export function signature(rule: Rule): string {
  const rest = Object.entries(rule).filter(([k]) => !PRESENTATION.has(k))
  return JSON.stringify(Object.fromEntries(rest), (_k, v: unknown) =>
    v instanceof RegExp ? `/${v.source}/${v.flags}` : v,
  )
}

/** Rule keys that change what an alert says or how often, not what the state means. */
const PRESENTATION = new Set([
  'title',
  'description',
  'severity',
  'summary',
  'suppressSeconds',
  'maxGroups',
])

/** A group's state as JSON. */
export function toJson(state: GroupState): unknown {
  return 'v' in state && state.v instanceof Map ? { ...state, v: [...state.v] } : state
}

function bad(rule: string, why: string): never {
  throw new StrongroomError('INVALID_ARGUMENT', `detector snapshot: rule \`${rule}\`: ${why}`)
}

const isRec = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length <= 1024
const nums = (v: unknown, max: number): v is number[] =>
  Array.isArray(v) && v.length <= max && v.every(isNum)
const strs = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length <= max && v.every(isStr)

/** A group's state from JSON, checked against what `rule` can hold. */
export function fromJson(rule: Rule, v: unknown): GroupState {
  if (!isRec(v)) bad(rule.id, 'a group state is not an object')
  const a = v.a
  if (a !== null && !isNum(a)) bad(rule.id, 'a group has no valid last-alert time')
  switch (rule.kind) {
    case 'match':
    case 'cross-tenant':
      return { a }
    case 'threshold': {
      const { t, r } = v
      if (!nums(t, rule.count) || !strs(r, rule.count) || t.length !== r.length)
        bad(rule.id, 'a threshold group does not hold matching times and requests')
      return { a, t, r }
    }
    case 'baseline': {
      const { h, r, hist } = v
      const total = v.v
      const pairs =
        Array.isArray(hist) &&
        hist.length <= rule.historyDays * 24 &&
        hist.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1]))
      if (!isNum(h) || !isNum(total) || !strs(r, 20) || !pairs)
        bad(rule.id, 'a baseline group does not hold an hour, a total and a history')
      return { a, h, v: total, r, hist: hist as [number, number][] }
    }
    case 'first-seen': {
      const { s } = v
      const values = v.v
      const ok =
        Array.isArray(values) &&
        values.length <= rule.maxValues &&
        values.every((p) => Array.isArray(p) && p.length === 2 && isStr(p[0]) && isNum(p[1]))
      if (!isNum(s) || !ok) bad(rule.id, 'a first-seen group does not hold a start and values')
      return { a, s, v: new Map(values as [string, number][]) }
    }
  }
}

/** The snapshot's groups for `rule`, checked: [key, state] pairs, least recently used first. */
export function groupsOf(
  rule: Rule,
  entry: unknown,
  cap: number,
): [string, GroupState][] | undefined {
  if (!isRec(entry) || typeof entry.sig !== 'string' || !Array.isArray(entry.groups))
    bad(rule.id, 'its entry has no signature and groups')
  if (entry.sig !== signature(rule)) return undefined
  if (entry.groups.length > cap) bad(rule.id, `it holds over ${cap} groups`)
  return entry.groups.map((g) => {
    if (!Array.isArray(g) || g.length !== 2 || !isStr(g[0]))
      bad(rule.id, 'a group is not [key, state]')
    return [g[0], fromJson(rule, g[1])]
  })
}

/** Checks the envelope of a snapshot; the rules' entries are checked by `groupsOf`. */
export function checkSnapshot(s: unknown): Readonly<Record<string, unknown>> {
  if (!isRec(s) || s.format !== SNAPSHOT_FORMAT || !isRec(s.rules))
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `detector snapshot: not a \`${SNAPSHOT_FORMAT}\` snapshot`,
    )
  return s.rules
}
