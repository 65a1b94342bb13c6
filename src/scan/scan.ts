/**
 * The scanner: identifies each artifact by its content (magic bytes, never
 * its name), opens containers recursively within limits, and hands pickles
 * to the symbolic machine. Whatever it cannot read — a parse error, an
 * encrypted or unsupported member, an unknown format, a tripped limit — is
 * suspicious with the reason, never clean.
 */
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import { bunzip2, Bzip2Budget } from './bzip2.ts'
import { unlzma, unxz, XzBudget, XzError } from './xz.ts'
import { isLegacyTorch, scanPickle } from './pickle.ts'
import { NeedsRandomAccess } from './ring.ts'
import { classify } from './rules.ts'
import { bufferSource, readAll, sliceSource, type ByteSource } from './source.ts'
import {
  DEFAULT_LIMITS,
  LimitError,
  newFinding,
  ScanContext,
  verdictOf,
  type Finding,
  type Limits,
  type Verdict,
} from './types.ts'

export interface ScanReport {
  readonly path: string
  readonly verdict: Verdict
  /** The outermost format found. */
  readonly format: string
  readonly size: number
  readonly findings: readonly Finding[]
  /** Findings beyond the report's cap, counted only. */
  readonly omitted: number
}

export interface ScanOptions {
  readonly limits?: Limits
  /**
   * Allow only the globals that rebuild tensors, arrays and plain data: the
   * classes of ML libraries (scikit-learn estimators and the like), allowed by
   * default, become suspicious.
   */
  readonly strict?: boolean
}

/** Scans one artifact. `path` names it in findings. */
export function scan(src: ByteSource, path: string, o: ScanOptions = {}): ScanReport {
  const ctx = new ScanContext(o.limits ?? DEFAULT_LIMITS, o.strict === true)
  let format = 'unknown'
  try {
    format = scanAny(src, path, ctx, 0, 'top')
  } catch (e) {
    if (!(e instanceof LimitError)) throw e
    ctx.add({
      path,
      offset: 0,
      verdict: 'suspicious',
      severity: 'medium',
      rule: `limit.${e.limit}`,
      reason: `the scan stopped: ${e.message} (limit ${e.limit}); what was not read cannot be called clean`,
    })
  }
  return {
    path,
    verdict: verdictOf(ctx.findings),
    format,
    size: src.size,
    findings: ctx.findings,
    omitted: ctx.omitted,
  }
}

type Where = 'top' | 'member' | 'torch-member' | 'embedded'

function finding(verdict: 'suspicious' | 'malicious') {
  return (
    ctx: ScanContext,
    path: string,
    offset: number,
    rule: string,
    reason: string,
    subject?: string,
  ): void => {
    ctx.add(newFinding(path, offset, verdict, rule, reason, subject))
  }
}

const suspicious = finding('suspicious')
const malicious = finding('malicious')

const u32 = (b: Uint8Array, i: number) =>
  ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0
const u16 = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8)
const u64 = (b: Uint8Array, i: number) => u32(b, i) + u32(b, i + 4) * 0x100000000
const startsWith = (b: Uint8Array, sig: readonly number[], at = 0) =>
  sig.every((x, i) => b[at + i] === x)
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))

const ZIP_LOCAL = ascii('PK\x03\x04')
const ZIP_EMPTY = ascii('PK\x05\x06')
const GZIP = [0x1f, 0x8b]
const BZIP2 = ascii('BZh')
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]
const SEVEN_Z = [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd]
const NPY = [0x93, ...ascii('NUMPY')]
const HDF5 = [0x89, ...ascii('HDF\r\n\x1a\n')]
const GGUF = ascii('GGUF')

