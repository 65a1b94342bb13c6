/**
 * The reading half of the symbolic pickle machine (pickle-vm.ts): the
 * cursor over the stream, the stack, mark stack and memo, and the argument
 * readers of every opcode. Arguments are attacker-controlled lengths and
 * text: each is checked against the end of the stream before it is read,
 * long strings are skipped rather than kept, and a malformed argument ends
 * the pickle (`fail`, a SCAN_MALFORMED error the caller turns into a finding).
 */
import { StrongroomError } from '../errors.ts'
import { type Cursor, type ByteSource } from './source.ts'
import { newFinding, type Finding, type ScanContext } from './types.ts'
import { ANY, LONG_STRING, type Bytes, type Dict, type Tuple, type Value } from './values.ts'

const MAX_KEPT_STRING = 4096
const MAX_TUPLE_ITEMS = 64
const MAX_DICT_KEYS = 64
const MAX_LINE = 1 << 20

const decoder = new TextDecoder('utf-8')
const latin1 = new TextDecoder('latin1')

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

export class PickleReader {
  protected readonly cur: Cursor
  protected readonly ctx: ScanContext
  protected readonly o: PickleOptions
  protected stack: Value[] = []
  protected marks: number[] = []
  protected memo = new Map<number, Value>()
  protected protocol = 0
  protected ops = 0
  /** copyreg.add_extension calls seen: extension code -> global. */
  protected readonly extensions = new Map<number, [string, string]>()
  /** Findings of the pickle being read; committed at its end (or dropped when probing fails). */
  private pending: Finding[] = []
  /** Stacks of the outer pickle while a nested one (a joblib object array) is read. */
  protected nested: [Value[], number[]][] = []

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

  protected finding(
    offset: number,
    verdict: 'malicious' | 'suspicious',
    rule: string,
    reason: string,
    subject?: string,
  ): void {
    this.pending.push(newFinding(this.o.path, offset, verdict, rule, reason, subject))
  }

  // ---- reading arguments

  /** Where the last parse error was: SCAN_MALFORMED errors carry no offset of their own. */
  failedAt = 0

  /** Stops reading a malformed pickle (the caller turns it into a finding at `failedAt`). */
  protected fail(offset: number, message: string): never {
    this.failedAt = offset
    throw new StrongroomError('SCAN_MALFORMED', message)
  }

  protected intLine(s: string, at: number): number {
    if (!/^\d+$/.test(s)) this.fail(at, 'memo index is not a number')
    return Number(s)
  }

  protected u8(): number {
    const i = this.cur.need(1)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    this.cur.pos += 1
    return this.cur.buf[i] ?? 0
  }

  protected u16(): number {
    const i = this.cur.need(2)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    const b = this.cur.buf
    this.cur.pos += 2
    return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8)
  }

  protected i32(): number {
    const i = this.cur.need(4)
    if (i < 0) this.fail(this.cur.size, 'missing argument')
    const b = this.cur.buf
    this.cur.pos += 4
    return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)
  }

  protected u32(): number {
    return this.i32() >>> 0
  }

  protected u64(): number {
    const lo = this.u32()
    const hi = this.u32()
    if (hi >= 0x200000) this.fail(this.cur.pos - 8, 'an 8-byte length beyond 2^53')
    return hi * 0x100000000 + lo
  }

  protected line(): string {
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
  protected text(n: number, at: number): Value {
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

  protected bytes(n: number): Bytes {
    const off = this.cur.pos
    if (off + n > this.cur.size) this.fail(this.cur.size, `a ${n}-byte argument past the end`)
    this.cur.pos += n
    return { k: 1, off, len: n }
  }

  // ---- stack

  protected pop(at: number): Value {
    const floor = this.marks.length > 0 ? (this.marks[this.marks.length - 1] ?? 0) : 0
    if (this.stack.length <= floor) this.fail(at, 'stack underflow')
    return this.stack.pop() as Value
  }

  protected top(at: number): Value {
    if (this.stack.length === 0) this.fail(at, 'stack underflow')
    return this.stack[this.stack.length - 1] as Value
  }

  protected popMark(at: number): Value[] {
    const mark = this.marks.pop()
    if (mark === undefined) this.fail(at, 'no MARK to pop to')
    const items = this.stack.slice(mark)
    this.stack.length = mark
    return items
  }

  /** Pops to the mark without keeping the items (appends to lists, sets). */
  protected dropMark(at: number): void {
    const mark = this.marks.pop()
    if (mark === undefined) this.fail(at, 'no MARK to pop to')
    this.stack.length = mark
  }

  protected tuple(items: Value[]): Tuple {
    return { k: 4, items: items.length <= MAX_TUPLE_ITEMS ? items : null }
  }

  protected long(n: number, at: number): Value {
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

export function setItem(d: Dict, k: Value | undefined, v: Value | undefined): void {
  d.n++
  if (typeof k !== 'string' || v === undefined) return
  d.map ??= new Map()
  if (d.map.size < MAX_DICT_KEYS || d.map.has(k)) d.map.set(k, v)
}
