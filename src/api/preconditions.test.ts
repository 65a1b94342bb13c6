/**
 * S3's conditional requests, with the precedence AWS documents for GetObject/HeadObject
 * ("If-Match condition evaluates to true, and If-Unmodified-Since condition evaluates to
 * false; then, S3 returns 200 OK"; "If-None-Match condition evaluates to false, and
 * If-Modified-Since condition evaluates to true; then, S3 returns 304 Not Modified":
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { evaluate, type Preconditions } from './preconditions.ts'

const ETAG = '"9b2cf535f27731c974343645a3985328"'
const MODIFIED = Date.parse('2026-01-02T00:00:00Z')
const BEFORE = 'Thu, 01 Jan 2026 00:00:00 GMT'
const AFTER = 'Sat, 03 Jan 2026 00:00:00 GMT'
const none: Preconditions = {
  ifMatch: undefined,
  ifNoneMatch: undefined,
  ifModifiedSince: undefined,
  ifUnmodifiedSince: undefined,
}
const run = (p: Partial<Preconditions>) => evaluate({ ...none, ...p }, ETAG, MODIFIED)

describe('preconditions', () => {
  it('no conditions: go on', () => assert.deepEqual(run({}), { ok: true }))

  it('If-Match: the ETag quoted or not, in a list, or *; otherwise 412', () => {
    for (const m of [ETAG, ETAG.slice(1, -1), `"x", ${ETAG}`, '*'])
      assert.deepEqual(run({ ifMatch: m }), { ok: true }, m)
    assert.deepEqual(run({ ifMatch: '"other"' }), { ok: false, status: 412, condition: 'If-Match' })
  })

  it('If-Match true wins over If-Unmodified-Since false (200, as AWS documents)', () => {
    assert.deepEqual(run({ ifMatch: ETAG, ifUnmodifiedSince: BEFORE }), { ok: true })
    assert.deepEqual(run({ ifUnmodifiedSince: BEFORE }), {
      ok: false,
      status: 412,
      condition: 'If-Unmodified-Since',
    })
    assert.deepEqual(run({ ifUnmodifiedSince: AFTER }), { ok: true })
  })

  it('If-None-Match false with If-Modified-Since true: 304, as AWS documents', () => {
    assert.deepEqual(run({ ifNoneMatch: ETAG, ifModifiedSince: BEFORE }), {
      ok: false,
      status: 304,
    })
    assert.deepEqual(run({ ifNoneMatch: '"other"', ifModifiedSince: AFTER }), { ok: true })
    assert.deepEqual(run({ ifModifiedSince: AFTER }), { ok: false, status: 304 })
    assert.deepEqual(run({ ifModifiedSince: BEFORE }), { ok: true })
  })

  it('412 comes before 304; a date that does not parse is ignored', () => {
    assert.deepEqual(run({ ifMatch: '"other"', ifNoneMatch: ETAG }), {
      ok: false,
      status: 412,
      condition: 'If-Match',
    })
    assert.deepEqual(run({ ifModifiedSince: 'yesterday', ifUnmodifiedSince: 'soon' }), { ok: true })
  })
})
