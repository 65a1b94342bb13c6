/**
 * A small pool of scan workers, so that uploads are scanned as their bytes
 * stream through, off the event loop. When every worker is busy an upload is
 * not made to wait: it is scanned from its stored body instead.
 */
import { Worker } from 'node:worker_threads'
import { abandon, newRing, RingWriter, type Ring } from '../scan/ring.ts'
import type { Finding, Verdict } from '../scan/types.ts'
import type { ScanJob } from './scan-worker.ts'

export type ScanOutcome =
  | { readonly report: { verdict: Verdict; format: string; findings: Finding[] } }
  | { readonly fallback: true }
  | { readonly aborted: true }
  | { readonly error: string }

export interface StreamingScan {
  readonly writer: RingWriter
  /** Settles once the worker is done; never rejects. */
  readonly outcome: Promise<ScanOutcome>
}

interface Slot {
  worker: Worker
  busy: ((o: ScanOutcome) => void) | undefined
  ring: Ring | undefined
}

export class ScanPool {
  private readonly slots: Slot[] = []
  private readonly max: number
  private next = 1

  constructor(workers = 2) {
    this.max = workers
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./scan-worker.ts', import.meta.url))
    worker.unref()
    const slot: Slot = { worker, busy: undefined, ring: undefined }
    worker.on('message', (m: ScanOutcome) => {
      const done = slot.busy
      slot.busy = undefined
      done?.(m)
    })
    const fail = (why: string) => {
      if (slot.ring !== undefined) abandon(slot.ring)
      slot.busy?.({ error: why })
      slot.busy = undefined
      const i = this.slots.indexOf(slot)
      if (i >= 0) this.slots.splice(i, 1)
    }
    worker.on('error', (e: Error) => fail(e.message))
    worker.on('exit', (code) => fail(`the scan worker exited (${code})`))
    this.slots.push(slot)
    return slot
  }

  /** Starts scanning a stream of `size` bytes if a worker is free. */
  start(size: number, path: string, strict = false): StreamingScan | undefined {
    const slot =
      this.slots.find((s) => s.busy === undefined) ??
      (this.slots.length < this.max ? this.spawn() : undefined)
    if (slot === undefined) return undefined
    const ring = newRing()
    slot.ring = ring
    const outcome = new Promise<ScanOutcome>((resolve) => (slot.busy = resolve))
    const job: ScanJob = { id: this.next++, ring, size, path, strict }
    slot.worker.postMessage(job)
    return { writer: new RingWriter(ring), outcome }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
    this.slots.length = 0
  }
}
