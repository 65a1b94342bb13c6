/**
 * Web identity tokens as AssumeRoleWithWebIdentity verifies them: signature under the
 * provider's JWKS, issuer, audience, times with five minutes of skew, and the forgeries a JWT
 * verifier must refuse (alg none, an HMAC keyed with the public key, a key not the issuer's).
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
 */
import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { JSONWebKeySet } from 'jose'
import { startIssuer, serviceAccountClaims, type Issuer } from '../../test/sts/oidc-issuer.ts'
import { StrongroomError } from '../errors.ts'
import { claimedIssuer, JwksCache, providerKey, verifyWebIdentity } from './web-identity.ts'

let issuer: Issuer
let keys: JSONWebKeySet
const NOW = Date.now()

before(async () => {
  issuer = await startIssuer()
  keys = JSON.parse(issuer.jwks) as JSONWebKeySet
})
after(() => issuer.close())

const provider = () => ({ url: issuer.url, clientIds: ['sts.amazonaws.com'] })

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (e instanceof StrongroomError) return `${e.code}: ${e.message}`
    throw e
  }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

describe('verifyWebIdentity', () => {
  it('accepts a service-account token signed with RS256 or ES256 and returns its claims', async () => {
    for (const alg of ['RS256', 'ES256']) {
      const token = await issuer.sign(serviceAccountClaims(issuer.url, { now: NOW }), { alg })
      const claims = await verifyWebIdentity(token, provider(), keys, NOW)
      assert.equal(claims.sub, 'system:serviceaccount:ml:trainer')
    }
  })

  it('refuses a token for another audience, from another issuer, or without a subject', async () => {
    const aud = await issuer.sign(serviceAccountClaims(issuer.url, { audience: 'other', now: NOW }))
    assert.equal(
      await code(verifyWebIdentity(aud, provider(), keys, NOW)),
      'INVALID_IDENTITY_TOKEN: Incorrect token audience',
    )
    const iss = await issuer.sign(serviceAccountClaims('https://evil.example', { now: NOW }))
    assert.match(
      await code(verifyWebIdentity(iss, provider(), keys, NOW)),
      /^INVALID_IDENTITY_TOKEN: .*iss/,
    )
    const noSub = serviceAccountClaims(issuer.url, { now: NOW })
    delete noSub.sub
    assert.match(
      await code(verifyWebIdentity(await issuer.sign(noSub), provider(), keys, NOW)),
      /^INVALID_IDENTITY_TOKEN: .*sub/,
    )
  })

  it('holds exp, nbf and iat to the clock with five minutes of skew', async () => {
    const at = (shiftSeconds: number, claim: 'exp' | 'nbf' | 'iat') => {
      const c = serviceAccountClaims(issuer.url, { now: NOW })
      const t = Math.floor(NOW / 1000) + shiftSeconds
      return issuer.sign({ ...c, [claim]: t })
    }
    assert.equal(await code(verifyWebIdentity(await at(-299, 'exp'), provider(), keys, NOW)), 'ok')
    assert.equal(
      await code(verifyWebIdentity(await at(-301, 'exp'), provider(), keys, NOW)),
      'EXPIRED_IDENTITY_TOKEN: Token expired: current date/time must be before the expiration date/time',
    )
    assert.equal(await code(verifyWebIdentity(await at(299, 'nbf'), provider(), keys, NOW)), 'ok')
    assert.equal(
      await code(verifyWebIdentity(await at(301, 'nbf'), provider(), keys, NOW)),
      'INVALID_IDENTITY_TOKEN: The web identity token is not valid yet (nbf)',
    )
    assert.equal(
      await code(verifyWebIdentity(await at(301, 'iat'), provider(), keys, NOW)),
      'INVALID_IDENTITY_TOKEN: The web identity token was issued in the future (iat)',
    )
  })

  it('refuses alg none, an HMAC keyed with the published public key, and a key not the issuer’s', async () => {
    const claims = serviceAccountClaims(issuer.url, { now: NOW })
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
    assert.equal(
      await code(verifyWebIdentity(none, provider(), keys, NOW)),
      'INVALID_IDENTITY_TOKEN: The web identity token is signed with none; only RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 are accepted',
    )
    // The classic confusion: HS256 with the RSA public key (as JWK JSON, or its n) as the secret.
    const head = `${b64({ alg: 'HS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`
    for (const secret of [JSON.stringify(keys.keys[0]), String(keys.keys[0]?.n)]) {
      const mac = createHmac('sha256', secret).update(head).digest('base64url')
      assert.match(
        await code(verifyWebIdentity(`${head}.${mac}`, provider(), keys, NOW)),
        /^INVALID_IDENTITY_TOKEN: The web identity token is signed with HS256/,
      )
    }
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const forged = await issuer.sign(claims, { key: stranger, kid: 'k1', alg: 'RS256' })
    assert.equal(
      await code(verifyWebIdentity(forged, provider(), keys, NOW)),
      'INVALID_IDENTITY_TOKEN: The web identity token could not be verified',
    )
    const unknownKid = await issuer.sign(claims, { kid: 'k9' })
    assert.equal(
      await code(verifyWebIdentity(unknownKid, provider(), keys, NOW)),
      "INVALID_IDENTITY_TOKEN: The web identity token's signing key is not among the provider's keys",
    )
  })

  it('reads the claimed issuer of anything token-shaped, and refuses what is not', () => {
    assert.throws(() => claimedIssuer('abc'), /between 4 and 20000/)
    assert.throws(() => claimedIssuer('x'.repeat(20_001)), /between 4 and 20000/)
    assert.throws(() => claimedIssuer('not.a.jwt'), /not a JWT/)
    assert.equal(
      claimedIssuer(`${b64({ alg: 'RS256' })}.${b64({ iss: 'https://a.example/x/' })}.s`),
      'https://a.example/x',
    )
    assert.equal(
      providerKey('https://token.actions.githubusercontent.com'),
      'token.actions.githubusercontent.com',
    )
  })
})

