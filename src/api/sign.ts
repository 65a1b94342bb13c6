/**
 * Signing a query-protocol request (STS, IAM) with SigV4, for Strongroom's own clients
 * (`strongroom whoami`, the benchmarks): the same canonical request the gateway verifies.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto'
import { canonicalRequest, signingKey, stringToSign, type ParsedAuth } from './sigv4.ts'

export interface SigningKeys {
  readonly id: string
  readonly secret: string
  readonly token?: string | undefined
}

/** Each credential's signing key for its last scope: a client signs a day's requests with one. */
const derived = new WeakMap<SigningKeys, { readonly scope: string; readonly key: KeyObject }>()

/** The headers of a signed form POST of `body` to `host` for `service` in `region`. */
export function signedFormHeaders(
  keys: SigningKeys,
  o: {
    host: string
    region: string
    service: string
    body: string
    now?: Date
    /** More headers to send and sign, lower case (a JSON request's content-type and x-amz-target). */
    headers?: Readonly<Record<string, string>>
  },
): Record<string, string> {
  const amzDate = (o.now ?? new Date())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    host: o.host,
    'x-amz-date': amzDate,
    ...(keys.token === undefined ? {} : { 'x-amz-security-token': keys.token }),
    ...o.headers,
  }
  const auth: ParsedAuth = {
    kind: 'header',
    credential: {
      accessKeyId: keys.id,
      date: amzDate.slice(0, 8),
      region: o.region,
      service: o.service,
    },
    signedHeaders: Object.keys(headers).sort(),
    signature: '',
    amzDate,
    expires: undefined,
    payloadHash: createHash('sha256').update(o.body).digest('hex'),
    securityToken: keys.token,
  }
  const view = { method: 'POST', rawPath: '/', rawQuery: '', headers }
  const c = auth.credential
  const scope = `${c.date}/${c.region}/${c.service}`
  let hit = derived.get(keys)
  if (hit?.scope !== scope) {
    hit = { scope, key: signingKey(keys.secret, c) }
    derived.set(keys, hit)
  }
  const signature = createHmac('sha256', hit.key)
    .update(stringToSign(auth, canonicalRequest(view, [], auth)))
    .digest('hex')
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${keys.id}/${c.date}/${c.region}/${c.service}/aws4_request, SignedHeaders=${auth.signedHeaders.join(';')}, Signature=${signature}`
  return headers
}
