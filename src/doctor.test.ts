/** `strongroom doctor` on the embedded backend; on PostgreSQL + RGW it runs in test/cluster/. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { DEV_KEY_FILE, initDataDir, META_FILE } from './app.ts'
import { loadConfig } from './config.ts'
import { diagnose } from './doctor.ts'
import { MIGRATIONS } from './meta/sqlite/migrations.ts'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function installation() {
  const dir = mkdtempSync(join(tmpdir(), 'sr-doctor-'))
  dirs.push(dir)
  const config = loadConfig({ env: { STRONGROOM_DATA_DIR: join(dir, 'data') }, flags: {} })
  await initDataDir(config, { dev: true })
  return config
}

describe('strongroom doctor', () => {
  it('finds a fresh installation sound: schema, a probe blob, the root key; no CA before the first serve', async () => {
    const config = await installation()
    const found = await diagnose(config, [])
    assert.deepEqual(
      found.map((f) => [f.check, f.status]),
      [
        ['metadata', 'ok'],
        ['blobs', 'ok'],
        ['root key', 'ok'],
        ['ca', 'warn'],
      ],
    )
    assert.equal(
      found[0]?.detail,
      `SQLite ${join(config.dataDir, META_FILE)}, schema ${String(MIGRATIONS.length)} (this build’s)`,
    )
  })

  it('reports a schema behind this build with the command that upgrades it, without migrating it', async () => {
    const config = await installation()
    const file = join(config.dataDir, META_FILE)
    const db = new DatabaseSync(file)
    db.exec(`PRAGMA user_version = ${String(MIGRATIONS.length - 1)}`)
    db.close()
    const found = await diagnose(config, [])
    assert.equal(found[0]?.status, 'fail')
    const n = MIGRATIONS.length
    assert.ok(
      found.some((f) =>
        f.detail.endsWith(
          `schema ${String(n - 1)}, this build needs ${String(n)}: run \`strongroom migrate\``,
        ),
      ),
    )
    assert.ok(
      !found.some((f) => f.check === 'root key'),
      'the installation is not opened (that would migrate it)',
    )
    const again = new DatabaseSync(file, { readOnly: true })
    assert.equal(
      (again.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
      MIGRATIONS.length - 1,
    )
    again.close()
  })

  it('fails a root key that does not open the installation, and a gateway that cannot be reached', async () => {
    const config = await installation()
    const other = loadConfig({
      env: { STRONGROOM_DATA_DIR: config.dataDir, STRONGROOM_ROOT_KEY: 'ab'.repeat(32) },
      flags: {},
    })
    rmSync(join(config.dataDir, DEV_KEY_FILE), { force: true })
    const found = await diagnose(other, ['http://127.0.0.1:9'])
    const byCheck = new Map(found.map((f) => [f.check, f]))
    assert.equal(byCheck.get('root key')?.status, 'fail')
    assert.equal(byCheck.get('clock')?.status, 'fail')
    assert.match(
      byCheck.get('clock')?.detail ?? '',
      /^the gateway at http:\/\/127\.0\.0\.1:9 cannot be reached: /,
    )
  })
})
