/**
 * Second outside review of issue 14 (the shared audit log): what a database administrator
 * without the root key could still do to the log unnoticed, and the fixes.
 *
 * - "Triggers make the log drop events silently": the counter kept back and the inserts
 *   swallowed, so a write is answered 200 and its event is nowhere. Now a swallowed row, an
 *   index below what the gateway already saw, or a record of its own replaced by another before
 *   it was sealed, is LOG_TAMPERED: the gateway refuses work.
 * - "A witness that was away for more than one seal's worth of records accepts a forked
 *   history": the replay was skipped. Now it is done a seal's worth at a time, and the
 *   witness moves on only once it hashes to the newer checkpoint.
 * - "While the store fails every write, fail-closed requests are admitted between attempts":
 *   the log refuses them until a write succeeds.
 *
 * All on SQLite's adapter of the AuditStore port (the same code runs on PostgreSQL; the
 * trigger attack on PostgreSQL is in test/security/shared-audit-log.test.ts).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, afterEach, describe, it } from 'node:test'
import { isStrongroomError } from '../../src/errors.ts'
import { SharedAuditLog, type SharedAuditLogOptions } from '../../src/audit/shared-log.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import type { MetadataStore } from '../../src/meta/store.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-shared-witness-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const origin = 'strongroom/audit/witness-test'
const keys = generateKey(origin)
const rec = (s: string) => Buffer.from(`{"eventID":"${s}"}`)

/** A fresh database: the store the logs use, and a connection of its administrator's. */
const opened: { store: MetadataStore; sql: DatabaseSync }[] = []
function fresh(): { store: MetadataStore; sql: DatabaseSync } {
  const path = join(root, `${++n}.sqlite`)
  const store = SqliteMetadataStore.open(path, { create: true })
  return opened[opened.push({ store, sql: new DatabaseSync(path) }) - 1] as (typeof opened)[0]
}
afterEach(async () => {
  for (const { store, sql } of opened.splice(0)) {
    sql.close()
    await store.close()
  }
})

const open = (store: MetadataStore, dir: string, more: Partial<SharedAuditLogOptions> = {}) =>
  SharedAuditLog.open({
    store,
    dir,
    signerKey: keys.signerKey,
    verifierKey: keys.verifierKey,
    origin,
    macKey: Buffer.alloc(32, 7),
    onAlert: () => {},
    ...more,
  })

const witnessSize = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'witness.json'), 'utf8')) as { size: number }).size

const tampered = (pattern: RegExp) => (e: unknown) => {
  assert.ok(isStrongroomError(e, 'LOG_TAMPERED') || isStrongroomError(e, 'SERVICE_UNAVAILABLE'))
  assert.match((e as Error).message, pattern)
  return true
}

