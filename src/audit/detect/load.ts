/**
 * Reads a rules file (format: docs/detection.md) into checked rules. Strict: an unknown key,
 * a value of the wrong type, a field no event has, a regex that does not compile or a duplicate
 * rule id is CONFIG_INVALID naming `file:line`, so a typo cannot silently turn a rule off.
 *
 * YAML 1.2 (the `yaml` package, core schema: `no` is a string, not false). Aliases are refused:
 * a rules file has no use for them, and they are how a small YAML file becomes a large value.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import { StrongroomError } from '../../errors.ts'
import { fieldProblem } from './fields.ts'
import {
  DEFAULT_MAX_GROUPS,
  KINDS,
  LIMITS,
  parseDuration,
  SEVERITIES,
  type Condition,
  type Kind,
  type ListEntry,
  type Rule,
  type Scalar,
} from './rules.ts'

/** The rules Strongroom ships, next to this file. */
export const DEFAULT_RULES_PATH = join(import.meta.dirname, 'rules.yaml')

/** A YAML value with the line it starts on. */
type Y =
  | { readonly t: 'scalar'; readonly v: unknown; readonly line: number }
  | {
      readonly t: 'map'
      readonly m: ReadonlyMap<string, Y>
      /** The line each key is on (errors about a key point there, not at its value). */
      readonly keys: ReadonlyMap<string, number>
      readonly line: number
    }
  | { readonly t: 'seq'; readonly items: readonly Y[]; readonly line: number }

const MAX_DEPTH = 64
const ID = /^[a-z0-9][a-z0-9-]{0,63}$/
const LIST_FILE = /^[A-Za-z0-9_][\w-]{0,99}\.ya?ml$/

class Source {
  readonly file: string
  constructor(file: string) {
    this.file = file
  }
  fail(line: number, message: string): never {
    throw new StrongroomError('CONFIG_INVALID', `${this.file}:${line}: ${message}`)
  }
}

function parseYaml(text: string, src: Source): Y {
  if (text.length > LIMITS.fileBytes) src.fail(1, `is over ${LIMITS.fileBytes} bytes`)
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const e = doc.errors[0]
  if (e !== undefined) src.fail(lineCounter.linePos(e.pos[0]).line, e.message.split('\n')[0] ?? '')
  const at = (n: unknown) => {
    const r = (n as { range?: [number, number, number] | null }).range
    return r === undefined || r === null ? 1 : lineCounter.linePos(r[0]).line
  }
  const walk = (n: unknown, depth: number, fallback: number): Y => {
    if (depth > MAX_DEPTH) src.fail(at(n), `nests deeper than ${MAX_DEPTH} levels`)
    if (n === null || n === undefined) return { t: 'scalar', v: null, line: fallback }
    if (isAlias(n)) src.fail(at(n), 'aliases (`*name`) are not allowed in a rules file')
    if (isScalar(n)) return { t: 'scalar', v: n.value, line: at(n) }
    if (isSeq(n))
      return { t: 'seq', items: n.items.map((i) => walk(i, depth + 1, at(n))), line: at(n) }
    if (isMap(n)) {
      const m = new Map<string, Y>()
      const keys = new Map<string, number>()
      for (const pair of n.items) {
        const k = pair.key
        if (!isScalar(k) || typeof k.value !== 'string')
          src.fail(at(k ?? n), 'keys must be strings')
        if (k.value === '<<') src.fail(at(k), 'merge keys (`<<`) are not allowed in a rules file')
        m.set(k.value, walk(pair.value, depth + 1, at(k)))
        keys.set(k.value, at(k))
      }
      return { t: 'map', m, keys, line: at(n) }
    }
    return src.fail(at(n), 'is not a value a rules file can hold')
  }
  return walk(doc.contents, 0, 1)
}

const show = (s: string) => `\`${s.slice(0, 80)}\``

/** A mapping whose keys were checked against `allowed`, read key by key. */
class Obj {
  readonly line: number
  private readonly src: Source
  private readonly m: ReadonlyMap<string, Y>
  private readonly keys: ReadonlyMap<string, number>
  private readonly what: string

  constructor(src: Source, y: Y, what: string, allowed: readonly string[], required: string[]) {
    this.src = src
    this.what = what
    if (y.t !== 'map') src.fail(y.line, `${what} must be a mapping`)
    this.m = y.m
    this.keys = y.keys
    this.line = y.line
    for (const k of y.m.keys())
      if (!allowed.includes(k))
        src.fail(
          y.keys.get(k) ?? y.line,
          `unknown key ${show(k)} in ${what} (expected one of ${allowed.join(', ')})`,
        )
    for (const k of required) if (!y.m.has(k)) src.fail(y.line, `${what} has no \`${k}\``)
  }

