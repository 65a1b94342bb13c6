/**
 * Forged and misused web identity tokens against AssumeRoleWithWebIdentity: each is refused
 * with STS's code and recorded as a refused decision.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html#API_AssumeRoleWithWebIdentity_Errors
 * https://datatracker.ietf.org/doc/html/rfc8725 (JWT best current practices: alg none, key confusion)
 */
import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DecisionView } from '../../src/audit/read.ts'
import { after, before, describe, it } from 'node:test'
import type { TenantRecord } from '../../src/meta/identity.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { serviceAccountClaims, startIssuer, type Issuer } from '../sts/oidc-issuer.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-wif-forgery-'))
let g: InProcess
let issuer: Issuer
let foreign: Issuer
let tenant: TenantRecord
const decisions: DecisionView[] = []

before(async () => {
  issuer = await startIssuer()
  foreign = await startIssuer()
  g = await startInProcess(dir, { decisions })
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  const rival = await g.app.identity.createTenant('rival')
  await g.app.identity.oidc.create(tenant, {
    url: issuer.url,
    clientIds: ['sts.amazonaws.com'],
    thumbprints: [],
    jwks: issuer.jwks,
  })
  // Another tenant trusts another issuer: its tokens mean nothing to acme's roles.
  await g.app.identity.oidc.create(rival, {
    url: foreign.url,
    clientIds: ['sts.amazonaws.com'],
    thumbprints: [],
    jwks: foreign.jwks,
  })
  const host = issuer.url.replace(/^https:\/\//, '')
  await g.app.identity.createRole(tenant, {
    name: 'trainer',
    trustPolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::${tenant.id}:oidc-provider/${host}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
        },
      ],
    }),
  })
})
after(async () => {
  await g.close()
  await issuer.close()
  await foreign.close()
  rmSync(dir, { recursive: true, force: true })
})

/** An unsigned AssumeRoleWithWebIdentity with this token: `STATUS Code` and the new decisions. */
async function attempt(token: string): Promise<{ answer: string; recorded: string[] }> {
  const before = decisions.length
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: `arn:aws:iam::${tenant.id}:role/trainer`,
    RoleSessionName: 'attacker',
    WebIdentityToken: token,
  })
  const r = await fetch(`${g.running.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  })
  const text = await r.text()
  return {
    answer: `${String(r.status)} ${/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'ok'}`,
    recorded: decisions.slice(before).map((d) => `${d.action} ${d.decision}`),
  }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const REFUSED = ['sts:AssumeRoleWithWebIdentity ImplicitDeny']

describe('web identity token forgery', () => {
  it('the genuine token is accepted (the attacks below differ from it in one way each)', async () => {
    const r = await attempt(await issuer.sign(serviceAccountClaims(issuer.url)))
    assert.deepEqual(r, { answer: '200 ok', recorded: ['sts:AssumeRoleWithWebIdentity Allow'] })
  })

  it('a token signed with a key that is not the issuer’s, under the issuer’s kid', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const token = await issuer.sign(serviceAccountClaims(issuer.url), { key: stranger, kid: 'k1' })
    assert.deepEqual(await attempt(token), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
  })

  it('an expired token, and one not valid yet (beyond five minutes of skew)', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = { ...serviceAccountClaims(issuer.url), exp: now - 400 }
    assert.deepEqual(await attempt(await issuer.sign(expired)), {
      answer: '400 ExpiredTokenException',
      recorded: REFUSED,
    })
    const early = { ...serviceAccountClaims(issuer.url), nbf: now + 400 }
    assert.deepEqual(await attempt(await issuer.sign(early)), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
  })

  it('a token for another audience', async () => {
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { audience: 'vault' }))
    assert.deepEqual(await attempt(token), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
  })

  it('alg none, and HS256 keyed with the issuer’s published public key', async () => {
    const claims = serviceAccountClaims(issuer.url)
    assert.deepEqual(await attempt(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
    const head = `${b64({ alg: 'HS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`
    const jwk = (JSON.parse(issuer.jwks) as { keys: object[] }).keys[0]
    const mac = createHmac('sha256', JSON.stringify(jwk)).update(head).digest('base64url')
    assert.deepEqual(await attempt(`${head}.${mac}`), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
  })

  it('a genuine token of an issuer that only another tenant trusts, and of an unknown issuer', async () => {
    const theirs = await foreign.sign(serviceAccountClaims(foreign.url))
    assert.deepEqual(await attempt(theirs), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
    const unknown = await issuer.sign(serviceAccountClaims('https://idp.example.org'))
    assert.deepEqual(await attempt(unknown), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
  })

  it('a token that is not a JWT at all, and one too long', async () => {
    assert.deepEqual(await attempt('not-a-token'), {
      answer: '400 InvalidIdentityToken',
      recorded: REFUSED,
    })
    assert.deepEqual(await attempt('x'.repeat(20_001)), {
      answer: '400 ValidationError',
      recorded: REFUSED,
    })
  })
})
