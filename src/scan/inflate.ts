/**
 * Streaming raw DEFLATE (RFC 1951) for the scanner: zip members are
 * decompressed as the scanner reads them, keeping only the 32 KiB window and
 * one output chunk, so a member of any size is scanned in bounded memory
 * (node:zlib has no synchronous incremental API, and the scanner is
 * synchronous). Output comes in chunks of at most 96 KiB, each valid until
 * the next is asked for.
 *
 * Format: blocks of a 3-bit header (BFINAL, BTYPE), bits least significant
 * first. BTYPE 0: to a byte boundary, LEN and NLEN (16 bits each, NLEN = ~LEN),
 * LEN raw bytes. BTYPE 1: fixed Huffman codes. BTYPE 2: HLIT (5 bits, + 257),
 * HDIST (5, + 1), HCLEN (4, + 4), code length codes (3 bits each, in the
 * order below), then literal/length and distance code lengths, run-length
 * coded with symbols 16-18. A length symbol 257-285 is followed by a distance
 * symbol 0-29; each has extra bits. Every count, length and distance here is
 * attacker-controlled and checked: a malformed stream throws SCAN_MALFORMED.
 */
import { isStrongroomError, StrongroomError } from '../errors.ts'
import { ForwardSource } from './forward.ts'
import type { ByteSource } from './source.ts'

const WINDOW = 32 * 1024
const CHUNK = 64 * 1024
const MAX_MATCH = 258
const INPUT = 64 * 1024

const malformed = (message: string) => new StrongroomError('SCAN_MALFORMED', `deflate: ${message}`)

const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
]
const LENGTH_EXTRA = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
]
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
  3073, 4097, 6145, 8193, 12289, 16385, 24577,
]
const DIST_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
]
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

/** Bits of the input, least significant first, read through a window of the source. */
class Bits {
  private readonly src: ByteSource
  private readonly buf = new Uint8Array(INPUT)
  private len = 0
  private at = 0
  /** Absolute position of buf[0]. */
  private base = 0
  private bitbuf = 0
  private count = 0
  /** Zero bits added past the end of the input, so that a peek near the end works. */
  private padding = 0

  constructor(src: ByteSource) {
    this.src = src
  }

  private byte(): number {
    if (this.at === this.len) {
      this.base += this.len
      this.len = this.src.readInto(
        this.base,
        this.buf,
        0,
        Math.min(INPUT, this.src.size - this.base),
      )
      this.at = 0
      if (this.len === 0) return -1
    }
    return this.buf[this.at++] ?? 0
  }

  /** Makes `n` (at most 24) bits available, padding with zeros past the end. */
  private fill(n: number): void {
    while (this.count < n) {
      const b = this.byte()
      if (b < 0) this.padding += 8
      this.bitbuf |= (b < 0 ? 0 : b) << this.count
      this.count += 8
    }
  }

  peek(n: number): number {
    this.fill(n)
    return this.bitbuf & ((1 << n) - 1)
  }

  skip(n: number): void {
    this.bitbuf >>>= n
    this.count -= n
    if (this.count < this.padding) throw malformed('the stream ends early')
  }

  bits(n: number): number {
    if (n === 0) return 0
    const v = this.peek(n)
    this.skip(n)
    return v
  }

  /** Drops the bits up to the next byte boundary (before a stored block). */
  align(): void {
    this.skip(this.count % 8)
  }
}

/** A canonical Huffman code as a lookup table indexed by the next `max` bits: (symbol << 4) | length, 0 for no code. */
interface Code {
  readonly table: Int32Array
  readonly max: number
}

function code(lengths: ArrayLike<number>): Code {
  const count = new Array<number>(16).fill(0)
  let max = 0
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s] ?? 0
    count[l] = (count[l] ?? 0) + 1
    if (l > max) max = l
  }
  count[0] = 0
  let left = 1
  for (let l = 1; l <= 15; l++) {
    left = left * 2 - (count[l] ?? 0)
    if (left < 0) throw malformed('an over-subscribed Huffman code')
  }
  const next = new Array<number>(16).fill(0)
  for (let l = 1, c = 0; l <= 15; l++) {
    c = (c + (count[l - 1] ?? 0)) << 1
    next[l] = c
  }
  const table = new Int32Array(1 << max)
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s] ?? 0
    if (l === 0) continue
    const c = next[l] ?? 0
    next[l] = c + 1
    let rev = 0
    for (let i = 0; i < l; i++) rev |= ((c >> i) & 1) << (l - 1 - i)
    for (let i = rev; i < table.length; i += 1 << l) table[i] = (s << 4) | l
  }
  return { table, max }
}

function decode(bits: Bits, c: Code): number {
  if (c.max === 0) throw malformed('a symbol from an empty code')
  const e = c.table[bits.peek(c.max)] ?? 0
  if (e === 0) throw malformed('an invalid Huffman code')
  bits.skip(e & 15)
  return e >> 4
}

