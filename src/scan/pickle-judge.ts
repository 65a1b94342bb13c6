/**
 * The judging half of the symbolic pickle machine: what an import or a call
 * would do, decided by the rules (rules.ts) and the argument checks
 * (calls.ts), recorded as findings of the pickle being read. Also the one
 * layout the machine must follow to stay in step: joblib's raw array bytes.
 */
import { CONTAINERS } from './allow-list.ts'
import { checkArrayState, checkCall, checkState, rangeCount, type Problem } from './calls.ts'
import { PickleReader } from './pickle-reader.ts'
import { BYTE_WRAPPERS, classify, NESTED_LOADERS, remap } from './rules.ts'
import { sliceSource } from './source.ts'
import { isGlobal, itemsOf, type Call, type Dict, type Global, type Value } from './values.ts'

export class PickleJudge extends PickleReader {
  // ---- imports and calls

  lastGlobal: string | undefined

  protected global(module: string, name: string, at: number): Global {
    this.lastGlobal = `${module}.${name}`
    const c = classify(module, name, this.protocol, this.ctx.strict)
    if (c.tier === 'dangerous')
      this.finding(
        at,
        'malicious',
        'pickle.dangerous-global',
        `imports ${c.global}: ${c.reason}`,
        c.global,
      )
    else if (c.tier === 'unknown')
      this.finding(
        at,
        'suspicious',
        'pickle.unknown-global',
        `imports ${c.global}: ${c.reason}`,
        c.global,
      )
    // Calls are judged by what the unpickler resolves (copy_reg._reconstructor is copyreg's).
    const [m, n] = remap(module, name, this.protocol)
    return { k: 2, full: `${m}.${n}`, tier: c.tier }
  }

  protected call(fn: Value, args: Value, at: number, how: string): Call {
    if (!isGlobal(fn)) {
      this.finding(
        at,
        'malicious',
        'pickle.computed-callable',
        `${how} calls a value computed while loading (not an imported class or function): the pattern of getattr chains and code objects`,
      )
      return { k: 3, fn, args, filled: false }
    }
    const items = itemsOf(args)
    const full = fn.full
    if (NESTED_LOADERS.has(full) || BYTE_WRAPPERS.has(full)) this.embedded(args, at, full, 0)
    if (full === 'copyreg.add_extension' || full === 'copy_reg.add_extension') {
      const [mod, name, code] = items ?? []
      if (typeof mod === 'string' && typeof name === 'string' && typeof code === 'number')
        this.extensions.set(code, [mod, name])
    }
    if (fn.tier === 'safe') for (const p of checkCall(full, args)) this.problem(at, p, full)
    if (full === 'builtins.range')
      return { k: 3, fn, args, filled: false, count: rangeCount(items) }
    return { k: 3, fn, args, filled: false }
  }

  protected problem(at: number, p: Problem, subject?: string): void {
    this.finding(at, p.verdict, p.rule, p.reason, subject)
  }

  /**
   * APPEND(S), SETITEM(S) and ADDITEMS extend lists, dicts and sets; on any
   * other object they call its append/extend/__setitem__/add, a method call
   * the machine does not model.
   */
  protected fill(target: Value, kind: 'list' | 'dict' | 'set', at: number, op: string): void {
    if (typeof target === 'object') {
      if (target.k === 7) {
        if (kind === 'list') return
      } else if (target.k === 8) {
        if (kind === 'set') return
      } else if (target.k === 5) {
        if (kind === 'dict') return
      } else if (target.k === 3 && isGlobal(target.fn) && target.fn.tier === 'safe') {
        if (CONTAINERS[target.fn.full] === kind) {
          target.filled = true
          return
        }
      }
    }
    const origin =
      typeof target === 'object' && target.k === 3
        ? target.fn
        : typeof target === 'object' && target.k === 2
          ? target
          : undefined
    const foreign = origin !== undefined && (!isGlobal(origin) || origin.tier !== 'safe')
    const what =
      origin === undefined
        ? 'a value that is not a list, dict or set'
        : isGlobal(origin)
          ? `an object made by ${origin.full}`
          : 'an object computed while loading'
    this.finding(
      at,
      foreign ? 'malicious' : 'suspicious',
      'pickle.container-op-on-object',
      `${op} on ${what}: calls its ${kind === 'list' ? 'append/extend' : kind === 'dict' ? '__setitem__' : 'add'} method, which this scanner does not model`,
      isGlobal(origin) ? origin.full : undefined,
    )
  }

