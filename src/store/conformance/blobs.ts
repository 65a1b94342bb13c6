/**
 * The BlobStore contract, as one suite every implementation passes: the filesystem store, the
 * in-memory one and the S3 one (against a real Ceph RGW in CI). What the object service relies
 * on: bytes back exactly as written at any position, a put that appears whole or not at all (a
 * source that throws leaves nothing), overwrites that replace, idempotent deletes, a listing of
 * its own blobs only, and ids that cannot name anything but a blob.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../errors.ts'
import { newBlobId, type BlobStore } from '../blobs.ts'

export interface BlobFixture {
  readonly store: BlobStore
  /** A size that takes the store's large-object path (several multipart parts for S3). */
  readonly large: number
  /** Writes something that is not a blob of this store beside its blobs (a stray file, a key outside the prefix). */
  stray(): Promise<void>
  close(): Promise<void>
}

function* pieces(data: Buffer, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

function chunks(data: Buffer, size = 64 * 1024): AsyncIterable<Uint8Array> {
  return Readable.from(pieces(data, size), { objectMode: true })
}

async function* failing(data: Buffer): AsyncGenerator<Uint8Array> {
  yield* chunks(data)
  throw new Error('the body did not match its declared checksum')
}

async function readAll(store: BlobStore, id: string): Promise<Buffer> {
  const blob = await store.open(id)
  try {
    const out = Buffer.from(await blob.read(0, blob.size))
    assert.equal(out.length, blob.size)
    return out
  } finally {
    await blob.close()
  }
}

export function blobStoreConformance(name: string, make: () => Promise<BlobFixture>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    const withStore = (fn: (f: BlobFixture) => Promise<void>) => async () => {
      const f = await make()
      try {
        await fn(f)
      } finally {
        await f.close()
      }
    }

    it(
      'gives back exactly the bytes written, its size, and fewer bytes only at the end',
      withStore(async ({ store }) => {
        const id = newBlobId()
        const data = randomBytes(300_001)
        await store.put(id, chunks(data, 7_777))
        const blob = await store.open(id)
        try {
          assert.equal(blob.size, data.length)
          assert.deepEqual(Buffer.from(await blob.read(0, 10)), data.subarray(0, 10))
          assert.deepEqual(Buffer.from(await blob.read(299_990, 100)), data.subarray(299_990))
          assert.equal((await blob.read(data.length, 10)).length, 0)
        } finally {
          await blob.close()
        }
      }),
    )

    it(
      'reads any range as the same bytes, in any order (property)',
      withStore(async ({ store }) => {
        const id = newBlobId()
        const data = randomBytes(200_000)
        await store.put(id, chunks(data))
        const blob = await store.open(id)
        try {
          await fc.assert(
            fc.asyncProperty(fc.nat(data.length), fc.nat(70_000), async (position, length) => {
              const got = Buffer.from(await blob.read(position, length))
              assert.deepEqual(got, data.subarray(position, position + length))
            }),
            { numRuns: 40 },
          )
        } finally {
          await blob.close()
        }
      }),
    )

    it(
      'stores an empty blob',
      withStore(async ({ store }) => {
        const id = newBlobId()
        await store.put(id, chunks(Buffer.alloc(0)))
        assert.equal((await readAll(store, id)).length, 0)
      }),
    )

    it(
      'stores a large blob through its large-object path, byte for byte',
      withStore(async ({ store, large }) => {
        const id = newBlobId()
        const data = randomBytes(large)
        await store.put(id, chunks(data, 1 << 20))
        assert.ok((await readAll(store, id)).equals(data))
      }),
    )

    for (const size of ['small', 'large'] as const) {
      it(
        `leaves nothing under the id when a ${size} source throws, and keeps an older blob there`,
        withStore(async ({ store, large }) => {
          const bytes = size === 'small' ? 1000 : large
          const id = newBlobId()
          await assert.rejects(store.put(id, failing(randomBytes(bytes))), /declared checksum/)
          await assert.rejects(store.open(id))
          assert.ok(!(await store.list()).some((b) => b.id === id))
          const kept = newBlobId()
          await store.put(kept, chunks(Buffer.from('old')))
          await assert.rejects(store.put(kept, failing(randomBytes(bytes))), /declared checksum/)
          assert.equal((await readAll(store, kept)).toString(), 'old')
        }),
      )
    }

    it(
      'states a blob’s size and time of writing, and nothing for one that is not there',
      withStore(async ({ store }) => {
        const id = newBlobId()
        const started = Date.now()
        await store.put(id, chunks(Buffer.alloc(1234, 7)))
        const s = await store.stat(id)
        assert.equal(s?.size, 1234)
        assert.equal(s.id, id)
        assert.ok(Math.abs(s.modified - started) < 10_000)
        assert.equal(await store.stat(newBlobId()), undefined)
      }),
    )

    it(
      'replaces a blob written again under the same id',
      withStore(async ({ store }) => {
        const id = newBlobId()
        await store.put(id, chunks(Buffer.from('first version')))
        await store.put(id, chunks(Buffer.from('second')))
        assert.equal((await readAll(store, id)).toString(), 'second')
      }),
    )

    it(
      'deletes a blob, and deleting one that is gone succeeds',
      withStore(async ({ store }) => {
        const id = newBlobId()
        await store.put(id, chunks(Buffer.from('x')))
        await store.delete(id)
        await assert.rejects(store.open(id))
        await store.delete(id)
        await store.delete(newBlobId())
      }),
    )

    it(
      'lists its own blobs with when they were written, and nothing else',
      withStore(async (f) => {
        const store = f.store
        const started = Date.now()
        const ids = [newBlobId(), newBlobId(), newBlobId()]
        await Promise.all(ids.map((id, i) => store.put(id, chunks(Buffer.alloc(i * 1000, i)))))
        await f.stray()
        const listed = await store.list()
        assert.deepEqual(listed.map((b) => b.id).sort(), [...ids].sort())
        for (const b of listed) {
          // Backends keep whole seconds (S3's LastModified): within a few seconds of now.
          assert.ok(Math.abs(b.modified - started) < 10_000, `${b.id} modified ${b.modified}`)
        }
      }),
    )

    it(
      'refuses an id that is not a blob id, before touching storage',
      withStore(async ({ store }) => {
        for (const bad of ['../../etc/passwd', 'A'.repeat(32), '', 'ab/' + '0'.repeat(29)]) {
          await assert.rejects(store.open(bad), (e) => isStrongroomError(e, 'BLOB_ID_INVALID'))
          await assert.rejects(store.put(bad, chunks(Buffer.from('x'))), (e) =>
            isStrongroomError(e, 'BLOB_ID_INVALID'),
          )
          await assert.rejects(store.delete(bad), (e) => isStrongroomError(e, 'BLOB_ID_INVALID'))
        }
      }),
    )

    it(
      'fails to open a blob that is not there as missing, not as unavailable',
      withStore(async ({ store }) => {
        await assert.rejects(
          store.open(newBlobId()),
          (e) => !isStrongroomError(e, 'SERVICE_UNAVAILABLE'),
        )
      }),
    )

    it(
      'keeps concurrent puts of different blobs apart',
      withStore(async ({ store }) => {
        const blobs = Array.from({ length: 8 }, (_, i) => ({
          id: newBlobId(),
          data: randomBytes(10_000 + i),
        }))
        await Promise.all(blobs.map((b) => store.put(b.id, chunks(b.data, 999))))
        for (const b of blobs) assert.ok((await readAll(store, b.id)).equals(b.data))
      }),
    )
  })
}
