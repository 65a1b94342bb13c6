/**
 * A symbolic pickle machine: it runs the opcodes of protocols 0 to 5 the way
 * Python's unpickler does — stack, mark stack, memo, protocol changes — but
 * instead of importing and calling, it records what would be imported and
 * called, and judges it (rules.ts). It keeps going past STOP (several pickles
 * in one stream) and past a parse error, and reports what it found before
 * either. One pass, no copy of large byte arguments, no allocation for the
 * opcodes that dominate large files (floats, ints, appends).
 */
import { CONTAINERS } from './allow-list.ts'
import {
  checkArrayState,
  checkCall,
  checkState,
  checkPersistentId,
  rangeCount,
  type Problem,
} from './calls.ts'
import { BYTE_WRAPPERS, classify, NESTED_LOADERS, remap } from './rules.ts'
import { Cursor, sliceSource, type ByteSource } from './source.ts'
import { LimitError, newFinding, type Finding, type ScanContext } from './types.ts'
import {
  ANY,
  EMPTY_TUPLE,
  isGlobal,
  itemsOf,
  LONG_STRING,
  NONE,
  type Bytes,
  type Call,
  type Dict,
  type Global,
  type Tuple,
  type Value,
} from './values.ts'

const MAX_KEPT_STRING = 4096
const MAX_TUPLE_ITEMS = 64
const MAX_DICT_KEYS = 64
const MAX_LINE = 1 << 20
const MAX_RESYNC = 16

const decoder = new TextDecoder('utf-8')
const latin1 = new TextDecoder('latin1')

class ParseError extends Error {
  readonly offset: number
  constructor(offset: number, message: string) {
    super(message)
    this.offset = offset
  }
}

export interface PickleOptions {
  /** Container path of the stream, for findings. */
  readonly path: string
  /** Stop after this many pickles (the legacy torch layout has five, then raw storage bytes). */
  readonly maxPickles?: number
  /**
   * Only report findings if the first pickle parses to its STOP: used to
   * tell a protocol-0 pickle from other bytes without a magic number.
   */
  readonly probe?: boolean
  /** Scans bytes handed to a nested loader (pickle.loads(b'...')), as a file of its own. */
  readonly scanEmbedded?: (src: ByteSource, path: string) => void
  /** Where the stream starts in `src` (default 0). */
  readonly start?: number
}

export interface PickleResult {
  /** Pickles read to their STOP. */
  readonly pickles: number
  /** False when probing and the bytes are not a pickle. */
  readonly isPickle: boolean
  /** Where reading stopped: after the last STOP, or where an error ended the stream. */
  readonly end: number
  /** The last global the stream imported (module.name), for layouts that size data by type. */
  readonly lastGlobal: string | undefined
}

const LEGACY_TORCH_MAGIC = Uint8Array.of(
  0x80,
  0x02,
  0x8a,
  0x0a,
  0x6c,
  0xfc,
  0x9c,
  0x46,
  0xf9,
  0x20,
  0x6a,
  0xa8,
  0x50,
  0x19,
)

/** torch.save's format before 1.6: five pickles (magic, protocol, sys_info, object, storage keys), then raw storages. */
export function isLegacyTorch(head: Uint8Array): boolean {
  return LEGACY_TORCH_MAGIC.every((b, i) => head[i] === b)
}

/**
 * Scans the pickle stream in `src`, adding findings to `ctx`. Throws
 * LimitError when a limit trips (the caller reports it).
 */
export function scanPickle(src: ByteSource, ctx: ScanContext, o: PickleOptions): PickleResult {
  const cur = new Cursor(src, o.start ?? 0)
  const m = new Machine(cur, ctx, o)
  let pickles = 0
  let resyncs = 0
  const max = o.maxPickles ?? Number.MAX_SAFE_INTEGER
  while (cur.pos < cur.size && pickles < max) {
    const start = cur.pos
    try {
      m.reset()
      m.run()
      pickles++
    } catch (e) {
      if (!(e instanceof ParseError)) throw e
      if (o.probe === true && pickles === 0)
        return { pickles: 0, isPickle: false, end: cur.pos, lastGlobal: undefined }
      m.flush()
      const truncated = e.offset >= cur.size
      ctx.add({
        path: o.path,
        offset: e.offset,
        verdict: 'suspicious',
        severity: 'medium',
        rule: truncated ? 'pickle.truncated' : 'pickle.parse-error',
        reason: truncated
          ? `the pickle ends before its STOP opcode (${e.message}): corrupt or cut short`
          : `the pickle stream is malformed at byte ${e.offset} (${e.message}); what follows cannot be trusted`,
      })
      // Keep looking: a later pickle in the same stream may still be loaded by a record reader.
      const next = resyncs++ < MAX_RESYNC ? findPickleStart(cur, Math.max(e.offset, start) + 1) : -1
      if (next < 0) break
      cur.pos = next
      continue
    }
    m.flush()
  }
  return { pickles, isPickle: true, end: cur.pos, lastGlobal: m.lastGlobal }
}

