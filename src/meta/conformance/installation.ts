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
  })
}
