/** VerdictStore conformance: a scan record lands on the version named, current or not. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { newFinding } from '../../scan/types.ts'
import type { ScanRecord } from '../verdicts.ts'
import { V1, V2, withBucket, type MakeStore } from './fixtures.ts'

const record = (verdict: ScanRecord['verdict'], at: number): ScanRecord => ({
  verdict,
  format: 'pickle',
  rules: 'rules-7',
  at,
  findings:
    verdict === 'clean'
      ? []
      : [newFinding('m.pt!data.pkl', 12, verdict, 'pickle.dangerous-global', 'imports os.system')],
})

export function verdictsConformance(make: MakeStore): void {
  describe('VerdictStore', () => {
    it('records a verdict on the current and on a noncurrent version, each its own', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('m.pt', V1, 1, 'Enabled')
        await put('m.pt', V2, 2, 'Enabled')
        assert.equal(await store.setObjectScan('b', 'm.pt', V2, record('clean', 10)), true)
        assert.equal(await store.setObjectScan('b', 'm.pt', V1, record('malicious', 11)), true)
        assert.deepEqual((await store.getObject('b', 'm.pt'))?.scan, record('clean', 10))
        assert.deepEqual((await store.getObject('b', 'm.pt', V1))?.scan, record('malicious', 11))
        assert.equal(await store.setObjectScan('b', 'm.pt', V2, record('suspicious', 12)), true)
        assert.deepEqual((await store.getObject('b', 'm.pt'))?.scan, record('suspicious', 12))
      } finally {
        await store.close()
      }
    })

    it('answers false for a version that is gone or is a delete marker', async () => {
      const { store, put } = await withBucket(make)
      try {
        await put('m.pt', V1, 1, 'Enabled', true)
        assert.equal(await store.setObjectScan('b', 'm.pt', V1, record('clean', 1)), false)
        assert.equal(await store.setObjectScan('b', 'm.pt', V2, record('clean', 1)), false)
        assert.equal(await store.setObjectScan('b', 'nope', 'null', record('clean', 1)), false)
        assert.equal((await store.getObject('b', 'm.pt', V1))?.scan, null)
      } finally {
        await store.close()
      }
    })
  })
}
