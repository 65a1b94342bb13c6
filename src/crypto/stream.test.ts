import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError, type ErrorCode } from '../errors.ts'
import type { EncryptionContext } from './context.ts'
import { FIXED_BYTES, TAG_BYTES, parseHeader } from './header.ts'
import { openObject, type RandomAccessSource } from './range.ts'
import { decrypt, encrypt, PIECE, type SealOptions } from './stream.ts'

const KEY = Buffer.alloc(32, 7)
const CONTEXT: EncryptionContext = {
  tenant: 'vision',
  bucket: 'models',
  key: 'resnet.pt',
  versionId: 'v1',
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of gen) parts.push(p)
  return Buffer.concat(parts)
}

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size))
  return out
}

async function seal(plain: Buffer, opts: Partial<SealOptions> = {}): Promise<Buffer> {
  return collect(
    encrypt(chunks(plain, 37), {
      dataKey: Buffer.from(KEY),
      dataKeyId: 'dk-test',
      context: CONTEXT,
      segmentSize: 64,
      plaintextLength: plain.length,
      ...opts,
    }),
  )
}

const open = (ct: Uint8Array, key: Buffer = KEY, expectedContext: EncryptionContext = CONTEXT) =>
  collect(
    decrypt(chunks(Buffer.from(ct), 50), { dataKey: () => Buffer.from(key), expectedContext }),
  )

function memorySource(bytes: Buffer): RandomAccessSource {
  return {
    size: bytes.length,
    read: (pos, len) => Promise.resolve(bytes.subarray(pos, pos + len)),
  }
}