  has(k: string): boolean {
    return this.m.has(k)
  }
  at(k: string): Y | undefined {
    return this.m.get(k)
  }
  lineOf(k: string): number {
    return this.keys.get(k) ?? this.line
  }
  fail(k: string, message: string): never {
    return this.src.fail(this.lineOf(k), `\`${k}\` in ${this.what} ${message}`)
  }

  scalar(k: string): unknown {
    const y = this.m.get(k)
    if (y === undefined) return undefined
    if (y.t !== 'scalar') this.fail(k, 'must be a single value')
    return y.v
  }
  str(k: string, max = 200): string | undefined {
    const v = this.scalar(k)
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v.trim() === '') this.fail(k, 'must be a non-empty string')
    if (v.length > max) this.fail(k, `is over ${max} characters`)
    return v
  }
  reqStr(k: string, max?: number): string {
    return this.str(k, max) ?? this.fail(k, 'is required')
  }
  num(k: string, min: number, max: number, integer: boolean): number | undefined {
    const v = this.scalar(k)
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
      this.fail(k, `must be ${integer ? 'a whole number' : 'a number'}`)
    if (v < min || v > max) this.fail(k, `must be from ${min} to ${max}`)
    return v
  }
  bool(k: string): boolean | undefined {
    const v = this.scalar(k)
    if (v !== undefined && typeof v !== 'boolean') this.fail(k, 'must be true or false')
    return v
  }
  duration(k: string, max: number): number | undefined {
    const v = this.scalar(k)
    if (v === undefined) return undefined
    const s = parseDuration(v)
    if (s === undefined) this.fail(k, 'must be a duration: seconds, or a number with s, m, h or d')
    if (s > max) this.fail(k, `must be at most ${max} seconds`)
    return s
  }
  seq(k: string): readonly Y[] | undefined {
    const y = this.m.get(k)
    if (y === undefined) return undefined
    if (y.t !== 'seq') this.fail(k, 'must be a list')
    return y.items
  }
}

const COMMON = ['id', 'title', 'severity', 'description', 'kind', 'where', 'groupBy']
const OPTIONAL = ['suppress', 'maxGroups', 'summary', 'enabled']
const BY_KIND: Readonly<Record<Kind, readonly string[]>> = {
  match: [],
  threshold: ['count', 'window'],
  baseline: ['sum', 'factor', 'historyDays', 'minActiveHours', 'minValue'],
  'first-seen': ['field', 'learning', 'retain', 'maxValues'],
  'cross-tenant': ['includeAnonymous'],
}
const YEAR = 366 * 86_400

class RulesReader {
  private readonly src: Source
  private readonly lists = new Map<string, readonly ListEntry[]>()
  private readonly readList: (name: string) => string

  constructor(src: Source, readList: (name: string) => string) {
    this.src = src
    this.readList = readList
  }

  read(y: Y): Rule[] {
    const top = new Obj(this.src, y, 'the rules file', ['version', 'lists', 'rules'], ['rules'])
    if (top.has('version') && top.scalar('version') !== 1) top.fail('version', 'must be 1')
    const lists = top.at('lists')
    if (lists !== undefined) {
      if (lists.t !== 'map') this.src.fail(lists.line, '`lists` must be a mapping of names')
      for (const [name, def] of lists.m)
        this.lists.set(name, this.list(name, def, lists.keys.get(name) ?? lists.line))
    }
    const items = top.seq('rules') ?? []
    if (items.length > LIMITS.rules) top.fail('rules', `holds more than ${LIMITS.rules} rules`)
    const ids = new Set<string>()
    const rules: Rule[] = []
    for (const item of items) {
      const r = this.rule(item)
      if (ids.has(r.rule.id)) this.src.fail(item.line, `rule id ${show(r.rule.id)} is used twice`)
      ids.add(r.rule.id)
      if (r.enabled) rules.push(r.rule)
    }
    return rules
  }

  private list(name: string, def: Y, line: number): readonly ListEntry[] {
    if (!ID.test(name)) this.src.fail(line, `list name ${show(name)} must match ${ID.source}`)
    const o = new Obj(this.src, def, `list ${show(name)}`, ['file', 'entries'], [])
    if (o.has('file') === o.has('entries'))
      this.src.fail(o.line, `list ${show(name)} needs exactly one of \`file\` and \`entries\``)
    const file = o.str('file')
    if (file === undefined) return this.entries(this.src, o.seq('entries') ?? [], name)
    if (!LIST_FILE.test(file))
      o.fail('file', 'must be a .yaml file name beside the rules file (no directories)')
    let text: string
    try {
      text = this.readList(file)
    } catch (e) {
      return o.fail('file', `cannot be read: ${(e as Error).message}`)
    }
    const src = new Source(file)
    const body = new Obj(
      src,
      parseYaml(text, src),
      'the list file',
      ['version', 'entries'],
      ['entries'],
    )
    if (body.has('version') && body.scalar('version') !== 1) body.fail('version', 'must be 1')
    return this.entries(src, body.seq('entries') ?? [], name)
  }

