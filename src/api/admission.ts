/**
 * Admission control, as S3 and MinIO have it: a bound on the requests the gateway handles at
 * once and on the bytes they may hold in memory, a short queue in front of that bound (bounded
 * in length and in waiting time), and beyond it a refusal that the listener answers with
 * 503 SlowDown and a Retry-After header, which every AWS SDK retries with backoff.
 *
 * Each request is charged, when admitted, the memory it may hold while it runs (`chargeOf`):
 * an estimate from its method and declared length, since nothing is known of its object yet.
 * The queue is first in, first out: a large request at the head is not overtaken by smaller
 * ones, so it cannot be starved. A request is released exactly once, whatever ends it.
 */
import { constrainedMemory } from 'node:process'
import { totalmem } from 'node:os'
import { StrongroomError } from '../errors.ts'

export interface AdmissionLimits {
  /** Requests handled at once; more wait in the queue. */
  readonly maxInFlight: number
  /** Bytes the requests handled at once may hold, by their charges (`chargeOf`). */
  readonly maxBufferedBytes: number
  /** Requests that may wait for room; one more is refused at once. */
  readonly maxQueued: number
  /** How long a request may wait in the queue before it is refused. */
  readonly maxWaitMs: number
}

export interface AdmissionLoad {
  readonly inFlight: number
  readonly bufferedBytes: number
  readonly queued: number
  /** Requests refused since start, for logs and tests. */
  readonly refused: number
}

/** Why a request was not admitted: the queue was full, it waited too long, or its client left. */
export type Refusal = 'queue-full' | 'timeout' | 'gone'

export type Admitted = { readonly release: () => void } | { readonly refused: Refusal }

export interface Admission {
  readonly limits: AdmissionLimits
  /**
   * Waits for room for a request that may hold `bytes` (at most `maxBufferedBytes` is charged,
   * so that any request can run alone). `signal` aborts the wait when the client goes away.
   * The returned `release` is idempotent.
   */
  admit(bytes: number, signal?: AbortSignal): Promise<Admitted>
  load(): AdmissionLoad
}

const KiB = 1024
const MiB = 1024 * KiB

/** What any request holds: parser, headers, socket and TLS buffers, its log line. */
export const REQUEST_BASE_CHARGE = 64 * KiB
/** The largest request document read whole (CompleteMultipartUpload: 8 MiB, xml.ts). */
const LARGEST_DOCUMENT = 8 * MiB

/**
 * The memory a request may hold while it runs, from what is known before it is read:
 * - every request: REQUEST_BASE_CHARGE;
 * - a GET: one segment, the piece of a body opened (or kept for a small object) at once;
 * - a PUT: its body up to two segments: a streamed body holds the segment being sealed and
 *   the plaintext kept for scanning (up to 1 MiB), never the whole body;
 * - a POST: its body up to the largest request document, which is read whole.
 * A body of unknown length is charged its upper bound.
 */
export function chargeOf(
  method: string | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  segmentSize: number,
): number {
  const raw = headers['x-amz-decoded-content-length'] ?? headers['content-length']
  // Attacker-controlled: anything but a plain decimal counts as unknown, i.e. the upper bound.
  const declared = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : undefined
  const body = (cap: number) => Math.min(declared ?? cap, cap)
  switch (method) {
    case 'GET':
      return REQUEST_BASE_CHARGE + segmentSize
    case 'PUT':
      return REQUEST_BASE_CHARGE + body(2 * segmentSize)
    case 'POST':
      return REQUEST_BASE_CHARGE + body(LARGEST_DOCUMENT)
    case undefined:
    default:
      return REQUEST_BASE_CHARGE
  }
}

/** The memory the defaults are derived from: the machine's, or the container's limit if lower. */
export function availableMemory(): number {
  const limit = constrainedMemory()
  const total = totalmem()
  return limit > 0 && limit < total ? limit : total
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n))

/**
 * Defaults from memory: a sixteenth of it for buffered bytes, between 32 and 256 MiB (the
 * gateway itself, SQLite and the scan worker take about 100 MiB more); one request in flight
 * per 8 MiB of that budget, between 4 and 256 (a request in flight costs several times its
 * charge in RSS: copies, its connection's TLS state, the allocator's slack; bench/load.ts,
 * docs/benchmarks.md); a queue eight times as long, since a waiting request holds only its
 * connection and what was read of its body (about 300 KiB over TLS); two seconds of waiting.
 */
export function defaultLimits(memory: number): AdmissionLimits {
  const maxBufferedBytes = Math.floor(clamp(memory / 16, 32 * MiB, 256 * MiB) / MiB) * MiB
  const maxInFlight = clamp(Math.floor(maxBufferedBytes / (8 * MiB)), 4, 256)
  return { maxInFlight, maxBufferedBytes, maxQueued: 8 * maxInFlight, maxWaitMs: 2_000 }
}

interface Waiter {
  readonly charge: number
  readonly resolve: (a: Admitted) => void
  readonly timer: NodeJS.Timeout
  readonly signal: AbortSignal | undefined
  readonly onAbort: () => void
}

export function createAdmission(limits: AdmissionLimits): Admission {
  for (const [name, v] of Object.entries(limits))
    if (!Number.isSafeInteger(v) || v < (name === 'maxQueued' || name === 'maxWaitMs' ? 0 : 1))
      throw new StrongroomError(
        'CONFIG_INVALID',
        `the admission limit ${name} must be a whole number of at least ${name === 'maxQueued' || name === 'maxWaitMs' ? 0 : 1}, not \`${v}\``,
      )
  let inFlight = 0
  let buffered = 0
  let refused = 0
  const queue: Waiter[] = []

  const fits = (charge: number) =>
    inFlight < limits.maxInFlight && buffered + charge <= limits.maxBufferedBytes

  const start = (charge: number): Admitted => {
    inFlight++
    buffered += charge
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        inFlight--
        buffered -= charge
        next()
      },
    }
  }

  /** Admits waiters from the head of the queue while they fit. */
  const next = () => {
    for (let w = queue[0]; w !== undefined && fits(w.charge); w = queue[0]) {
      queue.shift()
      settle(w)
      w.resolve(start(w.charge))
    }
  }

  const settle = (w: Waiter) => {
    clearTimeout(w.timer)
    w.signal?.removeEventListener('abort', w.onAbort)
  }

  const refuse = (w: Waiter, why: Refusal) => {
    const at = queue.indexOf(w)
    if (at < 0) return
    queue.splice(at, 1)
    settle(w)
    refused++
    w.resolve({ refused: why })
    // The head may have been the one blocking those behind it.
    if (at === 0) next()
  }

  return {
    limits,
    admit(bytes, signal) {
      const charge = Math.min(Math.max(0, bytes), limits.maxBufferedBytes)
      if (signal?.aborted === true) {
        refused++
        return Promise.resolve({ refused: 'gone' })
      }
      if (queue.length === 0 && fits(charge)) return Promise.resolve(start(charge))
      if (queue.length >= limits.maxQueued) {
        refused++
        return Promise.resolve({ refused: 'queue-full' })
      }
      return new Promise<Admitted>((resolve) => {
        const w: Waiter = {
          charge,
          resolve,
          timer: setTimeout(() => refuse(w, 'timeout'), limits.maxWaitMs),
          signal,
          onAbort: () => refuse(w, 'gone'),
        }
        signal?.addEventListener('abort', w.onAbort, { once: true })
        queue.push(w)
      })
    },
    load: () => ({ inFlight, bufferedBytes: buffered, queued: queue.length, refused }),
  }
}