/** Scans whatever `src` holds; returns the format it found. */
function scanAny(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  depth: number,
  where: Where,
): string {
  if (depth > ctx.limits.maxDepth)
    throw new LimitError('maxDepth', `containers nested deeper than ${ctx.limits.maxDepth}`)
  ctx.checkTime()
  const head = readAll(src, 0, Math.min(src.size, 1024))
  const embed = (inner: ByteSource, innerPath: string) => {
    scanAny(inner, innerPath, ctx, depth + 1, 'embedded')
  }
  if (src.size === 0) {
    if (where === 'top') suspicious(ctx, path, 0, 'format.empty', 'the file is empty: not a model')
    return 'empty'
  }
  // A stream is scanned as it passes only for formats read front to back; the rest (archives,
  // compressed data, anything identified from its end) is scanned once it is stored.
  if (
    src.sequential === true &&
    !(head[0] === 0x80 && (head[1] ?? 9) <= 5) &&
    !startsWith(head, NPY) &&
    !startsWith(head, GGUF) &&
    !looksLikeSafetensors(head, src.size)
  )
    throw new NeedsRandomAccess('this format is scanned from the stored body')
  if (startsWith(head, ZIP_LOCAL) || startsWith(head, ZIP_EMPTY)) {
    scanZip(src, path, ctx, depth)
    return 'zip'
  }
  if (startsWith(head, GZIP)) {
    const out = decompress(ctx, path, src, (b, max) => gunzipSync(b, { maxOutputLength: max }))
    if (out !== undefined) scanAny(bufferSource(out), `${path}!gunzip`, ctx, depth + 1, 'member')
    return 'gzip'
  }
  if (startsWith(head, BZIP2) && /[1-9]/.test(String.fromCharCode(head[3] ?? 0))) {
    const out = decompress(ctx, path, src, (b, max) => budgeted(() => bunzip2(b, max)))
    if (out !== undefined) scanAny(bufferSource(out), `${path}!bunzip2`, ctx, depth + 1, 'member')
    return 'bzip2'
  }
  if (startsWith(head, XZ)) {
    const out = decompress(ctx, path, src, (b, max) => budgeted(() => unxz(b, max)))
    if (out !== undefined) scanAny(bufferSource(out), `${path}!unxz`, ctx, depth + 1, 'member')
    return 'xz'
  }
  if (startsWith(head, SEVEN_Z)) return unsupported(ctx, path, '7z')
  if (startsWith(head, ZSTD)) return unsupported(ctx, path, 'zstd')
  if (startsWith(head, NPY)) {
    scanNpy(src, head, path, ctx, embed)
    return 'npy'
  }
  if (startsWith(head, HDF5)) {
    scanHdf5(src, path, ctx)
    return 'hdf5'
  }
  if (startsWith(head, GGUF)) {
    scanGguf(head, src, path, ctx)
    return 'gguf'
  }
  if (src.size >= 512 + 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar') {
    scanTar(src, path, ctx, depth)
    return 'tar'
  }
  if (looksLikeSafetensors(head, src.size)) {
    scanSafetensors(src, path, ctx)
    return 'safetensors'
  }
  if (head[0] === 0x80 && (head[1] ?? 9) <= 5) {
    const legacy = isLegacyTorch(head)
    scanPickle(src, ctx, {
      path,
      ...(legacy ? { maxPickles: 5 } : {}),
      scanEmbedded: embed,
    })
    return legacy ? 'torch-legacy' : 'pickle'
  }
  // A zip with bytes in front (a polyglot): zip readers find it from its end record.
  if (src.size >= 22 && endRecord(src) >= 0) {
    scanZip(src, path, ctx, depth)
    return 'zip'
  }
  // zlib: a two-byte header whose check bits hold; confirmed only by inflating.
  const b0 = head[0] ?? 0
  const b1 = head[1] ?? 0
  if ((b0 & 0x0f) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0) {
    const out = tryInflate(ctx, src)
    if (out !== undefined) {
      scanAny(bufferSource(out), `${path}!zlib`, ctx, depth + 1, 'member')
      return 'zlib'
    }
  }
  // .lzma ("LZMA alone", joblib's compress='lzma'): no magic, a plausible header confirmed by decoding.
  if (looksLikeLzma(head, src.size)) {
    const budget = ctx.limits.maxDecompressed - ctx.decompressed
    const input = readAll(src)
    try {
      const out = unlzma(input, budget)
      ctx.decompressed += out.length
      scanAny(bufferSource(out), `${path}!unlzma`, ctx, depth + 1, 'member')
      return 'lzma'
    } catch (e) {
      if (e instanceof XzBudget)
        throw new LimitError(
          'maxDecompressed',
          `more than ${ctx.limits.maxDecompressed} bytes once decompressed`,
        )
      if (!(e instanceof XzError)) throw e
    }
  }
  // Protocol 0 and 1 pickles have no magic number: they are whatever parses as one.
  if (scanPickle(src, ctx, { path, probe: true, scanEmbedded: embed }).isPickle) return 'pickle'
  const text = textOf(head, src.size)
  if (text !== undefined) {
    if (text === 'json') scanJson(src, path, ctx)
    return text
  }
  if (where === 'torch-member') return 'data'
  suspicious(
    ctx,
    path,
    0,
    'format.unknown',
    where === 'top'
      ? 'not a model format the scanner knows (identified by content): it cannot be called clean'
      : 'an archive member of a format the scanner does not know',
  )
  return 'unknown'
}

