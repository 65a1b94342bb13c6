/**
 * MultipartStore conformance: uploads, parts replaced by number with their
 * data keys, aborts, and Complete moving the chosen parts to the object (whose
 * part rows then live and die with its version).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import type { BucketRecord } from '../buckets.ts'
import type { UploadCursor, PartRecord, UploadRecord } from '../multipart.ts'
import { MULTIPART_BLOB, type ObjectPart, type ObjectRecord } from '../objects.ts'
import { V1, V2, withBucket, wrapped, type MakeStore } from './fixtures.ts'

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

/** The object a Complete of `uploadId` makes: no data key or header of its own, the parts' total size. */
function completed(
  bucket: BucketRecord,
  key: string,
  versionId: string,
  uploadId: string,
  parts: readonly PartRecord[],
): ObjectRecord {
  return {
    bucket: bucket.name,
    key,
    versionId,
    deleteMarker: false,
    size: parts.reduce((n, p) => n + p.size, 0),
    etag: `"multipart-${parts.length}"`,
    contentType: 'application/x-model',
    metadata: { stage: 'train' },
    tags: [['team', 'vision']],
    checksums: {},
    blob: `${MULTIPART_BLOB}${uploadId}`,
    dataKeyId: '',
    keyId: bucket.keyId,
    createdAt: 1_700_000_400_000,
    scan: null,
  }
}

/** A part as the completed object keeps it. */
const kept = (p: PartRecord): ObjectPart => ({
  number: p.number,
  size: p.size,
  etag: p.etag,
  blob: p.blob,
  dataKeyId: p.dataKeyId,
  ...(p.headerDigest === undefined ? {} : { headerDigest: p.headerDigest }),
})

