/**
 * The scanner: identifies each artifact by its content (magic bytes, never
 * its name), opens containers recursively within limits, and hands pickles
 * to the symbolic machine. Whatever it cannot read — a parse error, an
 * encrypted or unsupported member, an unknown format, a tripped limit, a
 * member over the memory budget — is suspicious with the reason, never
 * clean. The scanner is synchronous and does no I/O: callers run it in a
 * scan worker (src/store/scan-pool.ts) over a source they provide.
 *
 * This file identifies and dispatches; each container or format has its own
 * file (zip.ts, tar.ts, decompress.ts, formats.ts, keras.ts, pickle.ts).
 */
import { ascii, startsWith, suspicious, type ScanNested, type Where } from './bytes.ts'
import { decompress, looksLikeLzma, type Codec } from './decompress.ts'
import { looksLikeSafetensors, scanGguf, scanNpy, scanSafetensors } from './formats.ts'
import { scanHdf5, scanJson } from './keras.ts'
import { isLegacyTorch, scanPickle } from './pickle.ts'
import { bufferSource, readAll, type ByteSource } from './source.ts'
import { scanTar } from './tar.ts'
import {
  DEFAULT_LIMITS,
  ScanContext,
  verdictOfScan,
  type Finding,
  type Limits,
  type Verdict,
} from './types.ts'
import { endRecord, scanZip, ZIP_LOCAL } from './zip.ts'

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
  /** Limits to change from DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>
  /**
   * Allow only the globals that rebuild tensors, arrays and plain data: the
   * classes of ML libraries (scikit-learn estimators and the like), allowed by
   * default, become suspicious.
   */
  readonly strict?: boolean
}

/** Scans one artifact. `path` names it in findings. */
export function scan(src: ByteSource, path: string, o: ScanOptions = {}): ScanReport {
  const ctx = new ScanContext({ ...DEFAULT_LIMITS, ...o.limits }, o.strict === true)
  const format = scanAny(src, path, ctx, 0, 'top')
  return {
    path,
    verdict: verdictOfScan(ctx),
    format,
    size: src.size,
    findings: ctx.findings,
    omitted: ctx.omitted,
  }
}

const ZIP_EMPTY = ascii('PK\x05\x06')
const GZIP = [0x1f, 0x8b]
const BZIP2 = ascii('BZh')
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]
const SEVEN_Z = [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd]
const NPY = [0x93, ...ascii('NUMPY')]
const HDF5 = [0x89, ...ascii('HDF\r\n\x1a\n')]
const GGUF = ascii('GGUF')

/** How a decompressed stream is named in a finding's path. */
const UNPACKED: Readonly<Record<Codec, string>> = {
  gzip: 'gunzip',
  bzip2: 'bunzip2',
  xz: 'unxz',
  deflate: 'inflate',
  zlib: 'zlib',
  lzma: 'unlzma',
}

/** Scans whatever `src` holds; returns the format it found. */
function scanAny(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  depth: number,
  where: Where,
): string {
  if (!ctx.inTime(path)) return 'unknown'
  if (depth > ctx.limits.maxDepth) {
    ctx.halt(path, 'maxDepth', `containers nested deeper than ${ctx.limits.maxDepth}`)
    return 'unknown'
  }
  const head = readAll(src, 0, Math.min(src.size, 1024))
  const nested: ScanNested = (inner, innerPath, d, w) => scanAny(inner, innerPath, ctx, d, w)
  const embed = (inner: ByteSource, innerPath: string) => {
    scanAny(inner, innerPath, ctx, depth + 1, 'embedded')
  }
  const unpack = (codec: Codec, probe = false): boolean => {
    const out = decompress(ctx, path, 0, src, codec, probe)
    if (out === undefined) return false
    try {
      scanAny(bufferSource(out.bytes), `${path}!${UNPACKED[codec]}`, ctx, depth + 1, 'member')
    } finally {
      out.release()
    }
    return true
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
  ) {
    src.needRandomAccess?.()
    return 'unknown'
  }
  if (startsWith(head, ZIP_LOCAL) || startsWith(head, ZIP_EMPTY)) {
    scanZip(src, path, ctx, depth, nested)
    return 'zip'
  }
  if (startsWith(head, GZIP)) {
    unpack('gzip')
    return 'gzip'
  }
  if (startsWith(head, BZIP2) && /[1-9]/.test(String.fromCharCode(head[3] ?? 0))) {
    unpack('bzip2')
    return 'bzip2'
  }
  if (startsWith(head, XZ)) {
    unpack('xz')
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
    scanTar(src, path, ctx, depth, nested)
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
    scanZip(src, path, ctx, depth, nested)
    return 'zip'
  }
  // zlib: a two-byte header whose check bits hold; confirmed only by inflating.
  const b0 = head[0] ?? 0
  const b1 = head[1] ?? 0
  if ((b0 & 0x0f) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0 && unpack('zlib', true))
    return 'zlib'
  // .lzma ("LZMA alone", joblib's compress='lzma'): no magic, a plausible header confirmed by decoding.
  if (looksLikeLzma(head, src.size) && unpack('lzma', true)) return 'lzma'
  if (ctx.halted !== undefined) return 'unknown'
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
