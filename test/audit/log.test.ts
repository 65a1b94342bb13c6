/**
 * The audit log a gateway writes (src/audit/log.ts): group commit through the journal, sealing
 * into the signed tiled log, recovery after a crash (a SIGKILLed writer loses no acknowledged
 * record), and refusal when the log is tampered with or the disk cannot take it: the journal
 * removed, truncated or written by someone else, the log directory removed or replaced, the
 * checkpoint replaced, the disk nearly full, a second writer.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../src/errors.ts'
import { encodeFrames, readJournal } from '../../src/audit/journal.ts'
import { AuditLog, type AuditLogOptions } from '../../src/audit/log.ts'
import { records as readRecords } from '../../src/audit/read.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'
import { TileReader } from '../../src/audit/tlog/tiles.ts'
import { verifyLog } from '../../src/audit/tlog/verify.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-auditlog-'))
after(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0
const origin = 'strongroom/audit/test'
const keys = generateKey(origin)
const options = (extra: Partial<AuditLogOptions> = {}): AuditLogOptions => ({
  dir: join(root, `a${dirs++}`),
  signerKey: keys.signerKey,
  verifierKey: keys.verifierKey,
  origin,
  onAlert: () => {},
  ...extra,
})
const rec = (i: number) => Buffer.from(`{"eventID":"${i}"}`)
const unavailable = (e: unknown) => isStrongroomError(e, 'SERVICE_UNAVAILABLE')

async function records(dir: string): Promise<string[]> {
  const check = await verifyLog(join(dir, 'log'), keys.verifierKey)
  assert.ok(check.ok, JSON.stringify(check))
  const reader = new TileReader(join(dir, 'log'), check.size)
  const out: string[] = []
  for (let i = 0; i < check.size; i++) out.push((await reader.readEntry(i)).toString())
  return out
}

describe('audit log: group commit and checkpoints', () => {
  it('acknowledges each record with its index, in order, and seals them under a checkpoint that verifies', async () => {
    const o = options()
    const log = await AuditLog.open(o)
    const got = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(rec(i))))
    assert.deepEqual(
      got,
      Array.from({ length: 1000 }, (_, i) => i),
    )
    await log.close()
    assert.deepEqual(
      await records(o.dir),
      Array.from({ length: 1000 }, (_, i) => rec(i).toString()),
    )
  })

  it('continues the same log after a restart', async () => {
    const o = options()
    const first = await AuditLog.open(o)
    await first.append(rec(0))
    await first.close()
    const second = await AuditLog.open(o)
    assert.equal(second.size, 1)
    assert.equal(await second.append(rec(1)), 1)
    await second.close()
    assert.deepEqual(await records(o.dir), ['{"eventID":"0"}', '{"eventID":"1"}'])
  })

  it('writes a checkpoint within checkpointMs of activity without being closed', async () => {
    const o = options({ checkpointMs: 100 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    await new Promise((r) => setTimeout(r, 400))
    assert.deepEqual(await records(o.dir), ['{"eventID":"0"}'])
    await log.close()
  })

  it('tells subscribers of every durable record, in index order', async () => {
    const log = await AuditLog.open(options())
    const seen: number[] = []
    log.subscribe((i, r) => seen.push(i) && assert.equal(r.toString(), rec(i).toString()))
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(rec(i))))
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => i),
    )
    await log.close()
  })

  it('ready() asked while groups are being committed never mistakes them for tampering', async () => {
    const log = await AuditLog.open(options())
    const work: Promise<unknown>[] = []
    for (let i = 0; i < 300; i++) {
      work.push(log.append(rec(i)))
      await log.ready()
    }
    await Promise.all(work)
    assert.equal(log.problem(), undefined)
    assert.equal(log.size, 300)
    await log.close()
  })

  it('refuses a record larger than a tile entry can hold, before anything is written', async () => {
    const log = await AuditLog.open(options())
    assert.throws(
      () => log.append(Buffer.alloc(65_536)),
      (e) => isStrongroomError(e, 'LIMIT_EXCEEDED'),
    )
    assert.equal(await log.append(rec(0)), 0)
    await log.close()
  })
})

describe('audit log: reading while it is written', () => {
  it('a reader during seals sees every acknowledged record, in order, never a gap', async () => {
    const o = options({ checkpointMs: 5 })
    const log = await AuditLog.open(o)
    const state = { stop: false }
    let acked = 0
    const writer = (async () => {
      for (let i = 0; !state.stop; i++) {
        await log.append(rec(i))
        acked = i + 1
      }
    })()
    for (let round = 0; round < 30; round++) {
      const before = acked
      const seen: number[] = []
      for await (const [i, r] of readRecords(o.dir)) {
        assert.equal(r.toString(), rec(i).toString())
        seen.push(i)
      }
      assert.ok(seen.length >= before, `${seen.length} records read, ${before} acknowledged before`)
      assert.deepEqual(
        seen,
        seen.map((_, k) => k),
      )
    }
    state.stop = true
    await writer
    await log.close()
  })
})

describe('audit log: crashes', () => {
  it('SIGKILL mid-append loses no acknowledged record', async () => {
    const o = options()
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'fixtures', 'append-and-die.ts'),
        o.dir,
        keys.signerKey,
        keys.verifierKey,
        origin,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    // Kill it once it has acknowledged a good number, mid-stream (checkpoints every 50 ms).
    while ((out.match(/\n/g) ?? []).length < 3000) await new Promise((r) => setTimeout(r, 5))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const acked = out
      .split('\n')
      .filter((l) => /^\d+ \d+$/.test(l))
      .map((l) => l.split(' ').map(Number) as [number, number])
    assert.ok(acked.length >= 3000)
    const log = await AuditLog.open(o)
    await log.close()
    const stored = await records(o.dir)
    for (const [index, i] of acked)
      assert.equal(
        stored[index],
        `record ${i} ${'x'.repeat(i % 300)}`,
        `acknowledged record ${index}`,
      )
  })

  it('a torn last journal record (never acknowledged) is dropped on open', async () => {
    const o = options()
    mkdirSync(o.dir, { recursive: true })
    const frames = encodeFrames([{ bytes: rec(0) }, { bytes: rec(1) }], 0)
    writeFileSync(join(o.dir, 'journal'), frames.subarray(0, frames.length - 3))
    const log = await AuditLog.open(o)
    assert.equal(log.size, 1)
    await log.close()
    assert.deepEqual(await records(o.dir), ['{"eventID":"0"}'])
  })

  it('a damaged journal record with records after it is refused (LOG_TAMPERED)', async () => {
    const o = options()
    mkdirSync(o.dir, { recursive: true })
    const frames = encodeFrames([{ bytes: rec(0) }, { bytes: rec(1) }, { bytes: rec(2) }], 0)
    frames[20] = (frames[20] ?? 0) ^ 1
    writeFileSync(join(o.dir, 'journal'), frames)
    await assert.rejects(AuditLog.open(o), (e) => isStrongroomError(e, 'LOG_TAMPERED'))
  })

  it('a journal with a record missing is refused (LOG_TAMPERED)', async () => {
    const o = options()
    mkdirSync(o.dir, { recursive: true })
    writeFileSync(
      join(o.dir, 'journal'),
      Buffer.concat([encodeFrames([{ bytes: rec(0) }], 0), encodeFrames([{ bytes: rec(2) }], 2)]),
    )
    await assert.rejects(
      AuditLog.open(o),
      (e) => isStrongroomError(e, 'LOG_TAMPERED') && /record 1 belongs/.test(String(e)),
    )
  })

  it('a checkpoint signed by another key is refused on open (LOG_TAMPERED)', async () => {
    const o = options()
    await (await AuditLog.open(o)).close()
    const other = generateKey(origin)
    await assert.rejects(
      AuditLog.open({ ...o, signerKey: other.signerKey, verifierKey: other.verifierKey }),
      (e) => isStrongroomError(e, 'LOG_TAMPERED'),
    )
  })

  it('journal reading: any cut of well-formed frames gives exactly the whole frames before the cut', async () => {
    const file = join(root, 'journal-prop')
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.nat(),
        async (recs, cutAt) => {
          const bytes = recs.map((r) => ({ bytes: Buffer.from(r) }))
          const frames = encodeFrames(bytes, 0)
          const cut = cutAt % (frames.length + 1)
          writeFileSync(file, frames.subarray(0, cut))
          const got = await readJournal(file, 0)
          let whole = 0
          for (let at = 0, i = 0; i < recs.length; i++) {
            at += 16 + (recs[i]?.length ?? 0)
            if (at <= cut) whole++
          }
          assert.deepEqual(
            got.map((b) => b.toString('hex')),
            recs.slice(0, whole).map((r) => Buffer.from(r).toString('hex')),
          )
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('audit log: refuses when it cannot record', () => {
  it('the journal removed under a running log: refused and alerted', async () => {
    const alerts: string[] = []
    const o = options({ onAlert: (p) => alerts.push(p) })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    rmSync(join(o.dir, 'journal'))
    await assert.rejects(log.append(rec(1)), unavailable)
    assert.match(log.problem() ?? '', /journal was removed/)
    assert.ok(alerts.some((a) => /journal was removed/.test(a)))
    await assert.rejects(log.append(rec(2)), unavailable)
    await log.close()
  })

  it('the journal truncated under a running log: refused', async () => {
    const o = options({ checkpointMs: 60_000 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    await log.append(rec(1))
    truncateSync(join(o.dir, 'journal'), 10)
    await assert.rejects(log.append(rec(2)), unavailable)
    assert.match(log.problem() ?? '', /journal was truncated/)
    await log.close()
  })

  it('the journal written by another process: refused', async () => {
    const o = options({ checkpointMs: 60_000 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    appendFileSync(join(o.dir, 'journal'), 'forged')
    await assert.rejects(log.append(rec(1)), unavailable)
    assert.match(log.problem() ?? '', /another process/)
    await log.close()
  })

  it('the log directory removed under a running log: refused at the next checkpoint', async () => {
    const o = options({ checkpointMs: 50 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    rmSync(join(o.dir, 'log'), { recursive: true })
    await log.append(rec(1)).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 200))
    assert.match(log.problem() ?? '', /directory .* was removed/)
    await assert.rejects(log.append(rec(2)), unavailable)
    await log.close()
  })

  it('the log directory replaced under a running log: refused', async () => {
    const o = options({ checkpointMs: 50 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    renameSync(join(o.dir, 'log'), join(o.dir, 'log.old'))
    mkdirSync(join(o.dir, 'log'))
    await new Promise((r) => setTimeout(r, 200))
    assert.match(log.problem() ?? '', /was replaced/)
    await assert.rejects(log.append(rec(1)), unavailable)
    await log.close()
  })

  it('the checkpoint replaced under a running log: refused', async () => {
    const o = options({ checkpointMs: 50 })
    const log = await AuditLog.open(o)
    await log.append(rec(0))
    await log.checkpoint()
    writeFileSync(
      join(o.dir, 'log', 'checkpoint'),
      readFileSync(join(o.dir, 'log', 'checkpoint'), 'utf8').replace(/\n1\n/, '\n0\n'),
    )
    await new Promise((r) => setTimeout(r, 1200))
    assert.match(log.problem() ?? '', /checkpoint was replaced/)
    await log.close()
  })

  it('the disk nearly full: new records refused until space returns', async () => {
    const o = options({ minFreeBytes: Number.MAX_SAFE_INTEGER })
    const log = await AuditLog.open(o)
    await new Promise((r) => setTimeout(r, 1200))
    assert.match(log.problem() ?? '', /MiB free, less than/)
    await assert.rejects(log.append(rec(0)), unavailable)
    log.enqueue(rec(0))
    await log.close()
  })

  it('a second writer of the same log is refused; a lock left by a dead process is taken over', async () => {
    const o = options()
    const log = await AuditLog.open(o)
    await assert.rejects(
      AuditLog.open(o),
      (e) => isStrongroomError(e, 'IO') && /held by this process/.test(String(e)),
    )
    await log.close()
    writeFileSync(join(o.dir, 'log.lock'), '999999999\n')
    const again = await AuditLog.open(o)
    assert.equal(again.size, 0)
    await again.close()
  })

  it('inbox: a damaged file and a FIFO are set aside with an alert; the files after them are taken in', async () => {
    const alerts: string[] = []
    const o = options({ checkpointMs: 50, onAlert: (p) => alerts.push(p) })
    const log = await AuditLog.open(o)
    const inbox = join(o.dir, 'inbox')
    mkdirSync(inbox, { recursive: true })
    const bad = encodeFrames([{ bytes: rec(100) }, { bytes: rec(101) }], 0)
    bad[20] = (bad[20] ?? 0) ^ 1
    writeFileSync(join(inbox, '001-bad'), bad)
    execFileSync('mkfifo', [join(inbox, '002-fifo')])
    writeFileSync(join(inbox, '003-good'), encodeFrames([{ bytes: rec(7) }], 0))
    for (let i = 0; i < 60 && readdirSync(inbox).length > 1; i++)
      await new Promise((r) => setTimeout(r, 50))
    assert.equal(log.size, 1)
    assert.equal(log.problem(), undefined)
    assert.deepEqual(readdirSync(inbox).sort(), ['rejected'])
    assert.deepEqual(readdirSync(join(inbox, 'rejected')).sort(), ['001-bad', '002-fifo'])
    assert.equal(alerts.filter((a) => /set aside/.test(a)).length, 2)
    await log.close()
    assert.deepEqual(await records(o.dir), [rec(7).toString()])
  })
})