/** `record` as a store answers it: with its parts. */
const stored = (record: ObjectRecord, parts: readonly PartRecord[]): ObjectRecord => ({
  ...record,
  parts: parts.map(kept),
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
          (await store.listUploads('b', 'models/', undefined, 10)).map((u) => u.id),
          ['u3', 'u2', 'u1'],
        )
        assert.deepEqual(
          (await store.listUploads('b', 'models/', undefined, 2)).map((u) => u.id),
          ['u3', 'u2'],
        )
        assert.deepEqual(
          (await store.listUploads('b', '', undefined, 10)).map((u) => u.id),
          ['u4', 'u3', 'u2', 'u1'],
        )
      } finally {
        await store.close()
      }
    })

    it('resumes a listing of uploads after a key, or after one upload of that key', async () => {
      const { store, key } = await withBucket(make)
      try {
        // Same key, same instant: the upload id breaks the tie.
        await store.createUpload(upload('u1', 'a', 10, key.id))
        await store.createUpload(upload('u9', 'a', 20, key.id))
        await store.createUpload(upload('u5', 'a', 20, key.id))
        await store.createUpload(upload('u2', 'b', 5, key.id))
        const ids = async (after: UploadCursor | undefined) =>
          (await store.listUploads('b', '', after, 10)).map((u) => u.id)
        assert.deepEqual(await ids(undefined), ['u1', 'u5', 'u9', 'u2'])
        // key-marker alone: only keys after it.
        assert.deepEqual(await ids({ key: 'a' }), ['u2'])
        assert.deepEqual(await ids({ key: '' }), ['u1', 'u5', 'u9', 'u2'])
        // With an upload id: past that upload in the key's order (oldest first).
        assert.deepEqual(await ids({ key: 'a', uploadId: 'u1' }), ['u5', 'u9', 'u2'])
        assert.deepEqual(await ids({ key: 'a', uploadId: 'u5' }), ['u9', 'u2'])
        assert.deepEqual(await ids({ key: 'a', uploadId: 'u9' }), ['u2'])
        assert.deepEqual(await ids({ key: 'b', uploadId: 'u2' }), [])
        // An id that is not one of the key's uploads (one aborted since it was listed): from
        // the key's first upload, repeating rather than skipping.
        assert.deepEqual(await ids({ key: 'a', uploadId: 'u6' }), ['u1', 'u5', 'u9', 'u2'])
        assert.deepEqual(await ids({ key: 'b', uploadId: 'u1' }), ['u2'])
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

    it('Complete moves the chosen parts to the object in number order and drops the upload, its other parts and their keys', async () => {
      const { store, tenant, key, bucket } = await withBucket(make)
      try {
        await store.createUpload(upload('u1', 'k', 1, key.id))
        for (const [number, n] of [
          [3, 3],
          [1, 1],
          [2, 2],
          [4, 4],
        ] as const)
          await store.putPart(part('u1', number, n), wrapped(tenant, key))
        const chosen = [part('u1', 1, 1), part('u1', 3, 3), part('u1', 4, 4)]
        const object = completed(bucket, 'k', 'null', 'u1', chosen)
        assert.deepEqual(await store.completeUpload(object, chosen, 'Unversioned'), {
          replaced: [],
          unused: [part('u1', 2, 2)],
        })
        assert.equal(await store.getUpload('u1'), undefined)
        assert.deepEqual(await store.listParts('u1'), [])
        assert.deepEqual(await store.objectParts('u1'), chosen.map(kept))
        assert.deepEqual(await store.getObject('b', 'k'), stored(object, chosen))
        assert.equal(
          await store.getObjectKey('part-dk-2'),
          undefined,
          'the left-out key is shredded',
        )
        for (const n of [1, 3, 4])
          assert.equal((await store.getObjectKey(`part-dk-${n}`))?.keyId, key.id)
        // The object's row names its upload, not a blob: the blobs are its parts'.
        assert.deepEqual([...(await store.blobIds())].filter((b) => b.startsWith('part-')).sort(), [
          'part-blob-1',
          'part-blob-3',
          'part-blob-4',
        ])
        assert.deepEqual(await store.objectParts('u404'), [])
      } finally {
        await store.close()
      }
    })

    it('Complete refuses a part that is no longer the one given, and changes nothing', async () => {
      const { store, tenant, key, bucket } = await withBucket(make)
      try {
        await store.createUpload(upload('u1', 'k', 1, key.id))
        await store.putPart(part('u1', 1, 1), wrapped(tenant, key))
        await store.putPart(part('u1', 2, 2), wrapped(tenant, key))
        const stale = [part('u1', 1, 1), part('u1', 2, 9)]
        await assert.rejects(
          store.completeUpload(completed(bucket, 'k', 'null', 'u1', stale), stale, 'Unversioned'),
          (e) => isStrongroomError(e, 'INTERNAL'),
        )
        assert.deepEqual(await store.listParts('u1'), [part('u1', 1, 1), part('u1', 2, 2)])
        assert.deepEqual(await store.objectParts('u1'), [])
        assert.equal(await store.getObject('b', 'k'), undefined)
        assert.equal((await store.getObjectKey('part-dk-1'))?.keyId, key.id)
      } finally {
        await store.close()
      }
    })

    it('deleting or replacing a multipart version removes its part rows and keys, answering it with its parts', async () => {
      const { store, tenant, key, bucket, put } = await withBucket(make)
      try {
        const done: PartRecord[][] = []
        for (const [id, versionId, n] of [
          ['u1', V1, 1],
          ['u2', V2, 2],
        ] as const) {
          await store.createUpload(upload(id, 'k', n, key.id))
          const parts = [part(id, 1, 10 * n), part(id, 2, 10 * n + 1)]
          for (const p of parts) await store.putPart(p, wrapped(tenant, key))
          const object = completed(bucket, 'k', versionId, id, parts)
          const { replaced } = await store.completeUpload(object, parts, 'Enabled')
          assert.deepEqual(replaced, [])
          done.push(parts)
        }
        const [first = [], second = []] = done
        // Deleting the noncurrent version V1 removes its rows; V2 keeps its own.
        assert.deepEqual(
          await store.deleteObject('b', 'k', V1),
          stored(completed(bucket, 'k', V1, 'u1', first), first),
        )
        assert.deepEqual(await store.objectParts('u1'), [])
        assert.equal(await store.getObjectKey('part-dk-10'), undefined)
        assert.equal(await store.getObjectKey('part-dk-11'), undefined)
        assert.deepEqual(await store.objectParts('u2'), second.map(kept))
        // A write under Unversioned replaces the current version V2: it comes back with its parts.
        assert.deepEqual(await put('k', 'null', 3, 'Unversioned'), [
          stored(completed(bucket, 'k', V2, 'u2', second), second),
        ])
        assert.deepEqual(await store.objectParts('u2'), [])
        assert.equal(await store.getObjectKey('part-dk-20'), undefined)
        assert.deepEqual([...(await store.blobIds())].sort(), ['blob-3'])
      } finally {
        await store.close()
      }
    })
  })
}
