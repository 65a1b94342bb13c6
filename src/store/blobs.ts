/**
 * BlobStore: where ciphertext object bodies live. Blobs are named by random
 * ids, never by object keys (keys are data, never paths). A put is durable
 * before it returns: temporary file, fsync, the caller's last check, rename,
 * directory fsync. A crash leaves the old blob or the new one, and
 * temporary files, which start-up removes.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { RandomAccessSource } from '../crypto/range.ts'

export interface OpenBlob extends RandomAccessSource {
  close(): Promise<void>
}

export interface BlobStore {
  /** Writes `source` as blob `id`; `beforeCommit` may veto (throw) once every byte is on disk. */
  put(
    id: string,
    source: AsyncIterable<Uint8Array>,
    beforeCommit: () => void | Promise<void>,
  ): Promise<void>
  open(id: string): Promise<OpenBlob>
  delete(id: string): Promise<void>
  /** Every blob id present, for removing orphans. */
  list(): Promise<string[]>
}

export function newBlobId(): string {
  return randomBytes(16).toString('hex')
}

const ID = /^[0-9a-f]{32}$/

export class FsBlobStore implements BlobStore {
  private readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  private path(id: string): string {
    if (!ID.test(id)) throw new Error(`not a blob id: ${id}`)
    return join(this.dir, id.slice(0, 2), id)
  }

  async put(
    id: string,
    source: AsyncIterable<Uint8Array>,
    beforeCommit: () => void | Promise<void>,
  ): Promise<void> {
    const final = this.path(id)
    const folder = join(this.dir, id.slice(0, 2))
    await mkdir(folder, { recursive: true, mode: 0o700 })
    const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`
    try {
      await pipeline(
        Readable.from(source, { objectMode: false, highWaterMark: 1 << 20 }),
        createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }),
      )
      await beforeCommit()
      await rename(tmp, final)
      await syncDir(folder)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }

  async open(id: string): Promise<OpenBlob> {
    const fh: FileHandle = await open(this.path(id), 'r')
    const size = (await fh.stat()).size
    return {
      size,
      async read(position, length) {
        const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - position)))
        let got = 0
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        return buf.subarray(0, got)
      },
      close: () => fh.close(),
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true })
  }

  async list(): Promise<string[]> {
    const out: string[] = []
    for (const folder of await readdir(this.dir).catch(() => [])) {
      for (const f of await readdir(join(this.dir, folder)).catch(() => [])) {
        if (ID.test(f)) out.push(f)
        else if (f.endsWith('.tmp')) await rm(join(this.dir, folder, f), { force: true })
      }
    }
    return out
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
