/**
 * The audit log a gateway writes: records made durable by group commit and sealed into the
 * tamper-evident tiled log (./tlog/) under a signed checkpoint.
 *
 * Durability comes first and costs one `fdatasync` per group: every record goes to a journal
 * (DIR/journal: length, index, CRC-32C-free CRC-32 and bytes per record) and `append` resolves
 * once the group it went out with is on disk, so an acknowledged event survives a crash. At
 * least once a second of activity (and when enough records wait, and on close) the journal's
 * records are appended to the tiles in DIR/log/ and a checkpoint signed over them; then the
 * journal is emptied. Opening the log replays whatever the journal holds beyond the last
 * checkpoint, so a crash between the two loses nothing. Until their checkpoint is written, the
 * newest records are protected by the disk alone: the window is at most `checkpointMs`.
 *
 * The log refuses work it cannot do rather than pretend: `problem()` says why fail-closed
 * requests must be refused right now (a write failed, the disk stalled past `commitTimeoutMs`,
 * free space is below `minFreeBytes`, the journal or the log directory was removed, replaced or
 * truncated under the running process, the checkpoint was replaced). Tampering is permanent
 * until an operator restarts the process (which re-checks the log); a full or stalled disk
 * clears by itself. Every problem is reported once through `onAlert`. A lock file keeps a
 * second process from writing the same log.
 */
import { existsSync, fstatSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  statfs,
  type FileHandle,
} from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import { verifyNote } from './tlog/note.ts'
import { encodeFrames, readJournal } from './journal.ts'
import { lockHolder, releaseLock, takeLock } from './lock.ts'
import { DurableBatch } from './tlog/files.ts'
import { TileWriter } from './tlog/tiles.ts'
import { tileProofs } from './witness-client.ts'
import { records } from './read.ts'
import {
  checked,
  GroupCommitLog,
  unavailable,
  type GroupCommitOptions,
  type Pending,
} from './group-commit.ts'

export interface AuditLogOptions extends GroupCommitOptions {
  /** Holds `log/` (the tlog-tiles root), `journal` and `log.lock`; made owner-only. */
  readonly dir: string
  /** The C2SP signer key checkpoints are signed with, and its verifier (checked on open). */
  readonly signerKey: string
  readonly verifierKey: string
  /** The checkpoint's origin line (the key's name). */
  readonly origin: string
  /** Most time between a record's commit and the checkpoint that covers it (default 1 s). */
  readonly checkpointMs?: number
  /** Below this much free space on the log's disk, new work is refused (default 64 MiB). */
  readonly minFreeBytes?: number
}

/** Unsealed records that trigger a checkpoint. */
const SEAL_AT = 65_536
/** An inbox file holds a CLI command's batch: far below this. */
const MAX_INBOX_BYTES = 16 << 20

export class AuditLog extends GroupCommitLog {
  readonly shared = false
  readonly dir: string
  readonly logDir: string
  private readonly o: AuditLogOptions
  private writer: TileWriter | undefined
  private journal: FileHandle
  private journalBytes: number
  private readonly journalIno: number
  private readonly dirIno: number
  private n: number
  /** Durable records not yet under a checkpoint, from index `n - unsealed.length`. */
  private unsealed: Buffer[] = []
  private lastSeal = Date.now()
  private lastNote: string
  private lowDisk: string | undefined

  private constructor(
    o: AuditLogOptions,
    writer: TileWriter,
    journal: FileHandle,
    inos: { journal: number; dir: number },
    note: string,
  ) {
    super(o, 'disk')
    this.o = o
    this.dir = o.dir
    this.logDir = join(o.dir, 'log')
    this.writer = writer
    this.journal = journal
    this.journalBytes = 0
    this.journalIno = inos.journal
    this.dirIno = inos.dir
    this.n = writer.size
    this.lastNote = note
    this.witnessWith(
      o.dir,
      tileProofs(this.logDir, () => this.writer?.size ?? this.n),
    )
    this.timer = setInterval(() => void this.tick(), Math.min(1000, this.checkpointMs))
    this.timer.unref()
  }

