/**
 * SpooledQueue on a real spool directory, in front of a transport written for the test that
 * records what it is sent and fails when told: order and at-least-once through partial and failed
 * sends, idempotent re-offers, the flush deadline, restarts, and a spool damaged on disk (a torn
 * append is cut off; a corrupt line is reported and skipped, never delivered).
 */
import assert from 'node:assert/strict'
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { SpooledQueue, type QueueOptions } from './queue.ts'
import {
  backoffDelay,
  DeliveryError,
  MAX_RETRY_AFTER_MS,
  type SpoolEntry,
  type Transport,
} from './sink.ts'
import { firstArrivals, range, sampleEvent } from './testing.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-queue-'))
after(() => rmSync(work, { recursive: true, force: true }))
let dirs = 0
const spoolDir = () => join(work, `spool-${dirs++}`)

/** Records what it is sent; `take` decides how many of a batch it accepts (0: fail). */
class Recorder implements Transport {
  readonly target = 'test:recorder'
  readonly seqs: number[] = []
  readonly batches: number[][] = []
  take: (batch: readonly SpoolEntry[]) => number = (b) => b.length
  send(batch: readonly SpoolEntry[]): Promise<number> {
    this.batches.push(batch.map((e) => e.seq))
    const n = this.take(batch)
    if (n === 0) return Promise.reject(new DeliveryError('test: refused'))
    for (const e of batch.slice(0, n)) {
      assert.equal(e.event.eventID, sampleEvent(e.seq).eventID)
      this.seqs.push(e.seq)
    }
    return Promise.resolve(n)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

const open = (transport: Transport, o: Partial<QueueOptions> = {}) =>
  SpooledQueue.open({
    name: 'q',
    spoolDir: spoolDir(),
    transport,
    backoff: { baseMs: 5, capMs: 20 },
    ...o,
  })

describe('SpooledQueue', () => {
  it('delivers in order through partial and failed sends, each seq once it is taken', async (t) => {
    const rec = new Recorder()
    let calls = 0
    // Every third send fails; the others take half the batch.
    rec.take = (b) => (++calls % 3 === 0 ? 0 : Math.max(1, Math.floor(b.length / 2)))
    const q = await open(rec, { maxBatch: 16 })
    t.after(() => q.close())
    for (let i = 0; i < 300; i++) q.offer(i, sampleEvent(i))
    await q.flush(10_000)
    assert.deepEqual(rec.seqs, range(0, 300))
    for (const b of rec.batches) assert.deepEqual(b, range(b[0] ?? 0, (b[0] ?? 0) + b.length))
    assert.equal(q.status().delivered, 299)
  })

  it('ignores an offer at or below the highest accepted, and seqs that are not seqs', async (t) => {
    const rec = new Recorder()
    const q = await open(rec)
    t.after(() => q.close())
    for (let i = 0; i < 10; i++) q.offer(i, sampleEvent(i))
    for (let i = 0; i < 10; i++) q.offer(i, sampleEvent(99))
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) q.offer(bad, sampleEvent(0))
    assert.equal(q.highestAccepted(), 9)
    await q.flush(5000)
    assert.deepEqual(rec.seqs, range(0, 10))
  })

  it('starts a new sink at startSeq, and a reopened one where it stopped', async () => {
    const dir = spoolDir()
    const rec = new Recorder()
    const q = await open(rec, { spoolDir: dir, startSeq: 1000 })
    assert.equal(q.highestAccepted(), 999)
    q.offer(5, sampleEvent(5))
    q.offer(1000, sampleEvent(1000))
    await q.flush(5000)
    await q.close()
    assert.deepEqual(rec.seqs, [1000])
    const again = await open(new Recorder(), { spoolDir: dir, startSeq: 0 })
    assert.equal(again.highestAccepted(), 1000)
    await again.close()
  })

  it('when flush runs out of time: rejects, writes memory to disk, and loses nothing', async () => {
    const dir = spoolDir()
    const rec = new Recorder()
    rec.take = () => 0
    const q = await open(rec, { spoolDir: dir, maxQueued: 1000 })
    for (let i = 0; i < 100; i++) q.offer(i, sampleEvent(i))
    await assert.rejects(q.flush(100), (e: Error) => isStrongroomError(e, 'SERVICE_UNAVAILABLE'))
    assert.deepEqual(
      { queued: q.status().queued, spooled: q.status().spooled, retrying: q.status().retrying },
      { queued: 0, spooled: 100, retrying: true },
    )
    assert.match(q.status().lastError ?? '', /refused/)
    await q.close()
    q.offer(100, sampleEvent(100))
    assert.equal(q.status().dropped, 1, 'a closed sink refuses, and counts it')
    await assert.rejects(q.flush(), (e: Error) => isStrongroomError(e, 'SERVICE_UNAVAILABLE'))

    const ok = new Recorder()
    const reopened = await open(ok, { spoolDir: dir })
    await reopened.flush(5000)
    assert.deepEqual(ok.seqs, range(0, 100))
    await reopened.close()
  })

  it('rotates spool segments, and deletes each once delivered', async () => {
    const dir = spoolDir()
    const rec = new Recorder()
    rec.take = () => 0
    const q = await open(rec, { spoolDir: dir, segmentBytes: 4096 })
    for (let i = 0; i < 60; i++) q.offer(i, sampleEvent(i))
    while (q.status().spooled < 60) await sleep(5)
    const segments = readdirSync(dir).filter((n) => n.startsWith('spool-'))
    assert.ok(segments.length > 5, `${segments.length} segments`)
    assert.equal(segments[0], 'spool-0000000000000000.jsonl')
    rec.take = (b) => b.length
    await q.flush(5000)
    assert.deepEqual(readdirSync(dir), ['cursor.json'])
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8')), {
      delivered: 59,
    })
    assert.deepEqual(firstArrivals(rec.seqs), range(0, 60))
    await q.close()
  })

