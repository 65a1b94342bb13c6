/**
 * Byte-exact builders for the scanner's test corpus: pickle opcodes, zip and
 * tar archives, numpy, safetensors, GGUF. Written from the format
 * specifications (Lib/pickletools.py's opcode table, PKWARE APPNOTE, POSIX
 * ustar, the numpy and safetensors format pages), not from any scanner.
 */
import { crc32, deflateRawSync } from 'node:zlib'

const enc = new TextEncoder()

/** A pickle, opcode by opcode. */
export class P {
  private readonly parts: Uint8Array[] = []

  raw(...b: (number | Uint8Array | string)[]): this {
    for (const x of b)
      this.parts.push(
        typeof x === 'number' ? Uint8Array.of(x) : typeof x === 'string' ? enc.encode(x) : x,
      )
    return this
  }
  proto(n: number): this {
    return this.raw(0x80, n)
  }
  frame(n: number): this {
    const b = new Uint8Array(9)
    b[0] = 0x95
    new DataView(b.buffer).setBigUint64(1, BigInt(n), true)
    return this.raw(b)
  }
  global(module: string, name: string): this {
    return this.raw('c', module, '\n', name, '\n')
  }
  inst(module: string, name: string): this {
    return this.raw('i', module, '\n', name, '\n')
  }
  str(s: string): this {
    const b = enc.encode(s)
    if (b.length < 256) return this.raw(0x8c, b.length, b)
    const h = new Uint8Array(5)
    h[0] = 0x58
    new DataView(h.buffer).setUint32(1, b.length, true)
    return this.raw(h, b)
  }
  /** Protocol-0 UNICODE line. */
  unicode(s: string): this {
    return this.raw('V', s, '\n')
  }
  /** Protocol-0/1 STRING repr line. */
  string(s: string): this {
    return this.raw('S', `'${s}'`, '\n')
  }
  binstring(s: string): this {
    const b = enc.encode(s)
    return this.raw('U', b.length, b)
  }
  bytes(b: Uint8Array): this {
    if (b.length < 256) return this.raw('C', b.length, b)
    const h = new Uint8Array(5)
    h[0] = 0x42
    new DataView(h.buffer).setUint32(1, b.length, true)
    return this.raw(h, b)
  }
  bytearray8(b: Uint8Array): this {
    const h = new Uint8Array(9)
    h[0] = 0x96
    new DataView(h.buffer).setBigUint64(1, BigInt(b.length), true)
    return this.raw(h, b)
  }
  sg(module: string, name: string): this {
    return this.str(module).str(name).raw(0x93)
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw('K', n)
    const b = new Uint8Array(5)
    b[0] = 0x4a
    new DataView(b.buffer).setInt32(1, n, true)
    return this.raw(b)
  }
  float(f: number): this {
    const b = new Uint8Array(9)
    b[0] = 0x47
    new DataView(b.buffer).setFloat64(1, f, false)
    return this.raw(b)
  }
  none(): this {
    return this.raw('N')
  }
  mark(): this {
    return this.raw('(')
  }
  tuple(n?: 0 | 1 | 2 | 3): this {
    return this.raw(n === undefined ? 't' : ([0x29, 0x85, 0x86, 0x87][n] ?? 0))
  }
  reduce(): this {
    return this.raw('R')
  }
  build(): this {
    return this.raw('b')
  }
  newobj(): this {
    return this.raw(0x81)
  }
  memoize(): this {
    return this.raw(0x94)
  }
  binput(i: number): this {
    return this.raw('q', i)
  }
  binget(i: number): this {
    return this.raw('h', i)
  }
  put(i: number): this {
    return this.raw('p', String(i), '\n')
  }
  get(i: number): this {
    return this.raw('g', String(i), '\n')
  }
  emptyDict(): this {
    return this.raw('}')
  }
  emptyList(): this {
    return this.raw(']')
  }
  setitem(): this {
    return this.raw('s')
  }
  setitems(): this {
    return this.raw('u')
  }
  appends(): this {
    return this.raw('e')
  }
  pop(): this {
    return this.raw('0')
  }
  ext(code: number, width: 1 | 2 | 4): this {
    const b = new Uint8Array(1 + width)
    b[0] = width === 1 ? 0x82 : width === 2 ? 0x83 : 0x84
    const v = new DataView(b.buffer)
    if (width === 1) v.setUint8(1, code)
    else if (width === 2) v.setUint16(1, code, true)
    else v.setInt32(1, code, true)
    return this.raw(b)
  }
  stop(): this {
    return this.raw('.')
  }
  /** `module.name(arg)` with a string argument, as a protocol-2+ pickle body. */
  call(module: string, name: string, arg: string, viaStackGlobal = false): this {
    ;(viaStackGlobal ? this.sg(module, name) : this.global(module, name)).str(arg).tuple(1).reduce()
    return this
  }
  done(): Uint8Array {
    const n = this.parts.reduce((a, b) => a + b.length, 0)
    const out = new Uint8Array(n)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
}

export const p = () => new P()

/** The numpy 1.x / protocol-2 spelling of an empty ndarray: `_reconstruct(ndarray, (0,), b'b')`, before its BUILD. */
export function ndarray(b: P): P {
  return b
    .global('numpy.core.multiarray', '_reconstruct')
    .global('numpy', 'ndarray')
    .int(0)
    .tuple(1)
    .global('_codecs', 'encode')
    .str('b')
    .str('latin1')
    .tuple(2)
    .reduce()
    .tuple(3)
    .reduce()
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new P().raw(...parts).done()
}

export interface ZipMember {
  readonly name: string
  readonly data: Uint8Array
  readonly deflate?: boolean
  readonly flags?: number
  /** The name written in the local header when it differs from the central directory's. */
  readonly localName?: string
  /** Written as a local header only, left out of the central directory. */
  readonly hidden?: boolean
  /** A CRC that does not match the data. */
  readonly badCrc?: boolean
  readonly method?: number
}

/** A zip archive (APPNOTE 4.3), with the irregularities attackers use on demand. */
export function zip(
  members: readonly ZipMember[],
  o: { prefix?: Uint8Array; trailing?: Uint8Array } = {},
): Uint8Array {
  const locals: Uint8Array[] = []
  const central: Uint8Array[] = []
  let offset = o.prefix?.length ?? 0
  let listed = 0
  for (const m of members) {
    const data = m.deflate === true ? new Uint8Array(deflateRawSync(m.data)) : m.data
    const method = m.method ?? (m.deflate === true ? 8 : 0)
    const crc = (crc32(m.data) ^ (m.badCrc === true ? 0xffffffff : 0)) >>> 0
    const lname = enc.encode(m.localName ?? m.name)
    const cname = enc.encode(m.name)
    const lh = new Uint8Array(30)
    const l = new DataView(lh.buffer)
    l.setUint32(0, 0x04034b50, true)
    l.setUint16(4, 20, true)
    l.setUint16(6, m.flags ?? 0, true)
    l.setUint16(8, method, true)
    l.setUint32(14, crc, true)
    l.setUint32(18, data.length, true)
    l.setUint32(22, m.data.length, true)
    l.setUint16(26, lname.length, true)
    locals.push(lh, lname, data)
    if (m.hidden !== true) {
      const ch = new Uint8Array(46)
      const c = new DataView(ch.buffer)
      c.setUint32(0, 0x02014b50, true)
      c.setUint16(4, 20, true)
      c.setUint16(6, 20, true)
      c.setUint16(8, m.flags ?? 0, true)
      c.setUint16(10, method, true)
      c.setUint32(16, crc, true)
      c.setUint32(20, data.length, true)
      c.setUint32(24, m.data.length, true)
      c.setUint16(28, cname.length, true)
      c.setUint32(42, offset, true)
      central.push(ch, cname)
      listed++
    }
    offset += 30 + lname.length + data.length
  }
  const cd = concat(...central)
  const eocd = new Uint8Array(22)
  const e = new DataView(eocd.buffer)
  e.setUint32(0, 0x06054b50, true)
  e.setUint16(8, listed, true)
  e.setUint16(10, listed, true)
  e.setUint32(12, cd.length, true)
  e.setUint32(16, offset - (o.prefix?.length ?? 0), true)
  return concat(o.prefix ?? new Uint8Array(0), ...locals, cd, eocd, o.trailing ?? new Uint8Array(0))
}

/** A POSIX ustar archive. */
export function tar(members: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const m of members) {
    const h = new Uint8Array(512)
    h.set(enc.encode(m.name).subarray(0, 100), 0)
    h.set(enc.encode('0000644\0'), 100)
    h.set(enc.encode(m.data.length.toString(8).padStart(11, '0') + '\0'), 124)
    h.set(enc.encode('00000000000\0'), 136)
    h[156] = 0x30
    h.set(enc.encode('ustar\x0000'), 257)
    h.set(enc.encode('        '), 148)
    const sum = h.reduce((a, b) => a + b, 0)
    h.set(enc.encode(sum.toString(8).padStart(6, '0') + '\0 '), 148)
    parts.push(h, m.data, new Uint8Array((512 - (m.data.length % 512)) % 512))
  }
  parts.push(new Uint8Array(1024))
  return concat(...parts)
}