describe('the shared audit log against a database administrator', () => {
  it('attack: a trigger that swallows the records (RAISE(IGNORE)) is LOG_TAMPERED at the write, not a lost event', async () => {
    const { store, sql } = fresh()
    const log = await open(store, join(root, `gw-${++n}`))
    await log.append(rec('before'))
    sql.exec(
      'CREATE TRIGGER swallow BEFORE INSERT ON audit_records BEGIN SELECT RAISE(IGNORE); END',
    )
    await assert.rejects(log.append(rec('swallowed')), tampered(/record 1 was not stored/))
    assert.match(log.problem() ?? '', /do not behave as written/)
    await assert.rejects(log.ready(), tampered(/not carried out/))
    await log.close()
  })

  it('attack: the log set back under a running gateway (its newest records deleted) is LOG_TAMPERED at its next write', async () => {
    const { store, sql } = fresh()
    const log = await open(store, join(root, `gw-${++n}`))
    for (let i = 0; i < 5; i++) await log.append(rec(`r${i}`))
    sql.exec('DELETE FROM audit_records WHERE idx >= 3')
    await assert.rejects(
      log.append(rec('reuses an index')),
      tampered(/handed out index 3, below the 5 records this gateway already saw/),
    )
    assert.match(log.problem() ?? '', /counter was set back/)
    await log.close()
  })

  it("attack: a gateway's unsealed record replaced by another gateway's valid one (a rollback inside the seal window) is refused by its next seal", async () => {
    const { store, sql } = fresh()
    // checkpointMs: no timer seals meanwhile; the test seals by hand.
    const a = await open(store, join(root, `gw-${++n}`), { checkpointMs: 3_600_000 })
    const b = await open(store, join(root, `gw-${++n}`), { checkpointMs: 3_600_000 })
    await a.append(rec('a0'))
    await a.checkpoint()
    await b.checkpoint()
    // A's record 1 is committed and answered, then the table goes back to before it...
    assert.equal(await a.append(rec('a1: deleted the model')), 1)
    sql.exec('DELETE FROM audit_records WHERE idx = 1')
    // ...and B's next record takes index 1, with a MAC that is valid for it.
    assert.equal(await b.append(rec('b1: an innocent read')), 1)
    // B sees nothing wrong (its own record is there, MAC and all): B seals it.
    await b.checkpoint()
    assert.equal(b.problem(), undefined)
    // A is the one witness of its record: it refuses the checkpoint and the log.
    await a.checkpoint()
    assert.match(
      a.problem() ?? '',
      /audit record 1, which this gateway wrote, was replaced in the shared log by another/,
    )
    await a.close()
    await b.close()
  })

  it('attack: a witness away for longer than one seal finds a forked history, a seal at a time, and refuses it', async () => {
    const { store, sql } = fresh()
    const witnessDir = join(root, `gw-${++n}`)
    const step = { sealMax: 8, checkpointMs: 3_600_000 }
    let a = await open(store, witnessDir, step)
    for (let i = 0; i < 10; i++) await a.append(rec(`honest${i}`))
    await a.checkpoint()
    sql.exec('CREATE TABLE bk_r AS SELECT * FROM audit_records')
    sql.exec('CREATE TABLE bk_c AS SELECT * FROM audit_checkpoints')
    for (let i = 0; i < 10; i++) await a.append(rec(`insider${i}`))
    await a.checkpoint()
    await a.close()
    assert.equal(witnessSize(witnessDir), 20)
    // The insider's ten events are rolled back, and a gateway that never saw them (a new
    // node) regrows the log well past one seal's worth, with valid MACs and signatures.
    sql.exec('DELETE FROM audit_records; INSERT INTO audit_records SELECT * FROM bk_r')
    sql.exec('DELETE FROM audit_checkpoints; INSERT INTO audit_checkpoints SELECT * FROM bk_c')
    const b = await open(store, join(root, `gw-${++n}`), step)
    for (let i = 0; i < 40; i++) await b.append(rec(`later${i}`))
    for (let i = 0; i < 6; i++) await b.checkpoint()
    await b.close()
    // The witness comes back: it starts (a long replay must not stop a gateway starting),
    // replays 8 records per seal, and refuses the log when the replay misses the checkpoint.
    a = await open(store, witnessDir, step)
    for (let i = 0; i < 6 && a.problem() === undefined; i++) await a.checkpoint()
    assert.match(
      a.problem() ?? '',
      /records 20 to 49 do not hash to the checkpoint that covers them: a record was changed or the log forked/,
    )
    await assert.rejects(a.ready(), tampered(/not carried out/))
    await a.close()
    assert.equal(witnessSize(witnessDir), 20)
  })

  it('a witness away for longer than one seal catches up with an honest log, and keeps the newest checkpoint', async () => {
    const { store } = fresh()
    const witnessDir = join(root, `gw-${++n}`)
    const step = { sealMax: 8, checkpointMs: 3_600_000 }
    let a = await open(store, witnessDir, step)
    for (let i = 0; i < 10; i++) await a.append(rec(`honest${i}`))
    await a.close()
    const b = await open(store, join(root, `gw-${++n}`), step)
    for (let i = 0; i < 40; i++) await b.append(rec(`later${i}`))
    for (let i = 0; i < 6; i++) await b.checkpoint()
    await b.close()
    a = await open(store, witnessDir, step)
    for (let i = 0; i < 6; i++) await a.checkpoint()
    assert.equal(a.problem(), undefined)
    assert.equal(witnessSize(witnessDir), 50)
    await a.close()
  })

  it("attack (third review): a gateway's seal refused after it read its own record, then the record replaced by another gateway's valid one, is still caught", async () => {
    const { store, sql } = fresh()
    const alerts: string[] = []
    const a = await open(store, join(root, `gw-${++n}`), {
      checkpointMs: 3_600_000,
      onAlert: (p) => alerts.push(p),
    })
    const b = await open(store, join(root, `gw-${++n}`), { checkpointMs: 3_600_000 })
    await a.append(rec('a0'))
    await a.checkpoint()
    await b.checkpoint()
    assert.equal(await a.append(rec('a1: deleted the model')), 1)
    // A's seal reads record 1 (its own, intact), and the database refuses its checkpoint.
    sql.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: audit_checkpoints.prev_size'); END",
    )
    await a.checkpoint()
    sql.exec('DROP TRIGGER refuse')
    assert.equal(a.problem(), undefined)
    assert.ok(
      alerts.some((p) => /checkpoint/.test(p)),
      alerts.join('\n'),
    )
    // Then record 1 goes, B's takes its index and B seals it.
    sql.exec('DELETE FROM audit_records WHERE idx = 1')
    assert.equal(await b.append(rec('b1: an innocent read')), 1)
    await b.checkpoint()
    await a.checkpoint()
    assert.match(
      a.problem() ?? '',
      /audit record 1, which this gateway wrote, was replaced in the shared log by another/,
    )
    await a.close()
    await b.close()
  })

  it('attack (third review): sealing suppressed (every checkpoint refused) stops fail-closed work, and a restart after the unsealed tail is deleted refuses to start', async () => {
    const { store, sql } = fresh()
    const dir = join(root, `gw-${++n}`)
    const quick = { checkpointMs: 50, sealDeadlineMs: 300 }
    let a = await open(store, dir, quick)
    await a.append(rec('sealed0'))
    await a.checkpoint()
    sql.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'could not serialize access'); END",
    )
    for (let i = 0; i < 5; i++) await a.append(rec(`answered-${i}`))
    await new Promise((r) => setTimeout(r, 600))
    assert.match(a.problem() ?? '', /waited over 0 s for a signed checkpoint: sealing fails/)
    await assert.rejects(a.ready(), tampered(/not carried out/))
    await a.close()
    // While the gateway is down, the unsealed tail goes, and so does the trigger.
    sql.exec('DELETE FROM audit_records WHERE idx >= 1; DROP TRIGGER refuse')
    await assert.rejects(open(store, dir, quick), (e) => {
      assert.ok(isStrongroomError(e, 'LOG_TAMPERED'))
      assert.match(e.message, /holds 1 records, fewer than the 6 this gateway saw/)
      return true
    })
    // Once the database seals again, a gateway takes work again.
    a = await open(store, join(root, `gw-${++n}`), quick)
    await a.append(rec('later'))
    await a.checkpoint()
    assert.equal(a.problem(), undefined)
    await a.close()
  })

  it("attack (third review): during a catch-up, a checkpoint the gateway stored itself is witnessed too: a rollback to the catch-up's target and a refill are caught", async () => {
    const { store, sql } = fresh()
    const step = { sealMax: 8, checkpointMs: 3_600_000 }
    const aDir = join(root, `gw-${++n}`)
    const bDir = join(root, `gw-${++n}`)
    let a = await open(store, aDir, step)
    for (let i = 0; i < 10; i++) await a.append(rec(`a${i}`))
    await a.close()
    const before = witnessSize(aDir)
    let b = await open(store, bDir, step)
    for (let i = 0; i < 40; i++) await b.append(rec(`b${i}`))
    for (let i = 0; i < 6; i++) await b.checkpoint()
    await b.close()
    a = await open(store, aDir, step) // catching up towards 50
    assert.equal(await a.append(rec('A: deleted the bucket')), 50)
    await a.checkpoint() // replays 8 more, and stores its own checkpoint of 51
    assert.equal(witnessSize(aDir), before)
    sql.exec(
      'DELETE FROM audit_records WHERE idx >= 50; DELETE FROM audit_checkpoints WHERE size > 50',
    )
    b = await open(store, bDir, step)
    assert.equal(await b.append(rec('B: an innocent read')), 50)
    await b.checkpoint()
    await b.close()
    for (let i = 0; i < 8 && a.problem() === undefined; i++) await a.checkpoint()
    assert.match(
      a.problem() ?? '',
      /does not extend the one of 51 records this gateway saw|audit record 50, which this gateway wrote, was replaced/,
    )
    await a.close()
  })

  it('attack (fourth review): records arriving while the store fails every write do not hammer it: one attempt per 200 ms', async () => {
    const { store, sql } = fresh()
    let attempts = 0
    const counted: MetadataStore = Object.create(store) as MetadataStore
    counted.appendAuditRecords = (records, mac) => {
      attempts++
      return store.appendAuditRecords(records, mac)
    }
    const log = await open(counted, join(root, `gw-${++n}`))
    sql.exec(
      "CREATE TRIGGER failing BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    await assert.rejects(log.append(rec('first')))
    attempts = 0
    const started = Date.now()
    while (Date.now() - started < 1000) {
      log.enqueue(rec('best effort'))
      await assert.rejects(log.ready(), tampered(/failed a write/))
      await new Promise((r) => setTimeout(r, 2))
    }
    assert.ok(attempts <= 7, `${attempts} attempts in 1 s`)
    assert.ok(attempts >= 3, `${attempts} attempts in 1 s: it does retry`)
    sql.exec('DROP TRIGGER failing')
    for (let i = 0; i < 30 && log.problem() !== undefined; i++)
      await new Promise((r) => setTimeout(r, 100))
    assert.equal(log.problem(), undefined)
    await log.close()
  })

  it('(fifth review) a log closed while its store fails makes one last attempt, counts what it could not store, and writes nothing after', async () => {
    const { store, sql } = fresh()
    let attempts = 0
    const counted: MetadataStore = Object.create(store) as MetadataStore
    counted.appendAuditRecords = (records, mac) => {
      attempts++
      return store.appendAuditRecords(records, mac)
    }
    const alerts: string[] = []
    const log = await open(counted, join(root, `gw-${++n}`), { onAlert: (p) => alerts.push(p) })
    sql.exec(
      "CREATE TRIGGER failing BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    await assert.rejects(log.append(rec('kept for a retry')))
    log.enqueue(rec('best effort'))
    attempts = 0
    await log.close()
    assert.equal(attempts, 1)
    assert.equal(log.droppedCount, 2)
    assert.ok(
      alerts.some((p) => /closed with 2 records it could not store/.test(p)),
      alerts.join('\n'),
    )
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(attempts, 1)
  })

  it('attack: while the store fails every write, fail-closed work is refused until a write succeeds, and the records are kept', async () => {
    const { store, sql } = fresh()
    const log = await open(store, join(root, `gw-${++n}`))
    sql.exec(
      "CREATE TRIGGER failing BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    await assert.rejects(log.append(rec('first')), tampered(/could not store the event/))
    // Between one failed attempt and the next (retried every 200 ms), nothing is admitted.
    for (let i = 0; i < 5; i++) {
      await assert.rejects(log.ready(), tampered(/failed a write: .*disk I\/O error/))
      await new Promise((r) => setTimeout(r, 100))
    }
    sql.exec('DROP TRIGGER failing')
    for (let i = 0; i < 50 && log.problem() !== undefined; i++)
      await new Promise((r) => setTimeout(r, 100))
    await log.ready()
    await log.flush()
    const stored = sql.prepare('SELECT record FROM audit_records ORDER BY idx').all()
    assert.deepEqual(
      stored.map((r) => Buffer.from(r.record as Uint8Array).toString()),
      ['{"eventID":"first"}'],
    )
    await log.close()
  })
})
