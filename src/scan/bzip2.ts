/**
 * A bzip2 decoder for the scanner (joblib's compress='bz2', .tar.bz2
 * bundles), written from the format as the reference implementation defines
 * it: bit-level Huffman-coded MTF/RLE2 symbols per block, the inverse
 * Burrows-Wheeler transform, then the initial run-length coding. Every block
 * CRC and the stream CRC are checked, and the output stops at a byte budget,
 * so a bzip2 bomb trips a limit instead of exhausting memory. Corrupt input
 * throws SCAN_MALFORMED, an output over budget LIMIT_EXCEEDED.
 */
import { StrongroomError } from '../errors.ts'

/** Corrupt or unsupported input: the scanner reports it as a finding. */
const malformed = (message: string) => new StrongroomError('SCAN_MALFORMED', message)
/** The output would exceed its budget: the scanner reports the limit as a finding. */
const overBudget = (message: string) => new StrongroomError('LIMIT_EXCEEDED', message)

const BLOCK_MAGIC_HI = 0x314159
const BLOCK_MAGIC_LO = 0x265359
const END_MAGIC_HI = 0x177245
const END_MAGIC_LO = 0x385090
const MAX_GROUPS = 6
const GROUP_SIZE = 50
const MAX_CODE_LEN = 20

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 24
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1
    t[i] = c >>> 0
  }
  return t
})()

class Bits {
  private readonly b: Uint8Array
  private pos = 0
  private bit = 0
  private acc = 0

  constructor(b: Uint8Array) {
    this.b = b
  }

  /** Up to 24 bits, most significant first. */
  read(n: number): number {
    while (this.bit < n) {
      if (this.pos >= this.b.length) throw malformed('the stream ends inside a block')
      this.acc = ((this.acc << 8) | (this.b[this.pos++] ?? 0)) >>> 0
      this.bit += 8
    }
    this.bit -= n
    return (this.acc >>> this.bit) & ((1 << n) - 1)
  }

  get atEnd(): boolean {
    return this.pos >= this.b.length
  }

  /** Skips to the next byte boundary (between concatenated streams). */
  align(): void {
    this.bit -= this.bit % 8
  }
}

/** Decompresses every concatenated bzip2 stream in `input`, producing at most `budget` bytes. */
export function bunzip2(input: Uint8Array, budget: number): Uint8Array {
  const bits = new Bits(input)
  const out = new Output(budget)
  let streams = 0
  while (!bits.atEnd) {
    if (streams > 0) bits.align()
    if (bits.read(8) !== 0x42 || bits.read(8) !== 0x5a || bits.read(8) !== 0x68)
      throw malformed(streams === 0 ? 'not a bzip2 stream' : 'data after the bzip2 stream')
    const level = bits.read(8) - 0x30
    if (level < 1 || level > 9) throw malformed('an invalid block size')
    const tt = new Uint32Array(level * 100_000)
    let combined = 0
    for (;;) {
      const hi = bits.read(24)
      const lo = bits.read(24)
      if (hi === END_MAGIC_HI && lo === END_MAGIC_LO) {
        const crc = ((bits.read(16) << 16) | bits.read(16)) >>> 0
        if (crc !== combined) throw malformed('the stream CRC does not match')
        break
      }
      if (hi !== BLOCK_MAGIC_HI || lo !== BLOCK_MAGIC_LO)
        throw malformed('a block without its magic number')
      const blockCrc = ((bits.read(16) << 16) | bits.read(16)) >>> 0
      const got = decodeBlock(bits, tt, out)
      if (got !== blockCrc) throw malformed('a block CRC does not match')
      combined = (((combined << 1) | (combined >>> 31)) ^ blockCrc) >>> 0
    }
    streams++
  }
  return out.bytes()
}

class Output {
  private buf: Uint8Array
  length = 0
  private readonly budget: number

  constructor(budget: number) {
    this.budget = budget
    this.buf = new Uint8Array(Math.min(budget, 1 << 16))
  }

