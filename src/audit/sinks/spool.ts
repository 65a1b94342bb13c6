/**
 * A sink's on-disk spool: the events it has accepted and not yet delivered, in seq order, and
 * a cursor naming the highest seq delivered. Layout, all owner-only:
 *
 *   DIR/                                  0700
 *     cursor.json                         {"delivered":N}\n  (temporary file, then rename)
 *     spool-<first seq, 16 digits>.jsonl  0600, append-only, one line per event:
 *                                         {"seq":N,"event":{…the AuditEvent…}}\n
 *
 * A segment holds a run of consecutive seqs: a gap (events refused at the cap) starts a new
 * segment, as does reaching `segmentBytes`, so how many events a segment holds follows from its
 * first and last seq. A segment whose last seq the cursor covers is deleted, after that cursor
 * has been renamed into place: a crash between the two leaves a segment to redeliver, never a
 * cursor past events that are gone. Opening reads the cursor and the last line of each segment
 * and cuts off a torn final line (a crash in mid-append). A missing or unreadable cursor counts
 * as "delivered up to the first segment", which repeats deliveries rather than skip any.
 *
 * The cursor and appends are fsynced by `sync` (the sink's flush and close), not each time: a
 * power cut may lose the spool's newest lines or move the cursor back, and the sink then reports
 * a lower `highestAccepted()`, so the owner re-offers those events from the log, which is
 * durable. Lines are checked as they are read back (a JSON object, seq ascending inside its
 * segment); one that fails is reported through `onCorrupt` and skipped, never delivered.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import type { SpoolEntry } from './sink.ts'

const SEGMENT = /^spool-(\d{16})\.jsonl$/
const CURSOR = 'cursor.json'
/** Bytes read or written at a time. */
const CHUNK = 1 << 20
/** A line longer than this is not one we wrote: it is reported and skipped, not buffered. */
const MAX_LINE = 64 << 20

interface Segment {
  readonly first: number
  /** first - 1 while the segment is empty. */
  last: number
  bytes: number
  readonly path: string
}

interface Reader {
  readonly seg: Segment
  readonly fh: FileHandle
  pos: number
  /** The bytes of a line not yet complete. */
  rest: Buffer
  /** Entries read and not yet returned. */
  ready: SpoolEntry[]
  /** The highest seq this reader has met in its segment (seqs must ascend). */
  seen: number
}

export interface SpoolOptions {
  /** Segments are rotated once they reach this size (default 8 MiB). */
  readonly segmentBytes?: number
  /** Told of lines that fail their checks; they are skipped. */
  readonly onCorrupt?: (message: string) => void
}

export class Spool {
  readonly dir: string
  /** The cursor found on disk when the spool was opened, if there was a readable one. */
  readonly storedCursor: number | undefined
  private readonly segmentBytes: number
  private readonly onCorrupt: (message: string) => void
  private segments: Segment[]
  private appendTo: { readonly seg: Segment; readonly fh: FileHandle } | undefined
  private reader: Reader | undefined
  private committed: number
  private lock: Promise<unknown> = Promise.resolve()

  private constructor(
    dir: string,
    segments: Segment[],
    cursor: number | undefined,
    o: SpoolOptions,
  ) {
    this.dir = dir
    this.segments = segments
    this.storedCursor = cursor
    this.committed = cursor ?? -1
    this.segmentBytes = o.segmentBytes ?? 8 << 20
    this.onCorrupt = o.onCorrupt ?? (() => {})
  }

