/**
 * Session credentials that carry themselves (../shared/DESIGN.md, "Session token"): the
 * session token is the session, sealed with AES-256-GCM under a token key derived from the
 * root key, so any gateway replica validates a session without a database read; the session's
 * access key id and secret are derived from the token, never stored.
 *
 *   token      = base64( 0x01 ‖ kid (u32 BE) ‖ nonce (12) ‖ GCM(claims JSON) ‖ tag (16) ),
 *                the first five bytes bound as AAD
 *   mac        = HMAC-SHA512(HKDF(token key, "credentials"), token bytes)
 *   access key = "ASIA" ‖ base32(mac[0..10])       (16 characters, as AWS's are)
 *   secret     = base64(mac[10..40])                (40 characters)
 *
 * A token key has an id (kid) so that it can rotate: tokens sealed under any key still held
 * open; new ones are sealed under the current key. Pure: no I/O, no clock (callers pass `now`).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { timingSafeEqual } from 'node:crypto'
import { StrongroomError } from '../errors.ts'

/** What one session is: who, on whose behalf, with which limits, until when. */
export interface SessionClaims {
  /** The account (tenant id) the session belongs to. */
  readonly tenantId: string
  /** An assumed-role session (AssumeRole*), a user's session (GetSessionToken), a federated user. */
  readonly kind: 'role' | 'user' | 'federated'
  /** The role, user or federated user's name. */
  readonly name: string
  /** The role's or user's unique id (AROA…, AIDA…); the federated user's `account:name`. */
  readonly principalId: string
  /** RoleSessionName (assumed roles); empty otherwise. */
  readonly sessionName: string
  /** Epoch milliseconds: aws:TokenIssueTime. */
  readonly issuedAt: number
  /** Epoch milliseconds; at or after it the session is expired. */
  readonly expiresAt: number
  /** The inline session policy (JSON as given), if any. */
  readonly policy?: string | undefined
  /**
   * The managed session policies: each one's ARN (path and name as given) and unique id (ANPA…):
   * a policy deleted and made again under the ARN, or another of the name on another path, is
   * not the one the session was given.
   */
  readonly policyArns?: readonly (readonly [arn: string, id: string])[] | undefined
  /** Session tags, in the order given (aws:PrincipalTag/*). */
  readonly tags?: readonly (readonly [string, string])[] | undefined
  /** Tag keys that pass to a chained session. */
  readonly transitiveTagKeys?: readonly string[] | undefined
  readonly sourceIdentity?: string | undefined
  /** Made by a session assuming a role (role chaining: at most one hour, as on AWS). */
  readonly chained?: boolean | undefined
  /** A federated user's: the IAM user whose credentials asked for it (its permissions bound the session's). */
  readonly user?: string | undefined
  /** A federated user's: that IAM user's unique id (AIDA…); a user made again later is another. */
  readonly userId?: string | undefined
}

/** Credentials as STS answers them. */
export interface SessionCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  /** Epoch milliseconds. */
  readonly expiration: number
}

/** Bounds every token must keep: a request header holds it, and opening one must stay cheap. */
export const MAX_TOKEN_BYTES = 8192
const VERSION = 1
const HEADER = 5
const NONCE = 12
const TAG = 16
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

const INVALID = 'The provided token is malformed or otherwise invalid.'
const EXPIRED = 'The provided token has expired.'

interface TokenKey {
  readonly id: number
  /** KeyObjects: Node checks a raw key on every cipher or HMAC made with it (~35 µs each). */
  readonly seal: KeyObject
  readonly credentials: KeyObject
}

/**
 * The token keys of an installation: the current one seals, every one held opens. Each is
 * 32 bytes derived from the root key for its id (the caller derives them: see `tokenKeyLabel`).
 */
export class SessionTokens {
  readonly #current: TokenKey
  readonly #keys = new Map<number, TokenKey>()
  readonly #opened = new Map<string, Opened>()

  /** `keys` by id; `current` must be among them. */
  constructor(keys: ReadonlyMap<number, Uint8Array>, current: number) {
    for (const [id, k] of keys) {
      if (!Number.isInteger(id) || id < 1 || id > 0xffff_ffff || k.byteLength !== 32)
        throw new StrongroomError('INTERNAL', `token key ${String(id)} is not a 32-byte key`)
      const derive = (info: string) =>
        createSecretKey(Buffer.from(hkdfSync('sha256', k, '', info, 32)))
      this.#keys.set(id, { id, seal: derive('seal'), credentials: derive('credentials') })
    }
    const c = this.#keys.get(current)
    if (c === undefined)
      throw new StrongroomError('INTERNAL', `the current token key ${String(current)} is not held`)
    this.#current = c
  }