  push(byte: number): void {
    if (this.length === this.buf.length) {
      if (this.length >= this.budget) throw overBudget('the output exceeds its budget')
      const next = new Uint8Array(Math.min(this.budget, this.buf.length * 2))
      next.set(this.buf)
      this.buf = next
    }
    this.buf[this.length++] = byte
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}

/** Decodes one block into `out`; returns the CRC of what it wrote. */
function decodeBlock(bits: Bits, tt: Uint32Array, out: Output): number {
  if (bits.read(1) !== 0) throw malformed('randomised blocks are not supported')
  const origPtr = bits.read(24)
  // The bytes in use: 16 groups of 16.
  const used: number[] = []
  const groups = bits.read(16)
  for (let g = 0; g < 16; g++)
    if (groups & (0x8000 >> g)) {
      const mask = bits.read(16)
      for (let i = 0; i < 16; i++) if (mask & (0x8000 >> i)) used.push(g * 16 + i)
    }
  if (used.length === 0) throw malformed('a block that uses no byte values')
  const alphaSize = used.length + 2
  const nGroups = bits.read(3)
  if (nGroups < 2 || nGroups > MAX_GROUPS) throw malformed('an invalid number of tables')
  const nSelectors = bits.read(15)
  if (nSelectors < 1) throw malformed('no selectors')
  const mtfGroups = Array.from({ length: nGroups }, (_, i) => i)
  const selectors = new Uint8Array(nSelectors)
  for (let i = 0; i < nSelectors; i++) {
    let j = 0
    while (bits.read(1) === 1) if (++j >= nGroups) throw malformed('an invalid selector')
    const v = mtfGroups[j] ?? 0
    mtfGroups.splice(j, 1)
    mtfGroups.unshift(v)
    selectors[i] = v
  }
  // Huffman tables: code lengths coded as deltas, then canonical decoding tables.
  const tables: { limit: Int32Array; base: Int32Array; perm: Int32Array; min: number }[] = []
  for (let t = 0; t < nGroups; t++) {
    const lengths = new Uint8Array(alphaSize)
    let len = bits.read(5)
    for (let s = 0; s < alphaSize; s++) {
      for (;;) {
        if (len < 1 || len > MAX_CODE_LEN) throw malformed('an invalid code length')
        if (bits.read(1) === 0) break
        len += bits.read(1) === 0 ? 1 : -1
      }
      lengths[s] = len
    }
    let min = MAX_CODE_LEN
    let max = 0
    for (const l of lengths) {
      if (l < min) min = l
      if (l > max) max = l
    }
    const perm = new Int32Array(alphaSize)
    let pp = 0
    for (let l = min; l <= max; l++)
      for (let s = 0; s < alphaSize; s++) if (lengths[s] === l) perm[pp++] = s
    const count = new Int32Array(MAX_CODE_LEN + 2)
    for (const l of lengths) count[l] = (count[l] ?? 0) + 1
    const limit = new Int32Array(MAX_CODE_LEN + 2).fill(-1)
    const base = new Int32Array(MAX_CODE_LEN + 2)
    let code = 0
    let index = 0
    for (let l = min; l <= max; l++) {
      const n = count[l] ?? 0
      base[l] = index - code
      code += n
      index += n
      limit[l] = code - 1
      code <<= 1
    }
    tables.push({ limit, base, perm, min })
  }
  // Symbols: MTF indices with zero runs in bijective base 2 (RUNA, RUNB), until end of block.
  const mtf = used.slice()
  const counts = new Int32Array(256)
  const eob = used.length + 1
  const capacity = tt.length
  let n = 0
  let run = 0
  let runWeight = 1
  let selector = 0
  let left = 0
  let table = tables[0]
  for (;;) {
    if (left === 0) {
      if (selector >= nSelectors) throw malformed('more symbols than selectors')
      table = tables[selectors[selector++] ?? 0]
      left = GROUP_SIZE
    }
    left--
    if (table === undefined) throw malformed('a missing table')
    let l = table.min
    let v = bits.read(l)
    while (l <= MAX_CODE_LEN && v > (table.limit[l] ?? -1)) {
      v = (v << 1) | bits.read(1)
      l++
    }
    if (l > MAX_CODE_LEN) throw malformed('an invalid Huffman code')
    const sym = table.perm[(table.base[l] ?? 0) + v]
    if (sym === undefined) throw malformed('an invalid Huffman code')
    if (sym <= 1) {
      run += runWeight << sym
      runWeight <<= 1
      if (run > capacity) throw malformed('a run longer than the block')
      continue
    }
    if (run > 0) {
      const byte = mtf[0] ?? 0
      if (n + run > capacity) throw malformed('a block larger than its declared size')
      counts[byte] = (counts[byte] ?? 0) + run
      tt.fill(byte, n, n + run)
      n += run
      run = 0
      runWeight = 1
    }
    if (sym === eob) break
    const i = sym - 1
    const byte = mtf[i] ?? 0
    mtf.splice(i, 1)
    mtf.unshift(byte)
    if (n >= capacity) throw malformed('a block larger than its declared size')
    counts[byte] = (counts[byte] ?? 0) + 1
    tt[n++] = byte
  }
  if (origPtr >= n) throw malformed('an origin pointer outside the block')
  // Inverse BWT: link each position to the next in the original order.
  const start = new Int32Array(256)
  for (let i = 0, sum = 0; i < 256; i++) {
    start[i] = sum
    sum += counts[i] ?? 0
  }
  for (let i = 0; i < n; i++) {
    const byte = (tt[i] ?? 0) & 0xff
    const at = start[byte] ?? 0
    start[byte] = at + 1
    tt[at] = ((tt[at] ?? 0) & 0xff) | (i << 8)
  }
  // Undo the initial run-length coding (four equal bytes, then a count) while writing out.
  let crc = 0xffffffff
  let pos = (tt[origPtr] ?? 0) >>> 8
  let last = -1
  let same = 0
  for (let k = 0; k < n; k++) {
    const entry = tt[pos] ?? 0
    const byte = entry & 0xff
    pos = entry >>> 8
    if (same === 4) {
      for (let r = 0; r < byte; r++) {
        out.push(last)
        crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ last) & 0xff] ?? 0)) >>> 0
      }
      same = 0
      last = -1
      continue
    }
    same = byte === last ? same + 1 : 1
    last = byte
    out.push(byte)
    crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] ?? 0)) >>> 0
  }
  return (crc ^ 0xffffffff) >>> 0
}