async function openRange(
  ct: Buffer,
  first: number,
  last: number,
  key: Buffer = KEY,
): Promise<Buffer> {
  const obj = await openObject(memorySource(ct), {
    dataKey: () => Buffer.from(key),
    expectedContext: CONTEXT,
  })
  return collect(obj.range(first, last))
}

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStrongroomError(e), `expected a StrongroomError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return true
  })
}

/** Offset of segment `i` in an object sealed with 64-byte segments. */
const segAt = (ct: Buffer, i: number) => parseHeader(ct).bytes.length + i * (64 + TAG_BYTES)

describe('encrypted-object format', () => {
  it('round-trips empty, partial, exact and multi-segment inputs', async () => {
    for (const n of [0, 1, 63, 64, 65, 128, 200]) {
      const plain = randomBytes(n)
      const ct = await seal(plain)
      assert.deepEqual(await open(ct), plain, `length ${n}`)
      const segments = n === 0 ? 1 : Math.ceil(n / 64)
      assert.equal(ct.length, parseHeader(ct).bytes.length + n + segments * TAG_BYTES)
    }
  })

  it('rejects a truncated object', async () => {
    const ct = await seal(randomBytes(200))
    await rejects(open(ct.subarray(0, ct.length - 5)), 'TRUNCATED')
    await rejects(openRange(ct.subarray(0, ct.length - 5), 0, 10), 'TRUNCATED')
  })

  it('rejects an object truncated at a segment boundary', async () => {
    const ct = await seal(randomBytes(200))
    const cut = ct.subarray(0, segAt(ct, 2))
    await rejects(open(cut), 'TRUNCATED')
    await rejects(openRange(cut, 0, 10), 'TRUNCATED')
  })

  it('rejects an extended object', async () => {
    const ct = await seal(randomBytes(200))
    const longer = Buffer.concat([ct, randomBytes(80)])
    await rejects(open(longer), 'EXTENDED')
    await rejects(openRange(longer, 0, 10), 'EXTENDED')
  })

  it('rejects reordered segments', async () => {
    const ct = Buffer.from(await seal(randomBytes(256)))
    const a = segAt(ct, 0)
    const b = segAt(ct, 1)
    const s0 = Buffer.from(ct.subarray(a, b))
    ct.copy(ct, a, b, b + 80)
    s0.copy(ct, b)
    await rejects(open(ct), 'SEGMENT_REORDERED')
    await rejects(openRange(ct, 0, 10), 'SEGMENT_REORDERED')
  })

  it('rejects a segment swapped in from another object', async () => {
    const plain = randomBytes(256)
    const ct = Buffer.from(await seal(plain))
    const other = await seal(plain) // same key, same context, same plaintext
    other.copy(ct, segAt(ct, 1), segAt(other, 1), segAt(other, 2))
    await rejects(open(ct), 'SEGMENT_FORGED')
    await rejects(openRange(ct, 64, 70), 'SEGMENT_FORGED')
  })

  it('rejects a header edit', async () => {
    const ct = await seal(randomBytes(100))
    // nonce prefix, plaintext length, data-key id, segment size: every field the tag covers
    for (const off of [56, 62, 23, FIXED_BYTES + 1, 15]) {
      const edited = Buffer.from(ct)
      edited[off] = (edited[off] ?? 0) ^ 1
      await rejects(open(edited), 'HEADER_TAMPERED')
      await rejects(openRange(edited, 0, 1), 'HEADER_TAMPERED')
    }
  })

  it('rejects a context mismatch before touching the key', async () => {
    const ct = await seal(randomBytes(100))
    let asked = false
    const p = collect(
      decrypt([ct], {
        expectedContext: { ...CONTEXT, key: 'other.pt' },
        dataKey: () => {
          asked = true
          return Buffer.from(KEY)
        },
      }),
    )
    await rejects(p, 'CONTEXT_MISMATCH')
    assert.equal(asked, false)
  })

  it('rejects a wrong key', async () => {
    const ct = await seal(randomBytes(100))
    await rejects(open(ct, Buffer.alloc(32, 8)), 'WRONG_KEY')
    await rejects(openRange(ct, 0, 1, Buffer.alloc(32, 8)), 'WRONG_KEY')
  })

  it('releases no plaintext of a segment whose tag fails', async () => {
    const plain = randomBytes(192)
    const ct = Buffer.from(await seal(plain))
    const flip = segAt(ct, 1) + 3
    ct[flip] = (ct[flip] ?? 0) ^ 0x80
    const released: Uint8Array[] = []
    await rejects(
      (async () => {
        for await (const p of decrypt([ct], { dataKey: () => Buffer.from(KEY) })) released.push(p)
      })(),
      'SEGMENT_FORGED',
    )
    assert.deepEqual(Buffer.concat(released), plain.subarray(0, 64))
  })

  it('rejects a file that is not ours', async () => {
    await rejects(
      open(Buffer.from('PK\x03\x04 not an encrypted object at all')),
      'NOT_ENCRYPTED_OBJECT',
    )
    await rejects(open(Buffer.alloc(0)), 'TRUNCATED')
  })

  it('rejects a format version from the future', async () => {
    const ct = await seal(randomBytes(10))
    ct[4] = 2
    await rejects(open(ct), 'UNSUPPORTED_FORMAT')
  })

  it('rejects a header whose lengths do not add up', async () => {
    const ct = Buffer.from(await seal(randomBytes(10)))
    ct.writeUInt32BE(ct.readUInt32BE(8) + 1, 8)
    await rejects(open(ct), 'CORRUPT_HEADER')
    ct.writeUInt32BE(10, 8)
    await rejects(open(ct), 'CORRUPT_HEADER')
  })

  it('refuses input longer or shorter than its declared length', async () => {
    const gen = (n: number) =>
      encrypt([randomBytes(n)], {
        dataKey: KEY,
        dataKeyId: 'dk',
        context: CONTEXT,
        plaintextLength: 10,
      })
    await rejects(collect(gen(11)), 'IO')
    await rejects(collect(gen(9)), 'IO')
  })

  it('reads a suffix range without the earlier segments, verifying the final segment first', async () => {
    const plain = randomBytes(1000)
    {
      const ct = Buffer.from(await seal(plain))
      const reads: number[] = []
      const src = memorySource(ct)
      const obj = await openObject(
        { size: src.size, read: (p, l) => (reads.push(p), src.read(p, l)) },
        { dataKey: () => Buffer.from(KEY) },
      )
      reads.length = 0
      assert.deepEqual(await collect(obj.range(900, 2000)), plain.subarray(900))
      const last = segAt(ct, 15)
      assert.deepEqual(
        reads,
        [last, segAt(ct, 14)],
        'final segment first, then only the segments covered',
      )
    }
  })

  it('refuses a range past the end', async () => {
    const ct = await seal(randomBytes(100))
    await rejects(openRange(ct, 100, 200), 'RANGE_NOT_SATISFIABLE')
    await rejects(openRange(ct, 5, 4), 'RANGE_NOT_SATISFIABLE')
    assert.equal((await openRange(ct, 99, 5000)).length, 1)
  })

  it('round-trips any input, chunking and segment size (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 16, max: 200 }),
        fc.integer({ min: 1, max: 300 }),
        async (plainArr, segmentSize, chunk) => {
          const plain = Buffer.from(plainArr)
          const ct = await collect(
            encrypt(chunks(plain, chunk), {
              dataKey: KEY,
              dataKeyId: 'dk',
              context: CONTEXT,
              segmentSize,
              plaintextLength: plain.length,
            }),
          )
          const back = await collect(
            decrypt(chunks(ct, chunk), { dataKey: () => Buffer.from(KEY) }),
          )
          assert.deepEqual(back, plain)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('decrypts any range exactly as the slice of the plaintext (property)', async () => {
    const plain = randomBytes(700)
    const cts = [await seal(plain, { segmentSize: 48 }), await seal(plain, { segmentSize: 16 })]
    await fc.assert(
      fc.asyncProperty(fc.nat(699), fc.nat(800), fc.nat(1), async (a, span, which) => {
        const ct = cts[which] ?? cts[0]
        assert.ok(ct)
        assert.deepEqual(await openRange(ct, a, a + span), plain.subarray(a, a + span + 1))
      }),
      { numRuns: 300 },
    )
  })

  it('decrypts any range across the pieces a segment is decrypted in (property)', async () => {
    // Segments larger than PIECE and not a multiple of it: a range starts and ends inside
    // pieces, on their edges, and on the short last piece of a segment.
    const plain = randomBytes(5 * PIECE + 1234)
    const sizes = [2 * PIECE + 37, PIECE, 3 * PIECE]
    const cts = await Promise.all(sizes.map((segmentSize) => seal(plain, { segmentSize })))
    const edge = fc.oneof(
      fc.nat(plain.length - 1),
      fc.constantFrom(0, PIECE - 1, PIECE, PIECE + 1, 2 * PIECE + 36, 2 * PIECE + 37),
    )
    await fc.assert(
      fc.asyncProperty(edge, edge, fc.nat(cts.length - 1), async (x, y, which) => {
        const [a, b] = x <= y ? [x, y] : [y, x]
        const ct = cts[which] ?? cts[0]
        assert.ok(ct)
        assert.deepEqual(await openRange(ct, a, b), plain.subarray(a, b + 1))
      }),
      { numRuns: 200 },
    )
  })

  it('never releases altered plaintext from a mutated object (fuzz)', async () => {
    const plain = randomBytes(300)
    const ct = await seal(plain)
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(ct.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.integer({ min: -20, max: 20 }),
        async (flips, resize) => {
          let m = Buffer.from(ct)
          for (const [at, x] of flips) m[at] = (m[at] ?? 0) ^ x
          if (resize < 0) m = m.subarray(0, m.length + resize)
          else if (resize > 0) m = Buffer.concat([m, Buffer.alloc(resize)])
          const released: Uint8Array[] = []
          try {
            for await (const p of decrypt([m], { dataKey: () => Buffer.from(KEY) }))
              released.push(p)
          } catch (e) {
            assert.ok(isStrongroomError(e), `unexpected ${String(e)}`)
          }
          const out = Buffer.concat(released)
          assert.deepEqual(
            out,
            plain.subarray(0, out.length),
            'only authentic plaintext is ever released',
          )
        },
      ),
      { numRuns: 400 },
    )
  })
})
