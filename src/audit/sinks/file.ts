/**
 * The file sink: rotated JSON Lines files, for shippers that tail a directory (Filebeat, Vector,
 * the CloudWatch agent) and for Athena-style tables over CloudTrail records.
 *
 *   DIR/                                          0700
 *     audit-<YYYYMMDDTHHMMSSZ>-<first seq>.jsonl  0600, one formatted event per line:
 *                                                 {…CloudTrail record or OCSF event…}\n
 *
 * The time is when the file was opened (UTC). A file holds consecutive seqs from the one in its
 * name, so line k (from 0) is event first+k: a reader finds gaps and orders files without a seq
 * inside the record. A gap (events dropped at the spool's cap) starts a new file, and so does a
 * restart. Opening reads the file with the highest first seq, cuts off a torn last line and
 * counts the rest, and events it already holds are not written again: although the spool
 * delivers at least once, the files hold each event once. A write that fails is cut back to the
 * last whole line. Files rotate at `maxFileBytes` (a single larger event gets a file of its own)
 * and at `maxFileAgeMs` (checked when an event is written); a file is fsynced when it is rotated
 * and on flush, and past `maxFiles` files the oldest are deleted.
 */
import { chmod, mkdir, open, readdir, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock, type Clock } from '../../clock.ts'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import { SpooledQueue } from './queue.ts'
import { writeAt } from './spool.ts'
import {
  DeliveryError,
  errorCode,
  formatter,
  type AuditSink,
  type SinkOptions,
  type SpoolEntry,
  type Transport,
} from './sink.ts'

export interface FileSinkOptions extends SinkOptions {
  /** Where the files go (created owner-only). */
  readonly dir: string
  /** Rotate before a file passes this size (default 64 MiB). */
  readonly maxFileBytes?: number
  /** Rotate a file this old when the next event comes (default 1 hour). */
  readonly maxFileAgeMs?: number
  /** Keep at most this many files, deleting the oldest (default: all). */
  readonly maxFiles?: number
  readonly clock?: Clock
}

/** Opens a file sink: its spool in `spoolDir`, its files in `dir`. */
export async function openFileSink(o: FileSinkOptions): Promise<AuditSink> {
  const transport = await FileTransport.open(o)
  return SpooledQueue.open({ ...o, transport, maxBatch: 1000, lingerMs: 0 })
}

const NAME = /^audit-(\d{8}T\d{6}Z)-(\d{1,16})\.jsonl$/

interface Current {
  readonly fh: FileHandle
  readonly path: string
  readonly openedAt: number
  bytes: number
}

export class FileTransport implements Transport {
  readonly target: string
  private readonly dir: string
  private readonly format: (e: AuditEvent) => object
  private readonly maxFileBytes: number
  private readonly maxFileAgeMs: number
  private readonly maxFiles: number
  private readonly clock: Clock
  private current: Current | undefined
  /** The highest seq the files hold (-1: none). */
  private written: number
  /** A file was created since the directory was last fsynced. */
  private dirty = false
  private lock: Promise<unknown> = Promise.resolve()

  private constructor(o: FileSinkOptions, written: number) {
    this.dir = o.dir
    this.target = `file:${o.dir}`
    this.format = formatter(o)
    this.maxFileBytes = o.maxFileBytes ?? 64 << 20
    this.maxFileAgeMs = o.maxFileAgeMs ?? 3_600_000
    this.maxFiles = o.maxFiles ?? Infinity
    this.clock = o.clock ?? systemClock
    this.written = written
  }

  /** Creates `o.dir` (owner-only) and finds what its newest file holds. */
  static async open(o: FileSinkOptions): Promise<FileTransport> {
    formatter(o)
    for (const [key, min] of [
      ['maxFileBytes', 1],
      ['maxFileAgeMs', 1],
      ['maxFiles', 1],
    ] as const) {
      const v = o[key]
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
        throw new StrongroomError(
          'CONFIG_INVALID',
          `audit sink \`${o.name}\`: \`${key}\` must be an integer of at least ${min}`,
        )
    }
    try {
      await mkdir(o.dir, { recursive: true, mode: 0o700 })
      await chmod(o.dir, 0o700)
      const newest = (await listFiles(o.dir)).at(-1)
      const written =
        newest === undefined ? -1 : newest.first + (await wholeLines(join(o.dir, newest.name))) - 1
      return new FileTransport(o, written)
    } catch (e) {
      if (isStrongroomError(e)) throw e
      throw new StrongroomError('IO', `cannot open the audit directory \`${o.dir}\``, { cause: e })
    }
  }

