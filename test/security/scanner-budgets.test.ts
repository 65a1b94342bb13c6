/**
 * Attacks on the scanner's own budgets: burying a payload behind enough
 * harmless findings that it falls beyond the report's cap, and hiding one
 * behind a member too large to scan. Either way the verdict must still say
 * what the file is: malicious when a malicious finding exists anywhere, and
 * never clean when a part went unscanned.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { MAX_FINDINGS } from '../../src/scan/types.ts'
import { p, zip } from '../scan/builders.ts'

describe('scanner budgets', () => {
  it('a payload after more than MAX_FINDINGS harmless findings still makes the file malicious', () => {
    const b = p().proto(2).mark()
    // Each unknown global is its own suspicious finding (a distinct subject).
    for (let i = 0; i < MAX_FINDINGS + 50; i++) b.global('harmless_looking', `Thing${i}`)
    const bytes = b.tuple().pop().call('os', 'system', 'id').stop().done()
    const r = scan(bufferSource(bytes), 'buried.pkl')
    assert.equal(r.findings.length, MAX_FINDINGS)
    assert.equal(r.omitted, 51)
    assert.ok(
      !r.findings.some((f) => f.verdict === 'malicious'),
      'the payload is beyond the kept findings',
    )
    assert.equal(r.verdict, 'malicious')
  })

  it('a member too large for the memory budget is not scanned, and the file is not clean', () => {
    const bytes = zip([
      { name: 'weights.bin', data: Buffer.alloc(8 << 20, 'a'), deflate: true },
      { name: 'notes.txt', data: Buffer.from('hello') },
    ])
    const r = scan(bufferSource(bytes), 'm.zip', { limits: { maxMemory: 4 << 20 } })
    assert.equal(r.verdict, 'suspicious')
    assert.deepEqual(
      r.findings.map((f) => [f.rule, f.path]),
      [['limit.maxMemory', 'm.zip!weights.bin']],
    )
  })
})