/** Runs one of the scanner's own decoders under the decompress() contract: a budget overrun is a Node-style too-large error. */
function budgeted(fn: () => Uint8Array): Buffer {
  try {
    return Buffer.from(fn())
  } catch (e) {
    if (e instanceof Bzip2Budget || e instanceof XzBudget)
      throw Object.assign(new Error(e.message), { code: 'ERR_BUFFER_TOO_LARGE' })
    throw e
  }
}

/** An .lzma header: valid properties, a power-of-two-ish dictionary, a length that fits. */
function looksLikeLzma(head: Uint8Array, size: number): boolean {
  if (size < 18 || (head[0] ?? 255) >= 225) return false
  const dict = u32(head, 1)
  const pow = 2 ** Math.floor(Math.log2(dict || 1))
  if (dict < 4096 || (dict !== pow && dict !== pow + pow / 2)) return false
  const lo = u32(head, 5)
  const hi = u32(head, 9)
  return (lo === 0xffffffff && hi === 0xffffffff) || hi < 0x100
}

function unsupported(ctx: ScanContext, path: string, format: string): string {
  suspicious(
    ctx,
    path,
    0,
    'format.unsupported-compression',
    `${format}-compressed content: the scanner cannot look inside, so it cannot be called clean`,
  )
  return format
}

/** Decompresses within the per-file budget; a tripped budget is a LimitError. */
function decompress(
  ctx: ScanContext,
  path: string,
  src: ByteSource,
  fn: (b: Uint8Array, max: number) => Buffer,
): Buffer | undefined {
  const budget = ctx.limits.maxDecompressed - ctx.decompressed
  if (src.size > budget)
    throw new LimitError(
      'maxDecompressed',
      `more than ${ctx.limits.maxDecompressed} bytes to decompress`,
    )
  // Reads stay outside the try: a source's own errors (a stream that must fall back) pass through.
  const input = readAll(src)
  try {
    const out = fn(input, budget)
    ctx.decompressed += out.length
    return out
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new LimitError(
        'maxDecompressed',
        `more than ${ctx.limits.maxDecompressed} bytes once decompressed`,
      )
    suspicious(
      ctx,
      path,
      0,
      'format.corrupt-compression',
      `the compressed data is corrupt (${(e as Error).message})`,
    )
    return undefined
  }
}

function tryInflate(ctx: ScanContext, src: ByteSource): Buffer | undefined {
  const budget = ctx.limits.maxDecompressed - ctx.decompressed
  const input = readAll(src)
  try {
    const out = inflateSync(input, { maxOutputLength: budget })
    ctx.decompressed += out.length
    return out
  } catch {
    return undefined
  }
}

/** 'text' or 'json' when the bytes are UTF-8 text without NULs. */
function textOf(head: Uint8Array, size: number): 'text' | 'json' | undefined {
  if (head.includes(0)) return undefined
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.length < size ? trimUtf8(head) : head)
  } catch {
    return undefined
  }
  const first = String.fromCharCode(head.find((b) => b > 0x20) ?? 0)
  return first === '{' || first === '[' ? 'json' : 'text'
}

/** Drops a UTF-8 sequence cut at the end of a prefix. */
function trimUtf8(b: Uint8Array): Uint8Array {
  const end = b.length
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const c = b[end - i] ?? 0
    if ((c & 0xc0) === 0xc0) return b.subarray(0, end - i)
    if ((c & 0x80) === 0) break
  }
  return b.subarray(0, end)
}

// ---- zip, read as leniently as torch does

