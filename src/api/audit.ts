/**
 * The seam that turns a request's decisions into records: an asynchronous, batched writer of
 * JSON lines (DATA_DIR/audit/NAME, owner-only). `write` queues in memory and returns at once;
 * one append at a time carries everything queued meanwhile (a group commit), so concurrent
 * requests share writes and the event loop never waits for the disk. Records reach the file
 * in the order they were written, and none is dropped: a failed append keeps its records at
 * the head of the queue, and `flush` retries and then rejects rather than resolve with records
 * unwritten. The pipeline awaits `flush` before a refusal goes out (so `strongroom explain`
 * finds it at once) and whenever the queue is `backlogged` (past `maxQueued`), so a slow or
 * failing disk slows requests down instead of growing memory. `close` flushes and closes.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { Trace } from '../iam/evaluate.ts'
import type { ScanPolicy, ScanRecord } from '../meta/objects.ts'

export interface DecisionRecord {
  readonly requestId: string
  readonly operation: string
  readonly principal: string
  readonly action: string
  readonly resource: string
  readonly decision: string
  readonly trace: Trace | undefined
}

/** One verdict of the model scanner on an upload, as the audit log records it. */
export interface ScanEvent {
  readonly requestId: string
  readonly principal: string
  readonly bucket: string
  readonly key: string
  readonly versionId: string | undefined
  readonly policy: ScanPolicy
  /** What became of the upload. */
  readonly outcome: 'stored' | 'quarantined' | 'rejected'
  readonly scan: ScanRecord
}

/** Where the pipeline sends records: the AuditWriter, or anything with its contract. */
export interface RecordSink<T> {
  /** Queues one record; never waits. */
  write(record: T): void
  /** Resolves once every record written so far is stored; rejects if that cannot be done. */
  flush(): Promise<void>
  /** Past its bound: the writer of the next record should await `flush` first. */
  readonly backlogged: boolean
}

export interface AuditWriterOptions {
  /** Records queued before `backlogged` turns true (default 10,000). */
  readonly maxQueued?: number
  /** Records per append at most (default 1,000). */
  readonly batch?: number
  /** Appends one `flush` tries before it rejects (default 3, 100 ms apart). */
  readonly attempts?: number
  /** Where a failed append is reported. */
  readonly onError?: (e: unknown) => void
  /** Opens the file for appending (tests inject failures here). */
  readonly openFile?: (file: string) => Promise<Pick<FileHandle, 'appendFile' | 'close'>>
}

export class AuditWriter<T extends object = object> implements RecordSink<T> {
  readonly file: string
  private queue: string[] = []
  private draining: Promise<void> | undefined
  private failure: unknown
  private readonly maxQueued: number
  private readonly batch: number
  private readonly attempts: number
  private readonly onError: (e: unknown) => void
  private readonly openFile: NonNullable<AuditWriterOptions['openFile']>
  private handle: Pick<FileHandle, 'appendFile' | 'close'> | undefined

  constructor(file: string, o: AuditWriterOptions = {}) {
    this.file = file
    this.maxQueued = o.maxQueued ?? 10_000
    this.batch = o.batch ?? 1_000
    this.attempts = o.attempts ?? 3
    this.onError = o.onError ?? ((e) => process.stderr.write(`audit: ${String(e)}\n`))
    this.openFile = o.openFile ?? ((f) => open(f, 'a', 0o600))
  }

  get backlogged(): boolean {
    return this.queue.length >= this.maxQueued
  }

  /** Queues one record, stamped with the time; never waits for the disk. */
  write(e: T): void {
    this.queue.push(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n')
    this.draining ??= this.drain()
  }

  /** Resolves once every record queued so far is on disk; rejects if appends keep failing. */
  async flush(): Promise<void> {
    for (let attempt = 1; this.queue.length > 0 || this.draining !== undefined; attempt++) {
      this.draining ??= this.drain()
      await this.draining
      if (this.queue.length === 0) return
      if (attempt >= this.attempts)
        throw new StrongroomError(
          'IO',
          `${this.queue.length} audit records could not be appended to ${this.file}`,
          { cause: this.failure },
        )
      await sleep(100 * attempt)
    }
  }

  /** Flushes and closes the file; rejects, naming how many records were not written, if it cannot. */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      const h = this.handle
      this.handle = undefined
      await h?.close()
    }
  }

  /** Appends batches in order until the queue is empty or an append fails (records kept). */
  private async drain(): Promise<void> {
    // Records queued during this turn of the event loop go out together.
    await Promise.resolve()
    try {
      while (this.queue.length > 0) {
        const lines = this.queue.slice(0, this.batch)
        try {
          this.handle ??= await this.openFile(this.file)
          await this.handle.appendFile(lines.join(''))
        } catch (e) {
          this.failure = e
          this.onError(e)
          // A handle that failed may be broken (a closed descriptor): open afresh next time.
          const h = this.handle
          this.handle = undefined
          await h?.close().catch(() => {})
          return
        }
        this.queue.splice(0, lines.length)
      }
    } finally {
      this.draining = undefined
    }
  }
}

/** An asynchronous writer for DATA_DIR/audit/NAME, the directory created owner-only. */
export function auditWriter<T extends object>(
  dataDir: string,
  name: string,
  o?: AuditWriterOptions,
): AuditWriter<T> {
  const dir = join(dataDir, 'audit')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return new AuditWriter<T>(join(dir, name), o)
}

/** Waits for a sink to store what it holds; one that cannot answers 503, never loses records. */
export async function stored(sink: RecordSink<unknown>): Promise<void> {
  try {
    await sink.flush()
  } catch (e) {
    throw new StrongroomError(
      'SERVICE_UNAVAILABLE',
      'The audit log cannot be written at the moment; please retry',
      { cause: e },
    )
  }
}

/** An allowed request's trace keeps only the statements that applied: what allowed it. */
export function appliedOnly(t: Trace): Trace {
  return {
    ...t,
    policies: t.policies
      .map((p) => ({ ...p, statements: p.statements.filter((x) => x.matched) }))
      .filter((p) => p.statements.length > 0),
  }
}