let fixed: [Code, Code] | undefined
function fixedCodes(): [Code, Code] {
  if (fixed === undefined) {
    const lit = new Array<number>(288)
    for (let s = 0; s < 288; s++) lit[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8
    fixed = [code(lit), code(new Array<number>(30).fill(5))]
  }
  return fixed
}

function dynamicCodes(bits: Bits): [Code, Code] {
  const nlit = bits.bits(5) + 257
  const ndist = bits.bits(5) + 1
  const nclen = bits.bits(4) + 4
  if (nlit > 286 || ndist > 30) throw malformed('too many length or distance codes')
  const clen = new Array<number>(19).fill(0)
  for (let i = 0; i < nclen; i++) clen[CODE_LENGTH_ORDER[i] ?? 0] = bits.bits(3)
  const lengthCode = code(clen)
  const lengths: number[] = []
  while (lengths.length < nlit + ndist) {
    const s = decode(bits, lengthCode)
    if (s < 16) lengths.push(s)
    else {
      const prev = lengths.at(-1)
      if (s === 16 && prev === undefined) throw malformed('a repeat with nothing to repeat')
      const [value, n] =
        s === 16
          ? [prev ?? 0, 3 + bits.bits(2)]
          : s === 17
            ? [0, 3 + bits.bits(3)]
            : [0, 11 + bits.bits(7)]
      if (lengths.length + n > nlit + ndist) throw malformed('code lengths past their count')
      for (let i = 0; i < n; i++) lengths.push(value)
    }
  }
  if ((lengths[256] ?? 0) === 0) throw malformed('no end-of-block code')
  return [code(lengths.slice(0, nlit)), code(lengths.slice(nlit))]
}

/** The decompressed bytes of the raw DEFLATE stream in `src`, in chunks; throws SCAN_MALFORMED on a malformed stream. */
export function* inflateRaw(src: ByteSource): Generator<Uint8Array, void, void> {
  const bits = new Bits(src)
  const out = new Uint8Array(WINDOW + CHUNK + MAX_MATCH)
  let p = 0
  let from = 0
  for (let last = 0; last === 0;) {
    last = bits.bits(1)
    const type = bits.bits(2)
    if (type === 0) {
      bits.align()
      const len = bits.bits(16)
      if ((bits.bits(16) ^ 0xffff) !== len)
        throw malformed('a stored block whose length check fails')
      for (let i = 0; i < len; i++) {
        out[p++] = bits.bits(8)
        if (p >= WINDOW + CHUNK) {
          yield out.subarray(from, p)
          out.copyWithin(0, p - WINDOW, p)
          p = from = WINDOW
        }
      }
      continue
    }
    if (type === 3) throw malformed('a block of the reserved type 3')
    const [lit, dist] = type === 1 ? fixedCodes() : dynamicCodes(bits)
    for (;;) {
      const s = decode(bits, lit)
      if (s < 256) out[p++] = s
      else if (s === 256) break
      else {
        const i = s - 257
        if (i >= 29) throw malformed(`an invalid length symbol ${s}`)
        const len = (LENGTH_BASE[i] ?? 0) + bits.bits(LENGTH_EXTRA[i] ?? 0)
        const d = decode(bits, dist)
        if (d >= 30) throw malformed(`an invalid distance symbol ${d}`)
        const back = (DIST_BASE[d] ?? 0) + bits.bits(DIST_EXTRA[d] ?? 0)
        // out[0 .. p) is all output so far, or the last 32 KiB of it and this chunk.
        if (back > p) throw malformed('a distance before the start of the output')
        for (let k = 0; k < len; k++, p++) out[p] = out[p - back] ?? 0
      }
      if (p >= WINDOW + CHUNK) {
        yield out.subarray(from, p)
        out.copyWithin(0, p - WINDOW, p)
        p = from = WINDOW
      }
    }
  }
  if (p > from) yield out.subarray(from, p)
}

/** History kept for reads that reach back: the pickle machine's resynchronisation and headers need little. */
const INFLATED_HISTORY = 4 << 20

/**
 * A deflated member as a forward source of its declared size (what loaders
 * read too: Python's zipfile stops at the declared size). A corrupt stream,
 * or one that ends before the declared size, fails the source (`corrupt`,
 * with `problem` saying why); reads beyond the history fail it
 * (`needs-random-access`), and the caller inflates the member whole instead.
 */
export class InflatedSource extends ForwardSource {
  readonly size: number
  problem: string | undefined
  private readonly chunks: Generator<Uint8Array, void, void>
  private chunk: Uint8Array = new Uint8Array(0)

  constructor(deflated: ByteSource, size: number) {
    super(INFLATED_HISTORY)
    this.size = size
    this.chunks = inflateRaw(deflated)
  }

  protected pull(n: number, taken: (piece: Uint8Array) => void): boolean {
    let left = n
    while (left > 0) {
      if (this.chunk.length === 0) {
        let next: IteratorResult<Uint8Array, void>
        try {
          next = this.chunks.next()
        } catch (e) {
          if (!isStrongroomError(e, 'SCAN_MALFORMED')) throw e
          return this.fail(e.message)
        }
        if (next.done === true) return this.fail('the member ends before its declared size')
        this.chunk = next.value
      }
      const k = Math.min(left, this.chunk.length)
      taken(this.chunk.subarray(0, k))
      this.chunk = this.chunk.subarray(k)
      left -= k
    }
    return true
  }

  private fail(problem: string): false {
    this.failure = 'corrupt'
    this.problem = problem
    return false
  }
}