interface ZipEntry {
  readonly name: string
  readonly flags: number
  readonly method: number
  readonly csize: number
  readonly local: number
}

const EOCD = ascii('PK\x05\x06')
const CENTRAL = ascii('PK\x01\x02')
const ZIP64_LOCATOR = ascii('PK\x06\x07')
const KNOWN_FLAGS = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0800

function scanZip(src: ByteSource, path: string, ctx: ScanContext, depth: number): void {
  const size = src.size
  const eocd = endRecord(src)
  const entries: ZipEntry[] = []
  let delta = 0
  if (eocd < 0) {
    suspicious(
      ctx,
      path,
      size,
      'zip.no-end-record',
      'a zip without an end-of-central-directory record: members are found by their local headers only',
    )
  } else {
    const e = readAll(src, eocd, 22)
    let count = u16(e, 10)
    let cdSize = u32(e, 12)
    let cdOffset = u32(e, 16)
    const end = eocd + 22 + u16(e, 20)
    // A zip64 end record (56 bytes) and its locator (20) sit between the central directory and
    // the end record: torch's writer always puts them there.
    let cdEnd = eocd
    const loc = eocd >= 76 ? readAll(src, eocd - 20, 20) : new Uint8Array(0)
    if (startsWith(loc, ZIP64_LOCATOR)) {
      const z = readAll(src, eocd - 76, 56)
      if (u32(z, 0) === 0x06064b50) {
        cdEnd = eocd - 76
        if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
          count = u64(z, 32)
          cdSize = u64(z, 40)
          cdOffset = u64(z, 48)
        }
      }
    }
    if (end < size) {
      suspicious(
        ctx,
        path,
        end,
        'zip.trailing-data',
        `${size - end} bytes after the end of the archive, which zip readers ignore but other loaders may read`,
      )
      scanAny(sliceSource(src, end, size - end), `${path}!@${end}`, ctx, depth + 1, 'embedded')
    }
    // Bytes before the first member shift every offset; the central directory ends at the EOCD.
    delta = Math.max(0, cdEnd - cdSize - cdOffset)
    if (delta > 0) {
      suspicious(
        ctx,
        path,
        0,
        'zip.prefix-data',
        `${delta} bytes before the first member: a polyglot file`,
      )
      scanAny(sliceSource(src, 0, delta), `${path}!@0`, ctx, depth + 1, 'embedded')
    }
    const cd = readAll(src, cdOffset + delta, Math.min(cdSize, size))
    let p = 0
    for (let n = 0; n < count && startsWith(cd, CENTRAL, p); n++) {
      const nameLen = u16(cd, p + 28)
      const extraLen = u16(cd, p + 30)
      const commentLen = u16(cd, p + 32)
      let csize = u32(cd, p + 20)
      let local = u32(cd, p + 42)
      if (csize === 0xffffffff || local === 0xffffffff) {
        // zip64 extra field: sizes and offset as 8-byte values, in that order, when saturated.
        for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
          const id = u16(cd, x)
          const len = u16(cd, x + 2)
          if (id === 1) {
            let q = x + 4
            if (u32(cd, p + 24) === 0xffffffff) q += 8
            if (csize === 0xffffffff) {
              csize = u64(cd, q)
              q += 8
            }
            if (local === 0xffffffff) local = u64(cd, q)
          }
          x += 4 + len
        }
      }
      entries.push({
        name: new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen)),
        flags: u16(cd, p + 8),
        method: u16(cd, p + 10),
        csize,
        local: local + delta,
      })
      p += 46 + nameLen + extraLen + commentLen
    }
    if (entries.length < count)
      suspicious(
        ctx,
        path,
        cdOffset + delta,
        'zip.bad-directory',
        `the central directory lists ${count} members but only ${entries.length} could be read`,
      )
  }
  // Local headers the directory does not mention are members too: torch-style readers may find them.
  const listed = new Set(entries.map((x) => x.local))
  for (const local of walkLocalHeaders(src, delta)) {
    if (listed.has(local.local)) continue
    suspicious(
      ctx,
      path,
      local.local,
      'zip.hidden-member',
      `the member ${local.name} has a local header but is not in the central directory`,
    )
    entries.push(local)
  }
  const torch = entries.some((x) => /(^|\/)data\.pkl$/.test(x.name))
  const names = new Map<string, number>()
  for (const x of entries) names.set(x.name, (names.get(x.name) ?? 0) + 1)
  for (const [name, n] of names)
    if (n > 1)
      suspicious(
        ctx,
        path,
        0,
        'zip.duplicate-name',
        `${n} members are named ${name}: readers disagree on which one they load`,
      )
  for (const x of entries) {
    if (++ctx.members > ctx.limits.maxMembers)
      throw new LimitError('maxMembers', `more than ${ctx.limits.maxMembers} archive members`)
    const memberPath = `${path}!${x.name}`
    const lh = readAll(src, x.local, 30)
    if (!startsWith(lh, ZIP_LOCAL)) {
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.bad-member',
        'the member has no local header where the directory says',
      )
      continue
    }
    const localName = new TextDecoder().decode(readAll(src, x.local + 30, u16(lh, 26)))
    if (localName !== x.name)
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.name-mismatch',
        `the local header names it ${localName}: readers disagree on its name`,
      )
    const flags = x.flags | u16(lh, 6)
    if ((flags & 0x0001) !== 0) {
      suspicious(ctx, memberPath, x.local, 'zip.encrypted', 'an encrypted member cannot be scanned')
      continue
    }
    if ((flags & ~KNOWN_FLAGS) !== 0)
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.odd-flags',
        `unusual flag bits 0x${flags.toString(16)} (0x40 made Python's zipfile refuse a member torch still loads: CVE-2025-1945)`,
      )
    const dataAt = x.local + 30 + u16(lh, 26) + u16(lh, 28)
    const stored = sliceSource(src, dataAt, x.csize)
    let member: ByteSource | undefined
    if (x.method === 0) member = stored
    else if (x.method === 8) {
      const out = decompress(ctx, memberPath, stored, (b, max) =>
        inflateRawSync(b, { maxOutputLength: max }),
      )
      member = out === undefined ? undefined : bufferSource(out)
    } else
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.unsupported-method',
        `compression method ${x.method} is not supported, so the member cannot be scanned`,
      )
    if (member === undefined) continue
    scanAny(member, memberPath, ctx, depth + 1, torch ? 'torch-member' : 'member')
  }
}

