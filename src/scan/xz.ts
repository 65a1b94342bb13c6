/**
 * An xz / LZMA decoder for the scanner (joblib's compress='xz' and 'lzma',
 * .tar.xz bundles), written from the .xz file format specification and the
 * LZMA reference decoder's description: a range decoder with adaptive
 * probabilities, literal / match / rep coding, LZMA2 chunks, and the xz
 * container around them. Only what model files use: the LZMA2 filter (no
 * BCJ or delta filters), check fields skipped. Output stops at a byte budget.
 * Corrupt input throws SCAN_MALFORMED, an output over budget LIMIT_EXCEEDED.
 */
import { StrongroomError } from '../errors.ts'

/** Corrupt or unsupported input: the scanner reports it as a finding. */
const malformed = (message: string) => new StrongroomError('SCAN_MALFORMED', message)
/** The output would exceed its budget: the scanner reports the limit as a finding. */
const overBudget = (message: string) => new StrongroomError('LIMIT_EXCEEDED', message)

class Output {
  buf: Uint8Array
  pos = 0
  /** Where the current dictionary starts (an LZMA2 dictionary reset moves it). */
  dictStart = 0
  private readonly budget: number

  constructor(budget: number) {
    this.budget = budget
    this.buf = new Uint8Array(Math.min(budget, 1 << 16))
  }

  private grow(): void {
    if (this.pos >= this.budget) throw overBudget('the output exceeds its budget')
    const next = new Uint8Array(Math.min(this.budget, Math.max(1 << 16, this.buf.length * 2)))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  put(b: number): void {
    if (this.pos === this.buf.length) this.grow()
    this.buf[this.pos++] = b
  }

  /** The byte `dist` positions back (1 = the last one written). */
  back(dist: number): number {
    return this.buf[this.pos - dist] ?? 0
  }

  get dictLength(): number {
    return this.pos - this.dictStart
  }
}

class RangeDecoder {
  private readonly b: Uint8Array
  pos: number
  private readonly end: number
  range = 0xffffffff
  code = 0

  constructor(b: Uint8Array, pos: number, end: number) {
    this.b = b
    this.pos = pos
    this.end = end
    if (this.byte() !== 0) throw malformed('a range-coded chunk must start with a zero byte')
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.byte()) >>> 0
    if (this.code === this.range) throw malformed('corrupt range coder state')
  }

  private byte(): number {
    if (this.pos >= this.end) throw malformed('compressed data ends early')
    return this.b[this.pos++] ?? 0
  }

  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = (this.range << 8) >>> 0
      this.code = ((this.code << 8) | this.byte()) >>> 0
    }
  }

  bit(probs: Uint16Array, i: number): number {
    const p = probs[i] ?? 1024
    const bound = (this.range >>> 11) * p
    let bit: number
    if (this.code < bound) {
      this.range = bound
      probs[i] = p + ((2048 - p) >>> 5)
      bit = 0
    } else {
      this.range = (this.range - bound) >>> 0
      this.code = (this.code - bound) >>> 0
      probs[i] = p - (p >>> 5)
      bit = 1
    }
    this.normalize()
    return bit
  }

  direct(n: number): number {
    let res = 0
    for (let i = 0; i < n; i++) {
      this.range >>>= 1
      let bit = 0
      if (this.code >= this.range) {
        this.code = (this.code - this.range) >>> 0
        bit = 1
      }
      res = ((res << 1) | bit) >>> 0
      this.normalize()
    }
    return res
  }

  tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(probs, base + m)
    return m - (1 << bits)
  }

  reverse(probs: Uint16Array, base: number, bits: number): number {
    let m = 1
    let sym = 0
    for (let i = 0; i < bits; i++) {
      const b = this.bit(probs, base + m)
      m = (m << 1) | b
      sym |= b << i
    }
    return sym
  }
}

class LenDecoder {
  readonly p = new Uint16Array(2 + 16 * 8 + 16 * 8 + 256).fill(1024)

