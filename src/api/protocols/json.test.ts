/**
 * The JSON 1.1 codec: which requests it takes (by credential scope, or unsigned by
 * X-Amz-Target), how it reads a body, and how errors read on the wire
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import fc from 'fast-check'
import { StrongroomError } from '../../errors.ts'
import type { RequestView } from '../sigv4.ts'
import { encodeJsonError, jsonServiceOf, onlyMembers, parseInput } from './json.ts'

const TARGET = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101'
const view = (headers: Record<string, string>, rawPath = '/'): RequestView => ({
  method: 'POST',
  rawPath,
  rawQuery: '',
  headers,
})
const scoped = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261203/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00`

it('takes a request by the service its credential scope names, else by its X-Amz-Target', () => {
  assert.equal(jsonServiceOf(view({ authorization: scoped('cloudtrail') }), []), 'cloudtrail')
  // Signed for S3 (or IAM) it is not ours, whatever its target says.
  const s3 = view({ authorization: scoped('s3'), 'x-amz-target': `${TARGET}.LookupEvents` })
  assert.equal(jsonServiceOf(s3, []), undefined)
  assert.equal(jsonServiceOf(view({ 'x-amz-target': `${TARGET}.LookupEvents` }), []), 'cloudtrail')
  assert.equal(jsonServiceOf(view({ 'x-amz-target': `${TARGET}.X` }, '/bucket'), []), undefined)
  assert.equal(jsonServiceOf(view({ 'x-amz-target': 'TrentService.Encrypt' }), []), 'kms')
  assert.equal(jsonServiceOf(view({ 'x-amz-target': 'DynamoDB_20120810.GetItem' }), []), undefined)
  assert.equal(jsonServiceOf(view({}), []), undefined)
})

it('reads a body as a JSON object, and nothing else', () => {
  assert.deepEqual(parseInput(Buffer.alloc(0)), {})
  assert.deepEqual(parseInput(Buffer.from('{"MaxResults":5}')), { MaxResults: 5 })
  for (const bad of ['[]', '1', 'null', '"x"', '{', '{"a":1}x', '\u00ff'])
    assert.throws(
      () => parseInput(Buffer.from(bad, 'latin1')),
      (e: unknown) => e instanceof StrongroomError && e.code === 'BAD_REQUEST',
      bad,
    )
  // Input nested deeper than these APIs take is refused before anything recurses into it
  // (an audit event's JSON.stringify would overflow the stack and lose who asked).
  const deep = Buffer.from(`{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`)
  assert.throws(() => parseInput(deep), /nests deeper than 16 levels/)
  const fine = `{"a":${'['.repeat(15)}${']'.repeat(15)}}`
  assert.equal(typeof parseInput(Buffer.from(fine)), 'object')
  assert.throws(() => parseInput(Buffer.from(`{"a":${'['.repeat(16)}${']'.repeat(16)}}`)), /deeper/)
  // "__proto__" is a member like any other, never the object's prototype.
  const proto = parseInput(Buffer.from('{"__proto__":{"polluted":1}}'))
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.deepEqual(Object.keys(proto), ['__proto__'])
})

it('never throws anything but a BAD_REQUEST on any bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        const v = parseInput(Buffer.from(bytes))
        assert.equal(typeof v, 'object')
      } catch (e) {
        assert.ok(e instanceof StrongroomError && e.code === 'BAD_REQUEST', String(e))
      }
    }),
  )
})

it('puts errors in the JSON services’ words, internal ones without detail', () => {
  const wire = (e: unknown) => {
    const r = encodeJsonError(e)
    return [r.code, r.status, JSON.parse(r.body) as Record<string, string>] as const
  }
  const [code, status, body] = wire(new StrongroomError('ACCESS_DENIED', 'no'))
  assert.deepEqual(
    [code, status, body],
    ['AccessDeniedException', 400, { __type: 'AccessDeniedException', message: 'no' }],
  )
  assert.equal(
    wire(new StrongroomError('INVALID_ACCESS_KEY_ID', 'x'))[0],
    'UnrecognizedClientException',
  )
  assert.equal(
    wire(new StrongroomError('SIGNATURE_DOES_NOT_MATCH', 'x'))[0],
    'InvalidSignatureException',
  )
  assert.equal(wire(new StrongroomError('SLOW_DOWN', 'x'))[0], 'ThrottlingException')
  assert.deepEqual(wire(new StrongroomError('SERVICE_UNAVAILABLE', 'x')).slice(0, 2), [
    'ServiceUnavailableException',
    503,
  ])
  assert.equal(wire(new StrongroomError('INVALID_NEXT_TOKEN', 'x'))[0], 'InvalidNextTokenException')
  assert.equal(wire(new StrongroomError('NO_SUCH_KEY', 'x'))[0], 'ValidationException')
  const internal = wire(new Error('secret path /var/lib/x'))
  assert.deepEqual(internal.slice(0, 2), ['InternalFailure', 500])
  assert.ok(!JSON.stringify(internal[2]).includes('/var/lib'))
  const blob = wire(new StrongroomError('BLOB_MISMATCH', 'blob 1234 differs'))
  assert.equal(blob[0], 'InternalFailure')
  assert.ok(!JSON.stringify(blob[2]).includes('1234'))
})

it('refuses a member the operation does not take', () => {
  onlyMembers({ MaxResults: 1 }, 'LookupEvents', ['MaxResults'])
  assert.throws(
    () => onlyMembers({ Maxresults: 1 }, 'LookupEvents', ['MaxResults']),
    /LookupEvents does not take the member Maxresults/,
  )
})
