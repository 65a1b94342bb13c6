/**
 * SigV4 against AWS's published vectors, then properties of the parsers.
 *
 * 1. The Signature Version 4 test suite (the "aws-sig-v4-test-suite", once at
 *    https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html, now retired).
 *    Its files are kept by AWS in awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/<case>/
 *    (header-signed-request.txt, query-signed-request.txt, *-canonical-request.txt,
 *    *-string-to-sign.txt), and as smithy-lang/smithy-typescript
 *    packages/signature-v4/src/suite.fixture.ts. Credentials AKIDEXAMPLE /
 *    wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service `service`.
 *    The suite is written for services that normalise the path and encode it twice; S3 does
 *    neither (it signs the URI-encoded path as it is, encoded once). So every case is marked:
 *    `s3` cases are checked exactly (canonical request where the suite prints it, string to
 *    sign, signature); the `normalized` cases are checked to NOT verify the way the suite
 *    expects, because S3 would not normalise them either.
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
import fc from 'fast-check'
import { StrongroomError } from '../errors.ts'
import { toApiError } from './errors.ts'
import {
  canonicalRequest,
  canonicalUri,
  chunkSignature,
  EMPTY_SHA256,
  parseAuth,
  parseQuery,
  signingKey,
  stringToSign,
  trailerSignature,
  unsignedHeaders,
  uriEncode,
  verify,
  type ParsedAuth,
  type RequestView,
} from './sigv4.ts'

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')

// ---- the aws-sig-v4-test-suite ---------------------------------------------------------------

const SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const SUITE_DATE = '20150830T123600Z'
const SUITE_CREDENTIAL = {
  accessKeyId: 'AKIDEXAMPLE',
  date: '20150830',
  region: 'us-east-1',
  service: 'service',
}
const HOST = 'example.amazonaws.com'

interface SuiteCase {
  readonly name: string
  readonly method: 'GET' | 'POST'
  /** The request target as it crosses the wire (what node:http's req.url holds). */
  readonly target: string
  /** Extra headers, lower-cased as node:http gives them (host and x-amz-date are added). */
  readonly headers?: Record<string, string>
  readonly body?: string
  /** The canonical request the suite prints for the case, where it prints one. */
  readonly canonical?: string
  /** The string to sign's last line (the canonical request's SHA-256), where the suite prints it. */
  readonly canonicalHash?: string
  readonly signature: string
}