  /** Seals a session under the current token key and derives its key pair. */
  issue(claims: SessionClaims): SessionCredentials {
    const plain = Buffer.from(JSON.stringify(claims))
    const header = Buffer.alloc(HEADER)
    header[0] = VERSION
    header.writeUInt32BE(this.#current.id, 1)
    const nonce = randomBytes(NONCE)
    const cipher = createCipheriv('aes-256-gcm', this.#current.seal, nonce)
    cipher.setAAD(header)
    const body = Buffer.concat([
      header,
      nonce,
      cipher.update(plain),
      cipher.final(),
      cipher.getAuthTag(),
    ])
    if (body.byteLength > MAX_TOKEN_BYTES)
      throw new StrongroomError(
        'PACKED_POLICY_TOO_LARGE',
        'Packed size of the session policies and tags exceeds the session token limit',
      )
    const { accessKeyId, secret } = derive(this.#current, body)
    return {
      accessKeyId,
      secretAccessKey: secret,
      sessionToken: body.toString('base64'),
      expiration: claims.expiresAt,
    }
  }

  /**
   * Opens the session a request presents: the token must open under a held key, the access
   * key id must be the one derived from it (compared in constant time), and it must not have
   * expired at `now`. Returns the claims and the session's secret access key.
   * INVALID_TOKEN for anything forged, altered or unknown; EXPIRED_TOKEN past expiry.
   */
  open(
    accessKeyId: string,
    sessionToken: string,
    now: number,
  ): { claims: SessionClaims; secret: string } {
    // A job signs every request with the same session: a token opened once is kept (by its
    // full text, bounded), and each use still checks the key id and the expiry.
    const hit = this.#opened.get(sessionToken)
    const session = hit ?? this.#openCold(sessionToken)
    const given = Buffer.from(accessKeyId)
    const expected = Buffer.from(session.accessKeyId)
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected))
      throw invalid()
    if (!(now < session.claims.expiresAt)) throw new StrongroomError('EXPIRED_TOKEN', EXPIRED)
    if (hit === undefined) {
      if (this.#opened.size >= MAX_OPENED) {
        const oldest = this.#opened.keys().next().value
        if (oldest !== undefined) this.#opened.delete(oldest)
      }
      this.#opened.set(sessionToken, session)
    }
    return { claims: session.claims, secret: session.secret }
  }

  #openCold(sessionToken: string): Opened {
    if (
      sessionToken.length > (MAX_TOKEN_BYTES * 4) / 3 + 4 ||
      !/^[A-Za-z0-9+/]+={0,2}$/.test(sessionToken)
    )
      throw invalid()
    const body = Buffer.from(sessionToken, 'base64')
    if (body.byteLength < HEADER + NONCE + TAG + 2 || body[0] !== VERSION) throw invalid()
    const key = this.#keys.get(body.readUInt32BE(1))
    if (key === undefined) throw invalid()
    const { accessKeyId, secret } = derive(key, body)
    let plain: Buffer
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        key.seal,
        body.subarray(HEADER, HEADER + NONCE),
      )
      decipher.setAAD(body.subarray(0, HEADER))
      decipher.setAuthTag(body.subarray(body.byteLength - TAG))
      plain = Buffer.concat([
        decipher.update(body.subarray(HEADER + NONCE, body.byteLength - TAG)),
        decipher.final(),
      ])
    } catch (e) {
      throw invalid(e)
    }
    const claims = JSON.parse(plain.toString('utf8')) as SessionClaims
    return { claims, secret, accessKeyId }
  }
}

/** A token opened: its claims and the key pair derived from it. */
interface Opened {
  readonly claims: SessionClaims
  readonly secret: string
  readonly accessKeyId: string
}

/** Sessions kept opened, by token; past this the oldest goes. */
const MAX_OPENED = 4096

function invalid(cause?: unknown): StrongroomError {
  return new StrongroomError('INVALID_TOKEN', INVALID, cause === undefined ? undefined : { cause })
}

function derive(key: TokenKey, token: Buffer): { accessKeyId: string; secret: string } {
  const mac = createHmac('sha512', key.credentials).update(token).digest()
  let id = 'ASIA'
  // 80 bits, 5 at a time: 16 base32 characters.
  let acc = 0
  let bits = 0
  for (const b of mac.subarray(0, 10)) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      id += BASE32.charAt((acc >> bits) & 31)
    }
    acc &= (1 << bits) - 1
  }
  return { accessKeyId: id, secret: mac.subarray(10, 40).toString('base64') }
}

/** The label a token key is derived from the root key under (RootSealer.systemKey). */
export function tokenKeyLabel(id: number): string {
  return `sts-token-key/${String(id)}`
}
