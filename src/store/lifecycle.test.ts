/**
 * The lifecycle sweeper on a real SQLite store and object service, with an injected clock:
 * current and noncurrent expiration, delete markers left alone, unfinished uploads, and Object
 * Lock winning over every rule. S3's rules:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html (N days end
 * at the next midnight UTC), https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fixedClock } from '../clock.ts'
import { createTenant } from '../identity/tenants.ts'
import { LocalKms } from '../kms/local.ts'
import {
  ALL_BLOCKED,
  type BucketRecord,
  type LifecycleRule,
  type Versioning,
} from '../meta/objects.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { dueAt, sweepLifecycle, type LifecycleTarget } from './lifecycle.ts'
import { MemoryBlobStore } from './memory-blobs.ts'
import { ObjectService } from './objects.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-lifecycle-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const DAY = 86_400_000
/** 2026-01-10T12:00:00Z */
const T0 = Date.UTC(2026, 0, 10, 12)

async function fixture(versioning: Versioning, rules: LifecycleRule[]) {
  const store = SqliteMetadataStore.open(join(dir, `${String(++n)}.sqlite`), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
  const tenant = await createTenant(store, 'vision')
  const key = await kms.createKey(tenant, { alias: 'models' })
  const name = 'b'
  await store.createBucket({
    name,
    tenantId: tenant.id,
    keyId: key.id,
    policy: null,
    createdAt: T0,
    versioning,
    publicAccessBlock: ALL_BLOCKED,
    scanPolicy: 'off',
  })
  await store.updateSettings(name, { lifecycle: rules })
  const clock = fixedClock(T0)
  const objects = new ObjectService({
    meta: store,
    blobs: new MemoryBlobStore(),
    provider: kms,
    keys: kms,
    clock,
    segmentSize: 64 * 1024,
  })
  const bucket = async (): Promise<BucketRecord> => {
    const b = await store.getBucket(name)
    assert.ok(b !== undefined)
    return b
  }
  const put = async (k: string, extra: { tags?: [string, string][]; lock?: object } = {}) =>
    objects.put({
      bucket: await bucket(),
      tenant,
      key: k,
      body: [Buffer.from(k)],
      expect: { length: Buffer.byteLength(k) },
      contentType: null,
      metadata: {},
      tags: extra.tags ?? [],
      ...(extra.lock === undefined ? {} : { lock: extra.lock }),
    })
  const target: LifecycleTarget = { meta: store, objects }
  const keys = async () =>
    (await store.listVersions(name, '', '', undefined, 1000)).map(
      (v) => `${v.key}${v.deleteMarker ? ' (marker)' : ''}${v.isLatest ? '' : ' (old)'}`,
    )
  return { store, objects, clock, put, bucket, target, keys, tenant }
}

const rule = (r: Partial<LifecycleRule>): LifecycleRule => ({
  id: 'r',
  enabled: true,
  prefix: '',
  tags: [],
  ...r,
})

describe('lifecycle sweeper', () => {
  it('N days end at the first midnight UTC after creation + N days', () => {
    assert.equal(dueAt(T0, 1), Date.UTC(2026, 0, 12))
    assert.equal(dueAt(Date.UTC(2026, 0, 10), 1), Date.UTC(2026, 0, 11))
  })

  it('expires current versions matching prefix and tags, not before their day', async () => {
    const f = await fixture('Unversioned', [
      rule({ prefix: 'tmp/', tags: [['kind', 'scratch']], expirationDays: 1 }),
    ])
    await f.put('tmp/a', { tags: [['kind', 'scratch']] })
    await f.put('tmp/b')
    await f.put('keep/a', { tags: [['kind', 'scratch']] })
    assert.equal((await sweepLifecycle(f.target, dueAt(T0, 1) - 1)).expired, 0)
    const r = await sweepLifecycle(f.target, dueAt(T0, 1))
    assert.equal(r.expired, 1)
    assert.deepEqual(await f.keys(), ['keep/a', 'tmp/b'])
  })

  it('versioned: expiry puts a marker; noncurrent versions go N days after being replaced, keeping the newest', async () => {
    const f = await fixture('Enabled', [
      rule({ noncurrentDays: 2, newerNoncurrentVersions: 1, expiredObjectDeleteMarker: true }),
    ])
    await f.put('m') // v1
    f.clock.set(T0 + DAY)
    await f.put('m') // v2 replaces v1 at T0 + 1 day
    f.clock.set(T0 + 2 * DAY)
    await f.put('m') // v3 replaces v2 at T0 + 2 days
    // v2 is the newest noncurrent: kept; v1 became noncurrent at T0 + 1 day.
    assert.equal((await sweepLifecycle(f.target, dueAt(T0 + DAY, 2) - 1)).noncurrent, 0)
    const r = await sweepLifecycle(f.target, dueAt(T0 + DAY, 2))
    assert.equal(r.noncurrent, 1)
    assert.deepEqual(await f.keys(), ['m', 'm (old)'])
    // A key whose versions are all gone but a delete marker loses the marker too.
    await f.put('gone')
    await f.objects.delete(await f.bucket(), 'gone')
    const versions = await f.store.listVersions('b', 'gone', '', undefined, 10)
    for (const v of versions.filter((x) => !x.deleteMarker))
      await f.objects.delete(await f.bucket(), 'gone', v.versionId)
    const swept = await sweepLifecycle(f.target, T0 + 3 * DAY)
    assert.equal(swept.markers, 1)
    assert.ok(!(await f.keys()).some((k) => k.startsWith('gone')))
  })

  it('Object Lock wins: a retained noncurrent version stays and is counted', async () => {
    const f = await fixture('Enabled', [rule({ noncurrentDays: 1 })])
    await f.put('locked', { lock: { mode: 'COMPLIANCE', retainUntil: T0 + 100 * DAY } })
    await f.put('locked')
    const r = await sweepLifecycle(f.target, T0 + 10 * DAY)
    assert.deepEqual([r.noncurrent, r.locked], [0, 1])
    assert.deepEqual(await f.keys(), ['locked', 'locked (old)'])
    // The lock is judged by the service's clock: the one injected clock moves for both.
    f.clock.set(T0 + 101 * DAY)
    const later = await sweepLifecycle(f.target, f.clock.now())
    assert.deepEqual([later.noncurrent, later.locked], [1, 0])
  })

  it('aborts unfinished multipart uploads N days after they began; a disabled rule does nothing', async () => {
    const f = await fixture('Unversioned', [
      rule({ abortIncompleteDays: 7 }),
      rule({ id: 'off', enabled: false, expirationDays: 1 }),
    ])
    const b = await f.bucket()
    await f.store.createUpload({
      id: 'u1',
      bucket: b.name,
      key: 'big',
      contentType: null,
      metadata: {},
      tags: [],
      keyId: b.keyId,
      createdAt: T0,
    })
    await f.put('kept')
    assert.equal((await sweepLifecycle(f.target, dueAt(T0, 7) - 1)).aborted, 0)
    const r = await sweepLifecycle(f.target, dueAt(T0, 7))
    assert.deepEqual([r.aborted, r.expired], [1, 0])
    assert.equal(await f.store.getUpload('u1'), undefined)
    assert.deepEqual(await f.keys(), ['kept'])
  })
})
