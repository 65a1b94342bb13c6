/**
 * Sources read front to back (an upload as it streams, a zip member as it
 * is inflated): the scanner reads them like any ByteSource, served from a
 * history of the most recent bytes when a read reaches a little back. A
 * read further back than the history keeps means the format needs random
 * access: the source fails (`needs-random-access`) and reads as empty from
 * then on, and whoever runs the scan discards what it found and scans the
 * bytes another way. Nothing holds the whole stream: the history is fixed
 * in size.
 */
import type { ByteSource } from './source.ts'

/**
 * Why a forward source stopped serving bytes: the format needs reads further
 * back than the history (or was identified as one that does), the producer
 * ended early or went silent, or its bytes are corrupt. Undefined while it works.
 */
export type ForwardFailure = 'needs-random-access' | 'aborted' | 'corrupt'

export abstract class ForwardSource implements ByteSource {
  abstract readonly size: number
  readonly sequential = true
  failure: ForwardFailure | undefined
  /** Bytes taken from the producer so far (the stream position). */
  protected consumed = 0
  /** The last bytes consumed, as a ring of its own. */
  private readonly history: Uint8Array

  constructor(historyBytes: number) {
    this.history = new Uint8Array(historyBytes)
  }

  /**
   * Takes the next `n` bytes from the producer, passing each piece to
   * `taken`; false when the producer failed (and `failure` says why).
   */
  protected abstract pull(n: number, taken: (piece: Uint8Array) => void): boolean

  /** Bytes taken from the producer so far. */
  get position(): number {
    return this.consumed
  }

  /** The scanner identified a format it reads from random access only. */
  needRandomAccess(): void {
    this.failure ??= 'needs-random-access'
  }

  readInto(position: number, into: Uint8Array, offset: number, length: number): number {
    const len = Math.max(0, Math.min(length, this.size - position))
    if (this.failure !== undefined) return 0
    let got = 0
    // From history: bytes already consumed, if still kept.
    if (position < this.consumed) {
      if (this.consumed - position > Math.min(this.consumed, this.history.length)) {
        this.failure = 'needs-random-access'
        return 0
      }
      const n = Math.min(len, this.consumed - position)
      this.copyHistory(position, into, offset, n)
      got = n
    }
    // Skip to the position, then take the rest from the producer.
    if (got < len) {
      if (!this.take(position - this.consumed, undefined, 0)) return 0
      const at = this.consumed
      if (!this.take(len - got, into, offset + got)) return got + (this.consumed - at)
      got = len
    }
    return got
  }

  private take(n: number, into: Uint8Array | undefined, offset: number): boolean {
    let done = 0
    return this.pull(n, (piece) => {
      if (into !== undefined) into.set(piece, offset + done)
      this.keep(this.consumed, piece)
      this.consumed += piece.length
      done += piece.length
    })
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