/** Header-signed cases that apply to S3 as they are (a path S3 would sign the same way). */
const HEADER_CASES: readonly SuiteCase[] = [
  {
    name: 'get-vanilla',
    method: 'GET',
    target: '/',
    canonical: `GET\n/\n\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    canonicalHash: 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    method: 'GET',
    target: '/?Param2=value2&Param1=value1',
    canonical: `GET\n/\nParam1=value1&Param2=value2\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
  },
  {
    name: 'get-vanilla-empty-query-key',
    method: 'GET',
    target: '/?Param1=value1',
    signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb',
  },
  {
    name: 'get-vanilla-query-unreserved',
    method: 'GET',
    target:
      '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
    signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
  },
  {
    // The suite's request line has a raw U+1234; on the wire it is its UTF-8, percent-encoded.
    name: 'get-vanilla-utf8-query',
    method: 'GET',
    target: '/?%E1%88%B4=bar',
    canonical: `GET\n/\n%E1%88%B4=bar\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04',
  },
  {
    name: 'get-unreserved',
    method: 'GET',
    target: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
    signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f',
  },
  {
    name: 'get-utf8',
    method: 'GET',
    target: '/%E1%88%B4',
    canonical: `GET\n/%E1%88%B4\n\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
  },
  {
    // node:http strips the value's outer whitespace; the inner run must still collapse.
    name: 'get-header-value-trim',
    method: 'GET',
    target: '/',
    headers: { 'my-header1': 'value1', 'my-header2': '"a   b   c"' },
    canonical: `GET\n/\n\nhost:${HOST}\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:${SUITE_DATE}\n\nhost;my-header1;my-header2;x-amz-date\n${EMPTY_SHA256}`,
    signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
  },
  {
    name: 'get-header-value-order',
    method: 'GET',
    target: '/',
    headers: { 'my-header1': 'value4,value1,value3,value2' },
    signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01',
  },
  {
    name: 'post-vanilla',
    method: 'POST',
    target: '/',
    signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
  },
  {
    name: 'post-vanilla-query',
    method: 'POST',
    target: '/?Param1=value1',
    signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11',
  },
  {
    name: 'post-header-key-sort',
    method: 'POST',
    target: '/',
    headers: { 'my-header1': 'value1' },
    signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c',
  },
  {
    name: 'post-header-value-case',
    method: 'POST',
    target: '/',
    headers: { 'my-header1': 'VALUE1' },
    signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d',
  },
  {
    // The body is hashed into the last line; the content type is signed as given.
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    target: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Param1=value1',
    canonical: `POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e`,
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
  },
  {
    name: 'post-x-www-form-urlencoded-parameters',
    method: 'POST',
    target: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf8' },
    body: 'Param1=value1',
    signature: '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe',
  },
  {
    // A session token is signed like any header (S3 requires it signed: see unsignedHeaders).
    name: 'post-sts-header-before',
    method: 'POST',
    target: '/',
    headers: {
      'x-amz-security-token':
        'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==',
    },
    signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead',
  },
  // aws-c-auth's "-unnormalized" cases (context.json "normalize": false) are signed the way S3
  // signs: the path exactly as sent, dots and empty segments kept.
  {
    name: 'get-relative-unnormalized',
    method: 'GET',
    target: '/example/..',
    canonical: `GET\n/example/..\n\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: 'eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282',
  },
  {
    name: 'get-relative-relative-unnormalized',
    method: 'GET',
    target: '/example1/example2/../..',
    signature: 'dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b',
  },
  {
    name: 'get-slash-unnormalized',
    method: 'GET',
    target: '//',
    signature: 'c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e',
  },
  {
    name: 'get-slash-dot-slash-unnormalized',
    method: 'GET',
    target: '/./',
    signature: '68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145',
  },
  {
    name: 'get-slash-pointless-dot-unnormalized',
    method: 'GET',
    target: '/./example',
    signature: 'beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff',
  },
  {
    name: 'get-slashes-unnormalized',
    method: 'GET',
    target: '//example//',
    canonical: `GET\n//example//\n\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: '87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5',
  },
  {
    // A space in the key: encoded once (%20), as S3 does; never %2520.
    name: 'get-space-unnormalized',
    method: 'GET',
    target: '/example%20space/',
    canonical: `GET\n/example%20space/\n\nhost:${HOST}\nx-amz-date:${SUITE_DATE}\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741',
  },
]

/**
 * Cases whose expected signature assumes the path is normalised first (aws-c-auth's
 * "-normalized" files and the original suite's get-relative, get-slashes...). S3 does not
 * normalise: the same request must NOT produce the normalised signature here.
 */
const NORMALIZED_CASES: readonly SuiteCase[] = [
  {
    name: 'get-relative-normalized',
    method: 'GET',
    target: '/example/..',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'get-slashes-normalized',
    method: 'GET',
    target: '//example//',
    signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84',
  },
]

/** Presigned (query-signed) cases: aws-c-auth's query-signed-request.txt, X-Amz-Expires=3600. */
const QUERY_CASES: readonly SuiteCase[] = [
  {
    name: 'get-vanilla-query-order-key-case (presigned)',
    method: 'GET',
    target:
      '/?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600',
    canonical: `GET\n/\nParam1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\nhost:${HOST}\n\nhost\n${EMPTY_SHA256}`,
    signature: '86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5',
  },
  {
    name: 'get-vanilla-query-unreserved (presigned)',
    method: 'GET',
    target:
      '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600',
    signature: '8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf',
  },
  {
    name: 'get-vanilla-utf8-query (presigned)',
    method: 'GET',
    target:
      '/?%E1%88%B4=bar&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600',
    signature: '0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600',
  },
]

function viewOf(c: SuiteCase, presigned: boolean): RequestView {
  const q = c.target.indexOf('?')
  return {
    method: c.method,
    rawPath: q < 0 ? c.target : c.target.slice(0, q),
    rawQuery: q < 0 ? '' : c.target.slice(q + 1),
    headers: { host: HOST, ...(presigned ? {} : { 'x-amz-date': SUITE_DATE }), ...c.headers },
  }
}

/**
 * The suite's access key id (11 characters) is shorter than any key parseAuth accepts, and its
 * service is not s3, so the parsed form is built here from the case, as parseAuth would.
 */
function authOf(c: SuiteCase, presigned: boolean): ParsedAuth {
  const v = viewOf(c, presigned)
  const signedHeaders = presigned
    ? ['host']
    : Object.keys(v.headers)
        .filter((h) => h !== 'x-amz-content-sha256')
        .sort()
  return {
    kind: presigned ? 'presigned' : 'header',
    credential: SUITE_CREDENTIAL,
    signedHeaders,
    signature: c.signature,
    amzDate: SUITE_DATE,
    expires: presigned ? 3600 : undefined,
    payloadHash: sha256(c.body ?? ''),
    securityToken: undefined,
  }
}

function sign(c: SuiteCase, presigned: boolean) {
  const v = viewOf(c, presigned)
  const auth = authOf(c, presigned)
  const canonical = canonicalRequest(v, parseQuery(v.rawQuery), auth)
  const sts = stringToSign(auth, canonical)
  const signature = createHmac('sha256', signingKey(SUITE_SECRET, SUITE_CREDENTIAL))
    .update(sts)
    .digest('hex')
  return { canonical, sts, signature }
}

describe('SigV4: the aws-sig-v4-test-suite cases that S3 signs the same way', () => {
  for (const c of HEADER_CASES) {
    it(`${c.name}: canonical request, string to sign and signature`, () => {
      const got = sign(c, false)
      if (c.canonical !== undefined) assert.equal(got.canonical, c.canonical)
      assert.equal(
        got.sts,
        `AWS4-HMAC-SHA256\n${SUITE_DATE}\n20150830/us-east-1/service/aws4_request\n${c.canonicalHash ?? sha256(got.canonical)}`,
      )
      assert.equal(got.signature, c.signature)
    })
  }
  for (const c of QUERY_CASES) {
    it(`${c.name}: X-Amz-Signature left out of the canonical query, everything else sorted`, () => {
      const got = sign(c, true)
      if (c.canonical !== undefined) assert.equal(got.canonical, c.canonical)
      assert.equal(got.signature, c.signature)
      // The signature itself, appended as a client appends it, changes nothing.
      const withSig = { ...c, target: `${c.target}&X-Amz-Signature=${c.signature}` }
      assert.equal(sign(withSig, true).signature, c.signature)
    })
  }
})

describe('SigV4: the suite cases S3 does not follow', () => {
  for (const c of NORMALIZED_CASES) {
    it(`${c.name}: S3 does not normalise the path, so the normalised signature does not verify`, () => {
      const got = sign(c, false)
      assert.notEqual(got.signature, c.signature)
      // What it signs instead is the path as sent.
      assert.equal(got.canonical.split('\n')[1], c.target)
    })
  }

  it('post-sts-header-after: an x-amz-security-token left out of SignedHeaders is refused, not ignored', () => {
    const v: RequestView = {
      method: 'POST',
      rawPath: '/',
      rawQuery: '',
      headers: { host: HOST, 'x-amz-date': SUITE_DATE, 'x-amz-security-token': 'token' },
    }
    const auth = {
      ...authOf(HEADER_CASES[0] as SuiteCase, false),
      signedHeaders: ['host', 'x-amz-date'],
    }
    assert.deepEqual(unsignedHeaders(v, auth), ['x-amz-security-token'])
  })

  it('get-header-key-duplicate: the suite joins a repeated header with ","; node:http joins it with ", "', () => {
    // Known gap, pinned here: node:http hands a repeated header (other than set-cookie) to the
    // gateway as ONE string joined with ", ", so a client that sends a signed header twice and
    // signs the suite's canonical form (value2,value2,value1) gets SignatureDoesNotMatch. No
    // S3 SDK sends a signed header twice. Given the values as an array, the suite's form results.
    const c: SuiteCase = {
      name: 'get-header-key-duplicate',
      method: 'GET',
      target: '/',
      signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
    }
    const auth = { ...authOf(c, false), signedHeaders: ['host', 'my-header1', 'x-amz-date'] }
    const signatureWith = (value: string | string[]) => {
      const v = {
        ...viewOf(c, false),
        headers: { ...viewOf(c, false).headers, 'my-header1': value },
      }
      const canonical = canonicalRequest(v, [], auth)
      return createHmac('sha256', signingKey(SUITE_SECRET, SUITE_CREDENTIAL))
        .update(stringToSign(auth, canonical))
        .digest('hex')
    }
    assert.equal(signatureWith(['value2', 'value2', 'value1']), c.signature)
    assert.notEqual(signatureWith('value2, value2, value1'), c.signature)
  })
})

// ---- S3's documented examples -------------------------------------------------------------

const S3_KEY = { id: 'AKIAIOSFODNN7EXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }
const S3_DATE = '20130524T000000Z'
const S3_NOW = Date.UTC(2013, 4, 24, 0, 0, 0)
const S3_HOST = 'examplebucket.s3.amazonaws.com'
const S3_SCOPE = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request'

function headerSigned(
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
function accept(v: RequestView, now = S3_NOW) {
  const query = parseQuery(v.rawQuery)
  const auth = parseAuth(v, query)
  assert.ok(auth !== undefined)
  const key = verify(v, query, auth, S3_KEY.secret, { region: 'us-east-1', now })
  return { auth, key, canonical: canonicalRequest(v, query, auth) }
}

function refusal(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof StrongroomError, `not a StrongroomError: ${String(e)}`)
    return toApiError(e).code
  }
  assert.fail('accepted')
}

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
