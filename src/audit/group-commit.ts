/**
 * What both audit logs share (./log.ts on a machine's own disk, ./shared-log.ts in the shared
 * metadata database): records queued by many requests go out together in one durable write
 * (group commit), each `append` resolving with its record's index once that write is done.
 * A write slower than `commitTimeoutMs` fails its waiters and refuses new work until one
 * completes; a write that fails is reported and retried for best-effort records; a log that
 * is `broken` (tampering, a lost store) refuses everything and tells every waiter so, never
 * leaving one hanging. Every problem is reported once through `onAlert`.
 */
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import { Witnesses, type ProofSource, type WitnessTarget } from './witness-client.ts'
import { MAX_ENTRY_BYTES } from './tlog/tiles.ts'

export interface GroupCommitOptions {
  /** A group commit slower than this fails its waiters and refuses new work (default 5 s). */
  readonly commitTimeoutMs?: number
  /** Records waiting beyond this refuse new work; best-effort ones are dropped (default 100,000). */
  readonly maxQueued?: number
  /** Told once of each new problem, in words. */
  readonly onAlert?: (problem: string) => void
  /** Witnesses each newer checkpoint is sent to for cosigning (./witness-client.ts). */
  readonly witnesses?: readonly WitnessTarget[]
}

export interface Pending {
  readonly bytes: Buffer
  readonly resolve?: (index: number) => void
  readonly reject?: (e: unknown) => void
}

/** Records per group commit at most, and their bytes at most (a record is at most 64 KiB). */
const MAX_BATCH = 8192
const MAX_BATCH_BYTES = 16 << 20

export abstract class GroupCommitLog {
  protected readonly options: GroupCommitOptions
  protected queue: Pending[] = []
  protected broken: string | undefined
  protected closed = false
  /** close() has begun: no retry is scheduled from here on. */
  private closing = false
  /** The log's periodic work (sealing, checks), stopped first on close. */
  protected timer: NodeJS.Timeout | undefined
  private draining: Promise<void> | undefined
  private stalled: string | undefined
  /** The last write failed (and is retried): fail-closed work is refused until one succeeds. */
  private failing: string | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private dropped = 0
  private retrying = false
  private readonly alerted = new Set<string>()
  private readonly listeners = new Set<(index: number, record: Buffer) => void>()
  private witnesses: Witnesses | undefined

  /** What the log writes to, for messages: "disk", "database". */
  private readonly medium: string

  protected constructor(options: GroupCommitOptions, medium: string) {
    this.options = options
    this.medium = medium
  }

  /** Writes `batch` durably; answers the index of its first record. */
  protected abstract commit(batch: readonly Pending[]): Promise<number>
  /** After a commit, with the records' first index: the place to seal. */
  protected abstract committed(first: number, batch: readonly Pending[]): Promise<void>
  /** Puts every committed record under a signed checkpoint (reporting, not throwing, failures). */
  protected abstract seal(): Promise<void>
  /** Lets go of what the log holds (a lock, a file). */
  protected abstract release(): Promise<void>
  /** The newest checkpoint the log wrote or read (a signed note). */
  abstract get checkpointNote(): string

  /**
   * Sends each checkpoint `offer`ed from now on to the configured witnesses, with proofs from
   * `proofs`; their cosigned checkpoints go to DIR/witnessed/. A refusal as another history
   * breaks the log; any other failure is an alert.
   */
  protected witnessWith(dir: string, proofs: ProofSource): void {
    this.witnesses = new Witnesses(
      this.options.witnesses ?? [],
      join(dir, 'witnessed'),
      proofs,
      (p) => this.fail(p),
      (p) => this.alert(p),
    )
  }

  /** Offers the checkpoint `note` of `size` records to the witnesses, in the background. */
  protected offer(note: string, size: number): void {
    this.witnesses?.offer(note, size)
  }

  /** Waits for the checkpoints offered to the witnesses so far to be answered. */
  async witnessed(): Promise<void> {
    await this.witnesses?.settled()
  }

  /** Commits what is queued and seals everything committed; answers the newest checkpoint. */
  async checkpoint(): Promise<string> {
    await this.flush()
    await this.seal()
    return this.checkpointNote
  }