  /** Opens (creating, owner-only) the spool in `dir`; IO when it cannot be read. */
  static async open(dir: string, o: SpoolOptions = {}): Promise<Spool> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await chmod(dir, 0o700)
      const names = (await readdir(dir)).sort()
      const segments: Segment[] = []
      for (const name of names) {
        if (name.startsWith(`${CURSOR}.`) && name.endsWith('.tmp')) {
          await rm(join(dir, name), { force: true })
          continue
        }
        const m = SEGMENT.exec(name)
        if (m?.[1] === undefined) continue
        const first = Number(m[1])
        const path = join(dir, name)
        const tail = await lastEntry(path)
        if (tail === undefined || tail.seq < first) {
          // Nothing whole in it (a crash right after it was created): nothing to deliver.
          await rm(path, { force: true })
          continue
        }
        segments.push({ first, last: tail.seq, bytes: tail.end, path })
      }
      const spool = new Spool(dir, segments, await readCursor(dir), o)
      // Segments a crash left behind after their cursor was written.
      await spool.commit(spool.committed)
      return spool
    } catch (e) {
      if (isStrongroomError(e)) throw e
      throw new StrongroomError('IO', `cannot open the audit spool \`${dir}\``, { cause: e })
    }
  }

  /** The first seq on disk, if any. */
  get first(): number | undefined {
    return this.segments.find((s) => s.bytes > 0)?.first
  }

  /** The highest seq on disk (-1: none). */
  get last(): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]
      if (s !== undefined && s.bytes > 0) return s.last
    }
    return -1
  }

  /** Bytes the segments take. */
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0)
  }

  /** How many events on disk have a seq above `after`. */
  pending(after: number): number {
    let n = 0
    for (const s of this.segments) {
      const from = Math.max(s.first, after + 1)
      if (s.bytes > 0 && s.last >= from) n += s.last - from + 1
    }
    return n
  }

  /**
   * Appends `entries` (seqs ascending, above `last`) while the spool stays within `budget`
   * bytes; resolves with how many were written (a prefix of `entries`).
   */
  write(entries: readonly SpoolEntry[], budget: number): Promise<number> {
    return this.exclusive(async () => {
      let written = 0
      let lines: string[] = []
      let pendingBytes = 0
      let pendingLast = -1
      let total = this.bytes
      const put = async (): Promise<void> => {
        const target = this.appendTo
        if (lines.length === 0 || target === undefined) return
        const data = Buffer.from(lines.join(''))
        lines = []
        pendingBytes = 0
        try {
          await writeAt(target.fh, data, target.seg.bytes)
        } catch (e) {
          // Readers stop at `bytes`, so a torn tail is never read; later events go to a new
          // segment, and reopening cuts the tail off.
          this.appendTo = undefined
          await target.fh.truncate(target.seg.bytes).catch(() => {})
          await target.fh.close().catch(() => {})
          throw e
        }
        target.seg.bytes += data.length
        target.seg.last = pendingLast
      }
      for (const e of entries) {
        if (e.seq <= Math.max(this.last, pendingLast)) {
          written++ // already on disk
          continue
        }
        const line = JSON.stringify({ seq: e.seq, event: e.event }) + '\n'
        const size = Buffer.byteLength(line)
        if (total + size > budget) break
        const seg = this.appendTo?.seg
        const next = lines.length > 0 ? pendingLast + 1 : seg === undefined ? -1 : seg.last + 1
        const used = (seg?.bytes ?? 0) + pendingBytes
        if (seg === undefined || e.seq !== next || (used > 0 && used + size > this.segmentBytes)) {
          await put()
          await this.rotate(e.seq)
        }
        lines.push(line)
        pendingBytes += size
        pendingLast = e.seq
        total += size
        written++
        if (pendingBytes >= CHUNK) await put()
      }
      await put()
      return written
    })
  }

  /**
   * Up to `max` entries with seqs above `after`, in order, from where the last read stopped.
   * One reader: calls do not overlap, and `after` never goes back.
   */
  async read(after: number, max: number): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = []
    let since = after
    while (out.length < max) {
      const r = this.reader
      if (r !== undefined && !this.segments.includes(r.seg)) {
        // Its segment was delivered and deleted.
        this.reader = undefined
        await r.fh.close().catch(() => {})
        continue
      }
      if (r === undefined) {
        const seg = this.segments.find((s) => s.bytes > 0 && s.last > since)
        if (seg === undefined) break
        const fh = await open(seg.path, 'r')
        this.reader = { seg, fh, pos: 0, rest: Buffer.alloc(0), ready: [], seen: -1 }
        continue
      }
      while (out.length < max && r.ready.length > 0) {
        const e = r.ready.shift()
        if (e !== undefined && e.seq > since) {
          out.push(e)
          since = e.seq
        }
      }
      if (out.length >= max) break
      if (r.pos < r.seg.bytes) {
        await this.fill(r)
        continue
      }
      const next = this.segments.find((s) => s.first > r.seg.first && s.bytes > 0)
      if (next === undefined) break
      if (r.rest.length > 0) this.onCorrupt(`a torn line at the end of \`${r.seg.path}\``)
      this.reader = undefined
      await r.fh.close().catch(() => {})
    }
    return out
  }

  /**
   * Records `delivered` as the cursor, then deletes the segments it covers. `durable` fsyncs
   * the cursor first (flush, close); otherwise a power cut may leave an older one.
   */
  commit(delivered: number, durable = false): Promise<void> {
    return this.exclusive(async () => {
      if (delivered > this.committed || durable) {
        await writeAtomic(join(this.dir, CURSOR), JSON.stringify({ delivered }) + '\n', durable)
        this.committed = Math.max(this.committed, delivered)
      }
      const keep: Segment[] = []
      for (const s of this.segments) {
        if (s.bytes > 0 && s.last > this.committed) {
          keep.push(s)
          continue
        }
        if (this.appendTo?.seg === s) {
          const fh = this.appendTo.fh
          this.appendTo = undefined
          await fh.close()
        }
        await rm(s.path, { force: true })
      }
      this.segments = keep
    })
  }

  /** Fsyncs the segment being appended to and the cursor. */
  sync(): Promise<void> {
    return this.exclusive(async () => {
      await this.appendTo?.fh.sync()
    }).then(() => this.commit(this.committed, true))
  }

  /** Fsyncs and closes the files; the spool is not used afterwards. */
  async close(): Promise<void> {
    await this.sync()
    await this.exclusive(async () => {
      const a = this.appendTo
      const r = this.reader
      this.appendTo = undefined
      this.reader = undefined
      await a?.fh.close()
      await r?.fh.close()
    })
  }

  private async rotate(first: number): Promise<void> {
    const old = this.appendTo
    this.appendTo = undefined
    if (old !== undefined) {
      await old.fh.sync()
      await old.fh.close()
      if (old.seg.bytes === 0) this.segments = this.segments.filter((s) => s !== old.seg)
    }
    const path = join(this.dir, `spool-${String(first).padStart(16, '0')}.jsonl`)
    const fh = await open(path, 'wx', 0o600)
    const seg: Segment = { first, last: first - 1, bytes: 0, path }
    this.segments.push(seg)
    this.appendTo = { seg, fh }
  }

  /** Reads the next chunk of the reader's segment into `ready`. */
  private async fill(r: Reader): Promise<void> {
    const want = Math.min(CHUNK, r.seg.bytes - r.pos)
    const chunk = Buffer.alloc(want)
    const { bytesRead } = await r.fh.read(chunk, 0, want, r.pos)
    if (bytesRead === 0) {
      this.onCorrupt(`\`${r.seg.path}\` is shorter than what was written to it`)
      r.pos = r.seg.bytes
      return
    }
    r.pos += bytesRead
    let data = Buffer.concat([r.rest, chunk.subarray(0, bytesRead)])
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
      const e = parseEntry(data.subarray(0, nl))
      data = data.subarray(nl + 1)
      if (e === undefined || e.seq <= r.seen || e.seq < r.seg.first || e.seq > r.seg.last) {
        this.onCorrupt(`a line of \`${r.seg.path}\` is not a spooled event in order: skipped`)
        continue
      }
      r.seen = e.seq
      r.ready.push(e)
    }
    if (data.length > MAX_LINE) {
      this.onCorrupt(`a line of \`${r.seg.path}\` is over ${MAX_LINE} bytes: skipped`)
      data = Buffer.alloc(0)
    }
    r.rest = Buffer.from(data)
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f)
    this.lock = run.catch(() => {})
    return run
  }
}

