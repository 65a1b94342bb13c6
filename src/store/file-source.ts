/** Positioned reads over an open file: the RandomAccessSource of a sealed object on disk. */
import { readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { RandomAccessSource } from '../crypto/range.ts'
import type { ByteSource } from '../scan/source.ts'

/**
 * Synchronous positioned reads over an open file descriptor: what `strongroom
 * scan FILE` hands the scanner, in a CLI process with nothing else to serve.
 * Stored objects are never read this way: the gateway scans them in a scan
 * worker (src/store/scan-pool.ts) that this thread feeds asynchronously.
 */
export function fdByteSource(fd: number, size: number): ByteSource {
  return {
    size,
    readInto(position, into, offset, length) {
      let got = 0
      while (got < length) {
        const n = readSync(fd, into, offset + got, length - got, position + got)
        if (n === 0) break
        got += n
      }
      return got
    },
  }
}

export function fileSource(fh: FileHandle, size: number): RandomAccessSource {
  return {
    size,
    /** Up to `length` bytes at `position`; fewer only at the end of the file. */
    async read(position, length, into) {
      const n = Math.max(0, Math.min(length, size - position))
      const buf =
        into !== undefined && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n)
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return buf.subarray(0, got)
    },
  }
}
