import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  chargeOf,
  createAdmission,
  defaultLimits,
  REQUEST_BASE_CHARGE,
  type Admitted,
  type AdmissionLimits,
} from './admission.ts'
import { isStrongroomError } from '../errors.ts'

const MiB = 1024 * 1024
const limits = (o: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  maxInFlight: 2,
  maxBufferedBytes: 10 * MiB,
  maxQueued: 2,
  maxWaitMs: 60_000,
  ...o,
})

function released(a: Admitted): () => void {
  assert.ok('release' in a, `expected admission, got ${JSON.stringify(a)}`)
  return a.release
}

/** Whether the promise has settled by the next turn of the event loop. */
async function settled<T>(p: Promise<T>): Promise<boolean> {
  let done = false
  void p.then(() => (done = true))
  await new Promise((r) => setImmediate(r))
  return done
}

describe('admission', () => {
  it('admits up to maxInFlight at once, queues the next and admits it on a release', async () => {
    const a = createAdmission(limits())
    const r1 = released(await a.admit(1))
    released(await a.admit(1))
    const third = a.admit(1)
    assert.equal(await settled(third), false)
    assert.deepEqual(a.load(), { inFlight: 2, bufferedBytes: 2, queued: 1, refused: 0 })
    r1()
    released(await third)
    assert.deepEqual(a.load(), { inFlight: 2, bufferedBytes: 2, queued: 0, refused: 0 })
  })

  it('refuses at once beyond the queue, and a waiter after maxWaitMs', async () => {
    const a = createAdmission(limits({ maxInFlight: 1, maxQueued: 1, maxWaitMs: 50 }))
    const hold = released(await a.admit(1))
    const waiting = a.admit(1)
    assert.deepEqual(await a.admit(1), { refused: 'queue-full' })
    const t = performance.now()
    assert.deepEqual(await waiting, { refused: 'timeout' })
    assert.ok(performance.now() - t >= 45, 'waited about maxWaitMs')
    assert.deepEqual(a.load(), { inFlight: 1, bufferedBytes: 1, queued: 0, refused: 2 })
    hold()
    assert.deepEqual(a.load(), { inFlight: 0, bufferedBytes: 0, queued: 0, refused: 2 })
  })

  it('bounds the bytes charged: a request waits until its charge fits', async () => {
    const a = createAdmission(limits({ maxInFlight: 10, maxBufferedBytes: 10 * MiB }))
    const big = released(await a.admit(8 * MiB))
    const next = a.admit(3 * MiB)
    assert.equal(await settled(next), false)
    big()
    released(await next)
    assert.equal(a.load().bufferedBytes, 3 * MiB)
  })

  it('charges at most maxBufferedBytes, so a request larger than the budget runs alone', async () => {
    const a = createAdmission(limits({ maxBufferedBytes: MiB }))
    const r = released(await a.admit(50 * MiB))
    assert.equal(a.load().bufferedBytes, MiB)
    r()
    assert.equal(a.load().bufferedBytes, 0)
  })

  it('is first in, first out: a large request at the head is not overtaken by small ones', async () => {
    const a = createAdmission(limits({ maxInFlight: 10, maxBufferedBytes: 10 * MiB, maxQueued: 5 }))
    const first = released(await a.admit(6 * MiB))
    const large = a.admit(6 * MiB)
    const small = a.admit(1 * MiB)
    assert.equal(await settled(small), false, 'the small one waits behind the large one')
    first()
    released(await large)
    released(await small)
  })

  it('removes a waiter whose client went away, and admits the one behind it', async () => {
    const a = createAdmission(limits({ maxInFlight: 1 }))
    const hold = released(await a.admit(1))
    const gone = new AbortController()
    const leaving = a.admit(1, gone.signal)
    const staying = a.admit(1)
    gone.abort()
    assert.deepEqual(await leaving, { refused: 'gone' })
    assert.equal(a.load().queued, 1)
    hold()
    released(await staying)
    assert.deepEqual(await a.admit(1, AbortSignal.abort()), { refused: 'gone' })
  })

  it('a release is idempotent: releasing twice frees one slot', async () => {
    const a = createAdmission(limits())
    const r = released(await a.admit(5))
    released(await a.admit(5))
    r()
    r()
    assert.deepEqual(a.load(), { inFlight: 1, bufferedBytes: 5, queued: 0, refused: 0 })
  })

  it('never exceeds its bounds and ends at zero, whatever the order of arrivals and releases', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ bytes: fc.nat(3 * MiB), hold: fc.nat(3), abort: fc.boolean() }), {
          maxLength: 40,
        }),
        async (reqs) => {
          const l = limits({ maxInFlight: 3, maxBufferedBytes: 4 * MiB, maxQueued: 5 })
          const a = createAdmission(l)
          const check = () => {
            const s = a.load()
            assert.ok(s.inFlight <= l.maxInFlight && s.inFlight >= 0)
            assert.ok(s.bufferedBytes <= l.maxBufferedBytes && s.bufferedBytes >= 0)
            assert.ok(s.queued <= l.maxQueued)
          }
          await Promise.all(
            reqs.map(async (r) => {
              const c = new AbortController()
              if (r.abort) setImmediate(() => c.abort())
              const got = await a.admit(r.bytes, c.signal)
              check()
              for (let i = 0; i < r.hold; i++) await new Promise((res) => setImmediate(res))
              if ('release' in got) got.release()
              check()
            }),
          )
          assert.deepEqual(
            { ...a.load(), refused: 0 },
            {
              inFlight: 0,
              bufferedBytes: 0,
              queued: 0,
              refused: 0,
            },
          )
        },
      ),
      { numRuns: 200 },
    )
  })

  it('rejects limits that are not whole numbers', () => {
    assert.throws(
      () => createAdmission(limits({ maxInFlight: 0 })),
      (e: unknown) => isStrongroomError(e, 'CONFIG_INVALID') && /maxInFlight/.test(e.message),
    )
    assert.throws(() => createAdmission(limits({ maxWaitMs: 1.5 })))
  })
})