  it('skips and reports a corrupt spool line instead of delivering it, and cuts a torn append', async () => {
    const dir = spoolDir()
    const line = (seq: number) => JSON.stringify({ seq, event: sampleEvent(seq) }) + '\n'
    const q0 = await open(new Recorder(), { spoolDir: dir })
    await q0.close()
    writeFileSync(
      join(dir, 'spool-0000000000000000.jsonl'),
      line(0) + line(1) + '{"seq":2,"event":"not an event"}\n' + line(3) + line(1) + line(4),
    )
    appendFileSync(join(dir, 'spool-0000000000000000.jsonl'), '{"seq":5,"ev')
    writeFileSync(join(dir, 'cursor.json'), 'garbage')
    const rec = new Recorder()
    const q = await open(rec, { spoolDir: dir })
    assert.equal(q.highestAccepted(), 4)
    await q.flush(5000)
    assert.deepEqual(rec.seqs, [0, 1, 3, 4])
    assert.equal(q.status().skipped, 2, 'the line that is not an event, and the repeat of 1')
    await q.close()
  })

  it('refuses limits that are not positive integers', async () => {
    await assert.rejects(open(new Recorder(), { maxQueued: 0 }), (e: Error) =>
      isStrongroomError(e, 'CONFIG_INVALID'),
    )
    await assert.rejects(open(new Recorder(), { lingerMs: -1 }), (e: Error) =>
      isStrongroomError(e, 'CONFIG_INVALID'),
    )
  })
})

describe('backoffDelay', () => {
  it('is full jitter under min(cap, base·2^attempt), and at least what Retry-After asks', () => {
    const o = { baseMs: 200, capMs: 30_000 }
    assert.equal(
      backoffDelay(0, o, undefined, () => 0.999),
      199.8,
    )
    assert.equal(
      backoffDelay(3, o, undefined, () => 0.5),
      800,
    )
    assert.equal(
      backoffDelay(30, o, undefined, () => 1),
      30_000,
    )
    assert.equal(
      backoffDelay(1000, o, undefined, () => 1),
      30_000,
    )
    assert.equal(
      backoffDelay(0, o, undefined, () => 0),
      0,
    )
    assert.equal(
      backoffDelay(0, o, 5000, () => 0.5),
      5000,
    )
    assert.equal(
      backoffDelay(20, o, 5000, () => 0.9),
      27_000,
    )
    assert.equal(
      backoffDelay(0, o, 86_400_000, () => 0),
      MAX_RETRY_AFTER_MS,
    )
  })
})
