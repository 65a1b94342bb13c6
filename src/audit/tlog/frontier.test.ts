import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../errors.ts'
import { Frontier } from './frontier.ts'
import { EMPTY_ROOT, MemoryTree, rootHash } from './merkle.ts'

describe('Frontier', () => {
  it('the empty tree has the hash of nothing as its root (RFC 6962 2.1)', () => {
    assert.deepEqual(Frontier.empty().root(), Buffer.from(EMPTY_ROOT))
  })

  it('has the root of the whole tree at every size, and survives encode/decode', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 300 }),
        fc.nat(),
        async (records, cut) => {
          const tree = new MemoryTree()
          let edge = Frontier.empty()
          const at = records.length === 0 ? 0 : cut % records.length
          for (const [i, r] of records.entries()) {
            if (i === at) edge = Frontier.decode(edge.size, edge.encode())
            tree.append(r)
            edge.push(r)
            assert.deepEqual(edge.root(), Buffer.from(await rootHash(tree, tree.size)))
          }
          assert.equal(edge.size, records.length)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('refuses an edge whose hash count does not fit its size', () => {
    const edge = Frontier.empty()
    for (let i = 0; i < 5; i++) edge.push(Buffer.from([i]))
    // 5 = 0b101: two subtrees.
    assert.equal(edge.encode().length, 64)
    for (const [size, bytes] of [
      [4, edge.encode()],
      [5, edge.encode().subarray(0, 32)],
      [-1, Buffer.alloc(0)],
    ] as const)
      assert.throws(
        () => Frontier.decode(size, bytes),
        (e) => isStrongroomError(e, 'LOG_TAMPERED'),
      )
  })
})