describe('chargeOf', () => {
  const seg = MiB
  it('charges a GET one segment, a HEAD or DELETE only the base', () => {
    assert.equal(chargeOf('GET', {}, seg), REQUEST_BASE_CHARGE + seg)
    assert.equal(chargeOf('HEAD', {}, seg), REQUEST_BASE_CHARGE)
    assert.equal(chargeOf('DELETE', {}, seg), REQUEST_BASE_CHARGE)
  })

  it('charges a PUT its declared body up to two segments, a POST up to 8 MiB', () => {
    assert.equal(chargeOf('PUT', { 'content-length': '4096' }, seg), REQUEST_BASE_CHARGE + 4096)
    assert.equal(
      chargeOf('PUT', { 'content-length': String(5 * 2 ** 30) }, seg),
      REQUEST_BASE_CHARGE + 2 * seg,
    )
    assert.equal(
      chargeOf('PUT', { 'content-length': '9999', 'x-amz-decoded-content-length': '100' }, seg),
      REQUEST_BASE_CHARGE + 100,
      'a streaming upload is charged its decoded length',
    )
    assert.equal(
      chargeOf('POST', { 'content-length': String(100 * MiB) }, seg),
      REQUEST_BASE_CHARGE + 8 * MiB,
    )
  })

  it('charges a body of unknown or malformed length its upper bound', () => {
    assert.equal(chargeOf('PUT', {}, seg), REQUEST_BASE_CHARGE + 2 * seg)
    assert.equal(chargeOf('PUT', { 'content-length': '-1' }, seg), REQUEST_BASE_CHARGE + 2 * seg)
    assert.equal(chargeOf('PUT', { 'content-length': '1e3' }, seg), REQUEST_BASE_CHARGE + 2 * seg)
  })
})

describe('defaultLimits', () => {
  it('derives the budget from memory: a sixteenth, between 32 and 256 MiB; a request per 8 MiB', () => {
    assert.deepEqual(defaultLimits(24 * 1024 * MiB), {
      maxInFlight: 32,
      maxBufferedBytes: 256 * MiB,
      maxQueued: 256,
      maxWaitMs: 2_000,
    })
    assert.deepEqual(defaultLimits(2 * 1024 * MiB), {
      maxInFlight: 16,
      maxBufferedBytes: 128 * MiB,
      maxQueued: 128,
      maxWaitMs: 2_000,
    })
    assert.equal(defaultLimits(256 * MiB).maxBufferedBytes, 32 * MiB)
    assert.equal(defaultLimits(256 * MiB).maxInFlight, 4)
    assert.equal(defaultLimits(3000 * MiB).maxBufferedBytes, 187 * MiB, 'whole MiB')
  })
})
