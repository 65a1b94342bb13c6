/**
 * Durable files for the tiled log: each goes to a temporary name, is fsynced, renamed into
 * place, and its directory (and any directory made for it) fsynced, the way BlobStore puts
 * blobs. A reader therefore sees the old file or the new one, never half of one, and once a
 * batch has been `sync`ed a crash cannot take any of it back: the checkpoint, written last,
 * never names a tile the disk does not have.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { StrongroomError } from '../../errors.ts'

const PARALLEL = 8

export class DurableBatch {
  private readonly root: string
  private readonly made = new Set<string>()
  private readonly dirty = new Set<string>()
  private queued: { path: string; data: Uint8Array }[] = []

  constructor(root: string) {
    this.root = root
  }

  get pending(): number {
    return this.queued.length
  }

  /** Queues `data` for `path` (relative to the root); nothing is written before `sync`. */
  add(path: string, data: Uint8Array): void {
    this.queued.push({ path, data })
  }

  /** Writes everything queued, then fsyncs the directories: durable when it resolves. */
  async sync(): Promise<void> {
    const work = this.queued
    this.queued = []
    for (let i = 0; i < work.length; i += PARALLEL)
      await Promise.all(work.slice(i, i + PARALLEL).map((w) => this.write(w.path, w.data)))
    const dirs = [...this.dirty]
    this.dirty.clear()
    for (let i = 0; i < dirs.length; i += PARALLEL)
      await Promise.all(dirs.slice(i, i + PARALLEL).map(syncDir))
  }

  /** Removes `path` (a file or directory, relative to the root) if it is there. */
  async remove(path: string): Promise<void> {
    await rm(join(this.root, path), { recursive: true, force: true })
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return
    const first = await mkdir(dir, { recursive: true, mode: 0o700 })
    this.made.add(dir)
    // A directory made here is durable only once its parent is synced, up to the first one made.
    for (let d = dir; first !== undefined; d = dirname(d)) {
      this.dirty.add(dirname(d))
      if (d === first || d === dirname(d)) break
    }
  }

  private async write(path: string, data: Uint8Array): Promise<void> {
    const final = join(this.root, path)
    const dir = dirname(final)
    try {
      await this.ensureDir(dir)
      const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`
      const fh = await open(tmp, 'wx', 0o600)
      try {
        await fh.writeFile(data)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, final)
      this.dirty.add(dir)
    } catch (e) {
      throw new StrongroomError('IO', `cannot write ${path}: ${(e as Error).message}`, {
        cause: e,
      })
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** The largest file a log holds: a full entry bundle of 256 records of 65,535 bytes each. */
const MAX_LOG_FILE = 256 * (2 + 0xffff)

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW

const notRegular = (path: string) =>
  new StrongroomError('IO', `${path} is not a regular file of at most ${MAX_LOG_FILE} bytes`)

/**
 * Reads a file of the log, or undefined when it is not there. Only a regular file of at most a
 * full bundle's size is read: a copy of a log is untrusted, and a FIFO or /dev/zero in its place
 * must not hang or exhaust the reader.
 */
export async function readLogFile(dir: string, path: string): Promise<Buffer | undefined> {
  let fh
  try {
    fh = await open(join(dir, path), READ_FLAGS)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StrongroomError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e })
  }
  try {
    const s = await fh.stat()
    if (!s.isFile() || s.size > MAX_LOG_FILE) throw notRegular(path)
    return await fh.readFile()
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    throw new StrongroomError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e })
  } finally {
    await fh.close()
  }
}

/**
 * readLogFile, synchronously, into the buffer `room` gives for the file's size: the same checks
 * and errors, without the four trips to the thread pool (open, fstat, read, close) that cost a
 * quarter of verifying a log when each file took them. A caller that reads many files gives
 * one buffer again and again: a fresh buffer's first touch is a page fault per 4 KiB, which
 * on the benchmark's VM costs more than hashing the page. For the verifier's worker threads
 * and small logs, never for a server's event loop.
 */
export function readLogFileSync(
  dir: string,
  path: string,
  room: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Buffer | undefined {
  let fd
  try {
    fd = openSync(join(dir, path), READ_FLAGS)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StrongroomError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e })
  }
  try {
    const s = fstatSync(fd)
    if (!s.isFile() || s.size > MAX_LOG_FILE) throw notRegular(path)
    const out = room(s.size)
    let got = 0
    for (let n = -1; got < out.length && n !== 0; got += n)
      n = readSync(fd, out, got, out.length - got, null)
    return out.subarray(0, got)
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    throw new StrongroomError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e })
  } finally {
    closeSync(fd)
  }
}
