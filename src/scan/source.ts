/**
 * The bytes a scan reads: random access over a file, a buffer or a slice of
 * either, read through a bounded window so that memory does not grow with the
 * artifact. The scanner does no I/O of its own: callers hand it a source.
 */

export interface ByteSource {
  readonly size: number
  /** Reads only move forward (a stream): formats that need random access must be scanned otherwise. */
  readonly sequential?: boolean
  /** For a sequential source: the scanner found a format it reads from the stored body only. */
  needRandomAccess?(): void
  /** Copies up to `length` bytes at `position` into `into` at `offset`; returns how many (fewer only at the end). */
  readInto(position: number, into: Uint8Array, offset: number, length: number): number
}

export function bufferSource(buf: Uint8Array): ByteSource & { readonly buffer: Uint8Array } {
  return {
    buffer: buf,
    size: buf.length,
    readInto(position, into, offset, length) {
      const n = Math.max(0, Math.min(length, buf.length - position))
      into.set(buf.subarray(position, position + n), offset)
      return n
    },
  }
}

/** `length` bytes of `src` from `start`, as a source of its own. */
export function sliceSource(src: ByteSource, start: number, length: number): ByteSource {
  const size = Math.max(0, Math.min(length, src.size - start))
  if ('buffer' in src && src.buffer instanceof Uint8Array)
    return bufferSource(src.buffer.subarray(start, start + size))
  return {
    size,
    readInto(position, into, offset, len) {
      return src.readInto(
        start + position,
        into,
        offset,
        Math.max(0, Math.min(len, size - position)),
      )
    },
  }
}

/** Reads all of a (small) source into memory. */
export function readAll(src: ByteSource, start = 0, length = src.size - start): Uint8Array {
  if ('buffer' in src && src.buffer instanceof Uint8Array)
    return src.buffer.subarray(start, start + length)
  const out = new Uint8Array(Math.max(0, Math.min(length, src.size - start)))
  let got = 0
  while (got < out.length) {
    const n = src.readInto(start + got, out, got, out.length - got)
    if (n === 0) break
    got += n
  }
  return out.subarray(0, got)
}

const WINDOW = 1 << 20

/**
 * A forward reader with a window: `need(n)` makes n bytes from `pos`
 * addressable as `buf[i .. i+n)`; `skip(n)` moves past bytes without reading
 * them. Over an in-memory source the window is the whole buffer.
 */
export class Cursor {
  readonly src: ByteSource
  /** Window contents and the absolute offset of buf[0]. */
  buf: Uint8Array
  base: number
  /** Absolute position of the next byte. */
  pos: number

  constructor(src: ByteSource, pos = 0) {
    this.src = src
    this.pos = pos
    if ('buffer' in src && src.buffer instanceof Uint8Array) {
      this.buf = src.buffer
      this.base = 0
    } else {
      this.buf = new Uint8Array(0)
      this.base = pos
    }
  }

  get size(): number {
    return this.src.size
  }

  /** Index in `buf` of `pos` once `n` bytes are available; -1 at the end of the source. */
  need(n: number): number {
    const i = this.pos - this.base
    if (i >= 0 && i + n <= this.buf.length) return i
    if (this.pos + n > this.src.size) return -1
    const len = Math.max(WINDOW, n)
    const next = this.buf.length >= len ? this.buf : new Uint8Array(len)
    const got = this.src.readInto(this.pos, next, 0, Math.min(len, this.src.size - this.pos))
    this.buf = next.subarray(0, got)
    this.base = this.pos
    return got >= n ? 0 : -1
  }

  /** The absolute offset of the next `\n` at or after `pos`, within `max` bytes; -1 if none. */
  lineEnd(max: number): number {
    const k = Math.min(max + 1, this.src.size - this.pos)
    if (k <= 0) return -1
    const i = this.need(k)
    if (i < 0) return -1
    const nl = this.buf.subarray(i, i + k).indexOf(10)
    return nl < 0 ? -1 : this.pos + nl
  }
}