  decode(rc: RangeDecoder, posState: number): number {
    if (rc.bit(this.p, 0) === 0) return rc.tree(this.p, 2 + posState * 8, 3)
    if (rc.bit(this.p, 1) === 0) return 8 + rc.tree(this.p, 2 + 128 + posState * 8, 3)
    return 16 + rc.tree(this.p, 2 + 256, 8)
  }
}

/** The LZMA decoder's state, which LZMA2 chunks may carry over. */
class Lzma {
  lc = 3
  lp = 0
  pb = 2
  state = 0
  reps = [0, 0, 0, 0]
  isMatch = new Uint16Array(0)
  isRep = new Uint16Array(0)
  isRepG0 = new Uint16Array(0)
  isRepG1 = new Uint16Array(0)
  isRepG2 = new Uint16Array(0)
  isRep0Long = new Uint16Array(0)
  literal = new Uint16Array(0)
  posSlot = new Uint16Array(0)
  posSpecial = new Uint16Array(0)
  align = new Uint16Array(0)
  len = new LenDecoder()
  repLen = new LenDecoder()

  setProps(props: number): void {
    if (props >= 9 * 5 * 5) throw malformed('invalid LZMA properties')
    this.lc = props % 9
    this.lp = Math.floor(props / 9) % 5
    this.pb = Math.floor(props / 45)
  }

  reset(): void {
    const probs = (n: number) => new Uint16Array(n).fill(1024)
    this.state = 0
    this.reps = [0, 0, 0, 0]
    this.isMatch = probs(12 * 16)
    this.isRep = probs(12)
    this.isRepG0 = probs(12)
    this.isRepG1 = probs(12)
    this.isRepG2 = probs(12)
    this.isRep0Long = probs(12 * 16)
    this.literal = probs(0x300 << (this.lc + this.lp))
    this.posSlot = probs(4 << 6)
    this.posSpecial = probs(1 + 114)
    this.align = probs(16)
    this.len = new LenDecoder()
    this.repLen = new LenDecoder()
  }

  /**
   * Decodes until `size` more bytes are out (LZMA2) or, when size is -1, until
   * the end marker. Returns false when it stopped at an end marker.
   */
  decode(rc: RangeDecoder, out: Output, size: number): boolean {
    const target = size < 0 ? Number.POSITIVE_INFINITY : out.pos + size
    const pbMask = (1 << this.pb) - 1
    const lpMask = (1 << this.lp) - 1
    while (out.pos < target) {
      const posState = out.pos & pbMask
      const s = this.state
      if (rc.bit(this.isMatch, (s << 4) + posState) === 0) {
        const prev = out.dictLength > 0 ? out.back(1) : 0
        const base = 0x300 * (((out.pos & lpMask) << this.lc) + (prev >>> (8 - this.lc)))
        let sym = 1
        if (s >= 7) {
          if (out.dictLength < (this.reps[0] ?? 0) + 1) throw malformed('a match before the data')
          let match = out.back((this.reps[0] ?? 0) + 1)
          do {
            const mb = (match >>> 7) & 1
            match <<= 1
            const b = rc.bit(this.literal, base + ((1 + mb) << 8) + sym)
            sym = (sym << 1) | b
            if (mb !== b) break
          } while (sym < 0x100)
        }
        while (sym < 0x100) sym = (sym << 1) | rc.bit(this.literal, base + sym)
        out.put(sym & 0xff)
        this.state = s < 4 ? 0 : s < 10 ? s - 3 : s - 6
        continue
      }
      let len: number
      if (rc.bit(this.isRep, s) !== 0) {
        if (out.dictLength === 0) throw malformed('a repeated match before any data')
        if (rc.bit(this.isRepG0, s) === 0) {
          if (rc.bit(this.isRep0Long, (s << 4) + posState) === 0) {
            this.state = s < 7 ? 9 : 11
            out.put(out.back((this.reps[0] ?? 0) + 1))
            continue
          }
        } else {
          let dist: number
          if (rc.bit(this.isRepG1, s) === 0) dist = this.reps[1] ?? 0
          else {
            if (rc.bit(this.isRepG2, s) === 0) dist = this.reps[2] ?? 0
            else {
              dist = this.reps[3] ?? 0
              this.reps[3] = this.reps[2] ?? 0
            }
            this.reps[2] = this.reps[1] ?? 0
          }
          this.reps[1] = this.reps[0] ?? 0
          this.reps[0] = dist
        }
        len = this.repLen.decode(rc, posState)
        this.state = s < 7 ? 8 : 11
      } else {
        this.reps[3] = this.reps[2] ?? 0
        this.reps[2] = this.reps[1] ?? 0
        this.reps[1] = this.reps[0] ?? 0
        len = this.len.decode(rc, posState)
        this.state = s < 7 ? 7 : 10
        const dist = this.distance(rc, len)
        if (dist === 0xffffffff) return false
        this.reps[0] = dist
      }
      len += 2
      const dist = (this.reps[0] ?? 0) + 1
      if (dist > out.dictLength) throw malformed('a match reaches before the data')
      if (out.pos + len > target) throw malformed('a match runs past the chunk')
      for (let i = 0; i < len; i++) out.put(out.back(dist))
    }
    return true
  }

