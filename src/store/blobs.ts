/**
 * BlobStore: where ciphertext object bodies live. Blobs are named by random
 * ids, never by object keys (keys are data, never paths). A put is durable
 * before it returns: temporary file, fsync, rename, directory fsync. A source
 * that throws (a body that did not match what its request declared) leaves
 * nothing behind. A crash leaves the old blob or the new one, and
 * temporary files, which start-up removes.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { RandomAccessSource } from '../crypto/range.ts'
import { StrongroomError } from '../errors.ts'
import { fileSource } from './file-source.ts'

export interface OpenBlob extends RandomAccessSource {
  close(): Promise<void>
}

/** A stored blob, as listed: its id and when it was last written (ms since the epoch). */
export interface BlobEntry {
  readonly id: string
  readonly modified: number
}

export interface BlobStore {
  /** Writes `source` as blob `id`, durably; when `source` throws, no blob `id` exists afterwards. */
  put(id: string, source: AsyncIterable<Uint8Array>): Promise<void>
  open(id: string): Promise<OpenBlob>
  delete(id: string): Promise<void>
  /** One blob's size and time of writing; undefined when it is not there. */
  stat(id: string): Promise<(BlobEntry & { readonly size: number }) | undefined>
  /** Every blob present, for removing orphans; also clears what interrupted writes left. */
  list(): Promise<BlobEntry[]>
  /** Lets go of connections (a closing gateway); stores without any have none. */
  close?(): void
}

export function newBlobId(): string {
  return randomBytes(16).toString('hex')
}

const ID = /^[0-9a-f]{32}$/

/** `id`, if it is a blob id (32 lowercase hex digits); BLOB_ID_INVALID otherwise. */
export function blobId(id: string): string {
  if (!ID.test(id))
    throw new StrongroomError('BLOB_ID_INVALID', `not a blob id: \`${id.slice(0, 80)}\``)
  return id
}
const BATCH = 256 << 10
const SYNC_EVERY = 32 << 20

export class FsBlobStore implements BlobStore {
  private readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  private path(id: string): string {
    return join(this.dir, id.slice(0, 2), blobId(id))
  }

  async put(id: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    const final = this.path(id)
    const folder = join(this.dir, id.slice(0, 2))
    await mkdir(folder, { recursive: true, mode: 0o700 })
    const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`
    const fh = await open(tmp, 'wx', 0o600)
    let closed = false
    try {
      // Bytes go out in 1 MiB batches; every 32 MiB a flush to disk starts in the
      // background, so the flush at the end (durability before acknowledging)
      // only has the tail left to write instead of the whole object.
      let batch: Uint8Array[] = []
      let batched = 0
      let sinceSync = 0
      let flushing: Promise<void> | undefined
      const drain = async () => {
        if (batched === 0) return
        const out = batch
        batch = []
        batched = 0
        let written = 0
        const total = out.reduce((n, c) => n + c.byteLength, 0)
        while (written < total) {
          const { bytesWritten } = await fh.writev(
            written === 0 ? out : [Buffer.concat(out).subarray(written)],
          )
          written += bytesWritten
        }
        sinceSync += total
        if (sinceSync >= SYNC_EVERY && flushing === undefined) {
          sinceSync = 0
          flushing = fh.datasync().finally(() => (flushing = undefined))
        }
      }
      for await (const chunk of source) {
        batch.push(chunk)
        batched += chunk.byteLength
        if (batched >= BATCH) await drain()
      }
      await drain()
      await flushing
      // fdatasync: the data and the file size; the rename is made durable by the directory fsync below.
      await fh.datasync()
      await fh.close()
      closed = true
      await rename(tmp, final)
      await syncDir(folder)
    } catch (e) {
      if (!closed) await fh.close().catch(() => undefined)
      await rm(tmp, { force: true })
      throw e
    }
  }

  async open(id: string): Promise<OpenBlob> {
    const fh: FileHandle = await open(this.path(id), 'r')
    const size = (await fh.stat()).size
    return {
      ...fileSource(fh, size),
      close: () => fh.close(),
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true })
  }

  async stat(id: string): Promise<(BlobEntry & { readonly size: number }) | undefined> {
    try {
      const at = await stat(this.path(id))
      return { id, modified: at.mtimeMs, size: at.size }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async list(): Promise<BlobEntry[]> {
    const out: BlobEntry[] = []
    // No blob directory yet is no blobs; any other failure to read it is an I/O error, never "none".
    for (const folder of await entries(this.dir, false)) {
      for (const f of await entries(join(this.dir, folder), true)) {
        if (ID.test(f)) {
          const at = await stat(join(this.dir, folder, f)).catch(() => undefined)
          if (at !== undefined) out.push({ id: f, modified: at.mtimeMs })
        } else if (f.endsWith('.tmp')) await rm(join(this.dir, folder, f), { force: true })
      }
    }
    return out
  }
}

/** The names in `dir`: none when it does not exist (or, with `strayFile`, is a file where a folder would be). */
async function entries(dir: string, strayFile: boolean): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || (strayFile && code === 'ENOTDIR')) return []
    throw new StrongroomError('IO', `cannot list the blob directory \`${dir}\``, { cause: e })
  }
}

/**
 * fsync of a directory, group-committed: callers that arrive while a sync of
 * the same directory runs share the next one, which covers every rename made
 * before it starts.
 */
const dirSyncs = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>()

function syncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir)
  if (state === undefined) {
    const running = fsyncDir(dir).finally(() => {
      const s = dirSyncs.get(dir)
      if (s?.next === undefined) dirSyncs.delete(dir)
    })
    dirSyncs.set(dir, { running, next: undefined })
    return running
  }
  state.next ??= state.running.then(() => {
    const running = fsyncDir(dir).finally(() => {
      if (dirSyncs.get(dir)?.running === running) dirSyncs.delete(dir)
    })
    dirSyncs.set(dir, { running, next: undefined })
    return running
  })
  return state.next
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