  /** Commits what is queued, seals, and stops. */
  async close(): Promise<void> {
    if (this.closed || this.closing) return
    this.closing = true
    clearInterval(this.timer)
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    try {
      await this.flush()
      // Records waiting for a retry get one last attempt now, not one after the release.
      if (this.queue.length > 0 && this.broken === undefined) {
        this.run(() => this.drain())
        await this.flush()
      }
      if (this.queue.length > 0) {
        const lost = this.queue.splice(0)
        this.dropped += lost.length
        for (const p of lost)
          p.reject?.(unrecorded('the audit log closed before it could store it'))
        this.alert(`the audit log closed with ${lost.length} records it could not store`)
      }
      if (this.broken === undefined) await this.seal()
    } finally {
      this.closed = true
      await this.witnessed()
      await this.release()
    }
  }
  /** A passing problem of the store (a full disk) that refuses fail-closed work. */
  protected transient(): string | undefined {
    return undefined
  }

  /** Best-effort records dropped because the log could not take them. */
  get droppedCount(): number {
    return this.dropped
  }

  /** Why fail-closed work must be refused now, or undefined when the log can take it. */
  problem(): string | undefined {
    if (this.closed) return 'the audit log is closed'
    if (this.queue.length >= (this.options.maxQueued ?? 100_000))
      return `${this.queue.length} audit records are waiting for the ${this.medium}`
    return this.broken ?? this.stalled ?? this.failing ?? this.transient()
  }

