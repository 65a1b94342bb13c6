/** MultipartStore conformance: uploads, parts replaced by number with their data keys, aborts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PartRecord, UploadRecord } from '../multipart.ts'
import { withBucket, wrapped, type MakeStore } from './fixtures.ts'

const upload = (id: string, key: string, createdAt: number, keyId: string): UploadRecord => ({
  id,
  bucket: 'b',
  key,
  contentType: 'application/x-model',
  metadata: { stage: 'train' },
  tags: [['team', 'vision']],
  keyId,
  createdAt,
})

const part = (uploadId: string, number: number, n: number): PartRecord => ({
  uploadId,
  number,
  size: 5 << 20,
  etag: `"part-${n}"`,
  blob: `part-blob-${n}`,
  dataKeyId: `part-dk-${n}`,
  headerDigest: 'cd'.repeat(32),
  createdAt: 1_700_000_300_000 + n,
})

export function multipartConformance(make: MakeStore): void {
  describe('MultipartStore', () => {
    it('creates an upload and returns it exactly; an unknown one is undefined', async () => {
      const { store, key } = await withBucket(make)
      try {
        const u = upload('u1', 'models/a.pt', 10, key.id)
        await store.createUpload(u)
        assert.deepEqual(await store.getUpload('u1'), u)
        assert.equal(await store.getUpload('u404'), undefined)
      } finally {
        await store.close()
      }
    })

    it('lists uploads under a prefix by key then oldest first, up to a limit', async () => {
      const { store, key } = await withBucket(make)
      try {
        await store.createUpload(upload('u1', 'models/b.pt', 10, key.id))
        await store.createUpload(upload('u2', 'models/a.pt', 30, key.id))
        await store.createUpload(upload('u3', 'models/a.pt', 20, key.id))
        await store.createUpload(upload('u4', 'logs/x', 5, key.id))
        assert.deepEqual(
          (await store.listUploads('b', 'models/', 10)).map((u) => u.id),
          ['u3', 'u2', 'u1'],
        )
        assert.deepEqual(
          (await store.listUploads('b', 'models/', 2)).map((u) => u.id),
          ['u3', 'u2'],
        )
        assert.deepEqual(
          (await store.listUploads('b', '', 10)).map((u) => u.id),
          ['u4', 'u3', 'u2', 'u1'],
        )
      } finally {
        await store.close()
      }
    })

    it('stores parts by number; a part with the same number replaces the old one and its data key', async () => {
      const { store, tenant, key } = await withBucket(make)
      try {
        await store.createUpload(upload('u1', 'k', 1, key.id))
        assert.equal(await store.putPart(part('u1', 2, 1), wrapped(tenant, key)), undefined)
        assert.equal(await store.putPart(part('u1', 1, 2), wrapped(tenant, key)), undefined)
        assert.deepEqual(
          await store.putPart(part('u1', 2, 3), wrapped(tenant, key)),
          part('u1', 2, 1),
        )
        assert.deepEqual(await store.listParts('u1'), [part('u1', 1, 2), part('u1', 2, 3)])
        assert.equal(
          await store.getObjectKey('part-dk-1'),
          undefined,
          'the replaced key is shredded',
        )
        assert.equal((await store.getObjectKey('part-dk-3'))?.keyId, key.id)
        assert.deepEqual(await store.listParts('u404'), [])
      } finally {
        await store.close()
      }
    })

    it('removes an upload with its parts and their data keys, and answers the parts removed', async () => {
      const { store, tenant, key } = await withBucket(make)
      try {
        await store.createUpload(upload('u1', 'k', 1, key.id))
        await store.putPart(part('u1', 1, 1), wrapped(tenant, key))
        await store.putPart(part('u1', 2, 2), wrapped(tenant, key))
        assert.deepEqual(await store.deleteUpload('u1'), [part('u1', 1, 1), part('u1', 2, 2)])
        assert.equal(await store.getUpload('u1'), undefined)
        assert.deepEqual(await store.listParts('u1'), [])
        assert.equal(await store.getObjectKey('part-dk-1'), undefined)
        assert.equal(await store.getObjectKey('part-dk-2'), undefined)
        assert.deepEqual(await store.deleteUpload('u1'), [])
      } finally {
        await store.close()
      }
    })

    it('lists the blob of every part among the blobs rows refer to', async () => {
      const { store, tenant, key, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        await store.createUpload(upload('u1', 'k', 1, key.id))
        await store.putPart(part('u1', 1, 7), wrapped(tenant, key))
        assert.deepEqual([...(await store.blobIds())].sort(), ['blob-1', 'part-blob-7'])
      } finally {
        await store.close()
      }
    })
  })
}
