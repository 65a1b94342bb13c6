/**
 * Scanning as the bytes stream through: an upload feeds a shared ring and a
 * scan worker reads it. The streamed verdict equals the verdict on the whole
 * file; a format that needs random access beyond the kept history falls back;
 * an upload that ends early says so; and nothing waits forever.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { ScanPool } from '../../src/store/scan-pool.ts'
import { p, zip } from './builders.ts'
import { CASES } from './corpus.ts'

const pool = new ScanPool(2)
after(() => pool.close())

async function stream(bytes: Uint8Array, chunk = 65_536) {
  const job = pool.start(bytes.length, 'f')
  assert.ok(job !== undefined, 'a worker is free')
  for (let i = 0; i < bytes.length; i += chunk) await job.writer.write(bytes.subarray(i, i + chunk))
  job.writer.end(true)
  return job.outcome
}

describe('streaming scan', () => {
  it('gives every corpus file the verdict a whole-file scan gives', async () => {
    for (const c of CASES) {
      const o = await stream(c.bytes, 1000)
      const whole = scan(bufferSource(c.bytes), 'f')
      if ('report' in o) assert.equal(o.report.verdict, whole.verdict, c.name)
      else assert.ok('fallback' in o, `${c.name}: ${JSON.stringify(o)}`)
    }
  })

  it('finds a payload at the end of a 3 MB pickle while it streams', async () => {
    const b = p().proto(4).emptyList().mark()
    for (let i = 0; i < 330_000; i++) b.float(i)
    const o = await stream(b.appends().pop().call('os', 'system', 'id', true).stop().done())
    assert.ok('report' in o)
    assert.equal(o.report.verdict, 'malicious')
  })

  it('falls back when the format needs bytes the stream has passed (a zip larger than the history)', async () => {
    const z = zip([
      { name: 'weights', data: new Uint8Array(6 << 20) },
      { name: 'archive/data.pkl', data: p().proto(2).call('os', 'system', 'id').stop().done() },
    ])
    const o = await stream(z)
    assert.ok('fallback' in o, JSON.stringify(o))
  })

  it('says when the upload ended before its last byte', async () => {
    const job = pool.start(1_000_000, 'cut')
    assert.ok(job !== undefined)
    await job.writer.write(p().proto(4).emptyList().done())
    job.writer.end(false)
    const o = await job.outcome
    assert.ok('aborted' in o, JSON.stringify(o))
  })
})