/** The next offset where `\x80` and a protocol number 2..5 could start a pickle. */
function findPickleStart(cur: Cursor, from: number): number {
  const size = cur.size
  for (let p = from; p + 1 < size;) {
    cur.pos = p
    const i = cur.need(Math.min(1 << 20, size - p))
    if (i < 0) return -1
    const chunk = cur.buf.subarray(i, i + Math.min(1 << 20, size - p))
    let at = chunk.indexOf(0x80)
    while (at >= 0 && at + 1 < chunk.length) {
      const proto = chunk[at + 1] ?? 0
      if (proto >= 2 && proto <= 5) return p + at
      at = chunk.indexOf(0x80, at + 1)
    }
    p += Math.max(1, chunk.length - 1)
  }
  return -1
}

class Machine {
  private readonly cur: Cursor
  private readonly ctx: ScanContext
  private readonly o: PickleOptions
  private stack: Value[] = []
  private marks: number[] = []
  private memo = new Map<number, Value>()
  private protocol = 0
  private ops = 0
  /** copyreg.add_extension calls seen: extension code -> global. */
  private readonly extensions = new Map<number, [string, string]>()
  /** Findings of the pickle being read; committed at its end (or dropped when probing fails). */
  private pending: Finding[] = []

  constructor(cur: Cursor, ctx: ScanContext, o: PickleOptions) {
    this.cur = cur
    this.ctx = ctx
    this.o = o
  }

  /** A fresh unpickler for the next pickle in the stream (the copyreg registry is process-wide, so it stays). */
  reset(): void {
    this.stack = []
    this.marks = []
    this.memo = new Map()
    this.protocol = 0
    this.nested = []
  }

  flush(): void {
    for (const f of this.pending) this.ctx.add(f)
    this.pending = []
  }

  private finding(
    offset: number,
    verdict: 'malicious' | 'suspicious',
    rule: string,
    reason: string,
    subject?: string,
  ): void {
    this.pending.push(newFinding(this.o.path, offset, verdict, rule, reason, subject))
  }

  // ---- reading arguments

  private fail(offset: number, message: string): never {
    throw new ParseError(offset, message)
  }

  private u8(): number {
    const i = this.cur.need(1)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    this.cur.pos += 1
    return this.cur.buf[i] ?? 0
  }

