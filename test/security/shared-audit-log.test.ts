/**
 * Outside review of issue 14 (the shared audit log of gateways on one PostgreSQL): "writes are
 * carried out, answered 503 'not carried out', and never logged" when the database holds the
 * audit log's index counter longer than the commit timeout (a lock, a stall). Now the request's
 * event is kept and stored once the database answers again, and the 503 says the request may
 * have run. And "a statement timeout is answered 500" (now 503, as for a database that is
 * down), and "`strongroom migrate` is cut off at 5 s" (migrations run without a statement
 * timeout). The other findings of that review, rollback and tampering, are tested on SQLite's
 * adapter of the same port in test/audit/shared-log.test.ts.
 *
 * The second review: "during a continuous stall, fail-closed writes are still admitted between
 * retries, and a 503 can take 20 s" (now refused at once until a write succeeds, every waiter
 * answered at the commit timeout), and "triggers that keep the counter back and swallow the
 * inserts drop events in silence" (now LOG_TAMPERED). Its other findings are in
 * test/security/shared-audit-witness.test.ts.
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

/** Waits for the gateway to take requests again: the log's retry commits once the lock is gone. */
async function recovered(g: InProcess): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await g.send(g.admin, { method: 'HEAD', path: '/stalled' })
    if (r.status !== 503) return
    await new Promise((res) => setTimeout(res, 100))
  }
  assert.fail('the gateway still refuses work 5 s after the database answers again')
}

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
        await recovered(g)
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

    it('attack: while the database holds the index counter past the commit timeout, every later write is refused at once and not carried out, and no answer waits much past the timeout', async () => {
      const blocker = new pg.Client({ connectionString: meta })
      await blocker.connect()
      const answers: { key: string; status: number; ms: number; body: string }[] = []
      try {
        await blocker.query('BEGIN')
        await blocker.query('SELECT next FROM audit_head WHERE id = 1 FOR UPDATE')
        const started = Date.now()
        let i = 0
        await Promise.all(
          [0, 1, 2].map(async () => {
            while (Date.now() - started < 8000) {
              const key = `held-${i++}`
              const t = Date.now()
              const r = await g.send(g.admin, { method: 'PUT', path: `/stalled/${key}`, body: key })
              answers.push({ key, status: r.status, ms: Date.now() - t, body: r.body })
              await new Promise((res) => setTimeout(res, 50))
            }
          }),
        )
      } finally {
        await blocker.query('ROLLBACK')
        await blocker.end()
      }
      await recovered(g)
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [503])
      // The default commit timeout is 5 s: nobody waits for a second group commit's timeout.
      assert.ok(
        Math.max(...answers.map((a) => a.ms)) < 6500,
        JSON.stringify(answers.map((a) => a.ms)),
      )
      const ran = answers.filter((a) => /check the outcome/.test(a.body))
      const refused = answers.filter((a) => /so it was not carried out/.test(a.body))
      assert.equal(ran.length + refused.length, answers.length)
      assert.ok(refused.length > 10, `${refused.length} refused at once`)
      for (const a of refused) {
        const head = await g.send(g.admin, { method: 'HEAD', path: `/stalled/${a.key}` })
        assert.equal(head.status, 404, `${a.key} was answered "not carried out"`)
      }
      for (const a of ran) {
        const get = await g.send(g.admin, { method: 'GET', path: `/stalled/${a.key}` })
        assert.deepEqual([get.status, get.body], [200, a.key])
      }
    })

    it('attack (fourth review): while every audit write fails, a fail-closed read is refused before it sends a byte, and /_health says 503', async () => {
      const dba = new pg.Client({ connectionString: meta })
      await dba.connect()
      try {
        const put = await g.send(g.admin, {
          method: 'PUT',
          path: '/stalled/big',
          body: 'x'.repeat(1 << 20),
        })
        assert.equal(put.status, 200, put.body)
        await dba.query(`
          CREATE FUNCTION fail_rec() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
          CREATE TRIGGER t_fail BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION fail_rec();`)
        // The first request's event fails to commit; from then on, reads are refused at once.
        const first = await g.send(g.admin, { method: 'PUT', path: '/stalled/small', body: 's' })
        assert.equal(first.status, 503, first.body)
        const get = await g.send(g.admin, { method: 'GET', path: '/stalled/big' })
        assert.equal(get.status, 503)
        assert.match(
          get.body,
          /so it was not carried out: the audit log&apos;s database failed a write: disk full/,
        )
        assert.equal(get.body.includes('xxxx'), false)
        const health = await fetch(`${g.running.url}/_health`)
        assert.equal(health.status, 503)
        assert.match(await health.text(), /audit log: .*failed a write/)
      } finally {
        await dba.query(
          'DROP TRIGGER IF EXISTS t_fail ON audit_records; DROP FUNCTION IF EXISTS fail_rec()',
        )
        await dba.end()
      }
      await recovered(g)
    })

    it('attack: triggers that keep the counter back and swallow the records (events dropped in silence) make the gateway refuse work', async () => {
      assert.ok(server)
      const tmeta = await server.createDatabase('triggers')
      const t = await startInProcess(mkdtempSync(join(dir, 'triggers-')), { meta: tmeta })
      const dba = new pg.Client({ connectionString: tmeta })
      await dba.connect()
      try {
        assert.equal((await t.send(t.admin, { method: 'PUT', path: '/models' })).status, 200)
        await dba.query(`
          CREATE FUNCTION keep_head() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.next := OLD.next; RETURN NEW; END $$;
          CREATE FUNCTION drop_rec() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
          CREATE TRIGGER t_head BEFORE UPDATE ON audit_head FOR EACH ROW EXECUTE FUNCTION keep_head();
          CREATE TRIGGER t_rec BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION drop_rec();`)
        const del = await t.send(t.admin, { method: 'PUT', path: '/models/planted', body: 'x' })
        assert.equal(del.status, 503, del.body)
        assert.match(del.body, /do not behave as written: 1 records were written, but 0 stored/)
        const next = await t.send(t.admin, { method: 'GET', path: '/models/planted' })
        assert.equal(next.status, 503, next.body)
        assert.match(next.body, /so it was not carried out/)
        // Dropping the triggers afterwards does not hide it: an operator must look.
        await dba.query('DROP TRIGGER t_head ON audit_head; DROP TRIGGER t_rec ON audit_records')
        const later = await t.send(t.admin, { method: 'GET', path: '/models/planted' })
        assert.equal(later.status, 503, later.body)
      } finally {
        await dba.end()
        await t.close()
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
