import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { decrypt, encrypt } from '../crypto/stream.ts'
import { isStrongroomError } from '../errors.ts'
import { createTenant } from '../identity/tenants.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { headerDataKey, newDataKey, storedDataKey } from './envelope.ts'
import { LocalKms } from './local.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-env-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of gen) parts.push(p)
  return Buffer.concat(parts)
}

describe('envelope encryption', () => {
  it("keeps a stored object's wrapped data key in its metadata row: deleting the row shreds that object only", async () => {
    const store = SqliteMetadataStore.open(join(dir, 'a.sqlite'), { create: true })
    const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
    const tenant = await createTenant(store, 'vision')
    const key = await kms.createKey(tenant, { alias: 'models' })
    const seal = async (name: string, plain: Buffer) => {
      const dk = await newDataKey(
        kms,
        { tenant, keyId: key.id, keyVersion: 1 },
        { bucket: 'b', key: name },
      )
      await store.putObjectKey({
        dataKeyId: dk.dataKeyId,
        tenantId: tenant.id,
        keyId: key.id,
        keyVersion: dk.wrapped.keyVersion,
        wrapped: dk.wrappedBytes,
        createdAt: Date.now(),
      })
      const ct = await collect(
        encrypt([plain], {
          dataKey: dk.dataKey,
          dataKeyId: dk.dataKeyId,
          context: dk.context,
          plaintextLength: plain.length,
        }),
      )
      return { ct, id: dk.dataKeyId }
    }
    const a = await seal('a.pt', Buffer.from('weights of a'))
    const b = await seal('b.pt', Buffer.from('weights of b'))
    const open = (ct: Buffer, id: string) =>
      collect(decrypt([ct], { dataKey: storedDataKey(kms, store, id) }))
    assert.equal((await open(a.ct, a.id)).toString(), 'weights of a')
    // The record names the data key: a body whose header names another one is refused.
    await assert.rejects(open(b.ct, a.id), (e: unknown) => isStrongroomError(e, 'BLOB_MISMATCH'))
    assert.equal(await store.deleteObjectKey(a.id), true)
    await assert.rejects(open(a.ct, a.id), (e: unknown) => isStrongroomError(e, 'KEY_DELETED'))
    assert.equal(
      (await open(b.ct, b.id)).toString(),
      'weights of b',
      'the other object is untouched',
    )
    await assert.rejects(
      collect(decrypt([b.ct], { dataKey: headerDataKey(kms) })),
      (e: unknown) => isStrongroomError(e, 'KEY_NOT_FOUND'),
      'a stored object carries no key in its header',
    )
    await store.close()
  })

  it('refuses caller context that would overwrite what Strongroom binds', async () => {
    const store = SqliteMetadataStore.open(join(dir, 'b.sqlite'), { create: true })
    const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
    const tenant = await createTenant(store, 'vision')
    const key = await kms.createKey(tenant, { alias: 'models' })
    await assert.rejects(
      newDataKey(kms, { tenant, keyId: key.id, keyVersion: 1 }, { tenant: 'audio' }),
      (e: unknown) => isStrongroomError(e, 'USAGE'),
    )
    // A key rotated between choosing and wrapping: the context names the version actually used.
    await kms.rotate(key.id)
    const dk = await newDataKey(kms, { tenant, keyId: key.id, keyVersion: 1 }, {})
    assert.equal(dk.context.keyVersion, '2')
    assert.equal(dk.wrapped.keyVersion, 2)
    await store.close()
  })
})
