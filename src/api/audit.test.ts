import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { StrongroomError } from '../errors.ts'
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

  it('past its bound it is backlogged, still queues in order, and flush clears it', async () => {
    const w = auditWriter<{ n: number }>(dir, 'b.jsonl', { maxQueued: 10, batch: 4 })
    for (let n = 0; n < 100; n++) w.write({ n })
    assert.equal(w.backlogged, true)
    // Nothing is written synchronously, so nothing overtakes what is queued.
    assert.throws(() => readFileSync(w.file), { code: 'ENOENT' })
    await w.flush()
    assert.equal(w.backlogged, false)
    await w.close()
    const all = readFileSync(w.file, 'utf8').trim().split('\n')
    assert.deepEqual(
      all.map((l) => (JSON.parse(l) as { n: number }).n),
      Array.from({ length: 100 }, (_, n) => n),
    )
  })

  it('keeps the records of a failed append, in order, and writes them on the next flush', async () => {
    let failures = 1
    const errors: unknown[] = []
    const w = auditWriter<{ n: number }>(dir, 'c.jsonl', {
      batch: 3,
      onError: (e) => errors.push(e),
      openFile: async (f) => {
        const h = await open(f, 'a', 0o600)
        return {
          appendFile: (data: string) => {
            if (failures-- > 0) return Promise.reject(new Error('EIO: disk said no'))
            return h.appendFile(data)
          },
          close: () => h.close(),
        }
      },
    })
    for (let n = 0; n < 10; n++) w.write({ n })
    await w.flush()
    await w.close()
    assert.equal(errors.length, 1)
    const all = readFileSync(w.file, 'utf8').trim().split('\n')
    assert.deepEqual(
      all.map((l) => (JSON.parse(l) as { n: number }).n),
      Array.from({ length: 10 }, (_, n) => n),
    )
  })

  it('flush and close reject, naming how many records are unwritten, when appends keep failing', async () => {
    const w = auditWriter<{ n: number }>(dir, 'd.jsonl', {
      attempts: 2,
      onError: () => {},
      openFile: () => Promise.reject(new Error('EROFS: read-only file system')),
    })
    for (let n = 0; n < 5; n++) w.write({ n })
    await assert.rejects(w.flush(), (e: StrongroomError) => {
      assert.equal(e.code, 'IO')
      assert.match(e.message, /^5 audit records could not be appended to .*d\.jsonl$/)
      assert.match((e.cause as Error).message, /EROFS/)
      return true
    })
    await assert.rejects(w.close(), /5 audit records could not be appended/)
  })
})
