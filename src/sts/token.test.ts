/**
 * Session tokens: what a gateway replica can check alone. The credential shapes follow STS's
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html: an access key id of
 * 16 to 128 characters, temporary ones ASIA…); the errors follow S3's for a session token
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: InvalidToken,
 * ExpiredToken).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../errors.ts'
import { SessionTokens, type SessionClaims } from './token.ts'

const K1 = randomBytes(32)
const K2 = randomBytes(32)
const NOW = Date.UTC(2026, 11, 2, 12)
const claims: SessionClaims = {
  tenantId: '111122223333',
  kind: 'role',
  name: 'trainer',
  principalId: 'AROAEXAMPLEEXAMPLE12',
  sessionName: 'job-42',
  issuedAt: NOW,
  expiresAt: NOW + 3_600_000,
  policy: '{"Version":"2012-10-17","Statement":[]}',
  tags: [['team', 'vision']],
  sourceIdentity: 'alice',
}
const code = (f: () => unknown) => {
  try {
    f()
    return 'opened'
  } catch (e) {
    return isStrongroomError(e) ? e.code : String(e)
  }
}

describe('session tokens', () => {
  const tokens = new SessionTokens(new Map([[1, K1]]), 1)

  it('a token opens to its claims and the secret issued with it; the key pair has STS shapes', () => {
    const c = tokens.issue(claims)
    assert.match(c.accessKeyId, /^ASIA[A-Z2-7]{16}$/)
    assert.match(c.secretAccessKey, /^[A-Za-z0-9+/]{40}$/)
    assert.equal(c.expiration, claims.expiresAt)
    const opened = tokens.open(c.accessKeyId, c.sessionToken, NOW)
    assert.deepEqual(opened.claims, claims)
    assert.equal(opened.secret, c.secretAccessKey)
    // Two sessions with the same claims are two sessions.
    const d = tokens.issue(claims)
    assert.notEqual(d.sessionToken, c.sessionToken)
    assert.notEqual(d.accessKeyId, c.accessKeyId)
    assert.notEqual(d.secretAccessKey, c.secretAccessKey)
  })

  it('expires at its expiry time exactly: ExpiredToken', () => {
    const c = tokens.issue(claims)
    assert.equal(
      code(() => tokens.open(c.accessKeyId, c.sessionToken, claims.expiresAt - 1)),
      'opened',
    )
    assert.equal(
      code(() => tokens.open(c.accessKeyId, c.sessionToken, claims.expiresAt)),
      'EXPIRED_TOKEN',
    )
  })

  it('another session access key id, a token of another installation, or garbage: InvalidToken', () => {
    const c = tokens.issue(claims)
    const other = tokens.issue(claims)
    assert.equal(
      code(() => tokens.open(other.accessKeyId, c.sessionToken, NOW)),
      'INVALID_TOKEN',
    )
    const foreign = new SessionTokens(new Map([[1, K2]]), 1).issue(claims)
    assert.equal(
      code(() => tokens.open(foreign.accessKeyId, foreign.sessionToken, NOW)),
      'INVALID_TOKEN',
    )
    for (const t of [
      '',
      'AQ==',
      'not base64!',
      'A'.repeat(20_000),
      Buffer.alloc(64).toString('base64'),
    ])
      assert.equal(
        code(() => tokens.open(c.accessKeyId, t, NOW)),
        'INVALID_TOKEN',
      )
  })

  it('rotation: a new current key seals; tokens under a key still held open; a dropped key does not', () => {
    const old = tokens.issue(claims)
    const rotated = new SessionTokens(
      new Map([
        [1, K1],
        [2, K2],
      ]),
      2,
    )
    const fresh = rotated.issue(claims)
    assert.equal(Buffer.from(fresh.sessionToken, 'base64').readUInt32BE(1), 2)
    assert.equal(
      code(() => rotated.open(old.accessKeyId, old.sessionToken, NOW)),
      'opened',
    )
    assert.equal(
      code(() => rotated.open(fresh.accessKeyId, fresh.sessionToken, NOW)),
      'opened',
    )
    const dropped = new SessionTokens(new Map([[2, K2]]), 2)
    assert.equal(
      code(() => dropped.open(old.accessKeyId, old.sessionToken, NOW)),
      'INVALID_TOKEN',
    )
  })

  it('any altered byte of a token is InvalidToken (property)', () => {
    const c = tokens.issue(claims)
    const body = Buffer.from(c.sessionToken, 'base64')
    fc.assert(
      fc.property(
        fc.nat({ max: body.byteLength - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (i, x) => {
          const t = Buffer.from(body)
          t[i] = (t[i] ?? 0) ^ x
          return (
            code(() => tokens.open(c.accessKeyId, t.toString('base64'), NOW)) === 'INVALID_TOKEN'
          )
        },
      ),
    )
  })

  it('claims too large for a token are PackedPolicyTooLarge, never a token a header cannot carry', () => {
    const big = { ...claims, policy: 'x'.repeat(9000) }
    assert.equal(
      code(() => tokens.issue(big)),
      'PACKED_POLICY_TOO_LARGE',
    )
  })

  it('a current key that is not held, or a key that is not 32 bytes, is refused at construction', () => {
    assert.equal(
      code(() => new SessionTokens(new Map([[1, K1]]), 2)),
      'INTERNAL',
    )
    assert.equal(
      code(() => new SessionTokens(new Map([[1, randomBytes(16)]]), 1)),
      'INTERNAL',
    )
  })
})
