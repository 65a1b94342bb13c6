/**
 * Web identity tokens (OIDC JWTs) as AssumeRoleWithWebIdentity checks them
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html):
 * the issuer (`iss`) must be an OIDC provider registered in the role's account, the signature
 * must verify under a key of the provider's JWKS (fetched from its discovery document over
 * HTTPS and cached, or given inline for sites without a way out), `aud` must be one of the
 * provider's client ids, and `exp`, `nbf` and `iat` must hold with five minutes of skew.
 * Only asymmetric algorithms are accepted: `alg: none` and an HMAC token that names a public
 * key as its secret are refused. JWT parsing and signature checks are jose's (a well-kept,
 * dependency-free implementation), not ours.
 */
import { request } from 'node:https'
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose'
import { StrongroomError } from '../errors.ts'

/** AWS's bounds on WebIdentityToken: 4 to 20,000 characters. */
export const MAX_WEB_IDENTITY_TOKEN = 20_000
/** How far a token's times may be off the clock. */
export const CLOCK_SKEW_SECONDS = 300
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']
/** A fetched JWKS is used this long before it is fetched again. */
const JWKS_TTL_MS = 60 * 60_000
/** A token whose key is not in the cached set refetches it, at most this often per issuer. */
const REFETCH_MS = 60_000
const MAX_DOCUMENT_BYTES = 64 * 1024
const FETCH_TIMEOUT_MS = 5_000
const MAX_ISSUERS = 256

/** What verification needs of a registered provider. */
export interface WebIdentityProvider {
  /** https://HOST/PATH, as registered (no trailing slash). */
  readonly url: string
  readonly clientIds: readonly string[]
  /** An inline JWKS (JSON), for sites where the gateway cannot reach the issuer. */
  readonly jwks?: string | undefined
}

const invalid = (message: string, cause?: unknown) =>
  new StrongroomError(
    'INVALID_IDENTITY_TOKEN',
    message,
    cause === undefined ? undefined : { cause },
  )

/** The issuer the token claims, read unverified: only to find the provider that must verify it. */
export function claimedIssuer(token: string): string {
  if (token.length < 4 || token.length > MAX_WEB_IDENTITY_TOKEN)
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and ${String(MAX_WEB_IDENTITY_TOKEN)}`,
    )
  let claims: JWTPayload
  try {
    claims = decodeJwt(token)
  } catch (e) {
    throw invalid("Couldn't parse the web identity token: it is not a JWT", e)
  }
  if (typeof claims.iss !== 'string' || claims.iss === '')
    throw invalid('The web identity token has no issuer (iss)')
  return normalIssuer(claims.iss)
}

/** An issuer URL as providers are registered: https, no trailing slash. */
export function normalIssuer(url: string): string {
  const u = /^https:\/\//i.test(url) ? url : `https://${url}`
  return u.replace(/\/+$/, '')
}

