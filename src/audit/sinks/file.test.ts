/**
 * The file sink on a real directory: files named by their time and first seq, rotated by size
 * and by age, pruned to the newest `maxFiles`, owner-only; and each event written once, even
 * when the spool delivers it again after a crash or a file was left with a torn last line.
 */
import assert from 'node:assert/strict'
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fixedClock } from '../../clock.ts'
import type { AuditEvent } from '../event.ts'
import { openFileSink } from './file.ts'
import { range, sampleEvent } from './testing.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-filesink-'))
after(() => rmSync(work, { recursive: true, force: true }))
let dirs = 0
const fresh = () => {
  const d = join(work, `t${dirs++}`)
  return { dir: join(d, 'out'), spoolDir: join(d, 'spool') }
}
const NAME = /^audit-(\d{8}T\d{6}Z)-(\d+)\.jsonl$/

/** The files in order of first seq, with their lines parsed. */
function files(dir: string): { name: string; first: number; size: number; events: AuditEvent[] }[] {
  return readdirSync(dir)
    .map((name) => {
      const m = NAME.exec(name)
      assert.ok(m?.[2], `unexpected file ${name}`)
      const text = readFileSync(join(dir, name), 'utf8')
      assert.ok(text === '' || text.endsWith('\n'))
      const events = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as AuditEvent)
      return { name, first: Number(m[2]), size: statSync(join(dir, name)).size, events }
    })
    .sort((a, b) => a.first - b.first)
}

/** Each file's line k is event first+k; returns the seqs the files hold, in order. */
function seqsIn(dir: string): number[] {
  return files(dir).flatMap((f) =>
    f.events.map((e, k) => {
      assert.equal(e.eventID, sampleEvent(f.first + k).eventID, `${f.name} line ${k}`)
      return f.first + k
    }),
  )
}

describe('file sink', () => {
  it('rotates by size into files named by their time and first seq, owner-only', async (t) => {
    const clock = fixedClock(Date.parse('2026-03-04T05:06:07.890Z'))
    const { dir, spoolDir } = fresh()
    const line = JSON.stringify(sampleEvent(10)).length + 1
    const sink = await openFileSink({ name: 'f', dir, spoolDir, maxFileBytes: 3 * line, clock })
    t.after(() => sink.close())
    for (let i = 0; i < 20; i++) sink.offer(i, sampleEvent(i))
    await sink.flush(5000)
    const out = files(dir)
    assert.ok(out.length >= 7, `${out.length} files`)
    for (const f of out) {
      assert.match(f.name, /^audit-20260304T050607Z-\d+\.jsonl$/)
      assert.ok(f.size <= 3 * line, `${f.name} holds ${f.size} bytes`)
      assert.equal(statSync(join(dir, f.name)).mode & 0o777, 0o600)
    }
    assert.equal(out[0]?.name, 'audit-20260304T050607Z-0.jsonl')
    assert.deepEqual(seqsIn(dir), range(0, 20))
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    await sink.close()
  })

  it('rotates by age, and keeps only the newest maxFiles', async (t) => {
    const clock = fixedClock(Date.parse('2026-03-04T05:00:00Z'))
    const { dir, spoolDir } = fresh()
    const sink = await openFileSink({ name: 'f', dir, spoolDir, maxFiles: 3, clock })
    t.after(() => sink.close())
    for (let hour = 0; hour < 5; hour++) {
      for (let i = hour * 10; i < hour * 10 + 10; i++) sink.offer(i, sampleEvent(i))
      await sink.flush(5000)
      clock.advance(3_600_000)
    }
    assert.deepEqual(
      files(dir).map((f) => f.name),
      [
        'audit-20260304T070000Z-20.jsonl',
        'audit-20260304T080000Z-30.jsonl',
        'audit-20260304T090000Z-40.jsonl',
      ],
    )
    assert.deepEqual(seqsIn(dir), range(20, 50))
    await sink.close()
  })

  it('writes an event the spool delivers again (a crash before its cursor) only once', async (t) => {
    const { dir, spoolDir } = fresh()
    const first = await openFileSink({ name: 'f', dir, spoolDir })
    t.after(() => first.close())
    for (let i = 0; i < 20; i++) first.offer(i, sampleEvent(i))
    await first.flush(5000)
    await first.close()
    // As if the process died after writing 10..19 to the file but before recording it: the
    // cursor says 9 and the spool still holds 10..19. And the file ends in a torn line.
    mkdirSync(spoolDir, { recursive: true })
    writeFileSync(join(spoolDir, 'cursor.json'), '{"delivered":9}\n')
    writeFileSync(
      join(spoolDir, 'spool-0000000000000010.jsonl'),
      range(10, 20)
        .map((seq) => JSON.stringify({ seq, event: sampleEvent(seq) }) + '\n')
        .join(''),
    )
    const newest = files(dir).at(-1)?.name ?? ''
    appendFileSync(join(dir, newest), '{"eventVersion":"1.1')

    const second = await openFileSink({ name: 'f', dir, spoolDir })
    t.after(() => second.close())
    assert.equal(second.highestAccepted(), 19)
    for (let i = 15; i < 30; i++) second.offer(i, sampleEvent(i))
    await second.flush(5000)
    assert.deepEqual(seqsIn(dir), range(0, 30))
    assert.equal(files(dir).length, 2, 'a restart starts a new file')
    await second.close()
  })

  it('starts a new file at a gap in seq, so that line k stays event first+k', async (t) => {
    const { dir, spoolDir } = fresh()
    const sink = await openFileSink({ name: 'f', dir, spoolDir })
    t.after(() => sink.close())
    for (const i of [0, 1, 2, 7, 8]) sink.offer(i, sampleEvent(i))
    await sink.flush(5000)
    assert.deepEqual(
      files(dir).map((f) => [f.first, f.events.length]),
      [
        [0, 3],
        [7, 2],
      ],
    )
    assert.deepEqual(seqsIn(dir), [0, 1, 2, 7, 8])
    await sink.close()
  })

  it('writes OCSF through the mapping it is given', async (t) => {
    const { dir, spoolDir } = fresh()
    const sink = await openFileSink({
      name: 'f',
      dir,
      spoolDir,
      format: 'ocsf',
      toOcsf: (e) => ({ class_uid: 6003, metadata: { uid: e.eventID } }),
    })
    t.after(() => sink.close())
    sink.offer(0, sampleEvent(0))
    await sink.flush(5000)
    assert.deepEqual(files(dir)[0]?.events, [
      { class_uid: 6003, metadata: { uid: sampleEvent(0).eventID } },
    ])
    await sink.close()
  })
})
