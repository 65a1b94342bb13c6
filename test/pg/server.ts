/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, listening only
 * on a Unix socket there (no TCP port), trust authentication for its one superuser, removed by
 * `stop`. Debian's `postgresql` package brings the binaries (/usr/lib/postgresql/N/bin); as root
 * the server runs as the package's `postgres` user (initdb refuses root).
 *
 * Without the binaries `startPostgres` answers undefined and the caller skips with one line
 * naming the package; with STRONGROOM_REQUIRE_TOOLS=1 (CI) it fails instead.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export const NEEDS_POSTGRES = 'needs Debian package postgresql (apt-get install postgresql)'

export interface Postgres {
  /** A connection URL for a new, empty database of this name. */
  readonly url: (database: string) => string
  /** Makes an empty database and answers its URL. */
  createDatabase(name: string): Promise<string>
  /** Stops the server as a crash would (immediate shutdown), keeping its data. */
  halt(): Promise<void>
  /** Starts it again after `halt`. */
  restart(): void
  stop(): Promise<void>
}

/** The directory holding initdb and pg_ctl: the newest of Debian's, else the PATH's. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(root, versions[0], 'bin')
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  return which.status === 0 && path !== '' ? join(path, '..') : undefined
}

/** Starts a server, or answers undefined (failing under STRONGROOM_REQUIRE_TOOLS=1) without one. */
export async function startPostgres(): Promise<Postgres | undefined> {
  const bin = postgresBin()
  if (bin === undefined) {
    if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
      assert.fail(`${NEEDS_POSTGRES}; STRONGROOM_REQUIRE_TOOLS=1`)
    return undefined
  }
  const dir = mkdtempSync(join(tmpdir(), 'sr-pg-'))
  const data = join(dir, 'data')
  const asRoot = userInfo().uid === 0
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
    assert.equal(ids.status, 0, 'running as root needs the postgres user of Debian’s package')
    chownSync(dir, Number(ids.stdout), Number(gid.stdout))
  }
  const run = (cmd: string, args: string[]) => {
    const full = join(bin, cmd)
    const r = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', full, ...args], { encoding: 'utf8' })
      : spawnSync(full, args, { encoding: 'utf8' })
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  }
  run('initdb', [
    '-D',
    data,
    '-U',
    'strongroom',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '-A',
    'trust',
  ])
  const options = [
    `-k ${dir}`,
    "-c listen_addresses=''",
    '-c fsync=off',
    '-c max_connections=200',
  ].join(' ')
  run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start'])
  const url = (database: string) =>
    `postgres://strongroom@localhost/${database}?host=${encodeURIComponent(dir)}`
  const connect = async () => {
    const c = new pg.Client({ connectionString: url('postgres') })
    c.on('error', () => {})
    await c.connect()
    return c
  }
  let admin: pg.Client | undefined = await connect()
  const start = () =>
    run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start'])
  return {
    url,
    async createDatabase(name) {
      admin ??= await connect()
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
      return url(name)
    },
    async halt() {
      await admin?.end().catch(() => {})
      admin = undefined
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    },
    restart: start,
    async stop() {
      await admin?.end().catch(() => {})
      // Already halted (a test that failed before restarting it) is stopped too.
      if (existsSync(join(data, 'postmaster.pid')))
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
