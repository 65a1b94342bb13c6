/**
 * ObjectStore conformance: which version a write replaces or keeps under each
 * versioning state (as S3 defines it), what a delete promotes, data keys
 * shredded with their versions, tags, inline bodies, and listing order and
 * markers.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { WriteCondition } from '../objects.ts'
import type { MetadataStore } from '../store.ts'
import {
  objectRecord,
  outcome,
  V1,
  V2,
  V3,
  withBucket,
  wrapped,
  type MakeStore,
} from './fixtures.ts'

const versions = async (store: MetadataStore, key = 'k') =>
  (await store.listVersions('b', key, '', undefined, 100))
    .filter((v) => v.key === key)
    .map((v) => `${v.versionId}${v.isLatest ? '*' : ''}${v.deleteMarker ? ' (marker)' : ''}`)

export function objectsConformance(make: MakeStore): void {
  describe('ObjectStore', () => {
    it('returns a stored version exactly; an unknown key or version is undefined', async () => {
      const { store, bucket, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        assert.deepEqual(await store.getObject('b', 'k'), objectRecord(bucket, 'k', 'null', 1))
        assert.deepEqual(
          await store.getObject('b', 'k', 'null'),
          objectRecord(bucket, 'k', 'null', 1),
        )
        assert.equal(await store.getObject('b', 'k', V1), undefined)
        assert.equal(await store.getObject('b', 'other'), undefined)
      } finally {
        await store.close()
      }
    })

    it('unversioned: a write replaces the current version, answers it, and shreds its data key', async () => {
      const { store, bucket, put } = await withBucket(make)
      try {
        assert.deepEqual(await put('k', 'null', 1, 'Unversioned'), [])
        assert.deepEqual(await put('k', 'null', 2, 'Unversioned'), [
          objectRecord(bucket, 'k', 'null', 1),
        ])
        assert.deepEqual(await versions(store), ['null*'])
        assert.equal(await store.getObjectKey('dk-1'), undefined)
        assert.equal((await store.getObjectKey('dk-2'))?.dataKeyId, 'dk-2')
      } finally {
        await store.close()
      }
    })

    it('enabled: each write keeps the one before; a delete promotes the newest older version', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        assert.deepEqual(await put('k', V1, 2, 'Enabled'), [])
        assert.deepEqual(await put('k', V2, 3, 'Enabled'), [])
        assert.deepEqual(await put('k', V3, 4, 'Enabled', true), [])
        assert.deepEqual(await versions(store), [`${V3}* (marker)`, V2, V1, 'null'])
        assert.equal((await store.getObject('b', 'k'))?.deleteMarker, true)
        const gone = await store.deleteObject('b', 'k', V3)
        assert.equal(gone?.versionId, V3)
        assert.equal((await store.getObject('b', 'k'))?.versionId, V2)
        assert.equal((await store.deleteObject('b', 'k', V1))?.blob, 'blob-2')
        assert.equal(await store.getObjectKey('dk-2'), undefined, 'its data key is shredded')
        assert.deepEqual(await versions(store), [`${V2}*`, 'null'])
        assert.equal(await store.deleteObject('b', 'k', V1), undefined, 'already gone')
        assert.equal((await store.deleteObject('b', 'k'))?.versionId, V2, 'no id: the current one')
        assert.deepEqual(await versions(store), ['null*'])
      } finally {
        await store.close()
      }
    })

    it('suspended: a write replaces the null version wherever it is and keeps the others', async () => {
      const { store, bucket, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        await put('k', V1, 2, 'Enabled')
        assert.deepEqual(await put('k', 'null', 3, 'Suspended'), [
          objectRecord(bucket, 'k', 'null', 1),
        ])
        assert.deepEqual(await versions(store), ['null*', V1])
        assert.deepEqual(
          (await put('k', 'null', 4, 'Suspended')).map((o) => o.blob),
          ['blob-3'],
        )
        assert.deepEqual(await versions(store), ['null*', V1])
      } finally {
        await store.close()
      }
    })

    it('a null write into a bucket whose versioning became Enabled, or over a locked version, changes nothing', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('k', 'null', 1, 'Unversioned')
        await put('h', 'null', 5, 'Unversioned')
        const far = 4_102_444_800_000 // 2100-01-01
        assert.ok(
          await store.updateObjectLock('b', 'k', 'null', () => ({
            mode: 'GOVERNANCE',
            retainUntil: far,
          })),
        )
        assert.ok(await store.updateObjectLock('b', 'h', 'null', () => ({ legalHold: true })))
        // Retained or held: the version the write would remove stays, whatever the writer read.
        assert.equal(await outcome(put('k', 'null', 2, 'Unversioned')), 'ACCESS_DENIED')
        assert.equal(await outcome(put('h', 'null', 6, 'Suspended')), 'ACCESS_DENIED')
        assert.equal((await store.getObject('b', 'k'))?.blob, 'blob-1')
        assert.equal((await store.getObject('b', 'h'))?.blob, 'blob-5')
        // A writer that read Suspended, committing after versioning was enabled.
        await store.setBucketVersioning('b', 'Enabled')
        assert.equal(await outcome(put('j', 'null', 7, 'Suspended')), 'OPERATION_ABORTED')
        assert.equal(await store.getObject('b', 'j'), undefined)
        assert.deepEqual(await versions(store), ['null*'])
      } finally {
        await store.close()
      }
    })

    it('one failing write does not undo another written at the same time', async () => {
      const { store, tenant, key, bucket } = await withBucket(make)
      try {
        const good = objectRecord(bucket, 'good', 'null', 1)
        const bad = { ...objectRecord(bucket, 'bad', 'null', 2), bucket: 'no-such-bucket' }
        const [a, b] = await Promise.allSettled([
          store.putObject(good, wrapped(tenant, key), 'Unversioned'),
          store.putObject(bad, wrapped(tenant, key), 'Unversioned'),
        ])
        assert.equal(a.status, 'fulfilled')
        assert.equal(b.status, 'rejected')
        assert.deepEqual(await store.getObject('b', 'good'), good)
        assert.equal(await store.getObjectKey('dk-2'), undefined, 'nothing of the failed write')
      } finally {
        await store.close()
      }
    })

    it('keeps a small body inline with its row, and drops it with its version', async () => {
      const { store, tenant, key, bucket } = await withBucket(make)
      try {
        const o = { ...objectRecord(bucket, 'k', 'null', 1), blob: 'inline-1' }
        await store.putObject(o, wrapped(tenant, key), 'Unversioned', Buffer.from('sealed bytes'))
        assert.deepEqual(
          Buffer.from((await store.getInlineBody('inline-1')) ?? []),
          Buffer.from('sealed bytes'),
        )
        await store.putObject(
          objectRecord(bucket, 'k', 'null', 2),
          wrapped(tenant, key),
          'Unversioned',
        )
        assert.equal(await store.getInlineBody('inline-1'), undefined)
      } finally {
        await store.close()
      }
    })

    it('a conditional write is checked against the current version in its own transaction', async () => {
      const { store, tenant, key, bucket } = await withBucket(make)
      const write = (n: number, condition: WriteCondition, k = 'k') =>
        store.putObject(
          objectRecord(bucket, k, 'null', n),
          wrapped(tenant, key),
          'Unversioned',
          undefined,
          condition,
        )
      try {
        assert.equal(await outcome(write(1, { ifMatch: '"any"' })), 'NO_SUCH_KEY')
        assert.equal(await outcome(write(1, { ifNoneMatch: true })), 'written')
        const etag = (await store.getObject('b', 'k'))?.etag ?? ''
        assert.equal(await outcome(write(2, { ifNoneMatch: true })), 'PRECONDITION_FAILED')
        assert.equal(await outcome(write(2, { ifMatch: '"other"' })), 'PRECONDITION_FAILED')
        assert.deepEqual(await store.getObject('b', 'k'), objectRecord(bucket, 'k', 'null', 1))
        // Quotes are optional in If-Match.
        assert.equal(await outcome(write(2, { ifMatch: etag.replaceAll('"', '') })), 'written')
        assert.deepEqual(await store.getObject('b', 'k'), objectRecord(bucket, 'k', 'null', 2))
        // Two writers with If-None-Match: * on a fresh key: one wins.
        const both = await Promise.all([
          outcome(write(3, { ifNoneMatch: true }, 'j')),
          outcome(write(4, { ifNoneMatch: true }, 'j')),
        ])
        assert.deepEqual(both.sort(), ['PRECONDITION_FAILED', 'written'])
      } finally {
        await store.close()
      }
    })

    it('replaces the tags of the current version or of the version named, never of a delete marker', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('k', V1, 1, 'Enabled')
        await put('k', V2, 2, 'Enabled')
        const tags = [
          ['b', '2'],
          ['a', '1'],
        ] as const
        assert.equal(await store.setObjectTags('b', 'k', undefined, tags), true)
        assert.deepEqual((await store.getObject('b', 'k'))?.tags, tags, 'in the order given')
        assert.equal(await store.setObjectTags('b', 'k', V1, [['old', 'yes']]), true)
        assert.deepEqual((await store.getObject('b', 'k', V1))?.tags, [['old', 'yes']])
        assert.deepEqual((await store.getObject('b', 'k'))?.tags, tags)
        assert.equal(await store.setObjectTags('b', 'k', V3, []), false)
        assert.equal(await store.setObjectTags('b', 'none', undefined, []), false)
        await put('k', V3, 3, 'Enabled', true)
        assert.equal(await store.setObjectTags('b', 'k', undefined, []), false)
        assert.equal(await store.setObjectTags('b', 'k', V3, []), false)
      } finally {
        await store.close()
      }
    })

    it('lists current objects in key order after a marker, under a prefix, with the truncation marker', async () => {
      const { store, put } = await withBucket(make)
      try {
        let n = 0
        for (const key of ['a/3', 'a/1', 'b/1', 'a/2', 'a/4'])
          await put(key, 'null', ++n, 'Unversioned')
        await put('a/5', V1, ++n, 'Enabled', true)
        const page = async (prefix: string, after: string, limit: number) => {
          const p = await store.listObjects('b', prefix, after, limit)
          return { keys: p.objects.map((o) => o.key), next: p.truncatedAfter }
        }
        assert.deepEqual(await page('a/', '', 2), { keys: ['a/1', 'a/2'], next: 'a/2' })
        assert.deepEqual(await page('a/', 'a/2', 1), { keys: ['a/3'], next: 'a/3' })
        assert.deepEqual(
          await page('a/', 'a/2', 2),
          { keys: ['a/3', 'a/4'], next: undefined },
          'the delete marker of a/5 is not a key that follows',
        )
        assert.deepEqual(await page('a/', 'a/4', 2), { keys: [], next: undefined })
        assert.deepEqual(
          await page('', '', 10),
          { keys: ['a/1', 'a/2', 'a/3', 'a/4', 'b/1'], next: undefined },
          'a delete marker hides its key',
        )
        assert.deepEqual(await page('', '', 5), {
          keys: ['a/1', 'a/2', 'a/3', 'a/4', 'b/1'],
          next: undefined,
        })
        assert.deepEqual(await page('c', '', 10), { keys: [], next: undefined })
      } finally {
        await store.close()
      }
    })

    it('lists versions by key then newest first, after a key and version-id marker', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('k', V1, 1, 'Enabled')
        await put('k', V2, 2, 'Enabled')
        await put('k', V3, 3, 'Enabled', true)
        await put('l', 'null', 4, 'Unversioned')
        const rows = async (afterKey: string, afterVersion: string | undefined, limit: number) =>
          (await store.listVersions('b', '', afterKey, afterVersion, limit)).map(
            (v) => `${v.key}@${v.versionId}${v.isLatest ? '*' : ''}`,
          )
        assert.deepEqual(await rows('', undefined, 10), [
          `k@${V3}*`,
          `k@${V2}`,
          `k@${V1}`,
          'l@null*',
        ])
        assert.deepEqual(await rows('', undefined, 2), [`k@${V3}*`, `k@${V2}`])
        assert.deepEqual(await rows('k', V2, 10), [`k@${V1}`, 'l@null*'])
        assert.deepEqual(await rows('k', undefined, 10), ['l@null*'], 'after every version of k')
        // The marker version deleted since it was listed: from k's newest version, not past k.
        await store.deleteObject('b', 'k', V2)
        assert.deepEqual(await rows('k', V2, 10), [`k@${V3}*`, `k@${V1}`, 'l@null*'])
        assert.deepEqual(
          await store.listVersions('b', 'l', '', undefined, 10).then((v) => v.length),
          1,
        )
      } finally {
        await store.close()
      }
    })
  })
}
