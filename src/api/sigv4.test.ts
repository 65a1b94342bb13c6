/**
 * SigV4 against AWS's published test suite (the S3 examples are in sigv4-s3.test.ts, the
 * parsers' refusals and properties in sigv4-parse.test.ts).
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
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import {
  canonicalRequest,
  EMPTY_SHA256,
  parseQuery,
  signingKey,
  stringToSign,
  unsignedHeaders,
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
