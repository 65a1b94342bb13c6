/**
 * AWS Signature Version 4 verification, as S3 does it
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html):
 * the Authorization header, presigned URLs (X-Amz-* query parameters, 7 days
 * at most), and the chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
 * Signatures are compared in constant time; the clock may differ by 15
 * minutes at most. Nothing here looks up keys: callers pass the secret.
 */
import {
  createHash,
  createHmac,
  createSecretKey,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto'
import { StrongroomError } from '../errors.ts'

export const ALGORITHM = 'AWS4-HMAC-SHA256'
export const MAX_SKEW_MS = 15 * 60 * 1000
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

export interface RequestView {
  readonly method: string
  /** The path as received, still percent-encoded. */
  readonly rawPath: string
  /** The raw query string, without `?`. */
  readonly rawQuery: string
  /** Lower-cased header names, as node:http gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

export interface Credential {
  readonly accessKeyId: string
  readonly date: string
  readonly region: string
  readonly service: string
}

export interface ParsedAuth {
  readonly kind: 'header' | 'presigned'
  readonly credential: Credential
  readonly signedHeaders: readonly string[]
  readonly signature: string
  /** ISO basic format, 20130524T000000Z. */
  readonly amzDate: string
  /** Presigned only: seconds the URL is valid for. */
  readonly expires: number | undefined
  /** What the payload hash in the canonical request is: a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-… marker. */
  readonly payloadHash: string
  readonly securityToken: string | undefined
}

const header = (v: RequestView, name: string): string | undefined => {
  const h = v.headers[name]
  return Array.isArray(h) ? h.join(',') : h
}

/** Encodes as AWS's UriEncode: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper-case hex). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'))
  } catch (e) {
    throw new StrongroomError('INVALID_ARGUMENT', `${what} is not valid percent-encoding`, {
      cause: e,
    })
  }
}

/** Query parameters, decoded, in order. `+` means space, as form encoding has it. */
export function parseQuery(raw: string): [string, string][] {
  if (raw === '') return []
  return raw.split('&').map((pair) => {
    const eq = pair.indexOf('=')
    return eq < 0
      ? [decode(pair, 'the query string'), '']
      : [
          decode(pair.slice(0, eq), 'the query string'),
          decode(pair.slice(eq + 1), 'the query string'),
        ]
  })
}

/** The path, each segment decoded and re-encoded once (S3 does not normalise `.` or `//`). */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((seg) => uriEncode(decode(seg, 'the request path')))
    .join('/')
}

