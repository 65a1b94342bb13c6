/**
 * The scanner under hostile input: every limit trips into an explicit
 * suspicious verdict naming it; random and mutated inputs of every format
 * never crash or hang; and two properties tie the verdicts to what the bytes
 * do: any pickle of plain data is clean, and the same data with one dangerous
 * call hidden anywhere inside is malicious.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError, type ErrorCode } from '../../src/errors.ts'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { DEFAULT_LIMITS, type Limits } from '../../src/scan/types.ts'
import { concat, p, zip, type P } from './builders.ts'
import { CASES } from './corpus.ts'

/** The decoders throw only these: corrupt input, or output over its budget. */
const decoderError = (e: unknown) =>
  isStrongroomError(e, 'SCAN_MALFORMED') || isStrongroomError(e, 'LIMIT_EXCEEDED')
const isCode = (code: ErrorCode) => (e: unknown) => isStrongroomError(e, code)

const run = (bytes: Uint8Array, limits: Partial<Limits> = {}) =>
  scan(bufferSource(bytes), 'f', { limits: { ...DEFAULT_LIMITS, ...limits } })

function floats(n: number, memoize = false): Uint8Array {
  const b = p().proto(4).emptyList().mark()
  for (let i = 0; i < n; i++) {
    b.float(i)
    if (memoize) b.memoize()
  }
  return b.appends().stop().done()
}

describe('scanner limits', () => {
  const cases: [keyof Limits, Partial<Limits>, () => Uint8Array][] = [
    ['maxOpcodes', { maxOpcodes: 1000 }, () => floats(70_000)],
    ['maxMemo', { maxMemo: 1000 }, () => floats(70_000, true)],
    [
      'maxStack',
      { maxStack: 1000 },
      () => {
        const b = p().proto(4)
        for (let i = 0; i < 70_000; i++) b.none()
        return b.stop().done()
      },
    ],
    [
      'maxDepth',
      { maxDepth: 3 },
      () => {
        let inner = p().proto(2).none().stop().done()
        for (let i = 0; i < 6; i++) inner = zip([{ name: `level${i}.zip`, data: inner }])
        return inner
      },
    ],
    [
      'maxMembers',
      { maxMembers: 10 },
      () => zip(Array.from({ length: 20 }, (_, i) => ({ name: `m${i}`, data: Uint8Array.of(1) }))),
    ],
    [
      'maxDecompressed',
      { maxDecompressed: 1 << 20 },
      () => zip([{ name: 'bomb.txt', data: new Uint8Array(8 << 20).fill(0x61), deflate: true }]),
    ],
    ['maxMillis', { maxMillis: -1 }, () => floats(10)],
  ]
  for (const [limit, limits, make] of cases) {
    it(`${limit}: tripping it gives a suspicious verdict that names it`, () => {
      const r = run(make(), limits)
      assert.equal(r.verdict, 'suspicious')
      assert.ok(
        r.findings.some((f) => f.rule === `limit.${limit}`),
        r.findings.map((f) => f.rule).join(', '),
      )
      // Control: with the default limits the same input is clean.
      if (limit !== 'maxMembers') assert.equal(run(make()).verdict, 'clean', limit)
    })
  }

  it('keeps findings made before a limit trips', () => {
    const bytes = concat(p().proto(2).call('os', 'system', 'id').stop().done(), floats(70_000))
    const r = run(bytes, { maxOpcodes: 1000 })
    assert.equal(r.verdict, 'malicious')
    assert.ok(r.findings.some((f) => f.rule === 'limit.maxOpcodes'))
  })
})

/** Plain data: what a checkpoint of numbers, strings and containers pickles to. */
type Data = null | number | string | Uint8Array | Data[] | { [k: string]: Data }

const data: fc.Arbitrary<Data> = fc.letrec<{ d: Data }>((tie) => ({
  d: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.integer({ min: -1000, max: 1_000_000 }),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('d'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('d'), { maxKeys: 4 }),
  ),
})).d

/** Writes `d` as protocol-4 opcodes; `inject` adds a dangerous call at one position of the walk. */
function write(b: P, d: Data, inject: { at: number; n: number; call: (b: P) => void }): void {
  if (inject.n++ === inject.at) {
    inject.call(b)
    b.pop()
  }
  if (d === null) b.none()
  else if (typeof d === 'number') {
    if (Number.isInteger(d) && d >= -(2 ** 31) && d < 2 ** 31) b.int(d)
    else b.float(d)
  } else if (typeof d === 'string') b.str(d).memoize()
  else if (d instanceof Uint8Array) b.bytes(d)
  else if (Array.isArray(d)) {
    b.emptyList().memoize().mark()
    for (const x of d) write(b, x, inject)
    b.appends()
  } else {
    b.emptyDict().memoize().mark()
    for (const [k, v] of Object.entries(d)) {
      b.str(k)
      write(b, v, inject)
    }
    b.setitems()
  }
}

const dangerous: readonly ((b: P) => void)[] = [
  (b) => b.call('os', 'system', 'id', true),
  (b) => b.global('subprocess', 'getoutput').str('id').tuple(1).reduce(),
  (b) => b.sg('builtins', 'getattr').sg('os', 'path').str('x').tuple(2).reduce(),
  (b) =>
    b
      .sg('pickle', 'loads')
      .bytes(p().proto(2).call('posix', 'system', 'id').stop().done())
      .tuple(1)
      .reduce(),
]

