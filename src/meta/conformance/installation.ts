/** InstallationStore conformance: what every metadata adapter must do with the installation record. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { InstallationRecord } from '../installation.ts'
import type { MakeStore } from './fixtures.ts'

export function installationConformance(make: MakeStore): void {
  describe('InstallationStore', () => {
    const record: InstallationRecord = {
      id: 'installation-1',
      createdAt: 1_700_000_000_000,
      rootMode: 'passphrase',
      rootKdf: '{"alg":"scrypt"}',
      rootCheck: Buffer.from('check value 1'),
      rootStore: null,
      rootWrapped: null,
    }

    it('has no installation until one is put, then returns it exactly', async () => {
      const store = await make()
      try {
        assert.equal(await store.getInstallation(), undefined)
        await store.putInstallation(record)
        const got = await store.getInstallation()
        assert.deepEqual({ ...got, rootCheck: Buffer.from(got?.rootCheck ?? []) }, record)
      } finally {
        await store.close()
      }
    })

    it('keeps a null KDF for a raw root key', async () => {
      const store = await make()
      try {
        await store.putInstallation({ ...record, rootMode: 'key', rootKdf: null })
        assert.equal((await store.getInstallation())?.rootKdf, null)
        assert.equal((await store.getInstallation())?.rootMode, 'key')
      } finally {
        await store.close()
      }
    })

    it('replaces only the root check value', async () => {
      const store = await make()
      try {
        await store.putInstallation(record)
        await store.setRootCheck(Buffer.from('check value 2'))
        const got = await store.getInstallation()
        assert.deepEqual(Buffer.from(got?.rootCheck ?? []), Buffer.from('check value 2'))
        assert.equal(got?.id, record.id)
        assert.equal(got.rootKdf, record.rootKdf)
        assert.equal(got.createdAt, record.createdAt)
      } finally {
        await store.close()
      }
    })

    it('replaces how the root is kept in one write, and keeps the rest', async () => {
      const store = await make()
      try {
        await store.putInstallation(record)
        const root = {
          rootMode: 'pkcs11' as const,
          rootKdf: null,
          rootCheck: Buffer.from('check value 3'),
          rootStore: '{"key":"root","kind":"pkcs11"}',
          rootWrapped: Buffer.from('wrapped system root'),
        }
        await store.setRoot(root)
        const got = await store.getInstallation()
        assert.deepEqual(
          {
            ...got,
            rootCheck: Buffer.from(got?.rootCheck ?? []),
            rootWrapped: Buffer.from(got?.rootWrapped ?? []),
          },
          { ...record, ...root },
        )
      } finally {
        await store.close()
      }
    })

    it('keeps the first value offered under each name, for good', async () => {
      const store = await make()
      try {
        const v = (s: string) => Buffer.from(s)
        assert.equal(await store.getSystemValue('audit/keys'), undefined)
        assert.deepEqual(await store.keepSystemValue('audit/keys', v('first')), v('first'))
        assert.deepEqual(await store.keepSystemValue('audit/keys', v('second')), v('first'))
        assert.deepEqual(await store.keepSystemValue('pki/ca', v('ca')), v('ca'))
        assert.deepEqual(await store.getSystemValue('audit/keys'), v('first'))
        assert.equal(await store.getSystemValue('Audit/keys'), undefined)
        const raced = await Promise.all(
          ['a', 'b', 'c'].map((x) => store.keepSystemValue('race', v(x))),
        )
        assert.equal(new Set(raced.map((r) => r.toString())).size, 1)
      } finally {
        await store.close()
      }
    })
  })
}
