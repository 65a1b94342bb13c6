/**
 * AuditStore conformance: dense indexes in commit order across concurrent writers, paged reads,
 * checkpoints that each extend exactly the newest one.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AuditCheckpointRecord } from '../audit.ts'
import { using, type MakeStore } from './fixtures.ts'

const rec = (s: string) => Buffer.from(s, 'utf8')
/** A stand-in MAC that names its index: the store must keep exactly what it is given. */
const mac = (i: number, r: Uint8Array) => Buffer.from(`${i}:${Buffer.from(r).toString()}`)
const checkpoint = (size: number): AuditCheckpointRecord => ({
  size,
  note: `note ${size}\n`,
  frontier: Buffer.alloc(32, size % 256),
})

export function auditConformance(make: MakeStore): void {
  describe('AuditStore', () => {
    it('appends in batches with dense indexes, and reads them back in pages', () =>
      using(make, async (store) => {
        assert.equal(await store.auditRecordCount(), 0)
        assert.deepEqual(await store.auditRecords(0, 10), [])
        assert.equal(await store.appendAuditRecords([rec('a'), rec('b')], mac), 0)
        assert.equal(await store.appendAuditRecords([rec('c')], mac), 2)
        assert.equal(await store.auditRecordCount(), 3)
        assert.deepEqual(await store.auditRecords(1, 10), [
          { index: 1, record: rec('b'), mac: Buffer.from('1:b') },
          { index: 2, record: rec('c'), mac: Buffer.from('2:c') },
        ])
        assert.deepEqual(await store.auditRecords(0, 1), [
          { index: 0, record: rec('a'), mac: Buffer.from('0:a') },
        ])
        assert.deepEqual(await store.auditRecords(3, 10), [])
      }))

    it('gives concurrent writers disjoint, gap-free runs of indexes', () =>
      using(make, async (store) => {
        const batches = Array.from({ length: 20 }, (_, b) =>
          Array.from({ length: 1 + (b % 4) }, (_, i) => rec(`${b}/${i}`)),
        )
        const firsts = await Promise.all(batches.map((b) => store.appendAuditRecords(b, mac)))
        const total = batches.reduce((n, b) => n + b.length, 0)
        assert.equal(await store.auditRecordCount(), total)
        const all = await store.auditRecords(0, 1000)
        assert.deepEqual(
          all.map((r) => r.index),
          Array.from({ length: total }, (_, i) => i),
        )
        batches.forEach((b, n) =>
          b.forEach((r, i) => {
            const at = (firsts[n] ?? -1) + i
            const got = all[at]
            assert.ok(got, `record ${at}`)
            assert.deepEqual([got.record, got.mac], [r, mac(at, r)])
          }),
        )
      }))

    it('keeps checkpoints that extend the newest, and refuses one that extends an older', () =>
      using(make, async (store) => {
        assert.equal(await store.latestAuditCheckpoint(), undefined)
        assert.equal(await store.addAuditCheckpoint(-1, checkpoint(0)), true)
        assert.equal(await store.addAuditCheckpoint(-1, checkpoint(5)), false)
        assert.equal(await store.addAuditCheckpoint(0, checkpoint(4)), true)
        // A second sealer that read checkpoint 0 too: it lost the race.
        assert.equal(await store.addAuditCheckpoint(0, checkpoint(6)), false)
        assert.deepEqual(await store.latestAuditCheckpoint(), checkpoint(4))
        const [a, b] = await Promise.all([
          store.addAuditCheckpoint(4, checkpoint(9)),
          store.addAuditCheckpoint(4, checkpoint(10)),
        ])
        assert.equal(Number(a) + Number(b), 1)
        assert.deepEqual(await store.latestAuditCheckpoint(), checkpoint(a ? 9 : 10))
        assert.deepEqual(await store.auditCheckpointAtMost(4), checkpoint(4))
        assert.deepEqual(await store.auditCheckpointAtMost(8), checkpoint(4))
        assert.deepEqual(await store.auditCheckpointAtMost(3), checkpoint(0))
        assert.equal(await store.auditCheckpointAtMost(-1), undefined)
      }))
  })
}