  private entries(src: Source, items: readonly Y[], name: string): ListEntry[] {
    if (items.length > LIMITS.listEntries)
      src.fail(items[0]?.line ?? 1, `list ${show(name)} has over ${LIMITS.listEntries} entries`)
    return items.map((y) => {
      const o = new Obj(
        src,
        y,
        `an entry of list ${show(name)}`,
        ['name', 'contains', 'regex', 'ref'],
        ['name'],
      )
      if (o.has('contains') === o.has('regex'))
        src.fail(o.line, 'a list entry needs exactly one of `contains` and `regex`')
      const contains = o.str('contains', 500)
      const pattern =
        contains !== undefined
          ? new RegExp(contains.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i')
          : compile(o, 'regex', o.reqStr('regex', 1000), true)
      return { name: o.reqStr('name', 100), pattern, ref: o.str('ref', 500) }
    })
  }

  private rule(y: Y): { rule: Rule; enabled: boolean } {
    const kindY = y.t === 'map' ? y.m.get('kind') : undefined
    const kind = kindY?.t === 'scalar' ? kindY.v : undefined
    if (!KINDS.includes(kind as Kind))
      this.src.fail(kindY?.line ?? y.line, `a rule needs \`kind\`: one of ${KINDS.join(', ')}`)
    const k = kind as Kind
    const o = new Obj(
      this.src,
      y,
      `a ${k} rule`,
      [...COMMON, ...OPTIONAL, ...BY_KIND[k]],
      ['id', 'title', 'severity', 'description'],
    )
    const id = o.reqStr('id', 64)
    if (!ID.test(id)) o.fail('id', `must match ${ID.source}`)
    const severity = o.reqStr('severity')
    if (!(SEVERITIES as readonly string[]).includes(severity))
      o.fail('severity', `must be one of ${SEVERITIES.join(', ')}`)
    const where = o.has('where') ? this.condition(o.at('where') as Y, 0) : undefined
    const groupBy = o.seq('groupBy')?.map((g) => this.field(g, 'groupBy')) ?? ['principal']
    if (groupBy.length > 4) o.fail('groupBy', 'names at most 4 fields')
    const summary = o.str('summary', 300)
    for (const m of summary?.matchAll(/\{([^{}]*)\}/g) ?? []) {
      const problem = fieldProblem(m[1] ?? '')
      if (problem !== undefined) o.fail('summary', `names ${show(m[1] ?? '')}, which ${problem}`)
    }
    const base = {
      id,
      title: o.reqStr('title', 200),
      severity: severity as Rule['severity'],
      description: o.reqStr('description', 4000),
      where,
      groupBy,
      suppressSeconds: o.duration('suppress', YEAR) ?? (k === 'first-seen' ? 0 : 3600),
      maxGroups: o.num('maxGroups', 1, LIMITS.groupsPerRule, true) ?? DEFAULT_MAX_GROUPS,
      summary,
    }
    const enabled = o.bool('enabled') ?? true
    switch (k) {
      case 'match':
        return { rule: { ...base, kind: k }, enabled }
      case 'cross-tenant':
        return {
          rule: { ...base, kind: k, includeAnonymous: o.bool('includeAnonymous') ?? false },
          enabled,
        }
      case 'threshold': {
        const count =
          o.num('count', 1, LIMITS.thresholdCount, true) ?? o.fail('count', 'is required')
        const windowSeconds = o.duration('window', 7 * 86_400) ?? o.fail('window', 'is required')
        if (windowSeconds < 1) o.fail('window', 'must be at least 1 second')
        return { rule: { ...base, kind: k, count, windowSeconds }, enabled }
      }
      case 'baseline': {
        const sumY = o.at('sum')
        const sum = sumY === undefined ? undefined : this.field(sumY, 'sum')
        const historyDays = o.num('historyDays', 1, LIMITS.historyDays, true) ?? 7
        const minActiveHours = o.num('minActiveHours', 1, historyDays * 24, true) ?? 24
        const factor = o.num('factor', 1, 1e6, false) ?? 10
        const minValue = o.num('minValue', 0, Number.MAX_SAFE_INTEGER, false) ?? 0
        return {
          rule: { ...base, kind: k, sum, factor, historyDays, minActiveHours, minValue },
          enabled,
        }
      }
      case 'first-seen': {
        const field = this.field(o.at('field') ?? o.fail('field', 'is required'), 'field')
        const learningSeconds = o.duration('learning', YEAR) ?? 7 * 86_400
        const retainSeconds = o.duration('retain', 10 * YEAR) ?? 90 * 86_400
        const maxValues = o.num('maxValues', 1, LIMITS.firstSeenValues, true) ?? 1000
        const rule = { ...base, kind: k, field, learningDays: learningSeconds / 86_400 }
        return { rule: { ...rule, retainDays: retainSeconds / 86_400, maxValues }, enabled }
      }
    }
  }

  private field(y: Y, where: string): string {
    if (y.t !== 'scalar' || typeof y.v !== 'string')
      this.src.fail(y.line, `${where}: a field name must be a string`)
    const problem = fieldProblem(y.v)
    if (problem !== undefined) this.src.fail(y.line, `${where}: ${show(y.v)} ${problem}`)
    return y.v
  }

  private condition(y: Y, depth: number): Condition {
    if (depth > LIMITS.conditionDepth)
      this.src.fail(y.line, `conditions nest deeper than ${LIMITS.conditionDepth}`)
    if (y.t === 'map' && (y.m.has('all') || y.m.has('any') || y.m.has('not'))) {
      const o = new Obj(this.src, y, 'a condition', ['all', 'any', 'not'], [])
      if (y.m.size !== 1)
        this.src.fail(y.line, 'a condition has exactly one of `all`, `any` and `not`')
      const not = o.at('not')
      if (not !== undefined) return { op: 'not', of: this.condition(not, depth + 1) }
      const op = o.has('all') ? 'all' : 'any'
      const items = o.seq(op) ?? []
      if (items.length === 0) o.fail(op, 'must list at least one condition')
      return { op, of: items.map((i) => this.condition(i, depth + 1)) }
    }
    const tests = ['equals', 'in', 'regex', 'exists', 'inList'] as const
    const o = new Obj(this.src, y, 'a condition', ['field', 'ignoreCase', ...tests], ['field'])
    const field = this.field(o.at('field') as Y, 'field')
    const present = tests.filter((t) => o.has(t))
    const test = present[0]
    if (present.length !== 1 || test === undefined)
      this.src.fail(
        o.line,
        `a condition on ${show(field)} needs exactly one of ${tests.join(', ')}`,
      )
    if (o.has('ignoreCase') && !o.has('regex')) o.fail('ignoreCase', 'applies to `regex` only')
    switch (test) {
      case 'equals':
        return { op: 'equals', field, value: scalarOf(o, 'equals', o.at('equals') as Y) }
      case 'in': {
        const values = (o.seq('in') ?? []).map((v) => scalarOf(o, 'in', v))
        if (values.length === 0) o.fail('in', 'must list at least one value')
        return { op: 'in', field, values }
      }
      case 'regex':
        return {
          op: 'regex',
          field,
          regex: compile(o, 'regex', o.reqStr('regex', 1000), o.bool('ignoreCase') ?? false),
        }
      case 'exists':
        return { op: 'exists', field, exists: o.bool('exists') ?? false }
      case 'inList': {
        const list = o.reqStr('inList', 64)
        const entries =
          this.lists.get(list) ??
          o.fail('inList', `names ${show(list)}, which \`lists\` does not define`)
        return { op: 'inList', field, list, entries }
      }
    }
  }
}

function scalarOf(o: Obj, k: string, y: Y): Scalar {
  if (y.t !== 'scalar' || !['string', 'number', 'boolean'].includes(typeof y.v))
    o.fail(k, 'must hold strings, numbers or booleans')
  return y.v as Scalar
}

function compile(o: Obj, k: string, source: string, ignoreCase: boolean): RegExp {
  try {
    return new RegExp(source, ignoreCase ? 'iu' : 'u')
  } catch (e) {
    return o.fail(k, `does not compile: ${(e as Error).message}`)
  }
}

/**
 * The enabled rules of a rules file's text. `file` names it in errors; `readList` reads a list
 * file the rules name (`lists: {x: {file: x.yaml}}`), which must sit beside the rules file.
 */
export function parseRules(
  text: string,
  file: string,
  readList: (name: string) => string = () => {
    throw new Error('no list files here')
  },
): Rule[] {
  const src = new Source(file)
  return new RulesReader(src, readList).read(parseYaml(text, src))
}

/** The enabled rules of the rules file at `path` (the shipped rules by default). */
export function loadRules(path: string = DEFAULT_RULES_PATH): Rule[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new StrongroomError('CONFIG_INVALID', `cannot read the rules file ${show(path)}`, {
      cause: e,
    })
  }
  return parseRules(text, path, (name) => readFileSync(join(dirname(path), name), 'utf8'))
}
