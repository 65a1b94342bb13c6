/**
 * Random access to an encrypted object: any plaintext byte range decrypts by
 * reading only the segments it covers. The object's size is checked against
 * its authenticated header before any segment is read, and a range that
 * reaches the end verifies the final segment first, so a suffix read is never
 * served from a truncated or extended object.
 */
import { StrongroomError } from '../errors.ts'
import {
  headerLength,
  parseHeader,
  segmentCount,
  segmentNonce,
  TAG_BYTES,
  type Header,
} from './header.ts'
import { diagnose, segmentDecipher } from './segment.ts'
import { PIECE, unlock, type OpenOptions } from './stream.ts'

/** Positioned reads over a stored object (a file, a blob). */
export interface RandomAccessSource {
  readonly size: number
  /**
   * Returns up to `length` bytes at `position`; fewer only at the end. A source that copies
   * may read into `into` (at least `length` bytes, the caller's to reuse once it is done with
   * the result) instead of allocating; one that hands out views of bytes it holds ignores it.
   */
  read(position: number, length: number, into?: Buffer): Promise<Uint8Array>
}

export interface OpenedObject {
  readonly header: Header
  readonly plaintextLength: number
  readonly segmentCount: number
  /** Decrypts plaintext bytes [first, last], inclusive as in an HTTP Range header. */
  range(first: number, last: number): AsyncGenerator<Buffer>
  /** Zeroes the per-object key; further reads fail. */
  close(): void
}

/** An inclusive byte range, validated against a length as HTTP does (the last byte is clamped). */
export function resolveRange(first: number, last: number, length: number): [number, number] {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last < first) {
    throw new StrongroomError(
      'RANGE_NOT_SATISFIABLE',
      `range \`${first}-${last}\` is not a valid byte range`,
    )
  }
  if (first >= length) {
    throw new StrongroomError(
      'RANGE_NOT_SATISFIABLE',
      `range starts at byte ${first} but the object has ${length} bytes (the last byte is ${length - 1})`,
    )
  }
  return [first, Math.min(last, length - 1)]
}