  /** Bytes given to a nested loader (directly or through BytesIO) are scanned as artifacts of their own. */
  protected embedded(args: Value, at: number, loader: string, depth: number): void {
    if (depth > 4 || typeof args !== 'object') return
    if (args.k === 1) {
      const path = `${this.o.path}!@${args.off}`
      this.o.scanEmbedded?.(sliceSource(this.cur.src, args.off, args.len), path)
    } else if (args.k === 4) {
      for (const v of args.items ?? []) this.embedded(v, at, loader, depth + 1)
    } else if (args.k === 3) {
      this.embedded(args.args, at, loader, depth + 1)
    }
  }

  protected build(target: Value, state: Value, at: number): void {
    const p = checkArrayState(target, state) ?? checkState(target, state)
    if (p !== undefined) this.problem(at, p)
    if (typeof target === 'object' && target.k === 2)
      this.finding(
        at,
        'suspicious',
        'pickle.build-on-global',
        `BUILD sets attributes of ${target.full} itself, not of an instance`,
        target.full,
      )
    if (
      typeof target === 'object' &&
      target.k === 3 &&
      isGlobal(target.fn) &&
      target.fn.full === 'joblib.numpy_pickle.NumpyArrayWrapper' &&
      typeof state === 'object' &&
      state.k === 5
    )
      this.joblibArray(state, at)
  }

  /**
   * joblib writes an array's raw bytes right after the BUILD of its
   * NumpyArrayWrapper (after optional alignment padding), or, for object
   * arrays, a nested pickle: skip the former by its computed length, scan the
   * latter.
   */
  protected joblibArray(state: Dict, at: number): void {
    const map = state.map
    const shape = map?.get('shape')
    const dtype = map?.get('dtype')
    let descr: Value | undefined
    if (
      typeof dtype === 'object' &&
      dtype.k === 3 &&
      typeof dtype.args === 'object' &&
      dtype.args.k === 4
    )
      descr = dtype.args.items?.[0]
    if (typeof descr === 'string' && /^[<>|=]?O\d*$/.test(descr)) {
      // An object array: a whole pickle follows, which joblib loads in place.
      this.nested.push([this.stack, this.marks])
      this.stack = []
      this.marks = []
      return
    }
    const size = itemSize(descr)
    const dims =
      typeof shape === 'object' && shape.k === 4 && shape.items !== null ? shape.items : undefined
    if (
      size === undefined ||
      dims === undefined ||
      !dims.every((d) => typeof d === 'number' && d >= 0)
    ) {
      this.finding(
        at,
        'suspicious',
        'joblib.array-layout',
        'a joblib array whose dtype or shape cannot be read, so its raw bytes cannot be skipped',
      )
      this.fail(at, 'unreadable joblib array layout')
    }
    if (map?.has('numpy_array_alignment_bytes') === true) {
      const pad = this.u8()
      this.cur.pos += pad
    }
    const count = (dims as number[]).reduce((a, b) => a * b, 1)
    const n = count * size
    if (this.cur.pos + n > this.cur.size)
      this.fail(this.cur.size, 'joblib array bytes past the end')
    this.cur.pos += n
  }
}

/** Bytes per element of a numpy dtype string ('<f8', 'i4', '|b1', 'S10', 'U3'); undefined when unknown. */
function itemSize(descr: Value | undefined): number | undefined {
  if (typeof descr !== 'string') return undefined
  const m = /^[<>|=]?([?bBiufcmMSUVa])(\d*)$/.exec(descr)
  if (m === null) {
    const named: Record<string, number> = {
      float64: 8,
      float32: 4,
      float16: 2,
      int64: 8,
      int32: 4,
      int16: 2,
      int8: 1,
      uint8: 1,
      uint16: 2,
      uint32: 4,
      uint64: 8,
      bool: 1,
      complex64: 8,
      complex128: 16,
    }
    return named[descr]
  }
  const kind = m[1] ?? ''
  const n = m[2] === '' ? undefined : Number(m[2])
  if (kind === '?' || kind === 'b' || kind === 'B') return n ?? 1
  if (kind === 'U') return n === undefined ? undefined : n * 4
  return n
}