  private distance(rc: RangeDecoder, len: number): number {
    const lenState = Math.min(len, 3)
    const slot = rc.tree(this.posSlot, lenState << 6, 6)
    if (slot < 4) return slot
    const direct = (slot >>> 1) - 1
    let dist = ((2 | (slot & 1)) << direct) >>> 0
    if (slot < 14) dist = (dist + rc.reverse(this.posSpecial, dist - slot, direct)) >>> 0
    else {
      dist = (dist + ((rc.direct(direct - 4) << 4) >>> 0)) >>> 0
      dist = (dist + rc.reverse(this.align, 0, 4)) >>> 0
    }
    return dist
  }
}

/** LZMA2 chunks from `pos` until the end marker; returns the position after it. */
function lzma2(b: Uint8Array, pos: number, end: number, out: Output): number {
  const lz = new Lzma()
  let needProps = true
  let needDictReset = true
  for (;;) {
    if (pos >= end) throw malformed('LZMA2 data ends without its end marker')
    const c = b[pos++] ?? 0
    if (c === 0) return pos
    if (c === 1 || c === 2) {
      if (c === 1) {
        out.dictStart = out.pos
        needDictReset = false
      } else if (needDictReset) throw malformed('LZMA2 data without a dictionary reset')
      const n = (((b[pos] ?? 0) << 8) | (b[pos + 1] ?? 0)) + 1
      pos += 2
      if (pos + n > end) throw malformed('an uncompressed chunk past the end')
      for (let i = 0; i < n; i++) out.put(b[pos + i] ?? 0)
      pos += n
      continue
    }
    if (c < 0x80) throw malformed(`an invalid LZMA2 control byte 0x${c.toString(16)}`)
    const unpacked = ((c & 0x1f) << 16) + (((b[pos] ?? 0) << 8) | (b[pos + 1] ?? 0)) + 1
    const packed = (((b[pos + 2] ?? 0) << 8) | (b[pos + 3] ?? 0)) + 1
    pos += 4
    const mode = (c >>> 5) & 3
    if (mode === 3) {
      out.dictStart = out.pos
      needDictReset = false
    } else if (needDictReset) throw malformed('LZMA2 data without a dictionary reset')
    if (mode >= 2) {
      lz.setProps(b[pos++] ?? 0)
      if (lz.lc + lz.lp > 4) throw malformed('LZMA2 properties with lc + lp > 4')
      needProps = false
    } else if (needProps) throw malformed('an LZMA2 chunk before its properties')
    if (mode >= 1) lz.reset()
    if (pos + packed > end) throw malformed('a compressed chunk past the end')
    const rc = new RangeDecoder(b, pos, pos + packed)
    if (!lz.decode(rc, out, unpacked)) throw malformed('an end marker inside an LZMA2 chunk')
    pos += packed
  }
}