  send(batch: readonly SpoolEntry[]): Promise<number> {
    return this.exclusive(async () => {
      let lines: string[] = []
      let pending = 0
      let pendingLast = this.written
      const put = async (): Promise<void> => {
        const cur = this.current
        if (lines.length === 0 || cur === undefined) return
        const data = Buffer.from(lines.join(''))
        lines = []
        pending = 0
        await this.append(cur, data)
        this.written = pendingLast
      }
      for (const e of batch) {
        // Already in the files: a repeat after a restart.
        if (e.seq <= pendingLast) continue
        const line = JSON.stringify(this.format(e.event)) + '\n'
        const size = Buffer.byteLength(line)
        const cur = this.current
        const used = (cur?.bytes ?? 0) + pending
        if (
          cur === undefined ||
          e.seq !== pendingLast + 1 ||
          (used > 0 && used + size > this.maxFileBytes) ||
          this.clock.now() - cur.openedAt >= this.maxFileAgeMs
        ) {
          await put()
          await this.rotate(e.seq)
        }
        lines.push(line)
        pending += size
        pendingLast = e.seq
        if (pending >= 1 << 20) await put()
      }
      await put()
      return batch.length
    })
  }

  /** Fsyncs the open file, and the directory if a file was created since the last time. */
  sync(): Promise<void> {
    return this.exclusive(async () => {
      try {
        await this.current?.fh.sync()
        if (this.dirty) {
          this.dirty = false
          const d = await open(this.dir, 'r')
          await d.sync().finally(() => d.close())
        }
      } catch (e) {
        throw new DeliveryError(`cannot fsync \`${this.dir}\`: ${errorCode(e)}`, { cause: e })
      }
    })
  }

  async close(): Promise<void> {
    await this.sync().catch(() => {})
    await this.exclusive(async () => {
      const cur = this.current
      this.current = undefined
      await cur?.fh.close()
    })
  }

  /** Appends `data`; on failure cuts the file back so that it ends with a whole line. */
  private async append(cur: Current, data: Buffer): Promise<void> {
    try {
      // At an explicit position: after a failure cut the file back, the next line goes there.
      await writeAt(cur.fh, data, cur.bytes)
      cur.bytes += data.length
    } catch (e) {
      try {
        await cur.fh.truncate(cur.bytes)
      } catch {
        // It may end in half a line: leave it, and start a new file next time.
        this.current = undefined
        await cur.fh.close().catch(() => {})
      }
      throw new DeliveryError(`cannot write \`${cur.path}\`: ${errorCode(e)}`, { cause: e })
    }
  }

  private async rotate(first: number): Promise<void> {
    const old = this.current
    this.current = undefined
    try {
      if (old !== undefined) {
        await old.fh.sync()
        await old.fh.close()
      }
      const now = this.clock.now()
      const path = join(this.dir, `audit-${stamp(now)}-${first}.jsonl`)
      const fh = await open(path, 'wx', 0o600)
      this.current = { fh, path, openedAt: now, bytes: 0 }
      this.dirty = true
      if (Number.isFinite(this.maxFiles)) {
        const files = await listFiles(this.dir)
        for (const f of files.slice(0, Math.max(0, files.length - this.maxFiles)))
          if (join(this.dir, f.name) !== path) await rm(join(this.dir, f.name), { force: true })
      }
    } catch (e) {
      throw new DeliveryError(`cannot rotate the files in \`${this.dir}\`: ${errorCode(e)}`, {
        cause: e,
      })
    }
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f)
    this.lock = run.catch(() => {})
    return run
  }
}

/** YYYYMMDDTHHMMSSZ, UTC. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z'
}

/** The audit files in `dir`, oldest (lowest first seq) first. */
async function listFiles(dir: string): Promise<{ name: string; first: number }[]> {
  const files: { name: string; first: number }[] = []
  for (const name of await readdir(dir)) {
    const m = NAME.exec(name)
    if (m?.[2] !== undefined) files.push({ name, first: Number(m[2]) })
  }
  return files.sort((a, b) => a.first - b.first || (a.name < b.name ? -1 : 1))
}

/** How many whole lines `path` holds; a torn last line is cut off. */
async function wholeLines(path: string): Promise<number> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    const buf = Buffer.alloc(1 << 20)
    let lines = 0
    let end = 0
    for (let pos = 0; pos < size;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
      if (bytesRead === 0) break
      for (let i = buf.indexOf(0x0a); i >= 0 && i < bytesRead; i = buf.indexOf(0x0a, i + 1)) {
        lines++
        end = pos + i + 1
      }
      pos += bytesRead
    }
    if (end < size) await fh.truncate(end)
    return lines
  } finally {
    await fh.close()
  }
}
