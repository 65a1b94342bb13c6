/**
 * Access keys through the IAM API: at most two per user, racing requests included
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). An access key's
 * last use is recorded cheaply: at most one write a minute per key, off the
 * request's path (keyUsed returns at once); the first use, then a use a minute on, are what
 * GetAccessKeyLastUsed sees (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccessKeyLastUsed.html).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { after, it } from 'node:test'
import { fixedClock } from '../clock.ts'
import { LocalKms } from '../kms/local.ts'
import type { AccessKeyUse } from '../meta/iam.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { IdentityService } from './service.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-key-use-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const T0 = Date.UTC(2030, 5, 6, 7, 8, 9)

it('writes a key’s use at most once a minute, and the latest after that', async () => {
  const clock = fixedClock(T0)
  const store = SqliteMetadataStore.open(join(dir, 'a.sqlite'), { create: true })
  const writes: AccessKeyUse[] = []
  const counted = {
    ...store,
    recordAccessKeyUse: (id: string, use: AccessKeyUse) => {
      writes.push(use)
      return store.recordAccessKeyUse(id, use)
    },
  }
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1', clock })
  const identity = new IdentityService(counted, kms, clock)
  try {
    const t = await identity.createTenant('vision')
    const k = await identity.createAccessKey(await identity.createUser(t, 'alice'))
    const record = await identity.accessKey(k.accessKeyId)
    assert.ok(record)
    identity.keyUsed(record, 's3', 'us-east-1')
    clock.advance(59_999)
    identity.keyUsed(record, 'iam', 'us-east-1')
    await tick()
    assert.deepEqual(writes, [{ at: T0, service: 's3', region: 'us-east-1' }])
    clock.advance(1)
    identity.keyUsed(record, 'sts', 'eu-west-1')
    await tick()
    assert.equal(writes.length, 2)
    assert.deepEqual(await identity.accessKeyUse(k.accessKeyId), {
      at: T0 + 60_000,
      service: 'sts',
      region: 'eu-west-1',
    })
  } finally {
    await store.close()
  }
})

it('keeps at most two access keys per user even when the requests race', async () => {
  const clock = fixedClock(T0)
  const store = SqliteMetadataStore.open(join(dir, 'b.sqlite'), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1', clock })
  const identity = new IdentityService(store, kms, clock)
  try {
    const t = await identity.createTenant('vision')
    const u = await identity.createUser(t, 'alice')
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => identity.createUserAccessKey(u)),
    )
    assert.equal((await identity.listAccessKeys(u)).length, 2)
    assert.ok(results.filter((r) => r.status === 'fulfilled').length <= 2)
    for (const r of results)
      if (r.status === 'rejected')
        assert.match(String(r.reason), /Cannot exceed quota for AccessKeysPerUser: 2/)
  } finally {
    await store.close()
  }
})
