/**
 * Outside review of issue 14 (the shared audit log of gateways on one PostgreSQL): "writes are
 * carried out, answered 503 'not carried out', and never logged" when the database holds the
 * audit log's index counter longer than the commit timeout (a lock, a stall). Now the request's
 * event is kept and stored once the database answers again, and the 503 says the request may
 * have run. And "a statement timeout is answered 500" (now 503, as for a database that is
 * down), and "`strongroom migrate` is cut off at 5 s" (migrations run without a statement
 * timeout). The other findings of that review, rollback and tampering, are tested on SQLite's
 * adapter of the same port in test/audit/shared-log.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { events } from '../../src/audit/read.ts'
import { PgMetadataStore } from '../../src/meta/postgres/store.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { NEEDS_POSTGRES, startPostgres } from '../pg/server.ts'

const server = await startPostgres()

describe(
  'the shared audit log when the database stalls its commit',
  { skip: server === undefined ? NEEDS_POSTGRES : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-shared-audit-sec-'))
    let meta: string
    let g: InProcess
    before(async () => {
      assert.ok(server)
      meta = await server.createDatabase('stall')
      g = await startInProcess(dir, { meta })
      const made = await g.send(g.admin, { method: 'PUT', path: '/stalled' })
      assert.equal(made.status, 200, made.body)
    })
    after(async () => {
      await g.close()
      await server?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('attack: a write whose event cannot be stored in time is answered 503 "check the outcome", and its event is stored once the database answers', async () => {
      const blocker = new pg.Client({ connectionString: meta })
      await blocker.connect()
      try {
        // Another session holds the row that hands out the log's indexes.
        await blocker.query('BEGIN')
        await blocker.query('SELECT next FROM audit_head WHERE id = 1 FOR UPDATE')
        const put = await g.send(g.admin, { method: 'PUT', path: '/stalled/k', body: 'ran' })
        assert.equal(put.status, 503, put.body)
        assert.match(put.body, /could not store the event in time/)
        assert.match(put.body, /check the outcome before retrying/)
        const id = /<RequestId>([0-9A-F]{16})<\/RequestId>/.exec(put.body)?.[1] ?? ''
        await blocker.query('ROLLBACK')
        // The write did run.
        const get = await g.send(g.admin, { method: 'GET', path: '/stalled/k' })
        assert.deepEqual([get.status, get.body], [200, 'ran'])
        // Its event reaches the log once the database answers (retried in the background).
        const store = await PgMetadataStore.open(meta, { maxConnections: 1 })
        try {
          const logged = async () => {
            for await (const e of events(store))
              if (e.requestID === id && e.eventName === 'PutObject') return true
            return false
          }
          let found = await logged()
          for (let i = 0; i < 50 && !found; i++) {
            await new Promise((r) => setTimeout(r, 200))
            found = await logged()
          }
          assert.ok(found, `the event of request ${id} is in the shared log`)
        } finally {
          await store.close()
        }
      } finally {
        await blocker.end()
      }
    })

    it('attack: a statement held up past its timeout (a table lock) is answered 503 ServiceUnavailable, not 500', async () => {
      const blocker = new pg.Client({ connectionString: meta })
      await blocker.connect()
      try {
        await blocker.query('BEGIN')
        await blocker.query('LOCK TABLE objects IN ACCESS EXCLUSIVE MODE')
        const get = await g.send(g.admin, { method: 'GET', path: '/stalled/k' })
        assert.equal(get.status, 503, get.body)
        assert.match(get.body, /<Code>ServiceUnavailable<\/Code>/)
        assert.match(get.body, /did not answer in time/)
      } finally {
        await blocker.query('ROLLBACK')
        await blocker.end()
      }
      const again = await g.send(g.admin, { method: 'GET', path: '/stalled/k' })
      assert.equal(again.status, 200, again.body)
    })

    it("a migration waits for another gateway's past the statement timeout, instead of failing", async () => {
      const other = new pg.Client({ connectionString: meta })
      await other.connect()
      try {
        await other.query('BEGIN')
        await other.query("SELECT pg_advisory_xact_lock(hashtext('strongroom.migrate'))")
        const release = setTimeout(() => void other.query('COMMIT'), 6500)
        const started = Date.now()
        const store = await PgMetadataStore.open(meta, { maxConnections: 1 })
        await store.close()
        clearTimeout(release)
        assert.ok(Date.now() - started >= 6000, 'it waited for the lock')
      } finally {
        await other.end()
      }
    })
  },
)
