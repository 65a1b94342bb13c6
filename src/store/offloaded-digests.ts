/**
 * Digests computed in the digest worker (src/store/digest-worker.ts) for
 * bodies large enough to be worth it: the bytes are copied into 1 MiB
 * batches (one copy, transferred, never shared with the sealer), at most
 * four batches per body are in the worker at once, and the digests come back
 * in the order the algorithms were given. One worker serves every body;
 * MD5 is sequential per body, and the gateway has the main thread for TLS
 * and sealing. A worker that fails fails the bodies it was hashing.
 */
import { Worker } from 'node:worker_threads'
import { StrongroomError } from '../errors.ts'
import type { DigestReply, DigestRequest } from './digest-worker.ts'

/** Bodies at least this long are hashed in the worker; shorter ones on the caller's thread. */
export const OFFLOAD_MIN = 1024 * 1024
const BATCH = 1024 * 1024
const IN_FLIGHT = 4

interface Job {
  acks: number
  wake: (() => void) | undefined
  done: ((digests: readonly Uint8Array[]) => void) | undefined
  failed: unknown
}

let worker: Worker | undefined
const jobs = new Map<number, Job>()
let nextId = 1

function fail(cause: unknown): void {
  worker = undefined
  for (const job of jobs.values()) {
    job.failed = cause
    job.wake?.()
    job.done?.([])
  }
  jobs.clear()
}

function theWorker(): Worker {
  if (worker !== undefined) return worker
  const w = new Worker(new URL('./digest-worker.ts', import.meta.url))
  w.unref()
  w.on('message', (m: DigestReply) => {
    const job = jobs.get(m.id)
    if (job === undefined) return
    if (m.op === 'ack') {
      job.acks++
      const wake = job.wake
      job.wake = undefined
      wake?.()
    } else job.done?.(m.digests)
  })
  w.on('error', (e) => fail(e))
  w.on('exit', (code) =>
    fail(new StrongroomError('INTERNAL', `the digest worker exited (code ${code})`)),
  )
  worker = w
  return w
}

function post(w: Worker, m: DigestRequest, transfer: ArrayBuffer[] = []): void {
  w.postMessage(m, transfer)
}

/** One body's digests, computed in the worker. Feed `update` in order, then `digests` once; `drop` when abandoning. */
export class OffloadedDigests {
  private readonly id = nextId++
  private readonly worker: Worker
  private readonly job: Job = { acks: 0, wake: undefined, done: undefined, failed: undefined }
  private batch = Buffer.allocUnsafeSlow(BATCH)
  private filled = 0
  private sent = 0

  constructor(algorithms: readonly string[]) {
    this.worker = theWorker()
    if (jobs.size === 0) this.worker.ref()
    jobs.set(this.id, this.job)
    post(this.worker, { op: 'start', id: this.id, algorithms })
  }

  /** Copies `chunk` into the current batch; waits while the worker is more than four batches behind. */
  async update(chunk: Uint8Array): Promise<void> {
    let at = 0
    while (at < chunk.byteLength) {
      const n = Math.min(BATCH - this.filled, chunk.byteLength - at)
      this.batch.set(chunk.subarray(at, at + n), this.filled)
      this.filled += n
      at += n
      if (this.filled === BATCH) await this.flush()
    }
  }

  /** The digests, in the order of the algorithms. */
  async digests(): Promise<readonly Buffer[]> {
    await this.flush()
    const digests = await new Promise<readonly Uint8Array[]>((resolve) => {
      this.job.done = resolve
      post(this.worker, { op: 'end', id: this.id })
    })
    this.release()
    this.check()
    return digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))
  }

  /** Forgets the body (an aborted or failed upload). */
  drop(): void {
    if (!jobs.has(this.id)) return
    post(this.worker, { op: 'drop', id: this.id })
    this.release()
  }

  private release(): void {
    jobs.delete(this.id)
    if (jobs.size === 0) this.worker.unref()
  }

  private check(): void {
    if (this.job.failed !== undefined)
      throw new StrongroomError('INTERNAL', 'the digest worker failed', { cause: this.job.failed })
  }

  private async flush(): Promise<void> {
    this.check()
    if (this.filled === 0) return
    const bytes = new Uint8Array(this.batch.buffer, 0, this.filled)
    post(this.worker, { op: 'update', id: this.id, bytes }, [this.batch.buffer])
    this.sent++
    this.batch = Buffer.allocUnsafeSlow(BATCH)
    this.filled = 0
    while (this.sent - this.job.acks > IN_FLIGHT && this.job.failed === undefined)
      await new Promise<void>((resolve) => (this.job.wake = resolve))
    this.check()
  }
}
