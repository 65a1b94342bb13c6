/** SigV4's parsers: what parseAuth refuses, and fast-check properties of parseQuery and parseAuth. */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { StrongroomError } from '../errors.ts'
import {
  canonicalRequest,
  canonicalUri,
  EMPTY_SHA256,
  parseAuth,
  parseQuery,
  signingKey,
  stringToSign,
  uriEncode,
  type RequestView,
} from './sigv4.ts'
import {
  accept,
  headerSigned,
  refusal,
  S3_DATE,
  S3_HOST,
  S3_KEY,
  S3_SCOPE,
} from '../../test/api/sigv4-s3.ts'

describe('SigV4: parseAuth', () => {
  const view = (headers: Record<string, string>, rawQuery = ''): RequestView => ({
    method: 'GET',
    rawPath: '/',
    rawQuery,
    headers,
  })
  const code = (v: RequestView) => refusal(() => parseAuth(v, parseQuery(v.rawQuery)))

  it('no Authorization header and no X-Amz-* query: anonymous (undefined)', () => {
    assert.equal(parseAuth(view({ host: 'h' }), []), undefined)
  })

  it('SigV2, by header or by query: InvalidRequest saying how to switch to SigV4', () => {
    assert.equal(code(view({ authorization: 'AWS AKIAIOSFODNN7EXAMPLE:abc' })), 'InvalidRequest')
    assert.equal(
      code(view({}, 'AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=x')),
      'InvalidRequest',
    )
  })

  it('a header that is not AWS4-HMAC-SHA256 or lacks a field: AuthorizationHeaderMalformed', () => {
    assert.equal(code(view({ authorization: 'Bearer x' })), 'AuthorizationHeaderMalformed')
    assert.equal(
      code(view({ authorization: `AWS4-HMAC-SHA256 Credential=${S3_SCOPE}, Signature=ab` })),
      'AuthorizationHeaderMalformed',
    )
    assert.equal(
      code(
        view({
          authorization:
            'AWS4-HMAC-SHA256 Credential=short/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab',
          'x-amz-date': S3_DATE,
          'x-amz-content-sha256': EMPTY_SHA256,
        }),
      ),
      'AuthorizationHeaderMalformed',
    )
  })

  it('header auth without x-amz-date is AccessDenied, without x-amz-content-sha256 InvalidRequest', () => {
    const authorization = `AWS4-HMAC-SHA256 Credential=${S3_SCOPE}, SignedHeaders=host, Signature=ab`
    assert.equal(
      code(view({ authorization, 'x-amz-content-sha256': EMPTY_SHA256 })),
      'AccessDenied',
    )
    assert.equal(code(view({ authorization, 'x-amz-date': S3_DATE })), 'InvalidRequest')
  })

  it('x-amz-content-sha256: a hex digest or one of the markers; SigV4a markers are refused by name', () => {
    assert.equal(code(view({ 'x-amz-content-sha256': 'abc' })), 'InvalidArgument')
    assert.equal(
      code(view({ 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' })),
      'InvalidArgument',
    )
    assert.equal(parseAuth(view({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), []), undefined)
    assert.equal(
      parseAuth(view({ 'x-amz-content-sha256': EMPTY_SHA256.toUpperCase() }), []),
      undefined,
    )
  })

  it('presigned: the algorithm, an expiry from 1 s to 7 days and a well-formed date are required', () => {
    const base = `X-Amz-Credential=${encodeURIComponent(S3_SCOPE)}&X-Amz-SignedHeaders=host&X-Amz-Signature=ab`
    const ok = `X-Amz-Algorithm=AWS4-HMAC-SHA256&${base}&X-Amz-Date=${S3_DATE}`
    assert.equal(
      parseAuth(view({}, `${ok}&X-Amz-Expires=604800`), parseQuery(`${ok}&X-Amz-Expires=604800`))
        ?.expires,
      604800,
    )
    assert.equal(
      code(view({}, `${base}&X-Amz-Date=${S3_DATE}&X-Amz-Expires=60`)),
      'AuthorizationQueryParametersError',
    )
    for (const expires of ['0', '604801', '1.5', 'x'])
      assert.equal(
        code(view({}, `${ok}&X-Amz-Expires=${expires}`)),
        'AuthorizationQueryParametersError',
        expires,
      )
    assert.equal(
      code(
        view({}, `X-Amz-Algorithm=AWS4-HMAC-SHA256&${base}&X-Amz-Date=2013-05-24&X-Amz-Expires=60`),
      ),
      'AuthorizationQueryParametersError',
    )
  })

  it('the session token is read from the header, or from the query when presigned', () => {
    const authorization = `AWS4-HMAC-SHA256 Credential=${S3_SCOPE}, SignedHeaders=host, Signature=ab`
    const h = parseAuth(
      view({
        authorization,
        'x-amz-date': S3_DATE,
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-security-token': 'tok',
      }),
      [],
    )
    assert.equal(h?.securityToken, 'tok')
    const q = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(S3_SCOPE)}&X-Amz-SignedHeaders=host&X-Amz-Signature=ab&X-Amz-Date=${S3_DATE}&X-Amz-Expires=60&X-Amz-Security-Token=t%2Bk`
    assert.equal(parseAuth(view({}, q), parseQuery(q))?.securityToken, 't+k')
  })
})

// ---- properties ------------------------------------------------------------------------------

/** The errors SigV4 parsing may throw: only the project's one type. */
const isProjectError = (e: unknown) => e instanceof StrongroomError

/** Strings that look like what a client might send, hostile or not. */
const wire = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.stringMatching(/^[A-Za-z0-9%=&+/._~-]{0,60}$/),
  fc
    .array(
      fc.constantFrom(
        '%',
        '%2',
        '%E1',
        '%FF',
        '%zz',
        '=',
        '&',
        '+',
        'a',
        'X-Amz-',
        '\u{1F600}',
        '\uD800',
      ),
      {
        maxLength: 20,
      },
    )
    .map((a) => a.join('')),
)

describe('SigV4: properties of the parsers', () => {
  it('parseQuery never throws anything but the project error, and yields one pair per & field', () => {
    fc.assert(
      fc.property(wire, (raw) => {
        let pairs: [string, string][]
        try {
          pairs = parseQuery(raw)
        } catch (e) {
          assert.ok(isProjectError(e), String(e))
          return
        }
        assert.equal(pairs.length, raw === '' ? 0 : raw.split('&').length)
        for (const [k, v] of pairs) {
          assert.equal(typeof k, 'string')
          assert.equal(typeof v, 'string')
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('parseQuery inverts uriEncode for any pair of strings', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 5 }), (pairs) => {
        const raw = pairs.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&')
        const wellFormed = pairs.filter(([k, v]) => k.isWellFormed() && v.isWellFormed())
        if (wellFormed.length !== pairs.length) return
        assert.deepEqual(parseQuery(raw), pairs)
      }),
    )
  })

  it('uriEncode leaves only A-Z a-z 0-9 - _ . ~ and upper-case %XX', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.match(uriEncode(s), /^(?:[A-Za-z0-9\-_.~]|%[0-9A-F]{2})*$/)
      }),
    )
  })

  it('canonicalUri is idempotent on its own output and keeps every segment (no normalisation)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        (segs) => {
          const once = canonicalUri('/' + segs.map(uriEncode).join('/'))
          assert.equal(canonicalUri(once), once)
          assert.equal(once.split('/').length, segs.length + 1)
        },
      ),
    )
  })

  it('parseAuth never throws anything but the project error on arbitrary headers and queries', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc
        .tuple(
          fc.constantFrom('AWS4-HMAC-SHA256 ', 'AWS ', 'AWS4-HMAC-SHA256', ''),
          fc.array(
            fc.tuple(
              fc.constantFrom('Credential', 'SignedHeaders', 'Signature', 'X', ''),
              fc.string({ maxLength: 30 }),
            ),
            { maxLength: 4 },
          ),
        )
        .map(([alg, fields]) => alg + fields.map(([k, v]) => `${k}=${v}`).join(',')),
    )
    const query = fc.array(
      fc.tuple(
        fc.constantFrom(
          'X-Amz-Algorithm',
          'X-Amz-Credential',
          'X-Amz-Date',
          'X-Amz-Expires',
          'X-Amz-SignedHeaders',
          'X-Amz-Signature',
          'X-Amz-Security-Token',
          'AWSAccessKeyId',
          'Signature',
          'Expires',
        ),
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.constantFrom('AWS4-HMAC-SHA256', S3_DATE, '60', S3_SCOPE),
        ),
      ),
      { maxLength: 6 },
    )
    fc.assert(
      fc.property(
        fc.option(header, { nil: undefined }),
        fc.option(
          fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom(EMPTY_SHA256, 'UNSIGNED-PAYLOAD')),
          { nil: undefined },
        ),
        fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.constant(S3_DATE)), { nil: undefined }),
        query,
        (authorization, contentSha, date, q) => {
          const headers: Record<string, string> = {}
          if (authorization !== undefined) headers.authorization = authorization
          if (contentSha !== undefined) headers['x-amz-content-sha256'] = contentSha
          if (date !== undefined) headers['x-amz-date'] = date
          try {
            const auth = parseAuth({ method: 'GET', rawPath: '/', rawQuery: '', headers }, q)
            if (auth !== undefined) {
              // Whatever it accepts is complete enough to verify.
              assert.match(auth.credential.date, /^\d{8}$/)
              assert.ok(auth.signedHeaders.length > 0)
            }
          } catch (e) {
            assert.ok(isProjectError(e), String(e))
          }
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('verify accepts exactly the signature it computes, and refuses any other', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (key, value) => {
        const path = '/bucket/' + uriEncode(key)
        const headers = {
          host: S3_HOST,
          'x-amz-content-sha256': EMPTY_SHA256,
          'x-amz-date': S3_DATE,
          'x-amz-meta-v': value.trim().replace(/\s+/g, ' '),
        }
        const pre = headerSigned('GET', path, headers, '0'.repeat(64))
        const query = parseQuery('')
        const auth = parseAuth(pre, query)
        assert.ok(auth !== undefined)
        const sig = createHmac('sha256', signingKey(S3_KEY.secret, auth.credential))
          .update(stringToSign(auth, canonicalRequest(pre, query, auth)))
          .digest('hex')
        accept(headerSigned('GET', path, headers, sig))
        const flipped = sig.slice(0, 63) + (sig.endsWith('0') ? '1' : '0')
        assert.equal(
          refusal(() => accept(headerSigned('GET', path, headers, flipped))),
          'SignatureDoesNotMatch',
        )
      }),
      { numRuns: 200 },
    )
  })
})