export async function openObject(
  source: RandomAccessSource,
  options: OpenOptions,
): Promise<OpenedObject> {
  const prefix = await source.read(0, 12)
  if (prefix.byteLength === 0)
    throw new StrongroomError('TRUNCATED', 'the input is empty: it is not an encrypted object')
  const h = headerLength(prefix)
  const headerBytes = await source.read(0, h)
  if (headerBytes.byteLength < h)
    throw new StrongroomError('TRUNCATED', 'the encrypted object ends inside its header')
  const header = parseHeader(headerBytes)
  // Context, commitment and header tag first: an edited length reads as an edited header.
  let key: Buffer | undefined = await unlock(header, options)
  const size = header.segmentSize
  const full = size + TAG_BYTES

  let length: number
  let count: number
  try {
    ;[length, count] = checkLayout(header, source.size - h)
  } catch (e) {
    key.fill(0)
    throw e
  }

  /** Reads segment `index`'s ciphertext and tag (I/O only, so it can run ahead), into `into` if given. */
  const fetchSegment = async (index: number, into?: Buffer): Promise<Uint8Array> => {
    const ctLen = index === count - 1 ? length - index * size : size
    const seg = await source.read(h + index * full, ctLen + TAG_BYTES, into)
    if (seg.byteLength < ctLen + TAG_BYTES)
      throw new StrongroomError('TRUNCATED', `the object was truncated inside segment ${index}`)
    return seg
  }

  /**
   * Decrypts a fetched segment, PIECE bytes per call (see PIECE); returns its plaintext, in
   * those pieces, only once the tag verifies.
   */
  const openSegment = (index: number, seg: Uint8Array): Buffer[] => {
    if (key === undefined) throw new StrongroomError('INTERNAL', 'the object was closed')
    const final = index === count - 1
    const ctLen = seg.byteLength - TAG_BYTES
    const ct = seg.subarray(0, ctLen)
    const tag = Buffer.from(seg.subarray(ctLen))
    const d = segmentDecipher(key, header.aad, segmentNonce(header.noncePrefix, index, final))
    const plain: Buffer[] = []
    for (let at = 0; at < ctLen; at += PIECE) plain.push(d.update(ct.subarray(at, at + PIECE)))
    d.setAuthTag(tag)
    try {
      d.final()
    } catch {
      throw diagnose({
        key,
        aad: header.aad,
        noncePrefix: header.noncePrefix,
        ciphertext: [ct],
        tag,
        index,
        final,
        candidates: count,
      })
    }
    return plain
  }

  const readSegment = async (index: number): Promise<Buffer[]> =>
    openSegment(index, await fetchSegment(index))

  // An empty object is one empty segment: its tag is all that authenticates the
  // emptiness, and no range ever reads it, so it is verified here, on every open.
  if (length === 0) {
    try {
      openSegment(0, await fetchSegment(0))
    } catch (e) {
      key.fill(0)
      key = undefined
      throw e
    }
  }

  return {
    header,
    plaintextLength: length,
    segmentCount: count,
    async *range(first: number, last: number): AsyncGenerator<Buffer> {
      const [a, b] = resolveRange(first, last, length)
      const firstSeg = Math.floor(a / size)
      const lastSeg = Math.floor(b / size)
      const finalPlain =
        lastSeg === count - 1 && lastSeg !== firstSeg ? await readSegment(lastSeg) : undefined
      // One segment of read-ahead: the next read runs while this one is written out.
      // A read nobody awaits (the consumer stopped) must not become an unhandled rejection.
      // Segments are read into two buffers in turn: segment i + 2 is read only once segment i
      // was decrypted (into new pieces), and a fresh megabyte per segment costs page faults.
      const bufs: Buffer[] = []
      const bufLen = Math.min(full, length + TAG_BYTES)
      const ahead = (i: number) => {
        const p = fetchSegment(i, (bufs[i % 2] ??= Buffer.allocUnsafe(bufLen)))
        p.catch(() => undefined)
        return p
      }
      let pending = firstSeg === lastSeg && finalPlain !== undefined ? undefined : ahead(firstSeg)
      for (let i = firstSeg; i <= lastSeg; i++) {
        let plain: Buffer[]
        if (i === lastSeg && finalPlain !== undefined) plain = finalPlain
        else {
          const seg = await (pending ?? fetchSegment(i))
          pending =
            i + 1 <= lastSeg && !(i + 1 === lastSeg && finalPlain !== undefined)
              ? ahead(i + 1)
              : undefined
          plain = openSegment(i, seg)
        }
        // The segment's bytes [start, end), from its pieces.
        const start = i === firstSeg ? a - i * size : 0
        const end = i === lastSeg ? b - i * size + 1 : size
        for (let p = Math.floor(start / PIECE); p * PIECE < end && p < plain.length; p++) {
          const piece = plain[p] ?? Buffer.alloc(0)
          const from = Math.max(start - p * PIECE, 0)
          const to = Math.min(end - p * PIECE, piece.length)
          yield from === 0 && to === piece.length ? piece : piece.subarray(from, to)
        }
      }
    },
    close(): void {
      key?.fill(0)
      key = undefined
    },
  }
}

/** Plaintext length and segment count, checked against the stored body size. */
function checkLayout(header: Header, body: number): [length: number, count: number] {
  const length = header.plaintextLength
  const count = segmentCount(length, header.segmentSize)
  const expected = length + count * TAG_BYTES
  if (body < expected)
    throw new StrongroomError(
      'TRUNCATED',
      `the object was truncated: ${expected - body} bytes are missing`,
    )
  if (body > expected)
    throw new StrongroomError(
      'EXTENDED',
      `the object was extended: ${body - expected} bytes follow its end`,
    )
  return [length, count]
}
