/**
 * Scanning bytes as they stream through: the upload writes plaintext into a
 * ring in shared memory, and a scan worker reads it as a ByteSource. Reads
 * move forward (the scanner's pickle machine only ever does), served from a
 * history of the most recent bytes when they reach a little back; a read
 * further back than that means the format needs random access (a zip's end
 * record comes first), and the caller scans the stored body instead. Nothing
 * holds the whole object: the ring and the history are fixed in size.
 */
import type { ByteSource } from './source.ts'

/** Counters: bytes written, bytes read, and flags. */
const WRITTEN = 0
const READ = 1
const ENDED = 2
const READER_DONE = 3
const COUNTERS = 4

export const RING_BYTES = 4 << 20
const HISTORY_BYTES = 4 << 20

/**
 * Why a ring source stopped serving bytes: the format needs reads further back
 * than the history keeps (or was identified as one that does), or the upload
 * ended early or went silent. Undefined while it works.
 */
export type RingFailure = 'needs-random-access' | 'aborted'

export interface Ring {
  readonly control: SharedArrayBuffer
  readonly data: SharedArrayBuffer
}

export function newRing(bytes = RING_BYTES): Ring {
  return {
    control: new SharedArrayBuffer(COUNTERS * 8),
    data: new SharedArrayBuffer(bytes),
  }
}

/** Marks the reader gone (its worker died), so that a waiting writer stops feeding. */
export function abandon(ring: Ring): void {
  const ctl = new BigInt64Array(ring.control)
  Atomics.store(ctl, READER_DONE, 1n)
  Atomics.notify(ctl, READ)
}

/** The producer's side, on the thread that receives the upload. */
export class RingWriter {
  private readonly ctl: BigInt64Array
  private readonly data: Uint8Array
  private written = 0

  constructor(ring: Ring) {
    this.ctl = new BigInt64Array(ring.control)
    this.data = new Uint8Array(ring.data)
  }

  /** True once the reader has what it needs (finished, or gave up on streaming). */
  get readerDone(): boolean {
    return Atomics.load(this.ctl, READER_DONE) !== 0n
  }

  /** Copies `chunk` in, waiting (without blocking the thread) while the ring is full. */
  async write(chunk: Uint8Array): Promise<void> {
    const cap = this.data.length
    let off = 0
    while (off < chunk.length) {
      if (this.readerDone) return
      const read = Number(Atomics.load(this.ctl, READ))
      const space = cap - (this.written - read)
      if (space === 0) {
        const w = Atomics.waitAsync(this.ctl, READ, BigInt(read), 30_000)
        if (w.async) await w.value
        continue
      }
      const n = Math.min(space, chunk.length - off)
      const at = this.written % cap
      const first = Math.min(n, cap - at)
      this.data.set(chunk.subarray(off, off + first), at)
      if (first < n) this.data.set(chunk.subarray(off + first, off + n), 0)
      off += n
      this.written += n
      Atomics.store(this.ctl, WRITTEN, BigInt(this.written))
      Atomics.notify(this.ctl, WRITTEN)
    }
  }

  /** No more bytes: 1 when complete, 2 when the upload failed. */
  end(complete = true): void {
    Atomics.store(this.ctl, ENDED, complete ? 1n : 2n)
    Atomics.notify(this.ctl, WRITTEN)
  }
}

/**
 * The consumer's side, in the scan worker: a ByteSource of known size whose
 * reads block (Atomics.wait) until the producer has written far enough. Once
 * it fails (see RingFailure) it reads as empty: the scan that used it is
 * discarded, and the worker reports why instead.
 */
export class RingSource implements ByteSource {
  readonly size: number
  readonly sequential = true
  failure: RingFailure | undefined
  private readonly ctl: BigInt64Array
  private readonly data: Uint8Array
  private readonly timeoutMs: number
  /** Bytes taken out of the ring so far (the stream position). */
  private consumed = 0
  /** The last HISTORY_BYTES consumed, as a ring of its own. */
  private readonly history = new Uint8Array(HISTORY_BYTES)

  constructor(ring: Ring, size: number, timeoutMs = 120_000) {
    this.ctl = new BigInt64Array(ring.control)
    this.data = new Uint8Array(ring.data)
    this.size = size
    this.timeoutMs = timeoutMs
  }

  /** Tells the producer to stop feeding (the scan ended or falls back). */
  done(): void {
    Atomics.store(this.ctl, READER_DONE, 1n)
    Atomics.notify(this.ctl, READ)
  }

  /** The scanner identified a format it reads from the stored body only. */
  needRandomAccess(): void {
    this.failure ??= 'needs-random-access'
  }

  readInto(position: number, into: Uint8Array, offset: number, length: number): number {
    const len = Math.max(0, Math.min(length, this.size - position))
    if (this.failure !== undefined) return 0
    let got = 0
    // From history: bytes already consumed, if still kept.
    if (position < this.consumed) {
      if (this.consumed - position > Math.min(this.consumed, HISTORY_BYTES)) {
        this.failure = 'needs-random-access'
        return 0
      }
      const n = Math.min(len, this.consumed - position)
      this.copyHistory(position, into, offset, n)
      got = n
    }
    // Skip to the position, then take the rest from the ring.
    if (got < len) {
      if (!this.take(position - this.consumed, undefined, 0)) return 0
      if (!this.take(len - got, into, offset + got)) return got
      got = len
    }
    return got
  }

  private copyHistory(position: number, into: Uint8Array, offset: number, n: number): void {
    const cap = this.history.length
    for (let done = 0; done < n;) {
      const at = (position + done) % cap
      const k = Math.min(n - done, cap - at)
      into.set(this.history.subarray(at, at + k), offset + done)
      done += k
    }
  }

  /** Consumes `n` bytes from the ring into `into` (or only into history when undefined); false when the stream failed. */
  private take(n: number, into: Uint8Array | undefined, offset: number): boolean {
    const cap = this.data.length
    let left = n
    while (left > 0) {
      const written = Number(Atomics.load(this.ctl, WRITTEN))
      const avail = written - this.consumed
      if (avail === 0) {
        // Ended (complete but short of its declared length, or failed), or silent too long.
        if (
          Atomics.load(this.ctl, ENDED) !== 0n ||
          Atomics.wait(this.ctl, WRITTEN, BigInt(written), this.timeoutMs) === 'timed-out'
        ) {
          this.failure = 'aborted'
          return false
        }
        continue
      }
      const k = Math.min(left, avail)
      for (let done = 0; done < k;) {
        const at = (this.consumed + done) % cap
        const m = Math.min(k - done, cap - at)
        const piece = this.data.subarray(at, at + m)
        if (into !== undefined) into.set(piece, offset + (n - left) + done)
        this.keep(this.consumed + done, piece)
        done += m
      }
      this.consumed += k
      left -= k
      Atomics.store(this.ctl, READ, BigInt(this.consumed))
      Atomics.notify(this.ctl, READ)
    }
    return true
  }

  private keep(position: number, piece: Uint8Array): void {
    const cap = this.history.length
    const src = piece.length > cap ? piece.subarray(piece.length - cap) : piece
    const start = position + (piece.length - src.length)
    for (let done = 0; done < src.length;) {
      const at = (start + done) % cap
      const k = Math.min(src.length - done, cap - at)
      this.history.set(src.subarray(done, done + k), at)
      done += k
    }
  }
}
