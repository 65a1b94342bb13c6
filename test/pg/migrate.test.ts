/**
 * `strongroom migrate`: the schema brought up to date without the root key, on SQLite and on
 * PostgreSQL, where three processes started at once migrate once (the advisory lock) and all
 * succeed.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import { MIGRATIONS } from '../../src/meta/sqlite/migrations.ts'
import { NEEDS_POSTGRES, startPostgres } from './server.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const dir = mkdtempSync(join(tmpdir(), 'sr-migrate-'))
const server = await startPostgres()
after(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }))
  })
}

describe('strongroom migrate', () => {
  it('on SQLite: says the schema; no data directory is DATA_DIR_MISSING', async () => {
    const data = join(dir, 'sqlite')
    assert.equal(spawnSync(process.execPath, [BIN, 'init', '--dev', '--data-dir', data]).status, 0)
    const r = await run(['migrate', '--data-dir', data])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, `metadata (sqlite) is at schema ${String(MIGRATIONS.length)}\n`)
    const none = await run(['migrate', '--data-dir', join(dir, 'nowhere')])
    assert.equal(none.code, 1)
    assert.match(
      none.err,
      /no metadata database at .*; create one with `strongroom init` \[DATA_DIR_MISSING\]\n$/,
    )
  })

  it(
    'on PostgreSQL: three at once migrate once and all say the schema',
    { skip: server === undefined ? NEEDS_POSTGRES : false },
    async () => {
      assert.ok(server)
      const url = await server.createDatabase('migrated')
      const all = await Promise.all([1, 2, 3].map(() => run(['migrate'], { STRONGROOM_META: url })))
      for (const r of all) {
        assert.equal(r.code, 0, r.err)
        assert.equal(r.out, `metadata (postgres) is at schema ${String(MIGRATIONS.length)}\n`)
      }
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      try {
        const rows = (await c.query('SELECT version FROM schema_version')).rows as {
          version: number
        }[]
        assert.deepEqual(rows, [{ version: MIGRATIONS.length }])
      } finally {
        await c.end()
      }
    },
  )
})
