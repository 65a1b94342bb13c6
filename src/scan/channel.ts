/**
 * Reading a stored object from the scan worker: the worker's scanner reads
 * synchronously (it is a blocking parser, and it runs on its own thread),
 * while the bytes are decrypted from storage by the thread that owns the
 * object, asynchronously, without ever blocking that thread's event loop.
 *
 * Layout of the shared control block (BigInt64Array):
 *   [0] STATE  0 idle, 1 requested, 2 answered, 3 failed (the owner keeps the error)
 *   [1] POS    position of the requested bytes
 *   [2] LEN    bytes requested (at most the data block's size)
 *   [3] GOT    bytes the owner copied into the data block (fewer only at the end)
 * The worker writes POS and LEN, sets STATE to 1, asks for service
 * (`request`), and waits on STATE; the owner answers by setting GOT and STATE.
 */
import type { ByteSource } from './source.ts'

const STATE = 0
const POS = 1
const LEN = 2
const GOT = 3

const IDLE = 0n
const REQUESTED = 1n
const ANSWERED = 2n
const FAILED = 3n

/** Bytes moved per request: the scanner's own read window. */
export const CHANNEL_BYTES = 1 << 20

export interface Channel {
  readonly control: SharedArrayBuffer
  readonly data: SharedArrayBuffer
}

export function newChannel(bytes = CHANNEL_BYTES): Channel {
  return { control: new SharedArrayBuffer(4 * 8), data: new SharedArrayBuffer(bytes) }
}

/**
 * The owner's side: serves one pending request with `read` (an asynchronous
 * positioned read returning up to `length` bytes). A failed read is kept by
 * the caller; the worker only learns that the source failed.
 */
export async function serveRequest(
  channel: Channel,
  read: (position: number, length: number) => Promise<Uint8Array>,
): Promise<void> {
  const ctl = new BigInt64Array(channel.control)
  if (Atomics.load(ctl, STATE) !== REQUESTED) return
  const position = Number(Atomics.load(ctl, POS))
  const length = Number(Atomics.load(ctl, LEN))
  try {
    const bytes = await read(position, length)
    const n = Math.min(bytes.length, length, channel.data.byteLength)
    new Uint8Array(channel.data).set(bytes.subarray(0, n), 0)
    Atomics.store(ctl, GOT, BigInt(n))
    Atomics.store(ctl, STATE, ANSWERED)
  } catch (e) {
    Atomics.store(ctl, STATE, FAILED)
    throw e
  } finally {
    Atomics.notify(ctl, STATE)
  }
}

/** Why a channel source stopped serving bytes; undefined while it works. */
export type ChannelFailure = 'read-failed' | 'timed-out'

/**
 * The worker's side: a ByteSource whose reads block (Atomics.wait, on the
 * worker's thread only) until the owner has answered. Once a read fails, the
 * source reads as empty from then on and says why in `failure`: the scan
 * that used it is discarded, and the owner reports the error it kept.
 */
export class ChannelSource implements ByteSource {
  readonly size: number
  failure: ChannelFailure | undefined
  private readonly ctl: BigInt64Array
  private readonly data: Uint8Array
  private readonly request: () => void
  private readonly timeoutMs: number

  constructor(channel: Channel, size: number, request: () => void, timeoutMs = 120_000) {
    this.ctl = new BigInt64Array(channel.control)
    this.data = new Uint8Array(channel.data)
    this.size = size
    this.request = request
    this.timeoutMs = timeoutMs
  }

  readInto(position: number, into: Uint8Array, offset: number, length: number): number {
    const len = Math.max(0, Math.min(length, this.size - position))
    let got = 0
    while (got < len && this.failure === undefined) {
      const want = Math.min(len - got, this.data.length)
      Atomics.store(this.ctl, POS, BigInt(position + got))
      Atomics.store(this.ctl, LEN, BigInt(want))
      Atomics.store(this.ctl, STATE, REQUESTED)
      this.request()
      if (Atomics.wait(this.ctl, STATE, REQUESTED, this.timeoutMs) === 'timed-out') {
        this.failure = 'timed-out'
        break
      }
      const state = Atomics.load(this.ctl, STATE)
      Atomics.store(this.ctl, STATE, IDLE)
      if (state !== ANSWERED) {
        this.failure = 'read-failed'
        break
      }
      const n = Number(Atomics.load(this.ctl, GOT))
      into.set(this.data.subarray(0, n), offset + got)
      got += n
      if (n < want) break
    }
    return got
  }
}