/** A spooled line: an object with a seq (safe integer, not negative) and an event object. */
function parseEntry(line: Uint8Array): SpoolEntry | undefined {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(line).toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const { seq, event } = v as { seq?: unknown; event?: unknown }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined
  return { seq, event: event as AuditEvent }
}

/**
 * The last whole, readable line of a segment: its seq and where it ends. Anything after it (a
 * torn append) is cut off. Reads backwards from the end, more at each step.
 */
async function lastEntry(path: string): Promise<{ seq: number; end: number } | undefined> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    for (let span = 64 << 10; ; span *= 4) {
      const start = Math.max(0, size - span)
      const buf = Buffer.alloc(size - start)
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      let nl = buf.lastIndexOf(0x0a, got - 1)
      while (nl >= 0) {
        const prev = nl === 0 ? -1 : buf.lastIndexOf(0x0a, nl - 1)
        // The line may begin before this window: read more.
        if (prev < 0 && start > 0) break
        const e = parseEntry(buf.subarray(prev + 1, nl))
        if (e !== undefined) {
          const end = start + nl + 1
          if (end < size) await fh.truncate(end)
          return { seq: e.seq, end }
        }
        nl = prev
      }
      if (start === 0) return undefined
    }
  } finally {
    await fh.close()
  }
}

async function readCursor(dir: string): Promise<number | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, CURSOR), 'utf8')
  } catch {
    return undefined
  }
  try {
    const v = JSON.parse(text) as { delivered?: unknown }
    const d = v.delivered
    return typeof d === 'number' && Number.isSafeInteger(d) && d >= -1 ? d : undefined
  } catch {
    return undefined
  }
}

/** Writes all of `data` at `position` (a short write continues where it stopped). */
export async function writeAt(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < data.length;) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off)
    off += bytesWritten
  }
}

async function writeAtomic(path: string, data: string, durable: boolean): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, data, { mode: 0o600, flush: durable })
  await rename(tmp, path)
}
