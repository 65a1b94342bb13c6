/**
 * A BlobStore in memory, for tests of the object service that need no disk:
 * the same contract as FsBlobStore (a put that throws leaves nothing, a blob
 * appears whole or not at all), and a way to reach in and alter a stored
 * blob as an attacker with write access to the blob storage would.
 */
import type { RandomAccessSource } from '../crypto/range.ts'
import type { BlobStore, OpenBlob } from './blobs.ts'

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Buffer>()

  async put(id: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of source) chunks.push(Buffer.from(c))
    // Appears only once every byte is in, as the rename does on disk.
    this.blobs.set(id, Buffer.concat(chunks))
  }

  open(id: string): Promise<OpenBlob> {
    const data = this.blobs.get(id)
    if (data === undefined) return Promise.reject(new Error(`no blob ${id}`))
    return Promise.resolve({ ...bufferSource(data), close: () => Promise.resolve() })
  }

  delete(id: string): Promise<void> {
    this.blobs.delete(id)
    return Promise.resolve()
  }

  list(): Promise<string[]> {
    return Promise.resolve([...this.blobs.keys()])
  }

  /** The stored bytes of a blob (a copy), or undefined. */
  get(id: string): Buffer | undefined {
    const b = this.blobs.get(id)
    return b === undefined ? undefined : Buffer.from(b)
  }

  /** Replaces a blob's bytes behind the store's back (tests of tampering and rollback). */
  set(id: string, data: Uint8Array): void {
    this.blobs.set(id, Buffer.from(data))
  }
}

function bufferSource(data: Buffer): RandomAccessSource {
  const read = (position: number, length: number) =>
    data.subarray(Math.min(position, data.length), Math.min(data.length, position + length))
  return { size: data.length, read: (p, n) => Promise.resolve(read(p, n)) }
}
