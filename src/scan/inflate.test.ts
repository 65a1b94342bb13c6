/**
 * The streaming inflater against node:zlib: whatever zlib compresses, at any
 * level and strategy, comes back byte for byte; whatever is not a deflate
 * stream fails with SCAN_MALFORMED or decodes, never anything else.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { constants, deflateRawSync } from 'node:zlib'
import fc from 'fast-check'
import { isStrongroomError } from '../errors.ts'
import { inflateRaw } from './inflate.ts'
import { bufferSource } from './source.ts'

const inflate = (b: Uint8Array) => {
  const parts: Buffer[] = []
  for (const c of inflateRaw(bufferSource(b))) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

/** Compressible data: runs and repeats of a small alphabet, with random stretches. */
const data = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 70_000 }))
        .map(([b, n]) => new Uint8Array(n).fill(b)),
      fc.stringMatching(/^[ab ]{0,2000}$/).map((s) => Buffer.from(s.repeat(40))),
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts))

describe('inflateRaw', () => {
  it('gives back what zlib deflated, at every level and strategy', () => {
    fc.assert(
      fc.property(
        data,
        fc.integer({ min: 0, max: 9 }),
        fc.constantFrom(
          constants.Z_DEFAULT_STRATEGY,
          constants.Z_FIXED,
          constants.Z_HUFFMAN_ONLY,
          constants.Z_RLE,
        ),
        (d, level, strategy) => {
          assert.deepEqual(inflate(deflateRawSync(d, { level, strategy })), d)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('decodes 40 MiB in chunks of at most 96 KiB', () => {
    const big = Buffer.alloc(40 << 20, 'model weights ')
    let n = 0
    for (const c of inflateRaw(bufferSource(deflateRawSync(big)))) {
      assert.ok(c.length <= 96 * 1024 + 258)
      n += c.length
    }
    assert.equal(n, big.length)
  })

  it('refuses a truncated stream, and random bytes only with SCAN_MALFORMED', () => {
    const z = deflateRawSync(Buffer.alloc(100_000, 'x'))
    assert.throws(
      () => inflate(z.subarray(0, z.length - 3)),
      (e) => isStrongroomError(e, 'SCAN_MALFORMED'),
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
        try {
          inflate(b)
        } catch (e) {
          assert.ok(isStrongroomError(e, 'SCAN_MALFORMED'), String(e))
        }
      }),
      { numRuns: 2000 },
    )
  })
})