  /**
   * Opens the log in `o.dir`, making it if it is new: takes the lock, checks the checkpoint's
   * signature and that the tiles hash to it, replays the journal's records beyond it (a torn
   * last record, never acknowledged, is dropped) and checkpoints them. LOG_TAMPERED when the
   * log or the journal is not what this deployment wrote; IO when another process holds it.
   */
  static async open(o: AuditLogOptions): Promise<AuditLog> {
    await mkdir(o.dir, { recursive: true, mode: 0o700 })
    const lock = join(o.dir, 'log.lock')
    await takeLock(lock)
    try {
      const logDir = join(o.dir, 'log')
      const writer = await TileWriter.open(logDir)
      const existing = await readFile(join(logDir, 'checkpoint')).catch(() => undefined)
      if (existing !== undefined) {
        try {
          verifyNote(existing, o.verifierKey)
        } catch (e) {
          throw new StrongroomError(
            'LOG_TAMPERED',
            `the checkpoint of the audit log in \`${logDir}\` is not signed by this deployment's audit key: restore it from a copy, or run \`strongroom audit verify\` to see what changed`,
            { cause: e },
          )
        }
      }
      const path = join(o.dir, 'journal')
      const replay = await readJournal(path, writer.size)
      if (replay.length > 0) await writer.append(replay)
      const note = await writer.checkpoint(o.signerKey, o.origin)
      const journal = await open(path, 'w', 0o600)
      await journal.datasync()
      const ino = (await journal.stat()).ino
      const dirIno = (await stat(logDir)).ino
      return new AuditLog(o, writer, journal, { journal: ino, dir: dirIno }, note)
    } catch (e) {
      await releaseLock(lock)
      throw e
    }
  }

  /**
   * Appends records from a process that is not the log's writer (a CLI command): directly when
   * no process holds the log, otherwise durably into DIR/inbox/, which the writer takes in
   * within a second. Answers which it was.
   */
  static async submit(
    o: AuditLogOptions,
    entries: readonly Uint8Array[],
  ): Promise<'appended' | 'queued'> {
    const frames = encodeFrames(
      entries.map(checked).map((bytes) => ({ bytes })),
      0,
    )
    if (lockHolder(join(o.dir, 'log.lock')) === undefined) {
      try {
        const log = await AuditLog.open(o)
        try {
          for (const e of entries) await log.append(e)
        } finally {
          await log.close()
        }
        return 'appended'
      } catch (e) {
        if (lockHolder(join(o.dir, 'log.lock')) === undefined) throw e
      }
    }
    const inbox = new DurableBatch(join(o.dir, 'inbox'))
    inbox.add(
      `${Date.now().toString().padStart(15, '0')}-${randomBytes(6).toString('hex')}`,
      frames,
    )
    await inbox.sync()
    return 'queued'
  }

  /** Takes in what other processes left in DIR/inbox/, oldest first; each file once durable. */
  private async ingest(): Promise<void> {
    const dir = join(this.dir, 'inbox')
    const names = existsSync(dir)
      ? (await readdir(dir)).filter((n) => !n.endsWith('.tmp') && n !== 'rejected').sort()
      : []
    for (const name of names.slice(0, 100)) {
      const path = join(dir, name)
      let entries: Buffer[]
      try {
        // A regular file of bounded size only: never a FIFO, a device or a link elsewhere.
        const s = await lstat(path)
        if (!s.isFile() || s.size > MAX_INBOX_BYTES)
          throw new StrongroomError(
            'LOG_TAMPERED',
            `not a regular file of at most ${MAX_INBOX_BYTES} bytes`,
          )
        entries = await readJournal(path, 0)
      } catch (e) {
        // Set aside, reported, never retried: one bad file must not stop the ones after it.
        this.alert(`audit inbox file ${name} set aside in inbox/rejected: ${(e as Error).message}`)
        await mkdir(join(dir, 'rejected'), { recursive: true, mode: 0o700 })
        await rename(path, join(dir, 'rejected', name)).catch(() => rm(path, { force: true }))
        continue
      }
      this.queue.push(...entries.map((bytes) => ({ bytes })))
      await this.drain()
      if (this.queue.length > 0) return
      await rm(path, { force: true })
    }
  }

  private get checkpointMs(): number {
    return this.o.checkpointMs ?? 1000
  }

  /** Records made durable so far (the next record's index). */
  get size(): number {
    return this.n
  }

  /** The last checkpoint written (a signed note). */
  get checkpointNote(): string {
    return this.lastNote
  }

  /**
   * Resolves when the log can take a record now: no known problem, and the journal is still
   * the file this process writes. The gateway asks before it runs a write, so that a log
   * broken since the last record refuses the write instead of recording nothing of it.
   */
  ready(): Promise<void> {
    return new Promise((resolve) => {
      this.readyNow()
      resolve()
    })
  }

  private readyNow(): void {
    const refused = this.problem()
    if (refused !== undefined) throw unavailable(refused)
    // Only what a concurrent commit cannot change: its size is checked by each commit. An
    // fstat of an open descriptor reads the inode in memory: done in place, not on the thread
    // pool, it costs a microsecond instead of a round trip per write request.
    const s = fstatSync(this.journal.fd)
    if (s.nlink === 0) this.fail('the audit journal was removed while the server was running')
    if (this.broken !== undefined) throw unavailable(this.broken)
  }

  /** Every record of the log, oldest first, with its index. */
  records(): AsyncGenerator<[number, Buffer]> {
    return records(this.dir)
  }