describe('scanner properties', () => {
  it('any pickle of plain data is clean', () => {
    fc.assert(
      fc.property(data, (d) => {
        const b = p().proto(4)
        write(b, d, { at: -1, n: 0, call: () => undefined })
        const r = run(b.stop().done())
        assert.equal(r.verdict, 'clean', JSON.stringify(r.findings))
      }),
      { numRuns: 500 },
    )
  })

  it('the same data with one dangerous call hidden anywhere inside is malicious', () => {
    fc.assert(
      fc.property(data, fc.nat(50), fc.constantFrom(...dangerous), (d, at, call) => {
        const b = p().proto(4)
        const inject = { at, n: 0, call }
        write(b, d, inject)
        if (inject.n <= at) {
          call(b)
          b.pop()
        }
        const r = run(b.stop().done())
        assert.equal(r.verdict, 'malicious', JSON.stringify(r.findings))
      }),
      { numRuns: 500 },
    )
  })
})

describe('scanner fuzzing', () => {
  const verdicts = new Set(['clean', 'suspicious', 'malicious'])
  const magics = [
    [],
    [0x80, 4],
    [0x80, 2],
    [0x50, 0x4b, 0x03, 0x04],
    [0x1f, 0x8b],
    [0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59],
    [
      0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21,
      0x01,
    ],
    [0x5d, 0x00, 0x00, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00],
    [0x78, 0x9c],
    [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0],
    [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a],
    [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0],
    [0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b],
  ]
  const small = { maxMillis: 5_000, maxDecompressed: 64 << 20 }

  it('random bytes behind every magic number never crash the scanner', () => {
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 600 }), (magic, rest) => {
        const r = run(concat(Uint8Array.from(magic), rest), small)
        assert.ok(verdicts.has(r.verdict))
      }),
      { numRuns: 3000 },
    )
  })

  it('mutations of every corpus file (flips, cuts, insertions) never crash the scanner', () => {
    const files = CASES.filter((c) => c.bytes.length > 0 && c.bytes.length < 200_000)
    fc.assert(
      fc.property(
        fc.constantFrom(...files),
        fc.array(
          fc.record({
            kind: fc.constantFrom('flip', 'cut', 'insert', 'set'),
            at: fc.nat(),
            byte: fc.integer({ min: 0, max: 255 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (c, edits) => {
          let b: Uint8Array = Uint8Array.from(c.bytes)
          for (const e of edits) {
            const i = b.length === 0 ? 0 : e.at % b.length
            if (e.kind === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (e.byte % 8))
            else if (e.kind === 'set') b[i] = e.byte
            else if (e.kind === 'cut') b = b.subarray(0, i)
            else b = concat(b.subarray(0, i), Uint8Array.of(e.byte), b.subarray(i))
          }
          const r = run(b, small)
          assert.ok(verdicts.has(r.verdict))
          for (const f of r.findings) assert.ok(f.reason.length > 0 && f.rule.length > 0)
        },
      ),
      { numRuns: 3000 },
    )
  })
})

describe('bzip2 decoder', () => {
  // Python's bz2.compress(b'hello world', 9).
  const hello = Buffer.from(
    '425a683931415926535944f7137800000191804000064490802000220334843021b68154278bb9229c2848227b89bc00',
    'hex',
  )
  it('decodes what Python compressed, and stops at its budget', async () => {
    const { bunzip2 } = await import('../../src/scan/bzip2.ts')
    assert.equal(Buffer.from(bunzip2(hello, 1000)).toString(), 'hello world')
    assert.throws(() => bunzip2(hello, 5), isCode('LIMIT_EXCEEDED'))
  })

  it('never crashes on mutated streams: it decodes or says why', async () => {
    const { bunzip2 } = await import('../../src/scan/bzip2.ts')
    fc.assert(
      fc.property(fc.nat(hello.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = Uint8Array.from(hello)
        b[at] = (b[at] ?? 0) ^ x
        try {
          bunzip2(b, 1 << 20)
        } catch (e) {
          assert.ok(decoderError(e), String(e))
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('xz and lzma decoders', () => {
  // Python's lzma.compress(b'hello world' * 50), as .xz (CRC64 check) and as LZMA-alone.
  const xz = Buffer.from(
    'fd377a585a000004e6d6b4460200210116000000742fe5a3e0022500135d00341949ee8de917893a33600a363dd09bc000000000df724ea5476b5d9200012fa6040000005f9eaa45b1c467fb020000000004595a',
    'hex',
  )
  const alone = Buffer.from(
    '5d00008000ffffffffffffffff00341949ee8de917893a33600a363dd09e158efffffee71000',
    'hex',
  )
  const text = 'hello world'.repeat(50)

  it('decodes what Python compressed, and stops at its budget', async () => {
    const { unxz, unlzma } = await import('../../src/scan/xz.ts')
    assert.equal(Buffer.from(unxz(xz, 1 << 20)).toString(), text)
    assert.equal(Buffer.from(unlzma(alone, 1 << 20)).toString(), text)
    assert.throws(() => unxz(xz, 100), isCode('LIMIT_EXCEEDED'))
  })

  it('never crashes on mutated streams: it decodes or says why', async () => {
    const { unxz, unlzma } = await import('../../src/scan/xz.ts')
    for (const [input, fn] of [
      [xz, unxz],
      [alone, unlzma],
    ] as const)
      fc.assert(
        fc.property(fc.nat(input.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
          const b = Uint8Array.from(input)
          b[at] = (b[at] ?? 0) ^ x
          try {
            fn(b, 1 << 20)
          } catch (e) {
            assert.ok(decoderError(e), String(e))
          }
        }),
        { numRuns: 2000 },
      )
  })
})