/** The offset of the end-of-central-directory record, searched in the last 64 KiB; -1 if none. */
function endRecord(src: ByteSource): number {
  const tailStart = Math.max(0, src.size - 65_557)
  const tail = readAll(src, tailStart)
  for (let i = tail.length - 22; i >= 0; i--)
    if (startsWith(tail, EOCD, i) && i + 22 + u16(tail, i + 20) <= tail.length) return tailStart + i
  return -1
}

function* walkLocalHeaders(src: ByteSource, from: number): Generator<ZipEntry> {
  let p = from
  for (let n = 0; n < 1_000_000 && p + 30 <= src.size; n++) {
    const lh = readAll(src, p, 30)
    if (!startsWith(lh, ZIP_LOCAL)) return
    const flags = u16(lh, 6)
    const csize = u32(lh, 18)
    const nameLen = u16(lh, 26)
    const extraLen = u16(lh, 28)
    // With a data descriptor the size is not in the local header: the walk cannot go on.
    if ((flags & 0x0008) !== 0 && csize === 0) return
    yield {
      name: new TextDecoder().decode(readAll(src, p + 30, nameLen)),
      flags,
      method: u16(lh, 8),
      csize,
      local: p,
    }
    p += 30 + nameLen + extraLen + csize
  }
}

// ---- tar

