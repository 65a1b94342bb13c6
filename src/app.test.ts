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
    let keyId = ''
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
      keyId = key.id
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
      const [deleted] = (await again.keys.list(tenant)).filter((k) => k.id === keyId)
      assert.equal(deleted?.state, 'Deleted')
      assert.equal(deleted.deletedAt, T0 + 1000 + 7 * DAY)
      // Deleting a key drops its aliases, as KMS does: the name is free again.
      assert.equal(deleted.alias, null)
      assert.equal(await again.keys.byAlias(tenant, 'models'), undefined)
    } finally {
      await again.close()
    }
  })
})

describe('session-token keys', () => {
  it('raising tokenKeyId rotates: the previous key still opens its sessions, an older one does not', async () => {
    const data = join(dir, 'tokens')
    const at = (id: number) =>
      loadConfig({
        env: { STRONGROOM_DATA_DIR: data, STRONGROOM_TOKEN_KEY_ID: String(id) },
        flags: {},
      })
    await initDataDir(at(1), { dev: true })
    const now = Date.now()
    const claims = {
      tenantId: '111122223333',
      kind: 'role' as const,
      name: 'trainer',
      principalId: 'AROAEXAMPLEEXAMPLE12',
      sessionName: 'job',
      issuedAt: now,
      expiresAt: now + 3_600_000,
    }
    const open = async (id: number, c: { accessKeyId: string; sessionToken: string }) => {
      const app = await openApp(at(id))
      try {
        return app.sessions.open(c.accessKeyId, c.sessionToken, now).claims.sessionName
      } catch (e) {
        return (e as { code?: string }).code
      } finally {
        await app.close()
      }
    }
    const first = await openApp(at(1))
    const old = first.sessions.issue(claims)
    await first.close()
    assert.equal(await open(2, old), 'job')
    assert.equal(await open(3, old), 'INVALID_TOKEN')
    const second = await openApp(at(2))
    const current = second.sessions.issue({ ...claims, sessionName: 'new' })
    await second.close()
    assert.equal(await open(1, current), 'INVALID_TOKEN')
    assert.equal(await open(3, current), 'new')
  })
})
