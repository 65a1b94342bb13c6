/** KeyStore conformance: keys, versions, wrap budgets, due keys, shredding, key policies, data keys. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import type { KeyVersionRecord, ObjectKeyRecord } from '../keys.ts'
import type { MetadataStore } from '../store.ts'
import { keyRecord, keyVersion, tenant, using, type MakeStore } from './fixtures.ts'

const aliasRecord = (tenantId: string, name: string, keyId: string, at: number) => ({
  tenantId,
  name,
  keyId,
  createdAt: at,
  updatedAt: at,
})

const plainVersion = (v: KeyVersionRecord | undefined) =>
  v === undefined ? undefined : { ...v, material: Buffer.from(v.material) }

async function withTenants(store: MetadataStore) {
  const a = tenant(1, 'a')
  const b = tenant(2, 'b')
  await store.createTenant(a)
  await store.createTenant(b)
  return { a, b }
}

export function keysConformance(make: MakeStore): void {
  describe('KeyStore', () => {
    it('creates a key with its first version; finds it by id and by alias', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1, 'alias/models')
        await store.createKey(k, keyVersion(k, 1))
        assert.deepEqual(await store.getKey(k.id), k)
        assert.deepEqual(await store.getKeyByAlias(a.id, 'alias/models'), k)
        assert.deepEqual(plainVersion(await store.getKeyVersion(k.id, 1)), keyVersion(k, 1))
        assert.equal(await store.getKeyVersion(k.id, 2), undefined)
        assert.equal(await store.getKey(keyRecord(a, 404).id), undefined)
        assert.equal(await store.getKeyByAlias(a.id, 'alias/other'), undefined)
      }))

    it('refuses an alias taken in the tenant with KEY_EXISTS, writing nothing; another tenant may use it', () =>
      using(make, async (store) => {
        const { a, b } = await withTenants(store)
        const k1 = keyRecord(a, 1, 'alias/models')
        await store.createKey(k1, keyVersion(k1, 1))
        const k2 = keyRecord(a, 2, 'alias/models')
        await assert.rejects(store.createKey(k2, keyVersion(k2, 1)), (e) =>
          isStrongroomError(e, 'KEY_EXISTS'),
        )
        assert.equal(await store.getKey(k2.id), undefined)
        assert.equal(await store.getKeyVersion(k2.id, 1), undefined, 'the version is not kept')
        const k3 = keyRecord(b, 3, 'alias/models')
        await store.createKey(k3, keyVersion(k3, 1))
        assert.equal((await store.getKeyByAlias(b.id, 'alias/models'))?.id, k3.id)
        assert.equal((await store.getKeyByAlias(a.id, 'alias/models'))?.id, k1.id)
      }))

    it('lists a tenant’s keys oldest first, then by id', () =>
      using(make, async (store) => {
        const { a, b } = await withTenants(store)
        const late = { ...keyRecord(a, 1), createdAt: 30 }
        const early = { ...keyRecord(a, 2), createdAt: 10 }
        const tieLow = { ...keyRecord(a, 3), createdAt: 20 }
        const tieHigh = { ...keyRecord(a, 4), createdAt: 20 }
        for (const k of [late, tieHigh, early, tieLow]) await store.createKey(k, keyVersion(k, 1))
        const other = keyRecord(b, 5)
        await store.createKey(other, keyVersion(other, 1))
        assert.deepEqual(
          (await store.listKeys(a.id)).map((k) => k.id),
          [early.id, tieLow.id, tieHigh.id, late.id],
        )
      }))

    it('updates a key and adds versions that become current', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1, 'alias/one')
        await store.createKey(k, keyVersion(k, 1))
        const disabled = { ...k, state: 'Disabled' as const, description: 'changed' }
        await store.updateKey(disabled)
        assert.deepEqual(await store.getKey(k.id), disabled)
        const rotated = { ...k, currentVersion: 2, nextRotationAt: 99 }
        await store.addKeyVersion(rotated, keyVersion(k, 2), 'AUTOMATIC')
        assert.deepEqual(await store.getKey(k.id), rotated)
        assert.deepEqual(plainVersion(await store.getKeyVersion(k.id, 2)), keyVersion(k, 2))
        assert.deepEqual(plainVersion(await store.getKeyVersion(k.id, 1)), keyVersion(k, 1))
        await store.resealKeyVersion(k.id, 1, Buffer.from('resealed'))
        assert.deepEqual(
          Buffer.from((await store.getKeyVersion(k.id, 1))?.material ?? []),
          Buffer.from('resealed'),
        )
      }))

    it('reserves wrap slots up to the limit and no further; KEY_DELETED for a missing version', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1)
        await store.createKey(k, keyVersion(k, 1))
        assert.deepEqual(await store.reserveWraps(k.id, 1, 3, 5), { start: 0, end: 3 })
        assert.deepEqual(await store.reserveWraps(k.id, 1, 3, 5), { start: 3, end: 5 })
        assert.deepEqual(await store.reserveWraps(k.id, 1, 3, 5), { start: 5, end: 5 })
        await assert.rejects(store.reserveWraps(k.id, 2, 1, 5), (e) =>
          isStrongroomError(e, 'KEY_DELETED'),
        )
      }))

    it('answers the keys due at a time: deletions and rotations that are due, by id', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const keys = [
          { ...keyRecord(a, 4), state: 'PendingDeletion' as const, deletionAt: 100 },
          { ...keyRecord(a, 2), nextRotationAt: 50 },
          { ...keyRecord(a, 3), nextRotationAt: 101 },
          { ...keyRecord(a, 1), state: 'Disabled' as const, nextRotationAt: 10 },
          { ...keyRecord(a, 5), state: 'PendingDeletion' as const, deletionAt: 200 },
        ]
        for (const k of keys) await store.createKey(k, keyVersion(k, 1))
        assert.deepEqual(
          (await store.dueKeys(100)).map((k) => k.id),
          [keyRecord(a, 2).id, keyRecord(a, 4).id],
        )
        assert.deepEqual(await store.dueKeys(0), [])
      }))

    it('shreds a key: marked Deleted and every version’s material gone', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1)
        await store.createKey(k, keyVersion(k, 1))
        await store.addKeyVersion({ ...k, currentVersion: 2 }, keyVersion(k, 2), 'ON_DEMAND')
        const deleted = { ...k, currentVersion: 2, state: 'Deleted' as const, deletedAt: 77 }
        await store.shredKey(deleted)
        assert.deepEqual(await store.getKey(k.id), deleted)
        assert.equal(await store.getKeyVersion(k.id, 1), undefined)
        assert.equal(await store.getKeyVersion(k.id, 2), undefined)
      }))

    it('shredding a key drops its aliases, so the names are free again', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1, 'alias/one')
        await store.createKey(k, keyVersion(k, 1))
        await store.createAlias(aliasRecord(a.id, 'alias/two', k.id, 5))
        await store.shredKey({ ...k, state: 'Deleted', deletedAt: 9 })
        assert.deepEqual(await store.listAliases(a.id), [])
        assert.equal((await store.getKey(k.id))?.alias, null)
        const k2 = keyRecord(a, 2, 'alias/one')
        await store.createKey(k2, keyVersion(k2, 1))
        assert.equal((await store.getKeyByAlias(a.id, 'alias/one'))?.id, k2.id)
      }))

    it('keeps several aliases per key: created, found, moved, deleted, listed by name; a key shows its oldest', () =>
      using(make, async (store) => {
        const { a, b } = await withTenants(store)
        const k1 = keyRecord(a, 1, 'alias/first')
        const k2 = keyRecord(a, 2)
        for (const k of [k1, k2]) await store.createKey(k, keyVersion(k, 1))
        const second = aliasRecord(a.id, 'alias/second', k1.id, k1.createdAt + 10)
        await store.createAlias(second)
        const k3 = keyRecord(b, 3, 'alias/second')
        await store.createKey(k3, keyVersion(k3, 1))
        assert.equal((await store.getKeyByAlias(a.id, 'alias/second'))?.id, k1.id)
        assert.equal((await store.getKeyByAlias(b.id, 'alias/second'))?.id, k3.id)
        assert.equal((await store.getKey(k1.id))?.alias, 'alias/first')
        assert.equal((await store.getKey(k2.id))?.alias, null)
        await assert.rejects(store.createAlias(aliasRecord(a.id, 'alias/first', k2.id, 99)), (e) =>
          isStrongroomError(e, 'KEY_EXISTS'),
        )
        assert.deepEqual(await store.getAlias(a.id, 'alias/second'), second)
        assert.equal(await store.updateAlias(a.id, 'alias/first', k2.id, 500), true)
        assert.equal(await store.updateAlias(a.id, 'alias/none', k2.id, 500), false)
        assert.deepEqual(await store.getAlias(a.id, 'alias/first'), {
          ...aliasRecord(a.id, 'alias/first', k2.id, k1.createdAt),
          updatedAt: 500,
        })
        assert.equal((await store.getKey(k1.id))?.alias, 'alias/second')
        assert.equal((await store.getKey(k2.id))?.alias, 'alias/first')
        assert.deepEqual(
          (await store.listAliases(a.id)).map((x) => [x.name, x.keyId]),
          [
            ['alias/first', k2.id],
            ['alias/second', k1.id],
          ],
        )
        assert.equal(await store.deleteAlias(a.id, 'alias/second'), true)
        assert.equal(await store.deleteAlias(a.id, 'alias/second'), false)
        assert.equal(await store.getKeyByAlias(a.id, 'alias/second'), undefined)
        assert.equal((await store.getKey(k1.id))?.alias, null)
      }))

    it('keeps a key’s tags through create and update, in order', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const tags = [
          { TagKey: 'team', TagValue: 'vision' },
          { TagKey: 'Team', TagValue: '' },
        ]
        const k = { ...keyRecord(a, 1), tags }
        await store.createKey(k, keyVersion(k, 1))
        assert.deepEqual((await store.getKey(k.id))?.tags, tags)
        await store.updateKey({ ...k, tags: [{ TagKey: 'x', TagValue: 'ü' }] })
        assert.deepEqual((await store.listKeys(a.id))[0]?.tags, [{ TagKey: 'x', TagValue: 'ü' }])
      }))

    it('lists a key’s rotations after the first version, oldest first, with their type', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1)
        await store.createKey(k, keyVersion(k, 1))
        assert.deepEqual(await store.listKeyRotations(k.id), [])
        await store.addKeyVersion({ ...k, currentVersion: 2 }, keyVersion(k, 2), 'ON_DEMAND')
        await store.addKeyVersion({ ...k, currentVersion: 3 }, keyVersion(k, 3), 'AUTOMATIC')
        assert.deepEqual(await store.listKeyRotations(k.id), [
          { version: 2, rotatedAt: k.createdAt + 2, type: 'ON_DEMAND' },
          { version: 3, rotatedAt: k.createdAt + 3, type: 'AUTOMATIC' },
        ])
      }))

    it('keeps a key policy: none until put, then the latest document', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1)
        await store.createKey(k, keyVersion(k, 1))
        assert.equal(await store.getKeyPolicy(k.id), undefined)
        await store.putKeyPolicy(k.id, '{"v":1}')
        await store.putKeyPolicy(k.id, '{"v":2}')
        assert.equal(await store.getKeyPolicy(k.id), '{"v":2}')
      }))

    it('stores, returns and deletes an object data key; deleting twice answers false', () =>
      using(make, async (store) => {
        const { a } = await withTenants(store)
        const k = keyRecord(a, 1)
        await store.createKey(k, keyVersion(k, 1))
        const dk: ObjectKeyRecord = {
          dataKeyId: 'dk-1',
          tenantId: a.id,
          keyId: k.id,
          keyVersion: 1,
          wrapped: Buffer.from('wrapped'),
          createdAt: 5,
        }
        await store.putObjectKey(dk)
        const got = await store.getObjectKey('dk-1')
        assert.deepEqual(got && { ...got, wrapped: Buffer.from(got.wrapped) }, dk)
        assert.equal(await store.deleteObjectKey('dk-1'), true)
        assert.equal(await store.getObjectKey('dk-1'), undefined)
        assert.equal(await store.deleteObjectKey('dk-1'), false)
      }))
  })
}
