import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, beforeEach, describe, it } from 'node:test'
import { isStrongroomError, type ErrorCode } from '../errors.ts'
import { createTenant } from '../identity/tenants.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import type { TenantRecord } from '../meta/store.ts'
import { LocalKms } from './local.ts'

const DAY = 86_400_000
const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function throwsCode(code: ErrorCode) {
  return (e: unknown) => {
    assert.ok(isStrongroomError(e), String(e))
    assert.equal(e.code, code, e.message)
    return true
  }
}

describe('local KMS', () => {
  let now: number
  let dbPath: string
  let store: SqliteMetadataStore
  let kms: LocalKms
  let root: Buffer
  let vision: TenantRecord
  let audio: TenantRecord
  const ctx = { tenant: 'vision', bucket: 'models', key: 'a.pt' }

  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-kms-'))
    dirs.push(dir)
    dbPath = join(dir, 'meta.sqlite')
    store = SqliteMetadataStore.open(dbPath, { create: true })
    now = Date.parse('2026-01-01T00:00:00Z')
    root = randomBytes(32)
    kms = new LocalKms(store, Buffer.from(root), { region: 'eu-west-1', now: () => now })
    vision = await createTenant(store, 'vision', now)
    audio = await createTenant(store, 'audio', now)
  })

  it("finds a key by alias, id and ARN, and never another tenant's key", async () => {
    const k = await kms.createKey(vision, { alias: 'models', description: 'resnet weights' })
    assert.equal((await kms.resolve(vision, 'alias/models')).id, k.id)
    assert.equal((await kms.resolve(vision, k.id)).id, k.id)
    assert.equal(kms.arn(vision, k.id), `arn:aws:kms:eu-west-1:${vision.id}:key/${k.id}`)
    assert.equal((await kms.resolve(vision, kms.arn(vision, k.id))).id, k.id)
    await assert.rejects(kms.resolve(audio, k.id), throwsCode('KEY_NOT_FOUND'))
    await assert.rejects(kms.resolve(audio, 'alias/models'), throwsCode('KEY_NOT_FOUND'))
    await assert.rejects(kms.createKey(vision, { alias: 'models' }), throwsCode('KEY_EXISTS'))
    // `find` is the same resolution without an error: another tenant's key, by id, alias or
    // either ARN, is undefined exactly as a missing one; `resolve` words it, and refuses a
    // reference of none of the three forms.
    assert.equal(
      (await kms.find(vision, `arn:aws:kms:eu-west-1:${vision.id}:alias/models`))?.id,
      k.id,
    )
    for (const ref of [
      k.id,
      'alias/models',
      kms.arn(vision, k.id),
      `arn:aws:kms:eu-west-1:${vision.id}:alias/models`,
      randomUUID(),
    ])
      assert.equal(await kms.find(audio, ref), undefined, ref)
    await assert.rejects(kms.resolve(vision, 'models'), throwsCode('USAGE'))
    await assert.rejects(kms.resolve(vision, 'alias/bad alias'), throwsCode('NAME_INVALID'))
    await assert.rejects(kms.resolve(audio, kms.arn(vision, k.id)), throwsCode('KEY_NOT_FOUND'))
    await assert.rejects(kms.createKey(vision, { alias: 'aws/s3' }), throwsCode('NAME_INVALID'))
    assert.equal(
      (await kms.createKey(audio, { alias: 'models' })).alias,
      'alias/models',
      'aliases are per tenant',
    )
  })

  it('binds the encryption context: an unwrap under another context fails', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    const dk = randomBytes(32)
    const w = await kms.wrap(k.id, dk, ctx)
    assert.deepEqual(await kms.unwrap(w, ctx), dk)
    await assert.rejects(kms.unwrap(w, { ...ctx, key: 'b.pt' }), throwsCode('KEY_UNWRAP_FAILED'))
    const altered = { ...w, ciphertext: Buffer.from(w.ciphertext).fill(1, 20, 21) }
    await assert.rejects(kms.unwrap(altered, ctx), throwsCode('KEY_UNWRAP_FAILED'))
  })

  it('rotates on demand: new data uses the newest version, every older version still decrypts', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    const dk = randomBytes(32)
    const w1 = await kms.wrap(k.id, dk, ctx)
    assert.equal(await kms.rotate(k.id), 2)
    assert.equal(await kms.rotate(k.id), 3)
    const w3 = await kms.wrap(k.id, dk, ctx)
    assert.equal(w1.keyVersion, 1)
    assert.equal(w3.keyVersion, 3)
    assert.deepEqual(await kms.unwrap(w1, ctx), dk)
    assert.deepEqual(await kms.unwrap(w3, ctx), dk)
    await assert.rejects(kms.unwrap({ ...w3, keyVersion: 4 }, ctx), throwsCode('KEY_UNWRAP_FAILED'))
  })

  it('rotates on a schedule when the period has passed', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    await assert.rejects(kms.setRotation(vision, k.id, 30), throwsCode('USAGE'))
    await kms.setRotation(vision, k.id, 90)
    now += 89 * DAY
    assert.deepEqual((await kms.maintain()).rotated, [])
    now += 2 * DAY
    const report = await kms.maintain()
    assert.equal(report.rotated.length, 1)
    const after = await kms.resolve(vision, k.id)
    assert.equal(after.currentVersion, 2)
    assert.equal(after.nextRotationAt, now + 90 * DAY)
    assert.equal((await kms.wrap(k.id, randomBytes(32), ctx)).keyVersion, 2)
  })

  it('refuses to use a disabled key until it is enabled again', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    const w = await kms.wrap(k.id, randomBytes(32), ctx)
    await kms.disable(vision, 'alias/models')
    await assert.rejects(kms.wrap(k.id, randomBytes(32), ctx), throwsCode('KEY_DISABLED'))
    await assert.rejects(kms.unwrap(w, ctx), throwsCode('KEY_DISABLED'))
    await kms.enable(vision, 'alias/models')
    assert.equal((await kms.unwrap(w, ctx)).length, 32)
  })

  it('schedules deletion within 7 to 30 days and cancels it back to Disabled', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    await assert.rejects(kms.scheduleDeletion(vision, k.id, 6), throwsCode('USAGE'))
    await assert.rejects(kms.scheduleDeletion(vision, k.id, 31), throwsCode('USAGE'))
    const pending = await kms.scheduleDeletion(vision, k.id, 7)
    assert.equal(pending.state, 'PendingDeletion')
    assert.equal(pending.deletionAt, now + 7 * DAY)
    await assert.rejects(kms.wrap(k.id, randomBytes(32), ctx), throwsCode('KEY_PENDING_DELETION'))
    await assert.rejects(kms.enable(vision, k.id), throwsCode('KEY_PENDING_DELETION'))
    const back = await kms.cancelDeletion(vision, k.id)
    assert.equal(back.state, 'Disabled')
    assert.equal(back.deletionAt, null)
  })

  it('crypto-shreds: after deletion the data under the key is unrecoverable, even with the root key', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    const dk = randomBytes(32)
    const w = await kms.wrap(k.id, dk, ctx)
    await kms.rotate(k.id)
    const sealed = [
      (await store.getKeyVersion(k.id, 1))?.material,
      (await store.getKeyVersion(k.id, 2))?.material,
    ]
    const onDisk = () =>
      Buffer.concat([dbPath, `${dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f)))
    for (const m of sealed)
      assert.notEqual(
        onDisk().indexOf(Buffer.from(m ?? [])),
        -1,
        'the check can see material on disk',
      )
    await kms.scheduleDeletion(vision, k.id, 7)
    now += 7 * DAY
    const report = await kms.maintain()
    assert.deepEqual(
      report.deleted.map((d) => d.id),
      [k.id],
    )
    await assert.rejects(kms.unwrap(w, ctx), throwsCode('KEY_DELETED'))
    // A fresh process holding the root key and the database finds nothing to open.
    await store.close()
    const reopened = SqliteMetadataStore.open(dbPath)
    const kms2 = new LocalKms(reopened, Buffer.from(root), { region: 'eu-west-1', now: () => now })
    await assert.rejects(kms2.unwrap(w, ctx), throwsCode('KEY_DELETED'))
    assert.equal(await reopened.getKeyVersion(k.id, 1), undefined)
    // And the sealed material is gone from the database file and its WAL, not just unlinked from an index.
    for (const m of sealed) {
      assert.ok(m !== undefined)
      assert.equal(onDisk().indexOf(Buffer.from(m)), -1, 'sealed material still present on disk')
    }
    await reopened.close()
  })

  it('never stores key material in plaintext', async () => {
    const k = await kms.createKey(vision, { alias: 'models' })
    const v = await store.getKeyVersion(k.id, 1)
    assert.ok(v)
    assert.equal(
      v.material.length,
      1 + 12 + 32 + 16,
      'sealed: version, nonce, 32-byte material, tag',
    )
    // A KMS under another root key cannot open it.
    const other = new LocalKms(store, randomBytes(32), { region: 'eu-west-1' })
    await assert.rejects(other.wrap(k.id, randomBytes(32), ctx), throwsCode('ROOT_KEY_WRONG'))
  })
})
