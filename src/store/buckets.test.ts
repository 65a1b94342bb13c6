/**
 * BucketService over the SQLite store and the local key service: S3's name
 * rules, global names, the hold a deleted name keeps, the default bucket key,
 * and times from the injected clock.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fixedClock } from '../clock.ts'
import { isStrongroomError, type ErrorCode } from '../errors.ts'
import { IdentityService } from '../identity/service.ts'
import { LocalKms } from '../kms/local.ts'
import { ALL_BLOCKED } from '../meta/buckets.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { DEFAULT_BUCKET_KEY_ALIAS } from './bucket-keys.ts'
import { BucketService, NONE_BLOCKED, validBucketName } from './buckets.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-buckets-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const T0 = Date.UTC(2031, 0, 2, 3, 4, 5)
const HOLD_S = 600
let n = 0

async function fixture() {
  const clock = fixedClock(T0)
  const store = SqliteMetadataStore.open(join(dir, `${++n}.sqlite`), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1', clock })
  const identity = new IdentityService(store, kms, clock)
  const buckets = new BucketService(store, kms, clock, { nameHoldSeconds: HOLD_S })
  const a = await identity.createTenant('vision')
  const b = await identity.createTenant('audio')
  return { clock, store, kms, buckets, a, b }
}

const code = (c: ErrorCode) => (e: unknown) => isStrongroomError(e, c)

describe('BucketService', () => {
  it("creates a bucket as S3 starts one, sealed under the tenant's default key, at the clock's time", async () => {
    const { buckets, kms, a, clock } = await fixture()
    clock.set(T0 + 42)
    const b = await buckets.create(a, 'models')
    const key = await kms.byAlias(a, DEFAULT_BUCKET_KEY_ALIAS)
    assert.deepEqual(b, {
      name: 'models',
      tenantId: a.id,
      keyId: key?.id,
      policy: null,
      createdAt: T0 + 42,
      versioning: 'Unversioned',
      publicAccessBlock: ALL_BLOCKED,
      scanPolicy: 'report',
    })
    assert.equal(key?.createdAt, T0 + 42, 'the key was created on first use, at the same time')
    assert.deepEqual(await buckets.get('models'), b)
    const second = await buckets.create(a, 'data')
    assert.equal(second.keyId, b.keyId, 'one default key per tenant')
    assert.deepEqual(
      (await buckets.list(a)).map((x) => x.name),
      ['data', 'models'],
    )
  })

  it('refuses names outside S3’s rules with BUCKET_NAME_INVALID', async () => {
    const { buckets, a } = await fixture()
    for (const bad of ['ab', 'A-bucket', 'a..b', '192.168.1.1', 'xn--abc', 'x-s3alias', '-ab']) {
      await assert.rejects(buckets.create(a, bad), code('BUCKET_NAME_INVALID'), bad)
      // checkName is the same check alone, and names the bucket for a protocol's error.
      assert.throws(
        () => buckets.checkName(bad),
        (e) => code('BUCKET_NAME_INVALID')(e) && e.details.BucketName === bad,
        bad,
      )
    }
    buckets.checkName('a.b-c')
    assert.deepEqual(await buckets.list(a), [], 'nothing was created')
    assert.equal(validBucketName('a.b-c'), true)
    assert.equal(validBucketName('a'.repeat(63)), true)
    assert.equal(validBucketName('a'.repeat(64)), false)
  })

  it('answers BUCKET_OWNED to its owner and BUCKET_EXISTS to anyone else', async () => {
    const { buckets, a, b } = await fixture()
    await buckets.create(a, 'models')
    const named = (c: ErrorCode) => (e: unknown) =>
      code(c)(e) && isStrongroomError(e) && e.details.BucketName === 'models'
    await assert.rejects(buckets.create(a, 'models'), named('BUCKET_OWNED'))
    await assert.rejects(buckets.create(b, 'models'), named('BUCKET_EXISTS'))
  })

  it('holds a deleted name for its tenant: another tenant waits out the hold, the owner does not', async () => {
    const { buckets, store, a, b, clock } = await fixture()
    await buckets.create(a, 'models')
    clock.set(T0 + 1000)
    assert.equal(await buckets.delete('models'), 'deleted')
    assert.deepEqual(await store.bucketHold('models'), {
      name: 'models',
      tenantId: a.id,
      deletedAt: T0 + 1000,
    })
    clock.set(T0 + 1000 + HOLD_S * 1000 - 1)
    await assert.rejects(
      buckets.create(b, 'models'),
      (e) =>
        code('BUCKET_NAME_HELD')(e) && isStrongroomError(e) && e.details.BucketName === 'models',
    )
    const again = await buckets.create(a, 'models')
    assert.equal(again.createdAt, T0 + 1000 + HOLD_S * 1000 - 1)
    assert.equal(await buckets.delete('models'), 'deleted')
    clock.set(T0 + 1000 + HOLD_S * 1000 - 1 + HOLD_S * 1000)
    assert.equal((await buckets.create(b, 'models')).tenantId, b.id, 'the hold is over')
  })

  it('requires a bucket: BUCKET_NOT_FOUND when there is none', async () => {
    const { buckets } = await fixture()
    await assert.rejects(buckets.require('nope'), code('BUCKET_NOT_FOUND'))
  })

  it('sets and removes each configuration, and resets the key to the default', async () => {
    const { buckets, kms, a, b } = await fixture()
    const created = await buckets.create(a, 'models')
    const own = await kms.createKey(a, { alias: 'own' })
    await buckets.setPolicy('models', '{"Version":"2012-10-17","Statement":[]}')
    await buckets.setVersioning('models', 'Enabled')
    await buckets.setKey('models', own.id)
    await buckets.deletePublicAccessBlock('models')
    await buckets.setScanPolicy('models', 'enforce')
    assert.deepEqual(await buckets.require('models'), {
      ...created,
      policy: '{"Version":"2012-10-17","Statement":[]}',
      versioning: 'Enabled',
      keyId: own.id,
      publicAccessBlock: NONE_BLOCKED,
      scanPolicy: 'enforce',
      settings: { publicAccessBlockDeleted: true },
    })
    // A configuration put again is one: the mark of the deleted one goes.
    await buckets.setPublicAccessBlock('models', NONE_BLOCKED)
    assert.equal((await buckets.require('models')).settings?.publicAccessBlockDeleted, undefined)
    await buckets.deletePolicy('models')
    const key = await buckets.resetKey(await buckets.require('models'), a)
    assert.equal(key.id, created.keyId)
    assert.equal((await buckets.require('models')).policy, null)
    assert.equal((await buckets.require('models')).keyId, created.keyId)
    await assert.rejects(
      buckets.resetKey(await buckets.require('models'), b),
      code('INTERNAL'),
      "another tenant's default key never seals this bucket",
    )
  })
})
