/**
 * A BlobStore in memory, for tests of the object service that need no disk:
 * the same contract as FsBlobStore (a put that throws leaves nothing, a blob
 * appears whole or not at all), and a way to reach in and alter a stored
 * blob as an attacker with write access to the blob storage would.
 */
import type { RandomAccessSource } from '../crypto/range.ts'
import { blobId, type BlobEntry, type BlobStore, type OpenBlob } from './blobs.ts'

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Buffer>()
  private readonly written = new Map<string, number>()

  async put(id: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    blobId(id)
    const chunks: Buffer[] = []
    for await (const c of source) chunks.push(Buffer.from(c))
    // Appears only once every byte is in, as the rename does on disk.
    this.blobs.set(id, Buffer.concat(chunks))
    this.written.set(id, Date.now())
  }

  open(id: string): Promise<OpenBlob> {
    return Promise.resolve().then(() => {
      const data = this.blobs.get(blobId(id))
      if (data === undefined) throw new Error(`no blob ${id}`)
      return { ...bufferSource(data), close: () => Promise.resolve() }
    })
  }

  delete(id: string): Promise<void> {
    return Promise.resolve().then(() => {
      this.blobs.delete(blobId(id))
      this.written.delete(id)
    })
  }

  stat(id: string): Promise<(BlobEntry & { readonly size: number }) | undefined> {
    return Promise.resolve().then(() => {
      const data = this.blobs.get(blobId(id))
      if (data === undefined) return undefined
      return { id, modified: this.written.get(id) ?? 0, size: data.length }
    })
  }

  list(): Promise<BlobEntry[]> {
    return Promise.resolve(
      [...this.blobs.keys()].map((id) => ({ id, modified: this.written.get(id) ?? 0 })),
    )
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
