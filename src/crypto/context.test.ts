/**
 * The encryption context's canonical encoding (format at the top of context.ts): the same map
 * always gives the same bytes, the decoder refuses anything that is not canonical, and every
 * limit is enforced on both sides. Negative tests are named after what an attacker would try.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../errors.ts'
import { CONTEXT_LIMITS, decodeContext, encodeContext, type EncryptionContext } from './context.ts'

function code(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(isStrongroomError(e), String(e))
    return e.code
  }
  assert.fail('accepted')
}

/** Builds an encoding by hand, entry by entry, in the order given. */
function raw(entries: [string | Buffer, string | Buffer][], count = entries.length): Buffer {
  const parts = [Buffer.from([count >> 8, count & 0xff])]
  for (const [k, v] of entries)
    for (const f of [Buffer.from(k), Buffer.from(v)])
      parts.push(Buffer.from([f.length >> 8, f.length & 0xff]), f)
  return Buffer.concat(parts)
}

/** The map's entries in canonical order (UTF-8 bytes of the key). */
const encodeOrder = (c: EncryptionContext) =>
  Object.fromEntries(
    Object.entries(c).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  )

describe('encryption context encoding', () => {
  it('known bytes: two entries, sorted by key, big-endian lengths', () => {
    assert.equal(
      encodeContext({ tenant: 't1', bucket: 'b' }).toString('hex'),
      '0002' +
        '0006' +
        Buffer.from('bucket').toString('hex') +
        '0001' +
        '62' +
        '0006' +
        Buffer.from('tenant').toString('hex') +
        '0002' +
        Buffer.from('t1').toString('hex'),
    )
    assert.equal(encodeContext({}).toString('hex'), '0000')
  })

  it('round-trips any map within the limits, and the order it was built in does not matter', () => {
    const ctx = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.isWellFormed()),
      fc.string({ maxLength: 40 }).filter((s) => s.isWellFormed()),
      { maxKeys: 10 },
    )
    fc.assert(
      fc.property(ctx, (c) => {
        const bytes = encodeContext(c)
        assert.deepEqual(Object.entries(decodeContext(bytes)), Object.entries(encodeOrder(c)))
        const reversed = Object.fromEntries(Object.entries(c).reverse())
        assert.ok(encodeContext(reversed).equals(bytes))
      }),
    )
  })

  it('sorts by UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
    const bytes = encodeContext({ '\u{1F600}': 'b', '\uFF5E': 'a' })
    assert.equal(bytes.subarray(4, 7).toString('hex'), 'efbd9e')
  })

  it('refuses a value that is not a string', () => {
    const c = { k: 1 } as unknown as EncryptionContext
    assert.equal(
      code(() => encodeContext(c)),
      'CONTEXT_MISMATCH',
    )
  })

  it('enforces the limits when encoding: entries, empty key, key and value length, total size', () => {
    const many = Object.fromEntries(
      Array.from({ length: CONTEXT_LIMITS.entries + 1 }, (_, i) => [`k${String(i)}`, 'v']),
    )
    assert.equal(
      code(() => encodeContext(many)),
      'LIMIT_EXCEEDED',
    )
    assert.equal(
      code(() => encodeContext({ '': 'v' })),
      'LIMIT_EXCEEDED',
    )
    assert.equal(
      code(() => encodeContext({ ['k'.repeat(CONTEXT_LIMITS.keyBytes + 1)]: 'v' })),
      'LIMIT_EXCEEDED',
    )
    assert.equal(
      code(() => encodeContext({ k: 'v'.repeat(CONTEXT_LIMITS.valueBytes + 1) })),
      'LIMIT_EXCEEDED',
    )
    // Each entry within its own limits, together over the total.
    const big = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`k${String(i)}`, 'v'.repeat(CONTEXT_LIMITS.valueBytes)]),
    )
    assert.equal(
      code(() => encodeContext(big)),
      'LIMIT_EXCEEDED',
    )
    // At the limits exactly: accepted.
    encodeContext({ ['k'.repeat(CONTEXT_LIMITS.keyBytes)]: 'v'.repeat(CONTEXT_LIMITS.valueBytes) })
  })

  it('rejects a truncated context: no count, a length past the end, a field cut short', () => {
    const good = encodeContext({ a: '1', b: '2' })
    assert.equal(
      code(() => decodeContext(Buffer.alloc(1))),
      'CORRUPT_HEADER',
    )
    for (let cut = 2; cut < good.length; cut++)
      assert.equal(
        code(() => decodeContext(good.subarray(0, cut))),
        'CORRUPT_HEADER',
        String(cut),
      )
  })

  it('rejects trailing bytes after the last entry', () => {
    assert.equal(
      code(() => decodeContext(Buffer.concat([encodeContext({ a: '1' }), Buffer.of(0)]))),
      'CORRUPT_HEADER',
    )
  })

  it('rejects reordered or duplicated keys (two encodings of one map would bind differently)', () => {
    assert.equal(
      code(() =>
        decodeContext(
          raw([
            ['b', '1'],
            ['a', '2'],
          ]),
        ),
      ),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() =>
        decodeContext(
          raw([
            ['a', '1'],
            ['a', '2'],
          ]),
        ),
      ),
      'CORRUPT_HEADER',
    )
  })

  it('rejects an empty key, invalid UTF-8, a count or a field over its limit', () => {
    assert.equal(
      code(() => decodeContext(raw([['', '1']]))),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() => decodeContext(raw([[Buffer.of(0xc3, 0x28), '1']]))),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() => decodeContext(raw([['a', Buffer.of(0xff)]]))),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() => decodeContext(raw([], CONTEXT_LIMITS.entries + 1))),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() => decodeContext(raw([['k'.repeat(CONTEXT_LIMITS.keyBytes + 1), 'v']]))),
      'CORRUPT_HEADER',
    )
    assert.equal(
      code(() => decodeContext(Buffer.alloc(CONTEXT_LIMITS.totalBytes + 1))),
      'CORRUPT_HEADER',
    )
  })

  it('never throws anything but CORRUPT_HEADER on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeContext(bytes)
        } catch (e) {
          assert.ok(isStrongroomError(e) && e.code === 'CORRUPT_HEADER', String(e))
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('an entry named __proto__ is data, not a prototype change', () => {
    const decoded = decodeContext(raw([['__proto__', 'x']]))
    assert.equal(Object.getPrototypeOf(decoded), null)
    assert.equal(decoded.__proto__, 'x')
  })
})