  private u16(): number {
    const i = this.cur.need(2)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    const b = this.cur.buf
    this.cur.pos += 2
    return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8)
  }

  private i32(): number {
    const i = this.cur.need(4)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    const b = this.cur.buf
    this.cur.pos += 4
    return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)
  }

  private u32(): number {
    return this.i32() >>> 0
  }

  private u64(): number {
    const lo = this.u32()
    const hi = this.u32()
    if (hi >= 0x200000) this.fail(this.cur.pos - 8, 'an 8-byte length beyond 2^53')
    return hi * 0x100000000 + lo
  }

  private line(): string {
    const start = this.cur.pos
    const end = this.cur.lineEnd(MAX_LINE)
    if (end < 0)
      this.fail(
        start + MAX_LINE < this.cur.size ? start : this.cur.size,
        'a text argument without its newline',
      )
    const i = this.cur.need(end - start + 1)
    const s = latin1.decode(this.cur.buf.subarray(i, i + end - start))
    this.cur.pos = end + 1
    return s
  }

  /** A length-prefixed string: kept when short, skipped (not read) when long. */
  private text(n: number, at: number): Value {
    if (this.cur.pos + n > this.cur.size)
      this.fail(this.cur.size, `a ${n}-byte argument past the end`)
    if (n > MAX_KEPT_STRING) {
      this.cur.pos += n
      return LONG_STRING
    }
    const i = this.cur.need(n)
    if (i < 0) this.fail(at, 'truncated string')
    this.cur.pos += n
    return decoder.decode(this.cur.buf.subarray(i, i + n))
  }

  private bytes(n: number): Bytes {
    const off = this.cur.pos
    if (off + n > this.cur.size) this.fail(this.cur.size, `a ${n}-byte argument past the end`)
    this.cur.pos += n
    return { k: 1, off, len: n }
  }

  // ---- stack

  private pop(at: number): Value {
    const floor = this.marks.length > 0 ? (this.marks[this.marks.length - 1] ?? 0) : 0
    if (this.stack.length <= floor) this.fail(at, 'stack underflow')
    return this.stack.pop() as Value
  }

  private top(at: number): Value {
    if (this.stack.length === 0) this.fail(at, 'stack underflow')
    return this.stack[this.stack.length - 1] as Value
  }

  private popMark(at: number): Value[] {
    const mark = this.marks.pop()
    if (mark === undefined) this.fail(at, 'no MARK to pop to')
    const items = this.stack.slice(mark)
    this.stack.length = mark
    return items
  }

  /** Pops to the mark without keeping the items (appends to lists, sets). */
  private dropMark(at: number): void {
    const mark = this.marks.pop()
    if (mark === undefined) this.fail(at, 'no MARK to pop to')
    this.stack.length = mark
  }

  private tuple(items: Value[]): Tuple {
    return { k: 4, items: items.length <= MAX_TUPLE_ITEMS ? items : null }
  }

  // ---- imports and calls

  lastGlobal: string | undefined

  private global(module: string, name: string, at: number): Global {
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

  private call(fn: Value, args: Value, at: number, how: string): Call {
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

  private problem(at: number, p: Problem, subject?: string): void {
    this.finding(at, p.verdict, p.rule, p.reason, subject)
  }

  /**
   * APPEND(S), SETITEM(S) and ADDITEMS extend lists, dicts and sets; on any
   * other object they call its append/extend/__setitem__/add, a method call
   * the machine does not model.
   */
  private fill(target: Value, kind: 'list' | 'dict' | 'set', at: number, op: string): void {
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
  private embedded(args: Value, at: number, loader: string, depth: number): void {
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

  private build(target: Value, state: Value, at: number): void {
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
  private joblibArray(state: Dict, at: number): void {
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

  /** Stacks of the outer pickle while a nested one (a joblib object array) is read. */
  private nested: [Value[], number[]][] = []

  // ---- the loop

  /** Reads one pickle to its STOP. Throws ParseError on malformed input. */
  run(): void {
    const cur = this.cur
    const limits = this.ctx.limits
    for (;;) {
      if ((++this.ops & 0xffff) === 0) {
        if (this.ops > limits.maxOpcodes)
          throw new LimitError('maxOpcodes', `more than ${limits.maxOpcodes} opcodes`)
        if (this.stack.length > limits.maxStack)
          throw new LimitError('maxStack', `a stack deeper than ${limits.maxStack}`)
        if (this.memo.size > limits.maxMemo)
          throw new LimitError('maxMemo', `a memo larger than ${limits.maxMemo} entries`)
        this.ctx.checkTime()
      }
      const at = cur.pos
      let i = cur.need(1)
      if (i < 0) this.fail(cur.size, 'end of data')
      const op = cur.buf[i] ?? 0
      cur.pos++
      const stack = this.stack
      switch (op) {
        case 0x47: // BINFLOAT
          i = cur.need(8)
          if (i < 0) this.fail(cur.size, 'missing argument')
          cur.pos += 8
          stack.push(ANY)
          break
        case 0x4b: // BININT1
          stack.push(this.u8())
          break
        case 0x4d: // BININT2
          stack.push(this.u16())
          break
        case 0x4a: // BININT
          stack.push(this.i32())
          break
        case 0x61: {
          // APPEND
          this.pop(at)
          const t = this.top(at)
          if (typeof t !== 'object' || t.k !== 7) this.fill(t, 'list', at, 'APPEND')
          break
        }
        case 0x65: // APPENDS
        case 0x90: {
          // ADDITEMS
          this.dropMark(at)
          const t = this.top(at)
          const kind = op === 0x65 ? 'list' : 'set'
          if (typeof t !== 'object' || t.k !== (op === 0x65 ? 7 : 8))
            this.fill(t, kind, at, op === 0x65 ? 'APPENDS' : 'ADDITEMS')
          break
        }
        case 0x28: // MARK
          this.marks.push(stack.length)
          break
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top(at))
          break
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top(at))
          break
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top(at))
          break
        case 0x70: // PUT
          this.memo.set(intLine(this.line(), at), this.top(at))
          break
        case 0x68: // BINGET
        case 0x6a: // LONG_BINGET
        case 0x67: {
          // GET
          const idx = op === 0x68 ? this.u8() : op === 0x6a ? this.u32() : intLine(this.line(), at)
          const v = this.memo.get(idx)
          if (v === undefined) this.fail(at, `memo key ${idx} was never stored`)
          stack.push(v)
          break
        }
        case 0x95: // FRAME
          this.u64()
          break
        case 0x80: {
          // PROTO
          const p = this.u8()
          if (p > 5) this.fail(at, `unsupported protocol ${p}`)
          this.protocol = p
          break
        }
        case 0x2e: {
          // STOP
          this.pop(at)
          const outer = this.nested.pop()
          if (outer !== undefined) {
            // The end of a joblib object array: back to the outer pickle, the array in its place.
            ;[this.stack, this.marks] = outer
            break
          }
          return
        }
        case 0x4e: // NONE
          stack.push(NONE)
          break
        case 0x88: // NEWTRUE
        case 0x89: // NEWFALSE
          stack.push(ANY)
          break
        case 0x8f: // EMPTY_SET
          stack.push({ k: 8 })
          break
        case 0x5d: // EMPTY_LIST
          stack.push({ k: 7 })
          break
        case 0x7d: // EMPTY_DICT
          stack.push({ k: 5, map: null, n: 0 })
          break
        case 0x29: // EMPTY_TUPLE
          stack.push(EMPTY_TUPLE)
          break
        case 0x85: // TUPLE1
          stack.push(this.tuple([this.pop(at)]))
          break
        case 0x86: {
          // TUPLE2
          const b = this.pop(at)
          stack.push(this.tuple([this.pop(at), b]))
          break
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop(at)
          const b = this.pop(at)
          stack.push(this.tuple([this.pop(at), b, c]))
          break
        }
        case 0x74: // TUPLE
          stack.push(this.tuple(this.popMark(at)))
          break
        case 0x6c: // LIST
          this.dropMark(at)
          stack.push({ k: 7 })
          break
        case 0x91: // FROZENSET
          this.dropMark(at)
          stack.push(ANY)
          break
        case 0x64: {
          // DICT
          const items = this.popMark(at)
          const d: Dict = { k: 5, map: null, n: 0 }
          for (let j = 0; j + 1 < items.length; j += 2) setItem(d, items[j], items[j + 1])
          stack.push(d)
          break
        }
        case 0x73: {
          // SETITEM
          const v = this.pop(at)
          const k = this.pop(at)
          const d = this.top(at)
          if (typeof d === 'object' && d.k === 5) setItem(d, k, v)
          else this.fill(d, 'dict', at, 'SETITEM')
          break
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark(at)
          const d = this.top(at)
          if (typeof d === 'object' && d.k === 5)
            for (let j = 0; j + 1 < items.length; j += 2) setItem(d, items[j], items[j + 1])
          else if (items.length > 0) this.fill(d, 'dict', at, 'SETITEMS')
          break
        }
        case 0x30: // POP
          if (stack.length > (this.marks[this.marks.length - 1] ?? 0)) stack.pop()
          else this.dropMark(at)
          break
        case 0x31: // POP_MARK
          this.dropMark(at)
          break
        case 0x32: // DUP
          stack.push(this.top(at))
          break
        case 0x8c: // SHORT_BINUNICODE
          stack.push(this.text(this.u8(), at))
          break
        case 0x58: // BINUNICODE
          stack.push(this.text(this.u32(), at))
          break
        case 0x8d: // BINUNICODE8
          stack.push(this.text(this.u64(), at))
          break
        case 0x55: // SHORT_BINSTRING
          stack.push(this.text(this.u8(), at))
          break
        case 0x54: // BINSTRING
          stack.push(this.text(this.u32(), at))
          break
        case 0x43: // SHORT_BINBYTES
          stack.push(this.bytes(this.u8()))
          break
        case 0x42: // BINBYTES
          stack.push(this.bytes(this.u32()))
          break
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          stack.push(this.bytes(this.u64()))
          break
        case 0x53: {
          // STRING: a quoted repr
          const s = this.line()
          stack.push(/^(['"]).*\1$/s.test(s) ? s.slice(1, -1) : LONG_STRING)
          break
        }
        case 0x56: // UNICODE: raw-unicode-escape
          stack.push(
            this.line().replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) =>
              String.fromCharCode(parseInt(h, 16)),
            ),
          )
          break
        case 0x49: {
          // INT (and the protocol-0 booleans 00 / 01)
          const s = this.line()
          if (!/^[+-]?\d+L?$/.test(s.trim())) this.fail(at, 'INT argument is not a number')
          const n = Number(s.trim().replace(/L$/, ''))
          stack.push(Number.isSafeInteger(n) ? n : ANY)
          break
        }
        case 0x4c: // LONG
          if (!/^[+-]?\d+L?$/.test(this.line().trim()))
            this.fail(at, 'LONG argument is not a number')
          stack.push(ANY)
          break
        case 0x46: // FLOAT
          this.line()
          stack.push(ANY)
          break
        case 0x8a: {
          // LONG1
          const n = this.u8()
          stack.push(this.long(n, at))
          break
        }
        case 0x8b: {
          // LONG4
          const n = this.i32()
          if (n < 0) this.fail(at, 'LONG4 with a negative length')
          stack.push(this.long(n, at))
          break
        }
        case 0x63: {
          // GLOBAL
          const module = this.line()
          const name = this.line()
          stack.push(this.global(module, name, at))
          break
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop(at)
          const module = this.pop(at)
          if (typeof module !== 'string' || typeof name !== 'string') {
            this.finding(
              at,
              'malicious',
              'pickle.computed-import',
              'STACK_GLOBAL imports a module or name computed while loading, not written in the file: a known way to hide the import from scanners',
            )
            stack.push({ k: 2, full: '(computed)', tier: 'dangerous' })
          } else stack.push(this.global(module, name, at))
          break
        }
        case 0x69: {
          // INST
          const module = this.line()
          const name = this.line()
          const cls = this.global(module, name, at)
          stack.push(this.call(cls, this.tuple(this.popMark(at)), at, 'INST'))
          break
        }
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: {
          // EXT4
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32()
          const ext = this.extensions.get(code)
          if (ext === undefined) {
            this.finding(
              at,
              'malicious',
              'pickle.unresolved-extension',
              `EXT opcode ${code} names a global through the copyreg extension registry, which this stream did not fill`,
            )
            stack.push({ k: 2, full: `(extension ${code})`, tier: 'dangerous' })
          } else stack.push(this.global(ext[0], ext[1], at))
          break
        }
        case 0x52: {
          // REDUCE
          const args = this.pop(at)
          const fn = this.pop(at)
          stack.push(this.call(fn, args, at, 'REDUCE'))
          break
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop(at)
          const cls = this.pop(at)
          stack.push(this.call(cls, args, at, 'NEWOBJ'))
          break
        }
        case 0x92: {
          // NEWOBJ_EX
          this.pop(at)
          const args = this.pop(at)
          const cls = this.pop(at)
          stack.push(this.call(cls, args, at, 'NEWOBJ_EX'))
          break
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark(at)
          if (items.length === 0) this.fail(at, 'OBJ without a class')
          stack.push(this.call(items[0] as Value, this.tuple(items.slice(1)), at, 'OBJ'))
          break
        }
        case 0x62: {
          // BUILD
          const state = this.pop(at)
          this.build(this.top(at), state, at)
          break
        }
        case 0x50: // PERSID
          this.line()
          stack.push(ANY)
          break
        case 0x51: {
          // BINPERSID
          const p = checkPersistentId(this.pop(at))
          if (p !== undefined) this.problem(at, p)
          stack.push(ANY)
          break
        }
        case 0x97: // NEXT_BUFFER
          stack.push(ANY)
          break
        case 0x98: // READONLY_BUFFER
          this.top(at)
          break
        default:
          this.fail(at, `unknown opcode 0x${op.toString(16).padStart(2, '0')}`)
      }
    }
  }

  private long(n: number, at: number): Value {
    if (this.cur.pos + n > this.cur.size) this.fail(this.cur.size, 'LONG past the end')
    if (n > 6) {
      this.cur.pos += n
      return ANY
    }
    const i = this.cur.need(n)
    if (i < 0) this.fail(at, 'truncated LONG')
    let v = 0
    for (let j = n - 1; j >= 0; j--) v = v * 256 + (this.cur.buf[i + j] ?? 0)
    if (n > 0 && ((this.cur.buf[i + n - 1] ?? 0) & 0x80) !== 0) v -= 2 ** (8 * n)
    this.cur.pos += n
    return v
  }
}

function setItem(d: Dict, k: Value | undefined, v: Value | undefined): void {
  d.n++
  if (typeof k !== 'string' || v === undefined) return
  d.map ??= new Map()
  if (d.map.size < MAX_DICT_KEYS || d.map.has(k)) d.map.set(k, v)
}

function intLine(s: string, at: number): number {
  if (!/^\d+$/.test(s)) throw new ParseError(at, 'memo index is not a number')
  return Number(s)
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
