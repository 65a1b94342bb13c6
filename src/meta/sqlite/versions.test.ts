/**
 * Object versions in the SQLite store, as S3 defines them
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html):
 * which version a write replaces or keeps, which data keys are shredded, and
 * the upgrade of a schema-3 database.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { createTenant } from '../../identity/tenants.ts'
import { LocalKms } from '../../kms/local.ts'
import { ALL_BLOCKED, type ObjectRecord, type Versioning } from '../objects.ts'
import { MIGRATIONS } from './migrations.ts'
import { APPLICATION_ID, SqliteMetadataStore } from './store.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-versions-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function fixture(name: string) {
  const store = SqliteMetadataStore.open(join(dir, `${name}.sqlite`), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
  const tenant = await createTenant(store, 'vision')
  const key = await kms.createKey(tenant, { alias: 'models' })
  await store.createBucket({
    name: 'b',
    tenantId: tenant.id,
    keyId: key.id,
    policy: null,
    createdAt: 1,
    versioning: 'Unversioned',
    publicAccessBlock: ALL_BLOCKED,
    scanPolicy: 'report',
  })
  let n = 0
  const put = async (versionId: string, mode: Versioning, marker = false) => {
    n++
    const o: ObjectRecord = {
      bucket: 'b',
      key: 'k',
      versionId,
      deleteMarker: marker,
      size: marker ? 0 : n,
      etag: marker ? '' : `"${String(n)}"`,
      contentType: null,
      metadata: {},
      tags: [],
      checksums: {},
      blob: marker ? '' : `blob-${String(n)}`,
      dataKeyId: marker ? '' : `dk-${String(n)}`,
      keyId: marker ? '' : key.id,
      createdAt: n,
      scan: null,
    }
    const wk = marker
      ? undefined
      : { keyId: key.id, keyVersion: 1, wrapped: Buffer.alloc(8), tenantId: tenant.id }
    return (await store.putObject(o, wk, mode)).map((r) => r.blob)
  }
  const versions = async () =>
    (await store.listVersions('b', '', '', undefined, 100)).map(
      (v) => `${v.versionId}${v.isLatest ? '*' : ''}${v.deleteMarker ? ' (marker)' : ''}`,
    )
  return { store, put, versions }
}

const V1 = 'a'.repeat(32)
const V2 = 'b'.repeat(32)
const V3 = 'c'.repeat(32)

describe('object versions in SQLite', () => {
  it('unversioned: a write replaces the null version and hands back its blob', async () => {
    const { put, versions, store } = await fixture('unversioned')
    assert.deepEqual(await put('null', 'Unversioned'), [])
    assert.deepEqual(await put('null', 'Unversioned'), ['blob-1'])
    assert.deepEqual(await versions(), ['null*'])
    assert.equal(
      (await store.getObjectKey('dk-1')) === undefined,
      true,
      'the old data key is shredded',
    )
    assert.notEqual(await store.getObjectKey('dk-2'), undefined)
  })

  it('enabled: every write keeps the version before; deleting the current version promotes the newest older one', async () => {
    const { put, versions, store } = await fixture('enabled')
    await put('null', 'Unversioned')
    assert.deepEqual(await put(V1, 'Enabled'), [])
    assert.deepEqual(await put(V2, 'Enabled'), [])
    assert.deepEqual(await versions(), [`${V2}*`, V1, 'null'])
    assert.deepEqual(await put(V3, 'Enabled', true), [])
    assert.deepEqual(await versions(), [`${V3}* (marker)`, V2, V1, 'null'])
    assert.equal(
      (await store.listObjects('b', '', '', 10)).objects.length,
      0,
      'a delete marker hides the key',
    )
    const gone = await store.deleteObject('b', 'k', V3)
    assert.equal(gone?.deleteMarker, true)
    assert.equal((await store.getObject('b', 'k'))?.versionId, V2)
    await store.deleteObject('b', 'k', V1)
    assert.deepEqual(await versions(), [`${V2}*`, 'null'])
    assert.equal(
      await store.getObjectKey('dk-2'),
      undefined,
      "the removed version's key is shredded",
    )
    assert.equal((await store.getObject('b', 'k', 'null'))?.blob, 'blob-1')
    assert.equal(await store.deleteBucket('b', 1), 'objects')
  })

  it('suspended: a write replaces the null version wherever it is and keeps the others', async () => {
    const { put, versions } = await fixture('suspended')
    await put('null', 'Unversioned')
    await put(V1, 'Enabled')
    assert.deepEqual(await put('null', 'Suspended'), ['blob-1'], 'the older null version goes')
    assert.deepEqual(await versions(), ['null*', V1])
    assert.deepEqual(await put('null', 'Suspended'), ['blob-3'], 'the current null version goes')
    assert.deepEqual(await put('null', 'Suspended', true), ['blob-4'])
    assert.deepEqual(await versions(), ['null* (marker)', V1])
  })

  it('lists versions after a key and version-id marker', async () => {
    const { put, store } = await fixture('markers')
    await put(V1, 'Enabled')
    await put(V2, 'Enabled')
    await put(V3, 'Enabled')
    const after = await store.listVersions('b', '', 'k', V3, 10)
    assert.deepEqual(
      after.map((v) => v.versionId),
      [V2, V1],
    )
    assert.deepEqual(await store.listVersions('b', '', 'k', undefined, 10), [])
  })

  it('upgrades a schema-3 database: objects become null versions that keep their key', async () => {
    const path = join(dir, 'old.sqlite')
    const db = new DatabaseSync(path)
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`)
    for (const [i, m] of MIGRATIONS.slice(0, 3).entries())
      db.exec(`${m}; PRAGMA user_version = ${i + 1}`)
    db.exec(`
      INSERT INTO tenants VALUES ('t1', 'vision', 1);
      INSERT INTO keys (id, tenant_id, alias, description, state, current_version, created_at)
        VALUES ('key1', 't1', NULL, '', 'Enabled', 1, 1);
      INSERT INTO object_keys VALUES ('dk1', 't1', 'key1', 1, x'00', 1);
      INSERT INTO buckets VALUES ('b', 't1', 'key1', NULL, 1);
      INSERT INTO objects VALUES ('b', 'k', 3, '"e"', NULL, '{}', 'blob1', 'dk1', 1);
      INSERT INTO uploads VALUES ('u1', 'b', 'k', NULL, '{}', 1);
    `)
    db.close()
    const store = SqliteMetadataStore.open(path)
    const o = await store.getObject('b', 'k')
    assert.equal(o?.versionId, 'null')
    assert.equal(o.keyId, 'key1')
    assert.equal(o.blob, 'blob1')
    assert.deepEqual(o.tags, [])
    const b = await store.getBucket('b')
    assert.equal(b?.versioning, 'Unversioned')
    assert.deepEqual(b.publicAccessBlock, ALL_BLOCKED)
    assert.equal((await store.getUpload('u1'))?.keyId, 'key1')
    await store.close()
  })
})
