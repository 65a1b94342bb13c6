/** S3's documented SigV4 examples (credentials, scope) and how the tests run a request through parseAuth and verify. */
import assert from 'node:assert/strict'
import { StrongroomError } from '../../src/errors.ts'
import { toApiError } from '../../src/api/errors.ts'
import {
  canonicalRequest,
  parseAuth,
  parseQuery,
  signingKey,
  verify,
  type RequestView,
} from '../../src/api/sigv4.ts'

// ---- S3's documented examples -------------------------------------------------------------

export const S3_KEY = {
  id: 'AKIAIOSFODNN7EXAMPLE',
  secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
}
export const S3_DATE = '20130524T000000Z'
export const S3_NOW = Date.UTC(2013, 4, 24, 0, 0, 0)
export const S3_HOST = 'examplebucket.s3.amazonaws.com'
export const S3_SCOPE = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request'

export function headerSigned(
  method: string,
  target: string,
  headers: Record<string, string>,
  signature: string,
): RequestView {
  const signed = Object.keys(headers).sort().join(';')
  const q = target.indexOf('?')
  return {
    method,
    rawPath: q < 0 ? target : target.slice(0, q),
    rawQuery: q < 0 ? '' : target.slice(q + 1),
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${S3_SCOPE},SignedHeaders=${signed},Signature=${signature}`,
    },
  }
}

/** Parses and verifies a request as the gateway does; returns the parsed auth and the signing key. */
export function accept(v: RequestView, now = S3_NOW) {
  const query = parseQuery(v.rawQuery)
  const auth = parseAuth(v, query)
  assert.ok(auth !== undefined)
  const key = verify(v, query, auth, (c) => signingKey(S3_KEY.secret, c), {
    region: 'us-east-1',
    now,
  })
  return { auth, key, canonical: canonicalRequest(v, query, auth) }
}

export function refusal(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${String(e)}`)
    return toApiError(e).code
  }
  assert.fail('accepted')
}