function varint(b: Uint8Array, at: { pos: number }): number {
  let v = 0
  for (let i = 0; i < 9; i++) {
    const x = b[at.pos++] ?? 0
    v += (x & 0x7f) * 2 ** (7 * i)
    if ((x & 0x80) === 0) return v
  }
  throw malformed('an over-long integer')
}

const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64]

/** Decompresses every stream of an .xz file, producing at most `budget` bytes. */
export function unxz(b: Uint8Array, budget: number): Uint8Array {
  const out = new Output(budget)
  let pos = 0
  while (pos < b.length) {
    if (b.subarray(pos, pos + 6).every((x, i) => x === [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0][i])) {
      const flags = b[pos + 7] ?? 0
      const checkSize = CHECK_SIZES[flags & 0x0f] ?? 0
      pos += 12
      // Blocks until the index.
      for (;;) {
        const size = b[pos] ?? 0
        if (size === 0) break
        const headerEnd = pos + (size + 1) * 4
        const at = { pos: pos + 1 }
        const bf = b[at.pos++] ?? 0
        if ((bf & 0x3c) !== 0) throw malformed('reserved block flags are set')
        if (bf & 0x40) varint(b, at)
        if (bf & 0x80) varint(b, at)
        const filters = (bf & 3) + 1
        for (let f = 0; f < filters; f++) {
          const id = varint(b, at)
          const propsLen = varint(b, at)
          if (id !== 0x21 || filters !== 1)
            throw malformed(`the xz filter 0x${id.toString(16)} is not supported (only LZMA2)`)
          at.pos += propsLen
        }
        if (headerEnd > b.length) throw malformed('a block header past the end')
        const dataStart = headerEnd
        const dataEnd = lzma2(b, dataStart, b.length, out)
        pos = dataEnd + ((4 - ((dataEnd - dataStart) % 4)) % 4) + checkSize
      }
      // The index: its records, padding and CRC; then the 12-byte footer.
      const at = { pos: pos + 1 }
      const records = varint(b, at)
      for (let r = 0; r < records; r++) {
        varint(b, at)
        varint(b, at)
      }
      at.pos += (4 - ((at.pos - pos) % 4)) % 4
      pos = at.pos + 4 + 12
    } else if (b[pos] === 0)
      pos++ // stream padding
    else throw malformed(pos === 0 ? 'not an xz stream' : 'data after the xz stream')
  }
  return out.buf.subarray(0, out.pos)
}

/** The .lzma ("LZMA alone") format: properties, dictionary size, length (or unknown, then an end marker). */
export function unlzma(b: Uint8Array, budget: number): Uint8Array {
  if (b.length < 13) throw malformed('an .lzma header cut short')
  const out = new Output(budget)
  const lz = new Lzma()
  lz.setProps(b[0] ?? 0)
  lz.reset()
  const lo = ((b[5] ?? 0) | ((b[6] ?? 0) << 8) | ((b[7] ?? 0) << 16) | ((b[8] ?? 0) << 24)) >>> 0
  const hi = ((b[9] ?? 0) | ((b[10] ?? 0) << 8) | ((b[11] ?? 0) << 16) | ((b[12] ?? 0) << 24)) >>> 0
  const known = !(lo === 0xffffffff && hi === 0xffffffff)
  if (known && hi >= 0x200000) throw malformed('an implausible .lzma length')
  const size = known ? hi * 0x100000000 + lo : -1
  if (size > budget) throw overBudget('the output exceeds its budget')
  const rc = new RangeDecoder(b, 13, b.length)
  lz.decode(rc, out, size)
  return out.buf.subarray(0, out.pos)
}
