/**
 * Decompression for the scanner: gzip, zlib and raw deflate (zip members)
 * through node:zlib, bzip2 and xz / .lzma through the scanner's own decoders.
 * Each runs under two bounds: the bytes decompressed in one file
 * (`maxDecompressed`, a halt when crossed) and the scan's memory budget
 * (`maxMemory`: the compressed input and the output are held together while
 * the member is scanned). A member too large for the memory budget is a
 * `limit.maxMemory` finding and is skipped; the rest of the file is still
 * scanned. Corrupt data is a finding too. Nothing here throws for input.
 * Deflated zip members are first scanned as they inflate (`scanInflated`),
 * which holds only a window: most formats are read front to back.
 */
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import { isStrongroomError } from '../errors.ts'
import { suspicious, u32 } from './bytes.ts'
import { bunzip2 } from './bzip2.ts'
import { InflatedSource } from './inflate.ts'
import { readAll, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'
import { unlzma, unxz } from './xz.ts'

export type Codec = 'gzip' | 'bzip2' | 'xz' | 'deflate' | 'zlib' | 'lzma'

const DECODERS: Readonly<Record<Codec, (input: Uint8Array, max: number) => Uint8Array>> = {
  gzip: (b, max) => gunzipSync(b, { maxOutputLength: max }),
  zlib: (b, max) => inflateSync(b, { maxOutputLength: max }),
  deflate: (b, max) => inflateRawSync(b, { maxOutputLength: max }),
  bzip2: bunzip2,
  xz: unxz,
  lzma: unlzma,
}

/** node:zlib's code for output past maxOutputLength; our decoders use LIMIT_EXCEEDED. */
const overBudget = (e: unknown) =>
  isStrongroomError(e, 'LIMIT_EXCEEDED') ||
  (e instanceof RangeError && (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')

/** Decompressed bytes, holding `held` bytes of the memory budget until `release`d. */
export interface Decompressed {
  readonly bytes: Uint8Array
  release(): void
}

/**
 * Decompresses `src` (at `path`, `offset` in its container) whole, within the
 * file's decompression limit and the memory budget. Undefined when it cannot:
 * the reason is a finding (or, for `probe`, nothing: the bytes were only
 * possibly compressed, and are scanned as what else they might be).
 */
export function decompress(
  ctx: ScanContext,
  path: string,
  offset: number,
  src: ByteSource,
  codec: Codec,
  probe = false,
): Decompressed | undefined {
  const left = ctx.limits.maxDecompressed - ctx.decompressed
  if (src.size > left) {
    ctx.halt(path, 'maxDecompressed', `more than ${ctx.limits.maxDecompressed} bytes to decompress`)
    return undefined
  }
  // A probe only guesses at the format: input too large to hold is simply not that format here.
  if (probe && ctx.held + src.size > ctx.limits.maxMemory) return undefined
  if (!ctx.hold(src.size, path, offset, `the compressed member (${codec})`)) return undefined
  const room = ctx.limits.maxMemory - ctx.held
  const max = Math.min(left, room)
  let out: Uint8Array
  try {
    out = DECODERS[codec](readAll(src), max)
  } catch (e) {
    if (overBudget(e)) {
      if (max === left)
        ctx.halt(
          path,
          'maxDecompressed',
          `more than ${ctx.limits.maxDecompressed} bytes once decompressed`,
        )
      else
        ctx.overMemory(
          path,
          offset,
          `the member decompresses (${codec}) to more than ${room} bytes`,
        )
      return undefined
    }
    if (!probe)
      suspicious(
        ctx,
        path,
        offset,
        'format.corrupt-compression',
        `the compressed data is corrupt (${e instanceof Error ? e.message : String(e)})`,
      )
    return undefined
  } finally {
    ctx.release(src.size)
  }
  ctx.decompressed += out.length
  ctx.held += out.length
  let held = out.length
  return {
    bytes: out,
    release() {
      ctx.release(held)
      held = 0
    },
  }
}

/**
 * Scans a deflated zip member of declared `size` as it inflates, holding no
 * more than the inflater's window and history. False when the member's
 * format needs random access: what the attempt found is forgotten, and the
 * caller decompresses the member whole instead.
 */
export function scanInflated(
  ctx: ScanContext,
  path: string,
  deflated: ByteSource,
  size: number,
  scanIt: (member: ByteSource) => void,
): boolean {
  if (size > ctx.limits.maxDecompressed - ctx.decompressed) {
    ctx.halt(
      path,
      'maxDecompressed',
      `more than ${ctx.limits.maxDecompressed} bytes once decompressed`,
    )
    return true
  }
  const mark = ctx.checkpoint()
  const member = new InflatedSource(deflated, size)
  scanIt(member)
  if (member.failure === 'needs-random-access') {
    ctx.rollback(mark)
    return false
  }
  ctx.decompressed += member.position
  if (member.failure === 'corrupt')
    suspicious(
      ctx,
      path,
      member.position,
      'format.corrupt-compression',
      `the compressed data is corrupt (${member.problem ?? 'unknown'})`,
    )
  return true
}

/** An .lzma header: valid properties, a power-of-two-ish dictionary, a length that fits. */
export function looksLikeLzma(head: Uint8Array, size: number): boolean {
  if (size < 18 || (head[0] ?? 255) >= 225) return false
  const dict = u32(head, 1)
  const pow = 2 ** Math.floor(Math.log2(dict || 1))
  if (dict < 4096 || (dict !== pow && dict !== pow + pow / 2)) return false
  const lo = u32(head, 5)
  const hi = u32(head, 9)
  return (lo === 0xffffffff && hi === 0xffffffff) || hi < 0x100
}