function canonicalQuery(pairs: readonly [string, string][], skipSignature: boolean): string {
  return pairs
    .filter(([k]) => !(skipSignature && k === 'X-Amz-Signature'))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

const CREDENTIAL = /^([A-Za-z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request$/
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/

function parseCredential(s: string): Credential {
  const m = CREDENTIAL.exec(s)
  if (m === null)
    throw new StrongroomError(
      'AUTHORIZATION_HEADER_MALFORMED',
      'the Credential must be AKID/YYYYMMDD/REGION/SERVICE/aws4_request',
    )
  return { accessKeyId: m[1] ?? '', date: m[2] ?? '', region: m[3] ?? '', service: m[4] ?? '' }
}

export function amzDateToMs(d: string): number | undefined {
  const m = AMZ_DATE.exec(d)
  if (m === null) return undefined
  const t = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  )
  return Number.isNaN(t) ? undefined : t
}

/**
 * What SigV2 gets, header or query: refused, as S3 refuses it for every bucket created since
 * June 2020, with the fix for the one common client that still sends it (`aws s3 presign`
 * of aws CLI v1).
 */
export const SIGV2_REFUSED =
  'AWS Signature Version 2 is not supported: sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256). aws CLI v1 presigns with Signature Version 2 by default; fix it with: aws configure set default.s3.signature_version s3v4'

/**
 * The values x-amz-content-sha256 may take besides a hex SHA-256
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
 * .../sigv4-streaming.html). The ECDSA ones belong to SigV4a, which this endpoint does not
 * verify: they are refused, never read as "unsigned".
 */
export const PAYLOAD_MARKERS = [
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER',
] as const

/** A hex SHA-256 of the payload, as x-amz-content-sha256 carries it (S3 accepts either case). */
export const PAYLOAD_SHA256 = /^[0-9a-fA-F]{64}$/

function checkPayloadHash(value: string): void {
  if (PAYLOAD_SHA256.test(value)) return
  const extra = { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value.slice(0, 256) }
  if (
    value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD') &&
    PAYLOAD_MARKERS.some((m) => m === value)
  )
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `x-amz-content-sha256 ${value} is for AWS Signature Version 4A (ECDSA), which this endpoint does not support: sign with AWS4-HMAC-SHA256`,
      { details: extra },
    )
  if (!PAYLOAD_MARKERS.some((m) => m === value))
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.`,
      { details: extra },
    )
}

/**
 * The x-amz-* headers a request carries but its signature does not cover. S3 refuses them
 * all (AccessDenied, HeadersNotSigned): an unsigned x-amz-copy-source, kms-key-id, tagging or
 * meta header would otherwise let whoever holds a presigned URL change what it does. For a
 * presigned URL, x-amz-content-sha256 is exempt: it is bound anyway, as the payload line of
 * the canonical request.
 */
export function unsignedHeaders(v: RequestView, auth: ParsedAuth): string[] {
  const signed = new Set(auth.signedHeaders)
  return Object.keys(v.headers)
    .filter(
      (name) =>
        name.startsWith('x-amz-') &&
        !signed.has(name) &&
        !(auth.kind === 'presigned' && name === 'x-amz-content-sha256'),
    )
    .sort()
}

/**
 * The service a request's credential scope names (`s3`, `sts`, `iam`…), read without checking
 * anything else: the pipeline routes on it, then verifies the signature for that service.
 */
export function scopeService(
  v: RequestView,
  query: readonly [string, string][],
): string | undefined {
  const given = header(v, 'authorization')
  const credential =
    given === undefined
      ? query.find(([k]) => k === 'X-Amz-Credential')?.[1]
      : /Credential=([^,\s]*)/.exec(given)?.[1]
  return credential === undefined
    ? undefined
    : /^[^/]*\/\d{8}\/[^/]*\/([a-z0-9-]{1,32})\/aws4_request$/.exec(credential)?.[1]
}

/** Reads how a request is signed; undefined for an anonymous request. */
export function parseAuth(
  v: RequestView,
  query: readonly [string, string][],
  bodyHash?: string,
): ParsedAuth | undefined {
  // An empty Authorization header carries no credentials: the request is anonymous, and is
  // refused as one (403 AccessDenied, as S3 answers it), not as a malformed signature.
  const given = header(v, 'authorization')
  const auth = given?.trim() === '' ? undefined : given
  const q = new Map(query)
  const contentSha256 = header(v, 'x-amz-content-sha256')
  if (contentSha256 !== undefined) checkPayloadHash(contentSha256)
  if (auth !== undefined) {
    if (auth.startsWith('AWS ')) throw new StrongroomError('INVALID_REQUEST', SIGV2_REFUSED)
    if (!auth.startsWith(`${ALGORITHM} `))
      throw new StrongroomError(
        'AUTHORIZATION_HEADER_MALFORMED',
        `the Authorization header must use ${ALGORITHM}`,
      )
    const fields = new Map<string, string>()
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const eq = part.indexOf('=')
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
    }
    const cred = fields.get('Credential')
    const signed = fields.get('SignedHeaders')
    const sig = fields.get('Signature')
    if (cred === undefined || signed === undefined || sig === undefined) {
      throw new StrongroomError(
        'AUTHORIZATION_HEADER_MALFORMED',
        'the Authorization header needs Credential, SignedHeaders and Signature',
      )
    }
    const amzDate = header(v, 'x-amz-date') ?? ''
    if (amzDateToMs(amzDate) === undefined)
      throw new StrongroomError(
        'ACCESS_DENIED',
        'AWS authentication requires a valid x-amz-date header',
      )
    // S3 requires the header; the other services sign the hash of the body they were sent.
    const payloadHash = contentSha256 ?? bodyHash
    if (payloadHash === undefined)
      throw new StrongroomError(
        'INVALID_REQUEST',
        'missing required header for this request: x-amz-content-sha256',
      )
    return {
      kind: 'header',
      credential: parseCredential(cred),
      signedHeaders: signed.split(';'),
      signature: sig,
      amzDate,
      expires: undefined,
      payloadHash,
      securityToken: header(v, 'x-amz-security-token'),
    }
  }
  if (q.has('X-Amz-Signature') || q.has('X-Amz-Credential')) {
    if (q.get('X-Amz-Algorithm') !== ALGORITHM)
      throw new StrongroomError(
        'AUTHORIZATION_QUERY_PARAMETERS_ERROR',
        `X-Amz-Algorithm must be ${ALGORITHM}`,
      )
    const expires = Number(q.get('X-Amz-Expires'))
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
      throw new StrongroomError(
        'AUTHORIZATION_QUERY_PARAMETERS_ERROR',
        'X-Amz-Expires must be a number of seconds from 1 to 604800 (7 days)',
      )
    }
    const amzDate = q.get('X-Amz-Date') ?? ''
    if (amzDateToMs(amzDate) === undefined)
      throw new StrongroomError(
        'AUTHORIZATION_QUERY_PARAMETERS_ERROR',
        'X-Amz-Date must be in the form 20130524T000000Z',
      )
    return {
      kind: 'presigned',
      credential: parseCredential(q.get('X-Amz-Credential') ?? ''),
      signedHeaders: (q.get('X-Amz-SignedHeaders') ?? '').split(';'),
      signature: q.get('X-Amz-Signature') ?? '',
      amzDate,
      expires,
      payloadHash: contentSha256 ?? 'UNSIGNED-PAYLOAD',
      securityToken: q.get('X-Amz-Security-Token'),
    }
  }
  if (q.has('AWSAccessKeyId') || (q.has('Signature') && q.has('Expires')))
    throw new StrongroomError('INVALID_REQUEST', SIGV2_REFUSED)
  return undefined
}

/**
 * The signing key of a secret and scope, as a KeyObject: Node takes a raw key through slow
 * checks on every createHmac (about 15 µs on Node 24, against 3 µs for a KeyObject), and a
 * request takes at least one HMAC with it, an aws-chunked upload one per chunk.
 */
export function signingKey(secret: string, c: Credential): KeyObject {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(c.date).digest()
  const kRegion = createHmac('sha256', kDate).update(c.region).digest()
  const kService = createHmac('sha256', kRegion).update(c.service).digest()
  return createSecretKey(createHmac('sha256', kService).update('aws4_request').digest())
}

export function scopeOf(c: Credential): string {
  return `${c.date}/${c.region}/${c.service}/aws4_request`
}

export function canonicalRequest(
  v: RequestView,
  query: readonly [string, string][],
  auth: ParsedAuth,
): string {
  const headers = auth.signedHeaders.map((name) => {
    const raw = name === 'host' ? (header(v, 'host') ?? '') : (header(v, name) ?? '')
    return `${name}:${raw.trim().replace(/\s+/g, ' ')}\n`
  })
  return [
    v.method,
    canonicalUri(v.rawPath),
    canonicalQuery(query, auth.kind === 'presigned'),
    headers.join(''),
    auth.signedHeaders.join(';'),
    auth.payloadHash,
  ].join('\n')
}

export function stringToSign(auth: ParsedAuth, canonical: string): string {
  return [
    ALGORITHM,
    auth.amzDate,
    scopeOf(auth.credential),
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n')
}

/**
 * Checks time, region, service, signed headers and the signature. `keyOf` gives the signing
 * key of the credential's scope (`signingKey` of the secret, or a cached one); it is asked only
 * once the other checks pass. Returns the signing key for chunk signatures.
 */
export function verify(
  v: RequestView,
  query: readonly [string, string][],
  auth: ParsedAuth,
  keyOf: (c: Credential) => KeyObject,
  expect: { region: string; now: number; service?: string },
): KeyObject {
  const c = auth.credential
  const service = expect.service ?? 's3'
  if (c.service !== service)
    throw new StrongroomError(
      'AUTHORIZATION_HEADER_MALFORMED',
      `the credential is scoped to service \`${c.service}\`; this request is for ${service}`,
    )
  // IAM is a global service: clients sign it for us-east-1 wherever they are.
  if (c.region !== expect.region && !(service === 'iam' && c.region === 'us-east-1')) {
    throw new StrongroomError(
      'AUTHORIZATION_HEADER_MALFORMED',
      `the credential is scoped to region \`${c.region}\`; this endpoint expects \`${expect.region}\``,
    )
  }
  if (auth.amzDate.slice(0, 8) !== c.date)
    throw new StrongroomError(
      'AUTHORIZATION_HEADER_MALFORMED',
      'the credential date does not match the request date',
    )
  if (!auth.signedHeaders.includes('host'))
    throw new StrongroomError('ACCESS_DENIED', 'the host header must be signed')
  const unsigned = unsignedHeaders(v, auth)
  if (unsigned.length > 0)
    throw new StrongroomError(
      'ACCESS_DENIED',
      'There were headers present in the request which were not signed',
      { details: { HeadersNotSigned: unsigned.join(', ') } },
    )
  const t = amzDateToMs(auth.amzDate) ?? 0
  if (auth.kind === 'header' && Math.abs(expect.now - t) > MAX_SKEW_MS) {
    throw new StrongroomError(
      'REQUEST_TIME_TOO_SKEWED',
      'the difference between the request time and the server time is more than 15 minutes',
    )
  }
  if (auth.kind === 'presigned') {
    if (t - expect.now > MAX_SKEW_MS)
      throw new StrongroomError('ACCESS_DENIED', 'the presigned URL is not valid yet')
    if (expect.now > t + (auth.expires ?? 0) * 1000)
      throw new StrongroomError('ACCESS_DENIED', 'Request has expired')
  }
  const key = keyOf(c)
  const expected = createHmac('sha256', key)
    .update(stringToSign(auth, canonicalRequest(v, query, auth)))
    .digest()
  const given = /^[0-9a-f]{64}$/.test(auth.signature)
    ? Buffer.from(auth.signature, 'hex')
    : Buffer.alloc(32)
  if (!timingSafeEqual(expected, given)) {
    throw new StrongroomError(
      'SIGNATURE_DOES_NOT_MATCH',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    )
  }
  return key
}

/** The signature a chunk of STREAMING-AWS4-HMAC-SHA256-PAYLOAD must carry. */
export function chunkSignature(
  key: KeyObject,
  auth: ParsedAuth,
  previous: string,
  chunk: readonly Uint8Array[],
): string {
  const h = createHash('sha256')
  for (const c of chunk) h.update(c)
  const sts = [
    'AWS4-HMAC-SHA256-PAYLOAD',
    auth.amzDate,
    scopeOf(auth.credential),
    previous,
    EMPTY_SHA256,
    h.digest('hex'),
  ].join('\n')
  return createHmac('sha256', key).update(sts).digest('hex')
}

/** The x-amz-trailer-signature of STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER's trailer chunk. */
export function trailerSignature(
  key: KeyObject,
  auth: ParsedAuth,
  previous: string,
  canonicalTrailers: string,
): string {
  const sts = [
    'AWS4-HMAC-SHA256-TRAILER',
    auth.amzDate,
    scopeOf(auth.credential),
    previous,
    createHash('sha256').update(canonicalTrailers).digest('hex'),
  ].join('\n')
  return createHmac('sha256', key).update(sts).digest('hex')
}

export function signaturesEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
}
