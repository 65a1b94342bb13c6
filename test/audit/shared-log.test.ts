/**
 * The shared audit log (src/audit/shared-log.ts) of gateways that share one metadata database,
 * here on SQLite's adapter of the same port (test/pg/shared-audit.test.ts runs gateways on
 * PostgreSQL): one order for every writer, checkpoints any writer may seal, an export that any
 * tlog-tiles verifier checks, and refusal when the database was tampered with.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../src/errors.ts'
import { encodeEvent } from '../../src/audit/event.ts'
import { exportSharedLog } from '../../src/audit/export.ts'
import { parseSinkSpecs } from '../../src/audit/sinks/config.ts'
import { sampleEvent } from '../../src/audit/sinks/testing.ts'
import { startAuditStream } from '../../src/audit/stream.ts'
import { auditKeys } from '../../src/audit/keys.ts'
import { sharedRecords, SharedAuditLog } from '../../src/audit/shared-log.ts'
import { generateKey, signNote } from '../../src/audit/tlog/note.ts'
import { formatCheckpoint } from '../../src/audit/tlog/checkpoint.ts'
import { verifyLog } from '../../src/audit/tlog/verify.ts'
import { EMPTY_ROOT } from '../../src/audit/tlog/merkle.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import type { MetadataStore } from '../../src/meta/store.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-shared-log-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const origin = 'strongroom/audit/shared-test'
const keys = generateKey(origin)
const macKey = Buffer.alloc(32, 9)
const rec = (s: string) => Buffer.from(`{"eventID":"${s}"}`)

function fresh(): { store: MetadataStore; path: string } {
  const path = join(root, `${++n}.sqlite`)
  return { store: SqliteMetadataStore.open(path, { create: true }), path }
}

const open = (store: MetadataStore, alerts: string[] = []) =>
  SharedAuditLog.open({
    store,
    dir: join(root, `gw-${++n}`),
    signerKey: keys.signerKey,
    verifierKey: keys.verifierKey,
    origin,
    macKey,
    onAlert: (p) => alerts.push(p),
  })

const exported = (store: MetadataStore, dir: string) =>
  exportSharedLog(store, dir, { verifierKey: keys.verifierKey, origin, macKey })

describe('shared audit log', () => {
  it('gives records from several writers one dense order, sealed and exported as a log that verifies', async () => {
    const { store } = fresh()
    try {
      const [a, b] = [await open(store), await open(store)]
      const ia = Promise.all(Array.from({ length: 300 }, (_, i) => a.append(rec(`a${i}`))))
      const ib = Promise.all(Array.from({ length: 300 }, (_, i) => b.append(rec(`b${i}`))))
      const indexes = [...(await ia), ...(await ib)].sort((x, y) => x - y)
      assert.deepEqual(
        indexes,
        Array.from({ length: 600 }, (_, i) => i),
      )
      // Whichever seals, the checkpoint covers every writer's records.
      await a.checkpoint()
      const note = await b.checkpoint()
      assert.match(note, /^strongroom\/audit\/shared-test\n600\n/)
      const dir = join(root, 'export-1')
      const r = await exported(store, dir)
      assert.deepEqual([r.from, r.size], [0, 600])
      const check = await verifyLog(dir, keys.verifierKey)
      assert.ok(check.ok, JSON.stringify(check))
      assert.equal(check.size, 600)
      // The order is the indexes the writers were told.
      const all: string[] = []
      for await (const [, r] of sharedRecords(store)) all.push(r.toString())
      assert.equal(all.length, 600)
      const told = new Map<number, string>()
      ;(await ia).forEach((i, k) => told.set(i, rec(`a${k}`).toString()))
      ;(await ib).forEach((i, k) => told.set(i, rec(`b${k}`).toString()))
      assert.deepEqual(
        all,
        all.map((_, i) => told.get(i)),
      )
      await a.close()
      await b.close()
    } finally {
      await store.close()
    }
  })

  it('checkpoint covers the records committed before it, even when a seal begun earlier is still under way', async () => {
    const { store } = fresh()
    // The real store, slow to store a checkpoint, as a loaded database is: a seal
    // is then still under way when the next record commits.
    const slow = new Proxy(store, {
      get(target, name, receiver) {
        const v = Reflect.get(target, name, receiver) as unknown
        if (name !== 'addAuditCheckpoint' || typeof v !== 'function') return v
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, 5))
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    try {
      const a = await open(slow)
      const b = await open(slow)
      for (let round = 0; round < 10; round++) {
        await a.append(rec(`early${round}`))
        // A seal that began before the next record was committed...
        const under = a.checkpoint()
        const index = await a.append(rec(`late${round}`))
        // ...and another gateway's smaller checkpoint winning meanwhile.
        const other = b.checkpoint()
        const note = await a.checkpoint()
        await under
        await other
        const size = Number(note.split('\n')[1])
        assert.ok(
          size > index,
          `round ${round}: checkpoint of ${size} records misses record ${index}`,
        )
      }
      await a.close()
      await b.close()
    } finally {
      await store.close()
    }
  })

  it('continues an export with only the newer records, proving the database kept the older ones', async () => {
    const { store } = fresh()
    try {
      const log = await open(store)
      for (let i = 0; i < 10; i++) await log.append(rec(`x${i}`))
      await log.checkpoint()
      const dir = join(root, 'export-2')
      assert.equal((await exported(store, dir)).size, 10)
      for (let i = 0; i < 5; i++) await log.append(rec(`y${i}`))
      await log.checkpoint()
      const again = await exported(store, dir)
      assert.deepEqual([again.from, again.size], [10, 15])
      const check = await verifyLog(dir, keys.verifierKey)
      assert.ok(check.ok, JSON.stringify(check))
      assert.equal(check.size, 15)
      await log.close()
    } finally {
      await store.close()
    }
  })

  it('attack: a record rewritten in the database after it was sealed fails the export (LOG_TAMPERED)', async () => {
    const { store, path } = fresh()
    try {
      const log = await open(store)
      for (let i = 0; i < 20; i++) await log.append(rec(`r${i}`))
      await log.checkpoint()
      await log.close()
      const db = new DatabaseSync(path)
      db.prepare('UPDATE audit_records SET record = ? WHERE idx = 7').run(rec('forged'))
      db.close()
      await assert.rejects(exported(store, join(root, 'export-3')), (e) =>
        isStrongroomError(e, 'LOG_TAMPERED'),
      )
    } finally {
      await store.close()
    }
  })

  it('attack: a record deleted from the database leaves a gap that the next seal and the export refuse', async () => {
    const { store, path } = fresh()
    try {
      const alerts: string[] = []
      const log = await open(store, alerts)
      for (let i = 0; i < 5; i++) await log.append(rec(`d${i}`))
      await log.checkpoint()
      for (let i = 0; i < 5; i++) await log.append(rec(`e${i}`))
      const db = new DatabaseSync(path)
      db.prepare('DELETE FROM audit_records WHERE idx = 7').run()
      db.close()
      await log.checkpoint()
      assert.match(log.problem() ?? '', /audit record 7 is missing/)
      await assert.rejects(log.append(rec('after')), (e) =>
        isStrongroomError(e, 'SERVICE_UNAVAILABLE'),
      )
      assert.ok(alerts.some((a) => a.includes('record 7 is missing')))
      await log.close()
    } finally {
      await store.close()
    }
  })

  it('attack: a forged record inserted in the database (the next index) is refused by the next seal, and never signed', async () => {
    const { store, path } = fresh()
    try {
      const log = await open(store)
      for (let i = 0; i < 3; i++) await log.append(rec(`g${i}`))
      await log.checkpoint()
      const db = new DatabaseSync(path)
      db.prepare('INSERT INTO audit_records (idx, record, mac) VALUES (3, ?, ?)').run(
        rec('forged'),
        Buffer.alloc(32),
      )
      db.close()
      await log.checkpoint()
      assert.match(log.problem() ?? '', /audit record 3 .* was not written there by a gateway/)
      await log.close()
      // No checkpoint covers it: the export stops at the last signed one.
      assert.equal((await exported(store, join(root, `export-${++n}`))).size, 3)
    } finally {
      await store.close()
    }
  })

  it('attack: a checkpoint not signed by the deployment makes the log refuse to open, and a running log refuse work', async () => {
    const { store, path } = fresh()
    try {
      const log = await open(store)
      await log.append(rec('one'))
      await log.checkpoint()
      const other = generateKey(origin)
      const forged = signNote(
        formatCheckpoint({ origin, size: 1, root: Buffer.alloc(32), extensions: [] }),
        other.signerKey,
      )
      const db = new DatabaseSync(path)
      db.prepare('UPDATE audit_checkpoints SET note = ? WHERE size = 1').run(forged)
      db.close()
      await assert.rejects(open(store), (e) => isStrongroomError(e, 'LOG_TAMPERED'))
      await log.append(rec('two'))
      await log.checkpoint()
      assert.match(log.problem() ?? '', /not the one this deployment signed/)
      await log.close()
    } finally {
      await store.close()
    }
  })

  it('attack: the database rolled back to an older copy under a running gateway: it refuses work, and refuses to start again', async () => {
    const { store, path } = fresh()
    const dir = join(root, `witness-${++n}`)
    const reopen = () =>
      SharedAuditLog.open({
        store,
        dir,
        signerKey: keys.signerKey,
        verifierKey: keys.verifierKey,
        origin,
        macKey,
        onAlert: () => {},
      })
    try {
      const log = await reopen()
      for (let i = 0; i < 8; i++) await log.append(rec(`old${i}`))
      await log.checkpoint()
      for (let i = 0; i < 4; i++) await log.append(rec(`new${i}`))
      await log.checkpoint()
      // What a restore of a copy taken at 8 records leaves: the newer records and checkpoint gone.
      const db = new DatabaseSync(path)
      db.prepare('DELETE FROM audit_records WHERE idx >= 8').run()
      db.prepare('DELETE FROM audit_checkpoints WHERE size > 8').run()
      db.close()
      await log.checkpoint()
      assert.match(log.problem() ?? '', /holds 8 records, fewer than the 12 this gateway saw/)
      await assert.rejects(log.append(rec('after')), (e) =>
        isStrongroomError(e, 'SERVICE_UNAVAILABLE'),
      )
      await log.close()
      // Restarted, it remembers the checkpoint it saw and the records it counted
      // (DIR/witness.json).
      await assert.rejects(reopen(), (e) => {
        assert.ok(isStrongroomError(e, 'LOG_TAMPERED'))
        assert.match(e.message, /holds 8 records, fewer than the 12 this gateway saw/)
        return true
      })
      const kept = JSON.parse(readFileSync(join(dir, 'witness.json'), 'utf8')) as { count: number }
      assert.equal(kept.count, 12)
      // A gateway that never saw the newer checkpoint has nothing to compare: a fresh export
      // verifies the older log, which is why every gateway keeps its witness.
      await (await open(store)).close()
    } finally {
      await store.close()
    }
  })

  it('attack: checkpoints removed and a sealed record rewritten, or the audit tables emptied: a running gateway refuses', async () => {
    for (const attack of [
      [
        'DELETE FROM audit_checkpoints WHERE size > 0',
        "UPDATE audit_records SET record = X'7b7d' WHERE idx = 5",
      ],
      ['DELETE FROM audit_checkpoints', 'DELETE FROM audit_records'],
    ]) {
      const { store, path } = fresh()
      try {
        const log = await open(store)
        for (let i = 0; i < 10; i++) await log.append(rec(`t${i}`))
        await log.checkpoint()
        const db = new DatabaseSync(path)
        for (const sql of attack) db.prepare(sql).run()
        db.close()
        await log.checkpoint()
        assert.match(
          log.problem() ?? '',
          /does not extend the one of 10 records|fewer than the 10 this gateway saw/,
          attack.join('; '),
        )
        await log.close()
      } finally {
        await store.close()
      }
    }
  })

  it('attack: an export directory ahead of the database (a rolled-back database) is refused', async () => {
    const a = fresh()
    const b = fresh()
    try {
      for (const [store, count] of [
        [a.store, 8],
        [b.store, 3],
      ] as const) {
        const log = await open(store)
        for (let i = 0; i < count; i++) await log.append(rec(`z${i}`))
        await log.close()
      }
      const dir = join(root, 'export-4')
      await exported(a.store, dir)
      await assert.rejects(exported(b.store, dir), (e) => isStrongroomError(e, 'LOG_TAMPERED'))
    } finally {
      await a.store.close()
      await b.store.close()
    }
  })

  it("attack: exporting into another log's export, or onto a file, is refused before anything is written", async () => {
    const { store } = fresh()
    try {
      const log = await open(store)
      await log.append(rec('mine'))
      await log.close()
      const foreign = join(root, 'export-foreign')
      mkdirSync(foreign)
      const theirs = generateKey('strongroom/audit/someone-else')
      writeFileSync(
        join(foreign, 'checkpoint'),
        signNote(
          formatCheckpoint({
            origin: 'strongroom/audit/someone-else',
            size: 0,
            root: Buffer.from(EMPTY_ROOT),
            extensions: [],
          }),
          theirs.signerKey,
        ),
      )
      await assert.rejects(exported(store, foreign), /holds an export of another log/)
      assert.deepEqual(readdirSync(foreign), ['checkpoint'])
      const file = join(root, 'export-file')
      writeFileSync(file, 'x')
      await assert.rejects(exported(store, file), /is not a directory/)
    } finally {
      await store.close()
    }
  })

  it("sends a new gateway's sinks what it writes from then on, not the installation's history", async () => {
    const { store } = fresh()
    try {
      const a = await open(store)
      for (let i = 0; i < 5; i++) await a.append(encodeEvent(sampleEvent(i)))
      const b = await open(store)
      const files = join(root, `sink-${++n}`)
      const stream = await startAuditStream(b, {
        sinks: parseSinkSpecs([{ type: 'file', name: 'siem', dir: files }]),
        rules: 'off',
        env: {},
        onAlert: () => {},
      })
      await b.append(encodeEvent(sampleEvent(5)))
      await b.append(encodeEvent(sampleEvent(6)))
      await b.flush()
      await stream.close()
      const sent = readdirSync(files)
        .flatMap((f) => readFileSync(join(files, f), 'utf8').trim().split('\n'))
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { eventID: string }).eventID)
      assert.deepEqual(sent, [sampleEvent(5).eventID, sampleEvent(6).eventID])
      await a.close()
      await b.close()
    } finally {
      await store.close()
    }
  })

  it('keeps one pair of audit keys for every gateway, moving in the keys a data directory had', async () => {
    const { store } = fresh()
    try {
      const sealer = {
        sealSystemSecret: (_: string, p: Uint8Array) => Buffer.from(p),
        openSystemSecret: (_: string, s: Uint8Array) => Buffer.from(s),
      }
      const legacy = join(root, 'dd-legacy')
      mkdirSync(join(legacy, 'audit'), { recursive: true })
      writeFileSync(join(legacy, 'audit', 'keys.sealed'), Buffer.alloc(64, 7))
      const first = await auditKeys(legacy, sealer, store)
      const second = await auditKeys(join(root, 'dd-other'), sealer, store)
      assert.equal(first.verifierKey, second.verifierKey)
      assert.deepEqual(first.hmacKey, Buffer.alloc(32, 7))
      assert.deepEqual(second.hmacKey, Buffer.alloc(32, 7))
    } finally {
      await store.close()
    }
  })
})
