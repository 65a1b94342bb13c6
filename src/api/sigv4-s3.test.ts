/**
 * SigV4 against S3's own documented examples:
 * 2. S3's own examples: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 *    (GET Object with Range, PUT Object, GET Bucket lifecycle, GET Bucket list),
 *    .../sigv4-query-string-auth.html (the presigned URL), .../sigv4-streaming.html (chunked
 *    upload: seed and chunk signatures). Credentials AKIAIOSFODNN7EXAMPLE /
 *    wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z, us-east-1, s3.
 *    These go through parseAuth and verify, as a request does.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { StrongroomError } from '../errors.ts'
import { toApiError } from './errors.ts'
import {
  chunkSignature,
  EMPTY_SHA256,
  parseAuth,
  parseQuery,
  signingKey,
  stringToSign,
  trailerSignature,
  type RequestView,
} from './sigv4.ts'
import {
  accept,
  headerSigned,
  refusal,
  S3_DATE,
  S3_HOST,
  S3_KEY,
  S3_NOW,
  S3_SCOPE,
} from '../../test/api/sigv4-s3.ts'

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')

describe('SigV4: the examples in the S3 API reference', () => {
  it('GET Object with a Range header (sig-v4-header-based-auth): canonical request and signature', () => {
    const v = headerSigned(
      'GET',
      '/test.txt',
      {
        host: S3_HOST,
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': S3_DATE,
      },
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    )
    const { auth, canonical } = accept(v)
    assert.equal(
      canonical,
      `GET\n/test.txt\n\nhost:${S3_HOST}\nrange:bytes=0-9\nx-amz-content-sha256:${EMPTY_SHA256}\nx-amz-date:${S3_DATE}\n\nhost;range;x-amz-content-sha256;x-amz-date\n${EMPTY_SHA256}`,
    )
    assert.equal(
      stringToSign(auth, canonical),
      `AWS4-HMAC-SHA256\n${S3_DATE}\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972`,
    )
  })

  it('PUT Object with a signed payload: `$` in the key is encoded once (%24)', () => {
    const payload = sha256('Welcome to Amazon S3.')
    assert.equal(payload, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072')
    const v = headerSigned(
      'PUT',
      '/test%24file.text',
      {
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        host: S3_HOST,
        'x-amz-content-sha256': payload,
        'x-amz-date': S3_DATE,
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      },
      '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    )
    const { auth, canonical } = accept(v)
    assert.equal(canonical.split('\n')[1], '/test%24file.text')
    assert.equal(
      stringToSign(auth, canonical).split('\n')[3],
      '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d',
    )
    // The key written with a raw `$` (as some clients send it) signs the same.
    accept({ ...v, rawPath: '/test$file.text' })
  })

  it('GET Bucket lifecycle: a subresource with no value is `lifecycle=`', () => {
    const v = headerSigned(
      'GET',
      '/?lifecycle',
      { host: S3_HOST, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': S3_DATE },
      'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    )
    assert.equal(accept(v).canonical.split('\n')[2], 'lifecycle=')
  })

  it('GET Bucket (list objects): query parameters sorted by name', () => {
    const v = headerSigned(
      'GET',
      '/?prefix=J&max-keys=2',
      { host: S3_HOST, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': S3_DATE },
      '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    )
    assert.equal(accept(v).canonical.split('\n')[2], 'max-keys=2&prefix=J')
  })

  it('the presigned URL example (sigv4-query-string-auth): valid for 86400 s, then expired', () => {
    const v: RequestView = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery:
        'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
      headers: { host: S3_HOST },
    }
    const { auth, canonical } = accept(v)
    assert.equal(auth.kind, 'presigned')
    assert.equal(auth.expires, 86400)
    assert.equal(
      canonical,
      `GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:${S3_HOST}\n\nhost\nUNSIGNED-PAYLOAD`,
    )
    accept(v, S3_NOW + 86400 * 1000)
    assert.equal(
      refusal(() => accept(v, S3_NOW + 86400 * 1000 + 1)),
      'AccessDenied',
    )
    // One changed byte of the signature: refused.
    const forged = { ...v, rawQuery: v.rawQuery.replace(/d404$/, 'd405') }
    assert.equal(
      refusal(() => accept(forged)),
      'SignatureDoesNotMatch',
    )
  })

  it('the chunked upload example (sigv4-streaming): seed signature, then each chunk chained to the one before', () => {
    const v = headerSigned(
      'PUT',
      '/examplebucket/chunkObject.txt',
      {
        'content-encoding': 'aws-chunked',
        'content-length': '66824',
        host: 's3.amazonaws.com',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-date': S3_DATE,
        'x-amz-decoded-content-length': '66560',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      },
      '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    )
    const { auth, key } = accept(v)
    assert.equal(auth.payloadHash, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD')
    const first = chunkSignature(key, auth, auth.signature, [Buffer.alloc(65536, 'a')])
    assert.equal(first, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648')
    const second = chunkSignature(key, auth, first, [Buffer.alloc(1024, 'a')])
    assert.equal(second, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497')
    const last = chunkSignature(key, auth, second, [])
    assert.equal(last, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9')
    // A chunk's data given in pieces signs the same as in one piece.
    assert.equal(
      chunkSignature(key, auth, auth.signature, [Buffer.alloc(1, 'a'), Buffer.alloc(65535, 'a')]),
      first,
    )
    // Chained: the first chunk's signature does not fit the second place.
    assert.notEqual(chunkSignature(key, auth, auth.signature, [Buffer.alloc(1024, 'a')]), second)
  })

  it('the trailer signature chains from the final chunk and covers the trailer text', () => {
    const v = headerSigned(
      'PUT',
      '/examplebucket/chunkObject.txt',
      {
        host: 's3.amazonaws.com',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-date': S3_DATE,
      },
      '0'.repeat(64),
    )
    const query = parseQuery('')
    const auth = parseAuth(v, query)
    assert.ok(auth !== undefined)
    const key = signingKey(S3_KEY.secret, auth.credential)
    const trailer = 'x-amz-checksum-crc32c:sOO8/Q==\n'
    // The string to sign, as sigv4-streaming-trailers.html gives it, computed independently.
    const expected = createHmac('sha256', key)
      .update(
        [
          'AWS4-HMAC-SHA256-TRAILER',
          S3_DATE,
          '20130524/us-east-1/s3/aws4_request',
          'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
          sha256(trailer),
        ].join('\n'),
      )
      .digest('hex')
    const got = trailerSignature(
      key,
      auth,
      'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
      trailer,
    )
    assert.equal(got, expected)
    assert.notEqual(
      trailerSignature(
        key,
        auth,
        'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
        'x-amz-checksum-crc32c:AAAAAA==\n',
      ),
      expected,
    )
  })
})

describe('SigV4: what verify refuses', () => {
  const good = () =>
    headerSigned(
      'GET',
      '/test.txt',
      {
        host: S3_HOST,
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': S3_DATE,
      },
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    )
  const withAuth = (v: RequestView, edit: (a: string) => string): RequestView => ({
    ...v,
    headers: { ...v.headers, authorization: edit(String(v.headers.authorization)) },
  })

  it('a clock more than 15 minutes off: RequestTimeTooSkewed, either way', () => {
    accept(good(), S3_NOW + 15 * 60 * 1000)
    assert.equal(
      refusal(() => accept(good(), S3_NOW + 15 * 60 * 1000 + 1)),
      'RequestTimeTooSkewed',
    )
    assert.equal(
      refusal(() => accept(good(), S3_NOW - 15 * 60 * 1000 - 1)),
      'RequestTimeTooSkewed',
    )
  })

  it('a credential for another region, another service or another day: AuthorizationHeaderMalformed', () => {
    for (const scope of [
      'AKIAIOSFODNN7EXAMPLE/20130524/eu-west-1/s3/aws4_request',
      'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/iam/aws4_request',
      'AKIAIOSFODNN7EXAMPLE/20130523/us-east-1/s3/aws4_request',
    ])
      assert.equal(
        refusal(() => accept(withAuth(good(), (a) => a.replace(S3_SCOPE, scope)))),
        'AuthorizationHeaderMalformed',
        scope,
      )
  })

  it('a request that does not sign its host: AccessDenied', () => {
    const v = withAuth(good(), (a) => a.replace('SignedHeaders=host;', 'SignedHeaders='))
    assert.equal(
      refusal(() => accept(v)),
      'AccessDenied',
    )
  })

  it('an x-amz- header added after signing: AccessDenied naming it (HeadersNotSigned)', () => {
    const v = good()
    const added = { ...v, headers: { ...v.headers, 'x-amz-meta-evil': '1' } }
    try {
      accept(added)
      assert.fail('accepted')
    } catch (e) {
      assert.ok(e instanceof StrongroomError)
      const wire = toApiError(e)
      assert.equal(wire.code, 'AccessDenied')
      assert.equal(wire.extra['HeadersNotSigned'], 'x-amz-meta-evil')
    }
  })

  it('a signed header whose value changed, or a signature that is not hex: SignatureDoesNotMatch', () => {
    const v = good()
    assert.equal(
      refusal(() => accept({ ...v, headers: { ...v.headers, range: 'bytes=0-99' } })),
      'SignatureDoesNotMatch',
    )
    assert.equal(
      refusal(() => accept(withAuth(v, (a) => a.replace(/Signature=.*$/, 'Signature=zz')))),
      'SignatureDoesNotMatch',
    )
  })

  it('a presigned URL dated in the future beyond the allowed skew: AccessDenied', () => {
    const v: RequestView = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery:
        'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
      headers: { host: S3_HOST },
    }
    assert.equal(
      refusal(() => accept(v, S3_NOW - 16 * 60 * 1000)),
      'AccessDenied',
    )
  })
})