/** The prefix of the provider's condition keys: HOST/PATH (`token.actions.githubusercontent.com:sub`). */
export function providerKey(url: string): string {
  return normalIssuer(url).replace(/^https:\/\//i, '')
}

/**
 * jose's view of a key set, one per set: it imports each key once (an RSA import costs far more
 * than a verification), so a set kept by JwksCache is imported once, not on every token.
 */
const localSets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>()

function localSet(keys: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let set = localSets.get(keys)
  if (set === undefined) {
    set = createLocalJWKSet(keys)
    localSets.set(keys, set)
  }
  return set
}

/**
 * Verifies the token against the provider and its keys; returns its claims. Errors as STS
 * names them: InvalidIdentityToken, ExpiredTokenException.
 */
export async function verifyWebIdentity(
  token: string,
  provider: WebIdentityProvider,
  keys: JSONWebKeySet,
  now: number,
): Promise<JWTPayload> {
  let alg: string | undefined
  try {
    alg = decodeProtectedHeader(token).alg
  } catch (e) {
    throw invalid("Couldn't parse the web identity token's header", e)
  }
  if (alg === undefined || !ALGORITHMS.includes(alg))
    throw invalid(
      `The web identity token is signed with ${alg ?? 'no algorithm'}; only ${ALGORITHMS.join(', ')} are accepted`,
    )
  try {
    const { payload } = await jwtVerify(token, localSet(keys), {
      algorithms: ALGORITHMS,
      issuer: [provider.url, `${provider.url}/`],
      audience: [...provider.clientIds],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'aud', 'exp'],
    })
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now + CLOCK_SKEW_SECONDS * 1000)
      throw invalid('The web identity token was issued in the future (iat)')
    return payload
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    if (e instanceof errors.JWTExpired)
      throw new StrongroomError(
        'EXPIRED_IDENTITY_TOKEN',
        'Token expired: current date/time must be before the expiration date/time',
        { cause: e },
      )
    if (e instanceof errors.JWTClaimValidationFailed) {
      if (e.claim === 'aud') throw invalid('Incorrect token audience', e)
      if (e.claim === 'nbf') throw invalid('The web identity token is not valid yet (nbf)', e)
      throw invalid(`The web identity token's ${e.claim} claim is not valid: ${e.reason}`, e)
    }
    if (e instanceof errors.JWKSNoMatchingKey)
      throw invalid("The web identity token's signing key is not among the provider's keys", e)
    throw invalid('The web identity token could not be verified', e)
  }
}

/**
 * The providers' key sets: inline ones as given; others fetched from the issuer's discovery
 * document (`/.well-known/openid-configuration` → `jwks_uri`) over HTTPS, kept an hour, and
 * fetched again (at most once a minute) when a token names a key the set does not hold.
 */
export class JwksCache {
  readonly #ca: string | undefined
  readonly #now: () => number
  readonly #sets = new Map<string, { keys: JSONWebKeySet; fetchedAt: number }>()
  /** Inline sets parsed, by their text (the same text gives the same set, imported once). */
  readonly #inline = new Map<string, JSONWebKeySet>()
  /** The fetch under way for each issuer, shared. */
  readonly #pending = new Map<string, Promise<JSONWebKeySet>>()
  /** When each issuer's last fetch failed. */
  readonly #failed = new Map<string, number>()
  readonly #log: (line: Record<string, unknown>) => void

  /** `ca`: PEM certificates trusted besides the system's (an internal issuer's CA). */
  constructor(
    o: {
      ca?: string | undefined
      now?: () => number
      /** Where a failed fetch's detail goes (default: a JSON line on stderr). */
      log?: (line: Record<string, unknown>) => void
    } = {},
  ) {
    this.#ca = o.ca
    this.#now = o.now ?? Date.now
    this.#log = o.log ?? ((line) => process.stderr.write(JSON.stringify(line) + '\n'))
  }

