import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { auditWriter } from './audit.ts'

describe('the batched audit writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-audit-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('writes every record once, in order, owner-only', async () => {
    const w = auditWriter<{ n: number }>(dir, 'a.jsonl')
    for (let n = 0; n < 2_500; n++) w.write({ n })
    await w.flush()
    const lines = readFileSync(w.file, 'utf8').trim().split('\n')
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { n: number }).n),
      Array.from({ length: 2_500 }, (_, n) => n),
    )
    assert.match(lines[0] ?? '', /^\{"time":"\d{4}-\d\d-\d\dT/)
    assert.equal(statSync(w.file).mode & 0o777, 0o600)
    await w.close()
  })

  it('beyond its bound it appends synchronously instead of growing or dropping', async () => {
    const w = auditWriter<{ n: number }>(dir, 'b.jsonl', { maxQueued: 10, batch: 4 })
    for (let n = 0; n < 100; n++) w.write({ n })
    // The overflow is already on disk; the queued ten follow on flush.
    const early = readFileSync(w.file, 'utf8').trim().split('\n').length
    assert.equal(early, 90)
    await w.close()
    const all = readFileSync(w.file, 'utf8').trim().split('\n')
    assert.equal(all.length, 100)
    assert.deepEqual(
      all.map((l) => (JSON.parse(l) as { n: number }).n).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, n) => n),
    )
  })
})
