/**
 * The worker threads hash a bundle exactly as the caller's thread does, and what goes wrong
 * reading one (missing, ending inside a record, not a regular file) comes back as the same
 * answer or the same error: verifyLog must say the same thing whichever thread hashed.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { BundleHasher, hashBundle } from './bundle-hash.ts'
import { leafHashBinary, runRootBinary } from './merkle.ts'
import { bundlePath, TileWriter, tilePath } from './tiles.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-bundle-hash-'))
after(() => rmSync(root, { recursive: true, force: true }))
const record = (i: number) => Buffer.from(`{"eventID":"${i}","eventName":"GetObject"}`)

describe('hashBundle, inline and in a worker', () => {
  it('answers the same for whole, partial, missing, corrupt and unreadable bundles', async () => {
    const dir = join(root, 'log')
    const w = await TileWriter.open(dir)
    await w.append(Array.from({ length: 1100 }, (_, i) => record(i)))
    const leaves = Array.from({ length: 256 }, (_, i) => leafHashBinary(record(i)))
    assert.deepEqual(hashBundle(dir, 0, 256), {
      kind: 'hashed',
      bytes: readFileSync(join(dir, bundlePath(0))).length,
      leaves: leaves.join(''),
      root: runRootBinary(leaves),
      agrees: true,
    })
    const partial = hashBundle(dir, 4, 76)
    assert.equal(partial.kind === 'hashed' && `${partial.agrees} ${partial.root}`, 'true undefined')
    // A tile that is not the records' hashes, or not there, is not agreed with.
    writeFileSync(join(dir, tilePath(0, 1)), Buffer.alloc(256 * 32))
    rmSync(join(dir, tilePath(0, 2)))
    truncateSync(join(dir, bundlePath(3)), 1000)
    const hasher = new BundleHasher(2)
    try {
      const cases = [0, 1, 2, 3, 4, 5].map((b) => [b, b < 4 ? 256 : 76] as const)
      const inline = cases.map(([b, width]) => hashBundle(dir, b, width))
      const workers = cases.map(([b, width]) => hasher.submit(dir, b, width).hashes)
      assert.deepEqual(await Promise.all(workers), inline)
      assert.deepEqual(
        inline.map((h) => (h.kind === 'hashed' ? h.agrees : h.kind)),
        [true, false, false, 'corrupt', true, 'missing'],
      )
      // A bundle that is a FIFO: an IO error at once (not a hang), in the same words.
      rmSync(join(dir, bundlePath(4, 76)))
      execFileSync('mkfifo', [join(dir, bundlePath(4, 76))])
      const fifo = (e: unknown) =>
        isStrongroomError(e, 'IO') &&
        e.message === `${bundlePath(4, 76)} is not a regular file of at most 16777472 bytes`
      assert.throws(() => hashBundle(dir, 4, 76), fifo)
      await assert.rejects(hasher.submit(dir, 4, 76).hashes, fifo)
      // Two workers take four jobs each; of twelve, the caller can steal the last and claim the
      // ninth back, but not the first, which a worker has.
      const jobs = Array.from({ length: 12 }, () => hasher.submit(dir, 0, 256))
      const ids = jobs.map((j) => j.id)
      assert.equal(hasher.steal()?.id, ids[11])
      assert.equal(hasher.claim(ids[8] ?? -1), true)
      assert.equal(hasher.claim(ids[0] ?? -1), false)
      const answered = jobs.filter((_, i) => i < 8 || i === 9 || i === 10)
      assert.deepEqual(
        await Promise.all(answered.map((j) => j.hashes)),
        answered.map(() => inline[0]),
      )
    } finally {
      await hasher.close()
    }
  })
})