  /** The keys to verify `token` with: cached, unless they are old or lack the token's key. */
  async keysFor(provider: WebIdentityProvider, token: string): Promise<JSONWebKeySet> {
    if (provider.jwks !== undefined) {
      let keys = this.#inline.get(provider.jwks)
      if (keys === undefined) {
        keys = parseJwks(provider.jwks, 'the inline JWKS')
        if (this.#inline.size >= MAX_ISSUERS) this.#inline.clear()
        this.#inline.set(provider.jwks, keys)
      }
      return keys
    }
    const hit = this.#sets.get(provider.url)
    const age = hit === undefined ? Infinity : this.#now() - hit.fetchedAt
    const kid = safeKid(token)
    const known =
      hit !== undefined && (kid === undefined || hit.keys.keys.some((k) => k.kid === kid))
    if (hit !== undefined && age < JWKS_TTL_MS && (known || age < REFETCH_MS)) return hit.keys
    // A failure is remembered for a while, and one fetch per issuer is shared by every request
    // waiting on it: unsigned requests must not be able to make the gateway fetch at will.
    const failed = this.#failed.get(provider.url)
    if (failed !== undefined && this.#now() - failed < FAILURE_MS) throw unreachable()
    let pending = this.#pending.get(provider.url)
    if (pending === undefined) {
      pending = this.#fetch(provider.url).finally(() => this.#pending.delete(provider.url))
      this.#pending.set(provider.url, pending)
    }
    let keys: JSONWebKeySet
    try {
      keys = await pending
    } catch (e) {
      if (this.#failed.size >= MAX_ISSUERS) this.#failed.clear()
      this.#failed.set(provider.url, this.#now())
      // The detail (which host, which port, which TLS error) is the operator's, not the caller's.
      this.#log({ level: 'warn', oidcIssuer: provider.url, error: (e as Error).message })
      throw unreachable(e)
    }
    if (this.#sets.size >= MAX_ISSUERS && !this.#sets.has(provider.url)) {
      const oldest = this.#sets.keys().next().value
      if (oldest !== undefined) this.#sets.delete(oldest)
    }
    this.#sets.set(provider.url, { keys, fetchedAt: this.#now() })
    this.#failed.delete(provider.url)
    return keys
  }

  async #fetch(issuer: string): Promise<JSONWebKeySet> {
    const discovery = (await this.#get(`${issuer}/.well-known/openid-configuration`)) as {
      issuer?: unknown
      jwks_uri?: unknown
    }
    if (typeof discovery.jwks_uri !== 'string' || !/^https:\/\//i.test(discovery.jwks_uri))
      throw communication(`the discovery document of ${issuer} names no https jwks_uri`)
    if (typeof discovery.issuer === 'string' && normalIssuer(discovery.issuer) !== issuer)
      throw communication(`the discovery document of ${issuer} names another issuer`)
    return parseJwks(JSON.stringify(await this.#get(discovery.jwks_uri)), `the JWKS of ${issuer}`)
  }

  #get(url: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          timeout: FETCH_TIMEOUT_MS,
          ca: this.#ca,
          headers: { accept: 'application/json' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume()
            reject(communication(`${url} answered ${String(res.statusCode)}`))
            return
          }
          const parts: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size > MAX_DOCUMENT_BYTES) {
              req.destroy()
              reject(
                communication(`${url} sent more than ${String(MAX_DOCUMENT_BYTES / 1024)} KiB`),
              )
              return
            }
            parts.push(c)
          })
          res.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(parts).toString('utf8')))
            } catch (e) {
              reject(communication(`${url} did not send JSON`, e))
            }
          })
          res.on('error', (e) => reject(communication(`reading ${url} failed`, e)))
        },
      )
      // The whole fetch has a deadline, not only each silent spell: a server that drips a byte
      // every few seconds is cut off too.
      const deadline = setTimeout(
        () => req.destroy(communication(`${url} did not answer within 5 seconds`)),
        FETCH_TIMEOUT_MS,
      )
      deadline.unref()
      req.on('close', () => clearTimeout(deadline))
      req.on('timeout', () => req.destroy(communication(`${url} did not answer within 5 seconds`)))
      req.on('error', (e) =>
        reject(
          e instanceof StrongroomError
            ? e
            : communication(`${url} could not be reached: ${e.message}`, e),
        ),
      )
      req.end()
    })
  }
}

/** A failed fetch is not retried for this long (every request would otherwise fetch again). */
const FAILURE_MS = 30_000

/** What the caller learns of a fetch that failed: STS's own words, nothing about the network. */
function unreachable(cause?: unknown): StrongroomError {
  return new StrongroomError(
    'IDP_COMMUNICATION_ERROR',
    "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
    cause === undefined ? undefined : { cause },
  )
}

function communication(message: string, cause?: unknown): StrongroomError {
  return new StrongroomError(
    'IDP_COMMUNICATION_ERROR',
    message,
    cause === undefined ? undefined : { cause },
  )
}

function parseJwks(text: string, what: string): JSONWebKeySet {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    throw communication(`${what} is not JSON`, e)
  }
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { keys?: unknown }).keys))
    throw communication(`${what} has no "keys" array`)
  return v as JSONWebKeySet
}

function safeKid(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).kid
  } catch {
    return undefined
  }
}
