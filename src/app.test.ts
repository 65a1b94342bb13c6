/** The composed app: every recorded time comes from the clock given to initDataDir and openApp. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { initDataDir, META_FILE, openApp } from './app.ts'
import { fixedClock } from './clock.ts'
import { loadConfig } from './config.ts'
import { SqliteMetadataStore } from './meta/sqlite/store.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-app-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const DAY = 86_400_000
const T0 = Date.UTC(2033, 3, 4, 5, 6, 7)

describe('openApp', () => {
  it('stamps the installation, tenants, users, buckets and key schedules with the injected clock', async () => {
    const config = loadConfig({ env: { STRONGROOM_DATA_DIR: join(dir, 'data') }, flags: {} })
    const clock = fixedClock(T0)
    await initDataDir(config, { dev: true, clock })
    const app = await openApp(config, { clock })
    try {
      const meta = SqliteMetadataStore.open(join(config.dataDir, META_FILE))
      assert.equal((await meta.getInstallation())?.createdAt, T0)
      await meta.close()
      clock.advance(1000)
      const tenant = await app.identity.createTenant('vision')
      const user = await app.identity.createUser(tenant, 'alice')
      const bucket = await app.buckets.create(tenant, 'models')
      assert.deepEqual(
        [tenant.createdAt, user.createdAt, bucket.createdAt],
        [T0 + 1000, T0 + 1000, T0 + 1000],
      )
      const key = await app.keys.createKey(tenant, { alias: 'models' })
      const scheduled = await app.keys.scheduleDeletion(tenant, key.id, 7)
      assert.equal(scheduled.deletionAt, T0 + 1000 + 7 * DAY)
      const rotating = await app.keys.setRotation(tenant, bucket.keyId, 90)
      assert.equal(rotating.nextRotationAt, T0 + 1000 + 90 * DAY)
      assert.equal(app.clock, clock)
    } finally {
      await app.close()
    }
    // Key maintenance at open runs at the clock's time: the deletion falls due a week later.
    clock.advance(7 * DAY)
    const again = await openApp(config, { clock })
    try {
      const tenant = await again.identity.tenant('vision')
      const [deleted] = (await again.keys.list(tenant)).filter((k) => k.alias === 'alias/models')
      assert.equal(deleted?.state, 'Deleted')
      assert.equal(deleted.deletedAt, T0 + 1000 + 7 * DAY)
    } finally {
      await again.close()
    }
  })
})
