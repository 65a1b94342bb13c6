/**
 * The seam that turns a request's decisions into records: an asynchronous, batched writer of
 * JSON lines (DATA_DIR/audit/NAME, owner-only). `write` queues in memory and returns at once;
 * one append at a time carries everything queued meanwhile (a group commit), so concurrent
 * requests share writes and the event loop never waits for the disk. The pipeline awaits
 * `flush` before a refusal goes out, so a refused client finds its decisions on disk
 * (`strongroom explain`); allowed requests never wait for the disk. The queue is bounded: beyond `maxQueued` records a
 * record is appended synchronously instead, so an overloaded disk slows requests down rather
 * than losing records or memory. `close` flushes what is left and closes the file.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
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

export interface AuditWriterOptions {
  /** Records held in memory at most (default 10,000). */
  readonly maxQueued?: number
  /** Records per append at most (default 1,000). */
  readonly batch?: number
  /** Where a failed append is reported (it is retried with the next batch). */
  readonly onError?: (e: unknown) => void
}

export class AuditWriter<T extends object = object> {
  readonly file: string
  private queue: string[] = []
  private flushing: Promise<void> | undefined
  private readonly maxQueued: number
  private readonly batch: number
  private readonly onError: (e: unknown) => void
  private handle: FileHandle | undefined

  constructor(file: string, o: AuditWriterOptions = {}) {
    this.file = file
    this.maxQueued = o.maxQueued ?? 10_000
    this.batch = o.batch ?? 1_000
    this.onError = o.onError ?? ((e) => process.stderr.write(`audit: ${String(e)}\n`))
  }

  /** Queues one record, stamped with the time; never waits for the disk. */
  write(e: T): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n'
    if (this.queue.length >= this.maxQueued) {
      appendFileSync(this.file, line, { mode: 0o600 })
      return
    }
    this.queue.push(line)
    this.flushing ??= this.drain()
  }

  /** Resolves once every record queued so far is on disk (or its append failed and was reported). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
  }

  async close(): Promise<void> {
    await this.flush()
    const h = this.handle
    this.handle = undefined
    await h?.close()
  }

  private async drain(): Promise<void> {
    // Records queued during this turn of the event loop go out together.
    await Promise.resolve()
    try {
      while (this.queue.length > 0) {
        const lines = this.queue.splice(0, this.batch)
        try {
          this.handle ??= await open(this.file, 'a', 0o600)
          await this.handle.write(lines.join(''))
        } catch (e) {
          this.onError(e)
          // Kept for the next attempt, ahead of what came since; dropped only past the bound.
          this.queue = [...lines, ...this.queue].slice(0, this.maxQueued)
          return
        }
      }
    } finally {
      this.flushing = undefined
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
