/**
 * Scanning bytes as they stream through: the upload writes plaintext into a
 * ring in shared memory, and a scan worker reads it as a ByteSource. Reads
 * move forward (the scanner's pickle machine only ever does), served from a
 * history of the most recent bytes when they reach a little back; a read
 * further back than that means the format needs random access (a zip's end
 * record comes first), and the caller scans the stored body instead. Nothing
 * holds the whole object: the ring and the history are fixed in size.
 */
import { ForwardSource } from './forward.ts'

/** Counters: bytes written, bytes read, and flags. */
const WRITTEN = 0
const READ = 1
const ENDED = 2
const READER_DONE = 3
const COUNTERS = 4

export const RING_BYTES = 4 << 20
const HISTORY_BYTES = 4 << 20

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
 * it fails (see ForwardFailure) it reads as empty: the scan that used it is
 * discarded, and the worker reports why instead.
 */
export class RingSource extends ForwardSource {
  readonly size: number
  private readonly ctl: BigInt64Array
  private readonly data: Uint8Array
  private readonly timeoutMs: number

  constructor(ring: Ring, size: number, timeoutMs = 120_000) {
    super(HISTORY_BYTES)
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

  protected pull(n: number, taken: (piece: Uint8Array) => void): boolean {
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
        const at = this.consumed % cap
        const m = Math.min(k - done, cap - at)
        taken(this.data.subarray(at, at + m))
        done += m
      }
      left -= k
      Atomics.store(this.ctl, READ, BigInt(this.consumed))
      Atomics.notify(this.ctl, READ)
    }
    return true
  }
}
