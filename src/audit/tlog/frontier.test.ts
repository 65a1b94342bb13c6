import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../errors.ts'
import { Frontier } from './frontier.ts'
import { consistencyProof, EMPTY_ROOT, MemoryTree, rootHash, type NodeId } from './merkle.ts'

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

  it("serves a consistency proof's every node of the older tree (what the shared log's witness client relies on)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.nat(300), async (m, extra) => {
        const n = m + 1 + extra
        const tree = new MemoryTree()
        const edge = Frontier.empty()
        for (let i = 0; i < n; i++) {
          tree.append(Buffer.from([i % 256, i >> 8]))
          if (i < m) edge.push(Buffer.from([i % 256, i >> 8]))
        }
        const fromEdge = {
          readHashes: (nodes: readonly NodeId[]) =>
            nodes.map(({ level, index }) => {
              if (index * 2 ** level >= m) return tree.readHashes([{ level, index }])
              assert.equal(index, Math.floor(m / 2 ** level) - 1, `node ${level}/${index} of ${m}`)
              return Promise.resolve([edge.node(level) as Buffer])
            }),
        }
        const proof = await consistencyProof(
          { readHashes: async (ns) => (await Promise.all(fromEdge.readHashes(ns))).flat() },
          m,
          n,
        )
        assert.deepEqual(proof, await consistencyProof(tree, m, n))
      }),
      { numRuns: 200 },
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
