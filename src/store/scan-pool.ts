/**
 * A small pool of scan workers: every scan the gateway and the CLI run happens
 * here, off the event loop. Three kinds of job:
 * - stream: an upload is scanned as its bytes stream through a shared ring,
 *   if a worker is free at once (an upload is never made to wait for one);
 * - buffer: a small body kept in memory while sealing. The smallest (up to
 *   INLINE_SCAN_MAX) are scanned on the calling thread under a budget that
 *   bounds them to a few milliseconds (INLINE_LIMITS), since a worker's round
 *   trip costs a 4 KiB PUT more than its scan; one that reaches that budget is
 *   scanned again in a worker under the full budget, so the verdict is the same;
 * - read-back: a stored object, read through a channel (src/scan/channel.ts)
 *   whose reads this thread serves asynchronously from storage.
 * Buffer and read-back jobs queue for a free worker. Each scan runs under
 * the pool's memory budget (`scanMemoryMiB`).
 */
import { Worker } from 'node:worker_threads'
import { StrongroomError } from '../errors.ts'
import { newChannel, serveRequest, type Channel } from '../scan/channel.ts'
import { abandon, newRing, RingWriter, type Ring } from '../scan/ring.ts'
import { scan } from '../scan/scan.ts'
import { bufferSource } from '../scan/source.ts'
import { DEFAULT_LIMITS, type Finding, type Limits, type Verdict } from '../scan/types.ts'
import type { ScanJob, ScanReply } from './scan-worker.ts'

export interface PooledReport {
  readonly verdict: Verdict
  readonly format: string
  readonly findings: Finding[]
}

export type ScanOutcome =
  | { readonly report: PooledReport }
  /** The format needs random access: scan the stored body instead. */
  | { readonly fallback: true }
  /** The upload ended early or went silent. */
  | { readonly aborted: true }
  | { readonly error: StrongroomError }

export interface StreamingScan {
  readonly writer: RingWriter
  /** Settles once the worker is done; never rejects. */
  readonly outcome: Promise<ScanOutcome>
}

/** Positioned reads of a stored body (plaintext), served to a read-back scan. */
export type ReadAt = (position: number, length: number) => Promise<Uint8Array>

/** Bodies up to this size are scanned on the calling thread first (see the header). */
export const INLINE_SCAN_MAX = 64 * 1024

/**
 * The budget of a scan on the calling thread: at most 1 MiB decompressed and held, and 20 ms,
 * whatever a 64 KiB body holds (nested archives, a deflate bomb).
 */
export const INLINE_LIMITS: Limits = {
  ...DEFAULT_LIMITS,
  maxDecompressed: 1024 * 1024,
  maxMemory: 1024 * 1024,
  maxMillis: 20,
}

/** The default memory budget of one scan, in MiB. */
export const DEFAULT_SCAN_MEMORY_MIB = DEFAULT_LIMITS.maxMemory / (1024 * 1024)

interface Running {
  readonly path: string
  readonly settle: (o: ScanOutcome) => void
  readonly ring?: Ring
  readonly channel?: Channel
  readonly read?: ReadAt
  /** The first error a read-back read raised: reported instead of the worker's reply. */
  readError?: unknown
}

interface Slot {
  readonly worker: Worker
  running: Running | undefined
}

type Queued = (slot: Slot) => void

export class ScanPool {
  private readonly slots: Slot[] = []
  private readonly queue: Queued[] = []
  private readonly max: number
  private readonly memory: number
  private next = 1
  /** Jobs handed to a worker so far. */
  workerJobs = 0

  constructor(workers = 2, memoryMiB = DEFAULT_SCAN_MEMORY_MIB) {
    this.max = workers
    this.memory = memoryMiB * 1024 * 1024
  }

