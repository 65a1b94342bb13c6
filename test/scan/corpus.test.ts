/**
 * The project's own scanner corpus (test/scan/corpus.ts) scans as labelled:
 * malicious files malicious, suspicious ones suspicious, benign ones clean,
 * each with the rule that should catch it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { CASES } from './corpus.ts'

describe('scanner corpus', () => {
  for (const c of CASES) {
    it(`${c.name} is ${c.label}: ${c.why}`, () => {
      const r = scan(bufferSource(c.bytes), c.name)
      const got = r.findings.map(
        (f) => `${f.verdict} ${f.rule} ${f.path} @${f.offset}: ${f.reason}`,
      )
      assert.equal(r.verdict, c.label === 'benign' ? 'clean' : c.label, got.join('\n'))
      if (c.rule !== undefined)
        assert.ok(
          r.findings.some((f) => f.rule === c.rule),
          `expected a ${c.rule} finding, got:\n${got.join('\n')}`,
        )
      for (const f of r.findings) {
        assert.ok(f.path.startsWith(c.name), f.path)
        // Offsets are within the innermost member, which may be decompressed and larger.
        assert.ok(Number.isSafeInteger(f.offset) && f.offset >= 0, `offset ${f.offset}`)
        if (!f.path.includes('!')) assert.ok(f.offset <= c.bytes.length, `offset ${f.offset}`)
        assert.notEqual(f.reason, '')
      }
    })
  }

  it('covers every label and at least 90 cases', () => {
    assert.ok(CASES.length >= 90, `${CASES.length} cases`)
    for (const l of ['benign', 'suspicious', 'malicious'])
      assert.ok(
        CASES.some((c) => c.label === l),
        l,
      )
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, 'case names are unique')
  })
})