function scanTar(src: ByteSource, path: string, ctx: ScanContext, depth: number): void {
  const members: { name: string; data: number; size: number }[] = []
  let p = 0
  let longName: string | undefined
  while (p + 512 <= src.size) {
    const h = readAll(src, p, 512)
    if (h.every((b) => b === 0)) break
    const field = (at: number, len: number) => {
      const s = h.subarray(at, at + len)
      const z = s.indexOf(0)
      return new TextDecoder().decode(z < 0 ? s : s.subarray(0, z))
    }
    const sizeText = field(124, 12).trim()
    if (!/^[0-7]*$/.test(sizeText)) {
      suspicious(ctx, path, p, 'tar.bad-header', 'a tar header with an unreadable size')
      break
    }
    const size = parseInt(sizeText || '0', 8)
    const type = String.fromCharCode(h[156] ?? 0)
    const prefix = field(345, 155)
    const name = longName ?? (prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`)
    longName = undefined
    const data = p + 512
    if (type === 'L')
      longName = new TextDecoder().decode(readAll(src, data, size)).replace(/\0+$/, '')
    else if (type === '0' || type === '\0' || type === '7') {
      if (++ctx.members > ctx.limits.maxMembers)
        throw new LimitError('maxMembers', `more than ${ctx.limits.maxMembers} archive members`)
      members.push({ name, data, size })
    }
    p = data + Math.ceil(size / 512) * 512
  }
  // torch.save's oldest layout: sys_info, pickle, and storages / tensors that mix pickles and raw data.
  const names = new Set(members.map((m) => m.name))
  const legacy = names.has('sys_info') && names.has('pickle') && names.has('storages')
  for (const m of members) {
    const member = sliceSource(src, m.data, m.size)
    const memberPath = `${path}!${m.name}`
    if (legacy && (m.name === 'storages' || m.name === 'tensors'))
      scanLegacyRecords(member, memberPath, ctx, m.name)
    else scanAny(member, memberPath, ctx, depth + 1, 'member')
  }
}

/** Bytes per element of torch's legacy storage types. */
const STORAGE_BYTES: Readonly<Record<string, number>> = {
  DoubleStorage: 8,
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
}

/**
 * The `storages` and `tensors` members of a legacy torch tar: a pickled count,
 * then per record a pickled tuple followed by raw bytes whose length the
 * record gives (torch/serialization.py, legacy_load). Every pickle is
 * scanned; the raw bytes are skipped by their computed length.
 */
function scanLegacyRecords(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  kind: 'storages' | 'tensors',
): void {
  const count = scanPickle(src, ctx, { path, maxPickles: 1 })
  let pos = count.end
  while (pos < src.size) {
    const r = scanPickle(src, ctx, { path, maxPickles: 1, start: pos })
    if (r.pickles === 0) return
    pos = r.end
    if (kind === 'storages') {
      const type = r.lastGlobal?.replace(/^torch\./, '') ?? ''
      const width = STORAGE_BYTES[type]
      if (width === undefined) {
        suspicious(
          ctx,
          path,
          pos,
          'torch.legacy-layout',
          `a legacy storage of unknown type ${r.lastGlobal ?? '(none)'}: its size cannot be computed`,
        )
        return
      }
      pos += 8 + u64(readAll(src, pos, 8), 0) * width
    } else {
      const ndim = u32(readAll(src, pos, 4), 0)
      if (ndim > 64) {
        suspicious(
          ctx,
          path,
          pos,
          'torch.legacy-layout',
          `a legacy tensor record with ${ndim} dimensions`,
        )
        return
      }
      pos += 8 + 16 * ndim + 8
    }
  }
}

// ---- numpy

function scanNpy(
  src: ByteSource,
  head: Uint8Array,
  path: string,
  ctx: ScanContext,
  embed: (s: ByteSource, p: string) => void,
): void {
  const major = head[6] ?? 0
  const headerLen = major === 1 ? u16(head, 8) : u32(head, 8)
  const start = major === 1 ? 10 : 12
  if (major < 1 || major > 3 || start + headerLen > src.size) {
    suspicious(
      ctx,
      path,
      6,
      'npy.bad-header',
      `an .npy header of version ${major} that cannot be read`,
    )
    return
  }
  const header = new TextDecoder().decode(readAll(src, start, headerLen))
  const descr = /['"]descr['"]\s*:\s*(.*?)\s*,\s*['"]fortran_order/s.exec(header)?.[1]
  if (descr === undefined) {
    suspicious(ctx, path, start, 'npy.bad-header', 'an .npy header without a readable descr')
    return
  }
  const types = descr.startsWith('[')
    ? [...descr.matchAll(/\(\s*(?:'[^']*'|"[^"]*"|\([^)]*\))\s*,\s*['"]([^'"]*)['"]/g)].map(
        (m) => m[1] ?? '',
      )
    : [descr.replace(/^['"]|['"]$/g, '')]
  if (types.some((t) => /^[|<>=]?O\d*$/.test(t))) {
    // An object array is a pickle: np.load(allow_pickle=True) unpickles what follows the header.
    const at = start + headerLen
    scanPickle(sliceSource(src, at, src.size - at), ctx, {
      path: `${path}!@${at}`,
      scanEmbedded: embed,
    })
  }
}

// ---- safetensors: strict header checks

const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
}

function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (size < 10) return false
  const n = u64(head, 0)
  return n >= 2 && n <= size - 8 && head[8] === 0x7b
}

function scanSafetensors(src: ByteSource, path: string, ctx: ScanContext): void {
  const why = safetensorsProblem(src)
  if (why !== undefined)
    suspicious(ctx, path, 8, 'safetensors.invalid', `a malformed safetensors file: ${why}`)
}

/** What is wrong with a safetensors file, or undefined when its header is sound and exact. */
function safetensorsProblem(src: ByteSource): string | undefined {
  const n = u64(readAll(src, 0, 8), 0)
  if (n > 100 * 1024 * 1024) return 'a header larger than 100 MB'
  let header: unknown
  const text = readAll(src, 8, n)
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text))
  } catch {
    return 'the header is not JSON'
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return 'the header is not a JSON object'
  const dataSize = src.size - 8 - n
  const spans: [number, number, string][] = []
  for (const [name, t] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof t !== 'object' ||
        t === null ||
        Object.values(t as Record<string, unknown>).some((v) => typeof v !== 'string')
      )
        return '__metadata__ must map strings to strings'
      continue
    }
    const {
      dtype,
      shape,
      data_offsets: offs,
    } = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    const width = typeof dtype === 'string' ? SAFETENSORS_DTYPES[dtype] : undefined
    if (width === undefined) return `tensor ${name} has an unknown dtype ${String(dtype)}`
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      return `tensor ${name} has an invalid shape`
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d)))
      return `tensor ${name} has invalid data_offsets`
    const [b, e] = offs as [number, number]
    if (b < 0 || e < b || e > dataSize)
      return `tensor ${name} spans bytes ${b}..${e}, outside the ${dataSize}-byte data section`
    const elems = (shape as number[]).reduce((a, d) => a * d, 1)
    if (elems * width !== e - b)
      return `tensor ${name}: shape × dtype is ${elems * width} bytes but its span is ${e - b}`
    spans.push([b, e, name])
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  let at = 0
  for (const [b, e, name] of spans) {
    if (b < at) return `tensor ${name} overlaps the tensor before it`
    if (b > at) return `bytes ${at}..${b} belong to no tensor`
    at = e
  }
  if (at !== dataSize) return `${dataSize - at} bytes of trailing data after the last tensor`
  return undefined
}

// ---- GGUF header sanity

function scanGguf(head: Uint8Array, src: ByteSource, path: string, ctx: ScanContext): void {
  const version = u32(head, 4)
  if (version < 1 || version > 3) {
    suspicious(ctx, path, 4, 'gguf.invalid', `GGUF version ${version} is not one the scanner knows`)
    return
  }
  if (src.size < 24) {
    suspicious(ctx, path, 4, 'gguf.invalid', 'a GGUF header cut short')
    return
  }
  const tensors = u64(head, 8)
  const kvs = u64(head, 16)
  if (tensors > 1_000_000 || kvs > 1_000_000)
    suspicious(
      ctx,
      path,
      8,
      'gguf.invalid',
      `implausible counts in the GGUF header (${tensors} tensors, ${kvs} keys)`,
    )
  // Chat templates are Jinja run by llama.cpp bindings (CVE-2024-34359): look for sandbox escapes.
  const text = new TextDecoder('latin1').decode(
    readAll(src, 0, Math.min(src.size, 16 * 1024 * 1024)),
  )
  const tpl = /tokenizer\.chat_template/.exec(text)
  if (
    tpl !== null &&
    /__(class|globals|subclasses|builtins|import|init|mro|base)__|\bos\.|popen|subprocess/.test(
      text.slice(tpl.index, tpl.index + 65_536),
    )
  )
    malicious(
      ctx,
      path,
      tpl.index,
      'gguf.template-injection',
      'the chat template reaches Python internals (a Jinja sandbox escape)',
    )
}

// ---- Keras

/** config.json of a .keras archive (or model_config of an .h5): Lambda layers and modules outside keras. */
function scanKerasConfig(src: ByteSource, path: string, ctx: ScanContext): void {
  let doc: unknown
  const text = readAll(src)
  try {
    doc = JSON.parse(new TextDecoder().decode(text))
  } catch {
    suspicious(ctx, path, 0, 'keras.bad-config', 'the model configuration is not JSON')
    return
  }
  walkKeras(doc, path, ctx, 0)
}

function walkKeras(v: unknown, path: string, ctx: ScanContext, depth: number): void {
  if (depth > 256 || typeof v !== 'object' || v === null) return
  if (Array.isArray(v)) {
    for (const x of v) walkKeras(x, path, ctx, depth + 1)
    return
  }
  const o = v as Record<string, unknown>
  if (
    Object.values(o).some(
      (x) => typeof x === 'string' && x.includes('enable_unsafe_deserialization'),
    )
  )
    malicious(
      ctx,
      path,
      0,
      'keras.unsafe-deserialization',
      'the configuration calls enable_unsafe_deserialization, turning safe mode off for what follows (CVE-2025-9906)',
      'enable_unsafe_deserialization',
    )
  if (o.class_name === 'Lambda')
    malicious(
      ctx,
      path,
      0,
      'keras.lambda',
      'a Lambda layer carries Python code that runs when the model loads with safe_mode off',
      'Lambda',
    )
  const module = o.module
  if (
    typeof module === 'string' &&
    !/^(keras|tensorflow|tf_keras|keras_nlp|keras_hub|keras_cv)(\.|$)/.test(module)
  ) {
    const name =
      typeof o.class_name === 'string'
        ? o.class_name
        : typeof o.config === 'string'
          ? o.config
          : '*'
    const c = classify(module, name, 4, ctx.strict)
    if (c.tier === 'dangerous')
      malicious(
        ctx,
        path,
        0,
        'keras.dangerous-module',
        `the configuration imports ${c.global}: ${c.reason}`,
        c.global,
      )
    else
      suspicious(
        ctx,
        path,
        0,
        'keras.foreign-module',
        `the configuration imports ${module}, outside keras and tensorflow`,
        module,
      )
  }
  for (const x of Object.values(o)) walkKeras(x, path, ctx, depth + 1)
}

/** Legacy .h5: the model_config attribute holds the same JSON, stored as text inside the HDF5 file. */
function scanHdf5(src: ByteSource, path: string, ctx: ScanContext): void {
  const limit = Math.min(src.size, 256 * 1024 * 1024)
  const text = new TextDecoder('latin1').decode(readAll(src, 0, limit))
  if (limit < src.size)
    suspicious(
      ctx,
      path,
      limit,
      'hdf5.partial',
      'only the first 256 MiB of the HDF5 file were searched for a model configuration',
    )
  let found = false
  for (
    let at = text.indexOf('{"class_name"');
    at >= 0;
    at = text.indexOf('{"class_name"', at + 1)
  ) {
    const end = balancedJsonEnd(text, at)
    if (end < 0) continue
    found = true
    let doc: unknown
    try {
      doc = JSON.parse(text.slice(at, end))
    } catch {
      continue
    }
    walkKeras(doc, path, ctx, 0)
    at = end - 1
  }
  if (!found && /"class_name":\s*"Lambda"/.test(text))
    malicious(
      ctx,
      path,
      0,
      'keras.lambda',
      'a Lambda layer carries Python code that runs when the model loads',
      'Lambda',
    )
}

function balancedJsonEnd(text: string, start: number): number {
  let depth = 0
  let inString = false
  for (let i = start; i < text.length && i < start + 64 * 1024 * 1024; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return -1
}

/** A JSON document on its own is only checked when it is a Keras configuration. */
function scanJson(src: ByteSource, path: string, ctx: ScanContext): void {
  if (src.size > 64 * 1024 * 1024) return
  const text = new TextDecoder().decode(readAll(src))
  if (!text.includes('"class_name"')) return
  scanKerasConfig(src, path, ctx)
}
