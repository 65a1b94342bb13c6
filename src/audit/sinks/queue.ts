/**
 * SpooledQueue: what every sink is, in front of its transport. `offer` appends to a bounded
 * memory queue and returns; one delivery loop takes batches in seq order from the spool (the
 * older events) and then from memory, and sends them until the transport takes them.
 *
 * Guarantees, beside those of sink.ts:
 *  - Order: one batch in flight at a time, always the oldest undelivered events; a failed batch
 *    is retried as it was (exponential backoff with full jitter, at least what Retry-After asks),
 *    so a destination never sees seq n+1 before seq n has been delivered.
 *  - Memory stays bounded: half full (`maxQueued`/2), or whenever the destination is failing,
 *    memory moves to the spool; full (the disk not keeping up, or the spool at its cap), offers
 *    are refused and counted. The spool never grows past `maxSpoolBytes`, except on `close`,
 *    which writes out what memory holds (at most `maxQueued` events) rather than lose it.
 *  - Accepted seqs only go up (an offer at or below `highestAccepted()` is ignored, so the owner
 *    may re-offer freely), and everything accepted is delivered once the destination takes it,
 *    unless the process dies first: what memory held is then above the reopened sink's
 *    `highestAccepted()`, for the owner to re-offer.
 *  - The cursor is written after delivery, coalesced, so a crash may repeat recent deliveries
 *    (at least once) and never skips one.
 */
import { StrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import { Spool } from './spool.ts'
import {
  backoffDelay,
  messageOf,
  DeliveryError,
  type AuditSink,
  type BackoffOptions,
  type SinkStatus,
  type SpoolEntry,
  type Transport,
} from './sink.ts'

export interface QueueOptions {
  readonly name: string
  readonly spoolDir: string
  readonly transport: Transport
  /** Events held in memory at most (default 10,000). */
  readonly maxQueued?: number
  /** Bytes the spool may take (default 1 GiB). */
  readonly maxSpoolBytes?: number
  /** Spool segment size (default 8 MiB). */
  readonly segmentBytes?: number
  /** Events per send at most (default 500). */
  readonly maxBatch?: number
  /** How long a batch that is not full waits for more events (default 0). */
  readonly lingerMs?: number
  readonly backoff?: BackoffOptions
  /** The first seq a new sink expects (default 0). */
  readonly startSeq?: number
}

/** Events per spool write. */
const SPILL_BATCH = 4096

type Pause = 'idle' | 'linger' | 'backoff'
type Why = 'offer' | 'flush' | 'close'

interface Waiter {
  readonly target: number
  readonly resolve: () => void
  readonly reject: (e: Error) => void
}

export class SpooledQueue implements AuditSink {
  readonly name: string
  private readonly spool: Spool
  private readonly transport: Transport
  private readonly maxQueued: number
  private readonly spillAt: number
  private readonly maxSpoolBytes: number
  private readonly maxBatch: number
  private readonly lingerMs: number
  private readonly backoff: BackoffOptions

  /** Accepted and neither delivered nor spooled: seqs ascending, all above the spool's last. */
  private memory: SpoolEntry[] = []
  /** The next events to send, taken from the spool or memory: seqs ascending, undelivered. */
  private window: SpoolEntry[] = []
  private windowSince = 0
  /** The highest seq taken into the window (or delivered). */
  private pulled: number
  private delivered: number
  /** The highest seq whose cursor is on disk. */
  private stored: number
  private accepted: number
  private dropped = 0
  private skipped = 0
  private dropping = false
  private retrying = false
  private lastError: string | undefined
  private closing = false
  private closed: Promise<void> | undefined
  private readonly abort = new AbortController()
  private loop: Promise<void> = Promise.resolve()
  private pause: Pause | undefined
  private wake: (() => void) | undefined
  private spilling: Promise<void> | undefined
  private spillAgain = false
  private spillPausedUntil = 0
  private committing: Promise<void> | undefined
  private waiters: Waiter[] = []

  private constructor(o: QueueOptions, spool: Spool, delivered: number) {
    this.name = o.name
    this.spool = spool
    this.transport = o.transport
    this.maxQueued = o.maxQueued ?? 10_000
    this.spillAt = Math.max(1, Math.floor(this.maxQueued / 2))
    this.maxSpoolBytes = o.maxSpoolBytes ?? 1 << 30
    this.maxBatch = o.maxBatch ?? 500
    this.lingerMs = o.lingerMs ?? 0
    this.backoff = o.backoff ?? {}
    this.delivered = delivered
    this.stored = delivered
    this.pulled = delivered
    this.accepted = Math.max(delivered, spool.last)
  }

  /**
   * Opens the spool in `o.spoolDir` (resuming after its cursor) and starts delivering; closes
   * the transport if that fails. CONFIG_INVALID for bad limits, IO for a spool it cannot open.
   */
  static async open(o: QueueOptions): Promise<SpooledQueue> {
    try {
      if (o.name === '') throw new StrongroomError('CONFIG_INVALID', 'an audit sink needs a name')
      positive(o, 'maxQueued', 2)
      positive(o, 'maxSpoolBytes', 1)
      positive(o, 'segmentBytes', 1)
      positive(o, 'maxBatch', 1)
      positive(o, 'lingerMs', 0)
      positive(o, 'startSeq', 0)
      const made: { q?: SpooledQueue } = {}
      const spool = await Spool.open(o.spoolDir, {
        ...(o.segmentBytes === undefined ? {} : { segmentBytes: o.segmentBytes }),
        onCorrupt: (m) => {
          if (made.q === undefined) return
          made.q.skipped++
          made.q.lastError = m
        },
      })
      const first = spool.first
      const delivered =
        spool.storedCursor === undefined && first === undefined
          ? (o.startSeq ?? 0) - 1
          : Math.max(spool.storedCursor ?? -1, first === undefined ? -1 : first - 1)
      await spool.commit(delivered)
      const q = new SpooledQueue(o, spool, delivered)
      made.q = q
      q.loop = q.run().catch((e: unknown) => {
        // A bug, not an outage: say so; close still writes memory to the spool.
        q.lastError = `delivery stopped: ${messageOf(e)}`
      })
      return q
    } catch (e) {
      await o.transport.close().catch(() => {})
      throw e
    }
  }

  highestAccepted(): number {
    return this.accepted
  }

  offer(seq: number, event: AuditEvent): void {
    try {
      if (!Number.isSafeInteger(seq) || seq <= this.accepted) return
      if (this.closing || this.memory.length >= this.maxQueued) {
        this.dropped++
        this.dropping = true
        return
      }
      this.memory.push({ seq, event })
      this.accepted = seq
      this.dropping = false
      if (this.retrying || this.memory.length >= this.spillAt) this.spill()
      this.kick('offer')
    } catch {
      // Never into the request path; an event not accepted stays above highestAccepted().
    }
  }

  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.closing)
      throw new StrongroomError('SERVICE_UNAVAILABLE', `the audit sink \`${this.name}\` is closed`)
    const target = this.accepted
    if (this.delivered < target) {
      let timer: NodeJS.Timeout | undefined
      let waiter: Waiter | undefined
      const done = new Promise<boolean>((resolve, reject) => {
        waiter = { target, resolve: () => resolve(true), reject }
        this.waiters.push(waiter)
        timer = setTimeout(() => resolve(false), timeoutMs)
      })
      this.kick('flush')
      const ok = await done.finally(() => clearTimeout(timer))
      if (!ok) {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        await this.persist()
        throw new StrongroomError(
          'SERVICE_UNAVAILABLE',
          `audit sink \`${this.name}\` has delivered up to seq ${this.delivered} of ${target} to ${this.transport.target}; the rest is kept and delivery goes on`,
        )
      }
    }
    await this.committing
    await this.transport.sync?.()
    await this.spool.sync()
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown()
    return this.closed
  }

  status(): SinkStatus {
    return {
      delivered: this.delivered,
      accepted: this.accepted,
      queued: this.memory.length,
      spooled: this.spool.pending(this.delivered),
      spoolBytes: this.spool.bytes,
      dropped: this.dropped,
      dropping: this.dropping,
      skipped: this.skipped,
      retrying: this.retrying,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    }
  }

  private async shutdown(): Promise<void> {
    this.closing = true
    this.abort.abort()
    this.kick('close')
    try {
      await this.loop
      // Closing lifts the cap: what memory holds goes to disk rather than be lost.
      await this.persist()
      await this.committing
      await this.spool.commit(this.delivered)
      await this.spool.close()
    } finally {
      await this.transport.close()
      const closed = new StrongroomError(
        'SERVICE_UNAVAILABLE',
        `the audit sink \`${this.name}\` closed before delivering`,
      )
      for (const w of this.waiters) w.reject(closed)
      this.waiters = []
    }
  }

  /** The delivery loop: one batch in flight, oldest first, retried until delivered. */
  private async run(): Promise<void> {
    let attempt = 0
    while (!this.closing) {
      try {
        await this.pull()
      } catch (e) {
        this.lastError = `cannot read the spool of \`${this.name}\`: ${messageOf(e)}`
        await this.sleep('backoff', backoffDelay(attempt++, this.backoff))
        continue
      }
      if (this.stopping()) break
      if (this.window.length === 0) {
        await this.sleep('idle')
        continue
      }
      const left = this.windowSince + this.lingerMs - Date.now()
      if (this.window.length < this.maxBatch && left > 0 && this.waiters.length === 0) {
        await this.sleep('linger', left)
        continue
      }
      const batch = this.window.slice(0, this.maxBatch)
      let n: number
      try {
        n = await this.transport.send(batch, this.abort.signal)
        if (!Number.isInteger(n) || n < 1 || n > batch.length)
          throw new DeliveryError(
            `${this.transport.target} took ${String(n)} of ${batch.length} events`,
          )
      } catch (e) {
        if (this.stopping()) break
        this.retrying = true
        this.lastError = messageOf(e)
        this.spill()
        const after = e instanceof DeliveryError ? e.retryAfterMs : undefined
        await this.sleep('backoff', backoffDelay(attempt++, this.backoff, after))
        continue
      }
      attempt = 0
      this.retrying = false
      this.lastError = undefined
      const last = this.window.splice(0, n).at(-1)
      if (last !== undefined) this.advance(last.seq)
    }
  }

  /** Fills the window: first what the spool holds above `pulled`, then memory. */
  private async pull(): Promise<void> {
    while (this.window.length < this.maxBatch) {
      const want = this.maxBatch - this.window.length
      let got: SpoolEntry[]
      if (this.pulled < this.spool.last) {
        got = await this.spool.read(this.pulled, want)
        if (got.length === 0) {
          // Only lines that failed their checks (reported through lastError) are left there.
          this.pulled = this.spool.last
          continue
        }
      } else {
        const i = firstAbove(this.memory, this.pulled)
        got = this.memory.slice(i, i + want)
      }
      const last = got.at(-1)
      if (last === undefined) return
      if (this.window.length === 0) this.windowSince = Date.now()
      this.window.push(...got)
      this.pulled = last.seq
    }
  }

  private advance(seq: number): void {
    this.delivered = seq
    this.forget(seq)
    this.commit()
    if (this.memory.length >= this.spillAt) this.spill()
    const waiting = this.waiters
    this.waiters = []
    for (const w of waiting) {
      if (w.target <= seq) w.resolve()
      else this.waiters.push(w)
    }
  }

  /** Drops from memory what is delivered or spooled, up to `seq`. */
  private forget(seq: number): void {
    const i = firstAbove(this.memory, seq)
    if (i > 0) this.memory = this.memory.slice(i)
  }

  /** Writes the cursor, one write at a time, the latest value. */
  private commit(): void {
    this.committing ??= (async () => {
      // Let the caller's turn finish: a run that ends at once must not outlive `??=`.
      await Promise.resolve()
      try {
        while (this.stored < this.delivered) {
          const d = this.delivered
          await this.spool.commit(d)
          this.stored = d
        }
      } catch (e) {
        this.lastError = `cannot record the cursor of \`${this.name}\`: ${messageOf(e)}`
      } finally {
        this.committing = undefined
      }
    })()
  }

  /** Moves memory to the spool, one write at a time; `all` ignores the thresholds and the cap. */
  private spill(all = false): void {
    if (this.spilling !== undefined) {
      this.spillAgain = true
      return
    }
    if (!all && Date.now() < this.spillPausedUntil) return
    this.spilling = this.spillNow(all).finally(() => {
      this.spilling = undefined
    })
  }

  private async spillNow(all: boolean): Promise<void> {
    do {
      this.spillAgain = false
      while (
        this.memory.length > 0 &&
        (all || this.closing || this.retrying || this.memory.length >= this.spillAt)
      ) {
        const take = this.memory.slice(0, SPILL_BATCH)
        let n: number
        try {
          n = await this.spool.write(take, all || this.closing ? Infinity : this.maxSpoolBytes)
        } catch (e) {
          this.lastError = `cannot write the spool of \`${this.name}\`: ${messageOf(e)}`
          this.spillPausedUntil = Date.now() + 1000
          return
        }
        const last = take[n - 1]
        if (last !== undefined) this.forget(last.seq)
        if (n < take.length) {
          this.lastError = `the spool of \`${this.name}\` is full (${this.maxSpoolBytes} bytes): new events are dropped until it drains`
          return
        }
      }
    } while (this.spillRequested())
  }

  /** Everything in memory to disk, fsynced. */
  private async persist(): Promise<void> {
    for (let s = this.spilling; s !== undefined; s = this.currentSpill()) await s
    this.spill(true)
    await this.currentSpill()
    await this.spool.sync()
  }

  /** Read through a method: `closing` changes while the loop awaits. */
  private stopping(): boolean {
    return this.closing
  }

  private currentSpill(): Promise<void> | undefined {
    return this.spilling
  }

  private spillRequested(): boolean {
    return this.spillAgain
  }

  private sleep(pause: Pause, ms?: number): Promise<void> {
    if (this.closing) return Promise.resolve()
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        clearTimeout(timer)
        this.wake = undefined
        this.pause = undefined
        resolve()
      }
      if (ms !== undefined) timer = setTimeout(done, ms)
      this.wake = done
      this.pause = pause
    })
  }

  /** Wakes the loop: offers end idling and a linger that has a full batch; flush ends any linger. */
  private kick(why: Why): void {
    if (this.wake === undefined) return
    if (this.pause === 'backoff' && why !== 'close') return
    if (this.pause === 'linger' && why === 'offer') {
      if (this.window.length + (this.accepted - this.pulled) < this.maxBatch) return
    }
    this.wake()
  }
}

/** The index of the first entry whose seq is above `seq` (entries ascending). */
function firstAbove(entries: readonly SpoolEntry[], seq: number): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((entries[mid]?.seq ?? Infinity) > seq) hi = mid
    else lo = mid + 1
  }
  return lo
}

function positive(o: QueueOptions, key: keyof QueueOptions, min: number): void {
  const v = o[key]
  if (v === undefined) return
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new StrongroomError(
      'CONFIG_INVALID',
      `audit sink \`${o.name}\`: \`${key}\` must be an integer of at least ${min}`,
    )
}