  /** The memory budget of one scan, in bytes. */
  get memoryBytes(): number {
    return this.memory
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./scan-worker.ts', import.meta.url))
    worker.unref()
    const slot: Slot = { worker, running: undefined }
    worker.on('message', (m: ScanReply) => {
      const job = slot.running
      if (job === undefined) return
      if (m.kind === 'read') {
        if (job.channel === undefined || job.read === undefined) return
        serveRequest(job.channel, job.read).catch((e: unknown) => (job.readError ??= e))
        return
      }
      slot.running = undefined
      worker.unref()
      job.settle(this.outcomeOf(job, m))
      this.pump()
    })
    const fail = (cause: unknown) => {
      const i = this.slots.indexOf(slot)
      if (i >= 0) this.slots.splice(i, 1)
      const job = slot.running
      slot.running = undefined
      if (job !== undefined) {
        if (job.ring !== undefined) abandon(job.ring)
        job.settle({
          error: new StrongroomError(
            'INTERNAL',
            `the scan worker failed while scanning ${job.path}`,
            {
              cause,
            },
          ),
        })
      }
      this.pump()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`the scan worker exited with code ${code}`))
    })
    this.slots.push(slot)
    return slot
  }

  private outcomeOf(job: Running, m: ScanReply): ScanOutcome {
    switch (m.kind) {
      case 'report':
        return { report: m.report }
      case 'fallback':
        return { fallback: true }
      case 'aborted':
        return { aborted: true }
      case 'read-failed':
        return {
          error:
            job.readError instanceof StrongroomError
              ? job.readError
              : new StrongroomError('IO', `reading ${job.path} back for its scan failed`, {
                  cause: job.readError,
                }),
        }
      case 'failed':
        return {
          error: new StrongroomError('INTERNAL', `the scan of ${job.path} failed: ${m.message}`, {
            cause: Object.assign(new Error(m.message), { stack: m.stack }),
          }),
        }
      case 'read':
        throw new StrongroomError('INTERNAL', 'a read request is not a reply')
    }
  }

  private free(): Slot | undefined {
    return (
      this.slots.find((s) => s.running === undefined) ??
      (this.slots.length < this.max ? this.spawn() : undefined)
    )
  }

  /** Hands free workers to queued jobs. */
  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.free()
      if (slot === undefined) return
      this.queue.shift()?.(slot)
    }
  }

  private run(slot: Slot, job: ScanJob, running: Running): void {
    slot.running = running
    this.workerJobs++
    // An idle worker does not keep the process alive; one with a job does, until it replies.
    slot.worker.ref()
    slot.worker.postMessage(job)
  }

  /** Starts scanning a stream of `size` bytes if a worker is free now. */
  start(size: number, path: string, strict = false): StreamingScan | undefined {
    const slot = this.queue.length === 0 ? this.free() : undefined
    if (slot === undefined) return undefined
    const ring = newRing()
    const outcome = new Promise<ScanOutcome>((settle) =>
      this.run(
        slot,
        { kind: 'stream', id: this.next++, ring, size, path, strict, memory: this.memory },
        { path, settle, ring },
      ),
    )
    return { writer: new RingWriter(ring), outcome }
  }

  /** Scans bytes held in memory: here if small and within INLINE_LIMITS, else copied to a worker. */
  scanBuffer(bytes: Uint8Array, path: string, strict = false): Promise<ScanOutcome> {
    const inline = bytes.length <= INLINE_SCAN_MAX ? scanHere(bytes, path, strict) : undefined
    if (inline !== undefined) return Promise.resolve({ report: inline })
    return this.enqueue((slot, settle) =>
      this.run(
        slot,
        { kind: 'buffer', id: this.next++, bytes, path, strict, memory: this.memory },
        { path, settle },
      ),
    )
  }

  /** Scans a stored body of `size` bytes that `read` returns from storage, asynchronously. */
  scanStored(size: number, read: ReadAt, path: string, strict = false): Promise<ScanOutcome> {
    return this.enqueue((slot, settle) => {
      const channel = newChannel()
      this.run(
        slot,
        { kind: 'read-back', id: this.next++, channel, size, path, strict, memory: this.memory },
        { path, settle, channel, read },
      )
    })
  }

  private enqueue(
    begin: (slot: Slot, settle: (o: ScanOutcome) => void) => void,
  ): Promise<ScanOutcome> {
    return new Promise((settle) => {
      this.queue.push((slot) => begin(slot, settle))
      this.pump()
    })
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0)
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }
}

/**
 * A small body's report, scanned on this thread under INLINE_LIMITS; undefined when a limit
 * was reached, findings were left out, or the scanner failed: the worker then decides.
 */
function scanHere(bytes: Uint8Array, path: string, strict: boolean): PooledReport | undefined {
  try {
    const r = scan(bufferSource(bytes), path, { strict, limits: INLINE_LIMITS })
    if (r.omitted > 0 || r.findings.some((f) => f.rule.startsWith('limit.'))) return undefined
    return { verdict: r.verdict, format: r.format, findings: [...r.findings] }
  } catch {
    return undefined
  }
}