  /**
   * Appends one record durably; resolves with its index. SERVICE_UNAVAILABLE when it cannot be
   * stored now or in time; the record is then still kept and retried, in the background.
   */
  append(record: Uint8Array): Promise<number> {
    const bytes = checked(record)
    const refused = this.problem()
    if (refused !== undefined) {
      // The wait is refused, not the record: it describes something that happened, so it is
      // kept as a best-effort one (dropped, and counted, only when the log cannot keep it).
      this.enqueue(bytes)
      return Promise.reject(unrecorded(refused))
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, resolve, reject })
      this.kick()
    })
  }

  /** Queues one record without waiting (best effort): dropped, and counted, if it cannot be kept. */
  enqueue(record: Uint8Array): void {
    if (
      this.closed ||
      this.broken !== undefined ||
      this.queue.length >= (this.options.maxQueued ?? 100_000)
    ) {
      this.dropped++
      this.alert(
        `audit records are being dropped (${this.dropped} so far): ${this.problem() ?? ''}`,
      )
      return
    }
    this.queue.push({ bytes: checked(record) })
    this.kick()
  }

  /** Calls `fn` with every record this process wrote once it is durable, in index order. */
  subscribe(fn: (index: number, record: Buffer) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Waits for every record queued so far to be committed (or refused). */
  async flush(): Promise<void> {
    while (this.draining !== undefined) await this.draining
  }

  protected kick(): void {
    // After a failed write the next attempt waits for its timer, whatever asks sooner: a
    // store that is down is not hammered by every record that arrives meanwhile.
    if (this.retryTimer !== undefined || this.closed) return
    this.run(() => this.drain())
  }

  /** Runs `work` unless something already runs; whatever is queued meanwhile runs after it. */
  protected run(work: () => Promise<void>): void {
    if (this.draining !== undefined) return
    const done = work().catch((e: unknown) => {
      // Background work (a checkpoint, the inbox) that fails is reported; the log goes on.
      this.alert(`audit log maintenance failed: ${(e as Error).message}`)
    })
    this.draining = done.finally(() => {
      this.draining = undefined
      if (this.broken !== undefined) {
        // Nothing more will be written: every waiter is told so now, never left hanging.
        const refused = unrecorded(this.broken)
        for (const p of this.queue.splice(0)) {
          if (p.reject === undefined) this.dropped++
          p.reject?.(refused)
        }
        return
      }
      if (this.queue.length === 0 || this.closed) return
      // After a failed write, the records kept for retry wait a little for the store (and
      // while closing, close() makes the last attempt itself).
      if (this.retrying) {
        if (this.closing || this.retryTimer !== undefined) return
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined
          this.kick()
        }, 200).unref()
      } else this.kick()
    })
  }

  /** Group commit: everything queued while the previous write ran goes out in one write. */
  protected async drain(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r))
    while (this.queue.length > 0 && this.broken === undefined) {
      const batch = this.takeBatch()
      const late = { timedOut: false }
      const timer = setTimeout(() => {
        late.timedOut = true
        this.stalled = `the audit log's ${this.medium} has not completed a write in ${(this.options.commitTimeoutMs ?? 5000) / 1000} s`
        this.alert(this.stalled)
        for (const p of batch) p.reject?.(unrecorded(this.stalled))
        // Those queued behind the stuck write are told now too, not one timeout per group
        // later; their records stay queued, best effort, for when the store answers again.
        this.queue = this.queue.map((p) => {
          p.reject?.(unrecorded(this.stalled ?? ''))
          return { bytes: p.bytes }
        })
      }, this.options.commitTimeoutMs ?? 5000)
      let first: number
      try {
        first = await this.commit(batch)
      } catch (e) {
        clearTimeout(timer)
        const problem = (e as Error).message
        // Fail-closed work is admitted again only once a write succeeds: a store that fails
        // every write must not admit a request between one failure and the next attempt.
        this.failing = `the audit log's ${this.medium} failed a write: ${problem}`
        this.retrying = true
        if (!late.timedOut) for (const p of batch) p.reject?.(unrecorded(problem, e))
        // Every record waits for the next attempt, at the head of the queue: it describes
        // something that happened (a write runs before its event is appended), so it is kept
        // even though its waiter has been told the log could not store it in time.
        this.queue.unshift(...batch.map((p) => ({ bytes: p.bytes })))
        this.alert(problem)
        return
      }
      clearTimeout(timer)
      this.stalled = undefined
      this.failing = undefined
      this.retrying = false
      batch.forEach((p, i) => {
        if (!late.timedOut) p.resolve?.(first + i)
        for (const l of this.listeners)
          try {
            l(first + i, p.bytes)
          } catch (e) {
            // A listener's bug must not stop the log; it is reported, the record stands.
            this.alert(`an audit listener failed: ${(e as Error).message}`)
          }
      })
      await this.committed(first, batch)
    }
  }

  private takeBatch(): Pending[] {
    let n = 0
    let bytes = 0
    while (n < this.queue.length && n < MAX_BATCH) {
      bytes += (this.queue[n] as Pending).bytes.length
      if (n > 0 && bytes > MAX_BATCH_BYTES) break
      n++
    }
    return this.queue.splice(0, n)
  }

  protected fail(problem: string): void {
    this.broken ??= problem
    this.alert(problem)
  }

  protected alert(problem: string): void {
    if (this.alerted.has(problem)) return
    if (this.alerted.size > 100) this.alerted.clear()
    this.alerted.add(problem)
    ;(this.options.onAlert ?? ((p: string) => process.stderr.write(`audit: ${p}\n`)))(problem)
  }
}

/** A request refused before it ran because the log could not record it. */
export const unavailable = (problem: string, cause?: unknown) =>
  new StrongroomError(
    'SERVICE_UNAVAILABLE',
    `The audit log cannot record this request, so it was not carried out: ${problem}`,
    cause === undefined ? undefined : { cause },
  )

/**
 * A record the log could not store in time: what `append` rejects with. The record itself is
 * kept and retried (it describes something that happened); only the wait is given up.
 */
export const unrecorded = (problem: string, cause?: unknown) =>
  new StrongroomError(
    'SERVICE_UNAVAILABLE',
    `The audit log could not store the event in time: ${problem}`,
    cause === undefined ? undefined : { cause },
  )

export function checked(record: Uint8Array): Buffer {
  if (record.length > MAX_ENTRY_BYTES)
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `an audit record is at most ${MAX_ENTRY_BYTES} bytes, not ${record.length}`,
    )
  return Buffer.from(record.buffer, record.byteOffset, record.byteLength)
}