  /** Closes the journal and releases the lock. */
  protected async release(): Promise<void> {
    await this.journal.close().catch(() => undefined)
    await releaseLock(join(this.dir, 'log.lock'))
  }

  protected async commit(batch: readonly Pending[]): Promise<number> {
    const first = this.n
    await this.write(encodeFrames(batch, first))
    this.n += batch.length
    for (const p of batch) this.unsealed.push(p.bytes)
    return first
  }

  protected async committed(): Promise<void> {
    if (this.unsealed.length >= SEAL_AT || Date.now() - this.lastSeal >= this.checkpointMs)
      await this.seal()
  }

  protected override transient(): string | undefined {
    return this.lowDisk
  }

  /** Writes frames to the journal and makes them durable, checking the journal is still ours. */
  private async write(frames: Buffer): Promise<void> {
    this.checkJournal()
    try {
      const { bytesWritten } = await this.journal.write(frames, 0, frames.length, this.journalBytes)
      // A short write (the disk filling mid-way) must not acknowledge the records it cut off.
      if (bytesWritten !== frames.length)
        throw new Error(`${bytesWritten} of ${frames.length} bytes written`)
      await this.journal.datasync()
    } catch (e) {
      // A partial frame must not stay in front of later ones: cut the journal back.
      await this.journal.truncate(this.journalBytes).catch(() => {
        this.fail(`the audit journal could not be cut back after a failed write`)
      })
      throw new StrongroomError('IO', `cannot write the audit journal: ${(e as Error).message}`, {
        cause: e,
      })
    }
    this.journalBytes += frames.length
  }

  private checkJournal(): void {
    const s = fstatSync(this.journal.fd)
    if (s.nlink === 0) this.fail('the audit journal was removed while the server was running')
    else if (s.size < this.journalBytes)
      this.fail(
        `the audit journal was truncated while the server was running (${s.size} of ${this.journalBytes} bytes)`,
      )
    else if (s.size > this.journalBytes)
      this.fail('the audit journal was written to by another process')
    if (this.broken !== undefined) throw unavailable(this.broken)
  }

  /** Appends the unsealed records to the tiles, signs a checkpoint, empties the journal. */
  protected async seal(): Promise<void> {
    this.lastSeal = Date.now()
    if (this.broken !== undefined) return
    await this.checkLog()
    if (this.isBroken()) return
    try {
      // A writer that failed is reopened from its checkpoint; it may already hold some records.
      this.writer ??= await TileWriter.open(this.logDir)
      const base = this.n - this.unsealed.length
      const records = this.unsealed.slice(this.writer.size - base)
      if (records.length > 0) await this.writer.append(records)
      this.lastNote = await this.writer.checkpoint(this.o.signerKey, this.o.origin)
      this.offer(this.lastNote, this.writer.size)
      this.unsealed = []
      await this.journal.truncate(0)
      await this.journal.datasync()
      this.journalBytes = 0
    } catch (e) {
      this.writer = undefined
      this.alert(`cannot checkpoint the audit log: ${(e as Error).message}`)
    }
  }

  /** The log directory and its checkpoint are the ones this process wrote. */
  private async checkLog(): Promise<void> {
    const dir = await stat(this.logDir).catch(() => undefined)
    if (dir === undefined) {
      this.fail(`the audit log directory \`${this.logDir}\` was removed`)
      return
    }
    if (dir.ino !== this.dirIno) {
      this.fail(`the audit log directory \`${this.logDir}\` was replaced`)
      return
    }
    const path = join(this.dir, 'journal')
    const j = await stat(path).catch(() => undefined)
    if (j?.ino !== this.journalIno) {
      this.fail('the audit journal was removed or replaced')
      return
    }
    const note = await readFile(join(this.logDir, 'checkpoint'), 'utf8').catch(() => undefined)
    if (note !== this.lastNote) {
      this.fail(
        note === undefined
          ? 'the audit log checkpoint was removed'
          : 'the audit log checkpoint was replaced by another process',
      )
      return
    }
  }

  /** Once a second: a checkpoint when records wait, and the disk's free space. */
  private async tick(): Promise<void> {
    if (this.closed) return
    try {
      const s = await statfs(this.o.dir)
      const free = s.bavail * s.bsize
      const min = this.o.minFreeBytes ?? 64 << 20
      this.lowDisk =
        free < min
          ? `the audit log's disk has ${Math.floor(free / 2 ** 20)} MiB free, less than the ${Math.floor(min / 2 ** 20)} MiB it keeps in reserve`
          : undefined
      if (this.lowDisk !== undefined) this.alert(this.lowDisk)
      this.run(async () => {
        await this.ingest()
        await (this.unsealed.length > 0 ? this.seal() : this.checkLog())
      })
    } catch (e) {
      this.alert(`audit log check failed: ${(e as Error).message}`)
    }
  }

  private isBroken(): boolean {
    return this.broken !== undefined
  }
}