/** An .npy file: version 1 (u16 header length) or 2/3 (u32), header padded to 64 bytes. */
export function npy(
  descr: string,
  shape: string,
  body: Uint8Array,
  version: 1 | 2 | 3 = 1,
): Uint8Array {
  let header = `{'descr': ${descr}, 'fortran_order': False, 'shape': ${shape}, }`
  const pre = version === 1 ? 10 : 12
  header += ' '.repeat(63 - ((pre + header.length) % 64)) + '\n'
  const h = new Uint8Array(pre)
  h.set([0x93, ...enc.encode('NUMPY'), version, 0])
  const v = new DataView(h.buffer)
  if (version === 1) v.setUint16(8, header.length, true)
  else v.setUint32(8, header.length, true)
  return concat(h, enc.encode(header), body)
}

/** A safetensors file from its header object and data section. */
export function safetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = enc.encode(JSON.stringify(header))
  const len = new Uint8Array(8)
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true)
  return concat(len, json, data)
}

/** A GGUF header with string key-values (version 3). */
export function gguf(kv: Record<string, string>, version = 3): Uint8Array {
  const parts: Uint8Array[] = [enc.encode('GGUF')]
  const u32 = (n: number) => {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, n, true)
    return b
  }
  const u64 = (n: number) => {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true)
    return b
  }
  const gstr = (s: string) => {
    const b = enc.encode(s)
    return concat(u64(b.length), b)
  }
  parts.push(u32(version), u64(0), u64(Object.keys(kv).length))
  for (const [k, v] of Object.entries(kv)) parts.push(gstr(k), u32(8), gstr(v))
  return concat(...parts)
}

export const text = (s: string) => enc.encode(s)
