/** BucketStore conformance: global names, configuration, deletion only when empty, name holds. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import {
  bucketRecord,
  keyRecord,
  keyVersion,
  tenant,
  using,
  V1,
  withBucket,
  type MakeStore,
  outcome,
} from './fixtures.ts'

export function bucketsConformance(make: MakeStore): void {
  describe('BucketStore', () => {
    it('creates a bucket and returns it exactly; an unknown name is undefined', async () => {
      const { store, bucket } = await withBucket(make)
      try {
        assert.deepEqual(await store.getBucket('b'), bucket)
        assert.equal(await store.getBucket('nope'), undefined)
      } finally {
        await store.close()
      }
    })

    it('refuses a name that is taken, by any tenant, with BUCKET_EXISTS and keeps the first', async () => {
      const { store, bucket } = await withBucket(make)
      try {
        const other = tenant(2)
        await store.createTenant(other)
        const k = keyRecord(other, 2)
        await store.createKey(k, keyVersion(k, 1))
        await assert.rejects(store.createBucket(bucketRecord(other, k, 'b')), (e) =>
          isStrongroomError(e, 'BUCKET_EXISTS'),
        )
        await assert.rejects(store.createBucket({ ...bucket, createdAt: 9 }), (e) =>
          isStrongroomError(e, 'BUCKET_EXISTS'),
        )
        assert.deepEqual(await store.getBucket('b'), bucket)
        assert.deepEqual(await store.listBuckets(other.id), [])
      } finally {
        await store.close()
      }
    })

    it('lists a tenant’s buckets by name, and only its own', () =>
      using(make, async (store) => {
        const a = tenant(1)
        const b = tenant(2)
        await store.createTenant(a)
        await store.createTenant(b)
        const ka = keyRecord(a, 1)
        const kb = keyRecord(b, 2)
        await store.createKey(ka, keyVersion(ka, 1))
        await store.createKey(kb, keyVersion(kb, 1))
        for (const name of ['models', 'data', 'logs'])
          await store.createBucket(bucketRecord(a, ka, name))
        await store.createBucket(bucketRecord(b, kb, 'audio'))
        assert.deepEqual(
          (await store.listBuckets(a.id)).map((x) => x.name),
          ['data', 'logs', 'models'],
        )
        assert.deepEqual(
          (await store.listBuckets(b.id)).map((x) => x.name),
          ['audio'],
        )
      }))

    it('changes each configuration switch alone', async () => {
      const { store, tenant: t, bucket } = await withBucket(make)
      try {
        const k2 = keyRecord(t, 2)
        await store.createKey(k2, keyVersion(k2, 1))
        await store.setBucketPolicy('b', '{"Version":"2012-10-17"}')
        await store.setBucketVersioning('b', 'Enabled')
        await store.setBucketKey('b', k2.id)
        const block = {
          blockPublicAcls: true,
          ignorePublicAcls: false,
          blockPublicPolicy: false,
          restrictPublicBuckets: true,
        }
        await store.setPublicAccessBlock('b', block)
        await store.setScanPolicy('b', 'enforce')
        assert.deepEqual(await store.getBucket('b'), {
          ...bucket,
          policy: '{"Version":"2012-10-17"}',
          versioning: 'Enabled',
          keyId: k2.id,
          publicAccessBlock: block,
          scanPolicy: 'enforce',
        })
        await store.setBucketPolicy('b', null)
        await store.setBucketVersioning('b', 'Suspended')
        assert.equal((await store.getBucket('b'))?.policy, null)
        assert.equal((await store.getBucket('b'))?.versioning, 'Suspended')
      } finally {
        await store.close()
      }
    })

    it('Object Lock and suspended versioning never meet: each is refused in the write that would join them', async () => {
      const { store } = await withBucket(make)
      try {
        const lock = { objectLock: { mode: 'COMPLIANCE' as const, days: 1 } }
        assert.equal(await outcome(store.updateSettings('b', lock)), 'INVALID_BUCKET_STATE')
        await store.setBucketVersioning('b', 'Suspended')
        assert.equal(await outcome(store.updateSettings('b', lock)), 'INVALID_BUCKET_STATE')
        assert.equal((await store.getBucket('b'))?.settings?.objectLock, undefined)
        await store.setBucketVersioning('b', 'Enabled')
        assert.equal(await outcome(store.updateSettings('b', lock)), 'written')
        assert.equal(
          await outcome(store.setBucketVersioning('b', 'Suspended')),
          'INVALID_BUCKET_STATE',
        )
        assert.equal((await store.getBucket('b'))?.versioning, 'Enabled')
        assert.equal(await outcome(store.setBucketVersioning('b', 'Enabled')), 'written')
      } finally {
        await store.close()
      }
    })

    it('deletes an empty bucket and holds its name for its tenant until it is created again', async () => {
      const { store, tenant: t, key, bucket } = await withBucket(make)
      try {
        assert.equal(await store.bucketHold('b'), undefined)
        assert.equal(await store.deleteBucket('b', 1234), 'deleted')
        assert.equal(await store.getBucket('b'), undefined)
        assert.deepEqual(await store.listBuckets(t.id), [])
        assert.deepEqual(await store.bucketHold('b'), {
          name: 'b',
          tenantId: t.id,
          deletedAt: 1234,
        })
        assert.equal(await store.deleteBucket('b', 5678), 'deleted', 'a missing bucket is gone')
        assert.equal((await store.bucketHold('b'))?.deletedAt, 1234)
        await store.createBucket(bucketRecord(t, key, 'b'))
        assert.equal(await store.bucketHold('b'), undefined)
        assert.deepEqual(await store.getBucket('b'), bucket)
      } finally {
        await store.close()
      }
    })

    it('does not delete a bucket with an object, a noncurrent version or a delete marker', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        assert.equal(await store.deleteBucket('b', 1), 'objects')
        await put('k', V1, 2, 'Enabled', true)
        await store.deleteObject('b', 'k', 'null')
        assert.equal(await store.deleteBucket('b', 1), 'objects', 'a delete marker is content')
        assert.notEqual(await store.getBucket('b'), undefined)
        assert.equal(await store.bucketHold('b'), undefined)
      } finally {
        await store.close()
      }
    })

    it('does not delete a bucket with an unfinished multipart upload', async () => {
      const { store, bucket } = await withBucket(make)
      try {
        await store.createUpload({
          id: 'u1',
          bucket: 'b',
          key: 'k',
          contentType: null,
          metadata: {},
          tags: [],
          keyId: bucket.keyId,
          createdAt: 1,
        })
        assert.equal(await store.deleteBucket('b', 1), 'uploads')
        await store.deleteUpload('u1')
        assert.equal(await store.deleteBucket('b', 2), 'deleted')
      } finally {
        await store.close()
      }
    })
  })
}
