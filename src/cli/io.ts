/**
 * File plumbing for the CLI: inputs (a path or `-`), outputs that appear only
 * when complete (temporary file, fsync, rename), positioned reads for range
 * decryption, a spool for stdin of unknown length, and a progress bar.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, fstatSync } from 'node:fs'
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { RandomAccessSource } from '../crypto/range.ts'
import { fileSource } from '../store/file-source.ts'
import { StrongroomError } from '../errors.ts'

export interface Input {
  /** Known when the input is a regular file (or stdin redirected from one). */
  readonly size: number | undefined
  /** Positioned reads, when the input is a regular file. */
  readonly random: RandomAccessSource | undefined
  readonly stream: () => AsyncIterable<Uint8Array>
  close(): Promise<void>
}

const CHUNK = 1024 * 1024

function ioError(e: unknown, what: string, path: string): StrongroomError {
  const code = (e as NodeJS.ErrnoException).code
  const why =
    code === 'ENOENT'
      ? 'it does not exist'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : (code ?? 'error')
  return new StrongroomError('IO', `cannot ${what} \`${path}\`: ${why}`, { cause: e })
}

export async function openInput(path: string): Promise<Input> {
  if (path === '-') {
    const st = fstatSync(0)
    if (st.isFile()) return fileInput(await open('/dev/stdin', 'r'), st.size)
    return {
      size: undefined,
      random: undefined,
      stream: () => process.stdin,
      close: () => Promise.resolve(),
    }
  }
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
    const st = await fh.stat()
    if (!st.isFile()) {
      await fh.close()
      throw new StrongroomError('IO', `cannot read \`${path}\`: it is not a regular file`)
    }
    return fileInput(fh, st.size)
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    throw ioError(e, 'read', path)
  }
}

function fileInput(fh: FileHandle, size: number): Input {
  return {
    size,
    random: fileSource(fh, size),
    stream: () =>
      createReadStream('', { fd: fh, start: 0, highWaterMark: CHUNK, autoClose: false }),
    close: () => fh.close(),
  }
}

export interface Output {
  /** Writes every chunk of `source`, with backpressure. */
  write(source: AsyncIterable<Uint8Array>): Promise<void>
  /** Makes the output visible (fsync and rename); only after a complete write. */
  commit(): Promise<void>
  /** Removes any partial output. */
  abort(): Promise<void>
}

/** `-` is stdout; a path gets a temporary sibling that is renamed over it only on success. */
/**
 * A byte stream (not an object stream, whose default buffer is 16 chunks)
 * that buffers at most about one chunk ahead of the writer.
 */
export function byteStream(source: AsyncIterable<Uint8Array>): Readable {
  return Readable.from(source, { objectMode: false, highWaterMark: CHUNK })
}

export function createOutput(path: string, stdout: NodeJS.WritableStream = process.stdout): Output {
  if (path === '-') {
    return {
      write: (source) => pipeline(byteStream(source), stdout, { end: false }),
      commit: () => Promise.resolve(),
      abort: () => Promise.resolve(),
    }
  }
  const target = resolve(path)
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  let written = false
  return {
    async write(source) {
      written = true
      try {
        await pipeline(
          byteStream(source),
          createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }),
        )
      } catch (e) {
        if (e instanceof StrongroomError) throw e
        const errno = (e as NodeJS.ErrnoException).code
        if (errno !== undefined && errno.startsWith('E')) throw ioError(e, 'write', path)
        throw e
      }
    },
    async commit() {
      try {
        await rename(tmp, target)
        const dir = await open(dirname(target), 'r')
        await dir.sync().finally(() => dir.close())
      } catch (e) {
        throw ioError(e, 'write', path)
      }
    },
    async abort() {
      if (written) await rm(tmp, { force: true })
    },
  }
}

/**
 * Stdin of unknown length: the format records the length up front, so the
 * input is first spooled to an unlinked temporary file, sealed chunk by chunk
 * under a key that exists only in this process's memory. No plaintext byte
 * touches the disk.
 */
export async function spool(
  source: AsyncIterable<Uint8Array>,
  dir: string = tmpdir(),
): Promise<Input> {
  const key = randomBytes(32)
  const path = join(dir, `.strongroom-spool-${randomBytes(8).toString('hex')}`)
  const fh = await open(path, 'wx+', 0o600)
  await rm(path) // unlinked at once: it disappears with the process, whatever happens
  let size = 0
  let chunks = 0
  const nonce = (i: number) => {
    const n = Buffer.alloc(12)
    n.writeUInt32BE(i, 8)
    return n
  }
  let pos = 0
  for await (const chunk of source) {
    const c = createCipheriv('aes-256-gcm', key, nonce(chunks++))
    const ct = c.update(chunk)
    c.final()
    const frame = Buffer.allocUnsafe(4 + ct.length + 16)
    frame.writeUInt32BE(ct.length, 0)
    ct.copy(frame, 4)
    c.getAuthTag().copy(frame, 4 + ct.length)
    await fh.write(frame, 0, frame.length, pos)
    pos += frame.length
    size += chunk.byteLength
  }
  const total = chunks
  return {
    size,
    random: undefined,
    stream: async function* () {
      let at = 0
      const len = Buffer.alloc(4)
      for (let i = 0; i < total; i++) {
        await fh.read(len, 0, 4, at)
        const n = len.readUInt32BE(0)
        const frame = Buffer.allocUnsafe(n + 16)
        await fh.read(frame, 0, n + 16, at + 4)
        at += 4 + n + 16
        const d = createDecipheriv('aes-256-gcm', key, nonce(i))
        d.setAuthTag(frame.subarray(n))
        const plain = d.update(frame.subarray(0, n))
        d.final()
        yield plain
      }
    },
    async close() {
      key.fill(0)
      await fh.close()
    },
  }
}

/** A progress bar on stderr when it is a terminal and the work is large enough to wait for. */
export function progress(
  label: string,
  total: number | undefined,
  stderr: NodeJS.WriteStream = process.stderr,
) {
  const enabled = stderr.isTTY && (total === undefined || total >= 16 * CHUNK)
  const start = performance.now()
  let done = 0
  let last = 0
  const mib = (n: number) => (n / CHUNK).toFixed(1)
  const draw = (force: boolean) => {
    const now = performance.now()
    if (!enabled || (!force && now - last < 100)) return
    last = now
    const rate = done / CHUNK / Math.max((now - start) / 1000, 0.001)
    const pct =
      total === undefined || total === 0 ? '' : `${Math.floor((done / total) * 100)}% `.padStart(5)
    const width = 30
    const bar =
      total === undefined || total === 0
        ? ''
        : `[${'#'.repeat(Math.floor((done / total) * width)).padEnd(width)}] `
    stderr.write(
      `\r${label} ${bar}${pct}${mib(done)}${total === undefined ? '' : '/' + mib(total)} MiB  ${rate.toFixed(0)} MiB/s `,
    )
  }
  return {
    async *count(
      source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    ): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        done += chunk.byteLength
        draw(false)
        yield chunk
      }
    },
    end() {
      if (!enabled) return
      draw(true)
      stderr.write('\n')
    },
  }
}

/** A text file a command reads whole (a policy document): IO with what it is when it cannot. */
export function readTextFile(file: string, what: string): Promise<string> {
  return readFile(file, 'utf8').catch((e: unknown) => {
    throw new StrongroomError('IO', `cannot read ${what} \`${file}\``, { cause: e })
  })
}