describe('JwksCache', () => {
  it('fetches the keys through the discovery document over HTTPS with the configured CA, once', async () => {
    const cache = new JwksCache({ ca: issuer.caPem })
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { now: NOW }))
    const before = issuer.fetches()
    const k = await cache.keysFor(provider(), token)
    assert.deepEqual(k, keys)
    await cache.keysFor(provider(), token)
    assert.equal(issuer.fetches() - before, 1)
  })

  it('an issuer whose certificate is not trusted, or that is not there, is IDPCommunicationError in STS’s words; the detail is logged, not answered', async () => {
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { now: NOW }))
    const logged: Record<string, unknown>[] = []
    const generic =
      "IDP_COMMUNICATION_ERROR: Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements"
    assert.equal(
      await code(new JwksCache({ log: (l) => logged.push(l) }).keysFor(provider(), token)),
      generic,
    )
    assert.match(String(logged[0]?.error), /could not be reached/)
    const closed = { url: 'https://127.0.0.1:1/none', clientIds: [] }
    assert.equal(
      await code(new JwksCache({ ca: issuer.caPem, log: () => {} }).keysFor(closed, token)),
      generic,
    )
  })

  it('one fetch per issuer serves every waiting request, and a failure is not retried at once', async () => {
    const cache = new JwksCache({ ca: issuer.caPem, log: () => {} })
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { now: NOW }))
    const before = issuer.fetches()
    await Promise.all(Array.from({ length: 20 }, () => cache.keysFor(provider(), token)))
    assert.equal(issuer.fetches() - before, 1)
    let attempts = 0
    const counting = new JwksCache({ log: () => attempts++ })
    for (let i = 0; i < 5; i++) await code(counting.keysFor(provider(), token))
    assert.equal(attempts, 1)
  })

  it('a server that drips its answer is cut off at the deadline, not held open', async () => {
    const slow = { url: issuer.url.replace(/\/oidc$/, '/slow'), clientIds: [] }
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { now: NOW }))
    const t0 = Date.now()
    assert.match(
      await code(new JwksCache({ ca: issuer.caPem, log: () => {} }).keysFor(slow, token)),
      /^IDP_COMMUNICATION_ERROR: /,
    )
    const took = Date.now() - t0
    assert.ok(took >= 4_500 && took < 8_000, String(took))
  })

  it('uses an inline JWKS as given, without a fetch', async () => {
    const before = issuer.fetches()
    const k = await new JwksCache().keysFor({ ...provider(), jwks: issuer.jwks }, 'x.y.z')
    assert.deepEqual(k, keys)
    assert.equal(issuer.fetches(), before)
  })
})
