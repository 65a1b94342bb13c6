/**
 * The container credentials endpoint as the SDKs read it
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html): the
 * token is required, the answer has the provider's fields, and a session is reused until it
 * nears its end.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  RENEW_BEFORE_MS,
  serveCredentials,
  type CredentialsEndpoint,
} from './credentials-endpoint.ts'
import type { SessionCredentials } from './token.ts'

let now = Date.UTC(2026, 11, 2, 9)
let issued = 0
let ep: CredentialsEndpoint
before(async () => {
  ep = await serveCredentials({
    token: 'the-job-token',
    accountId: '111122223333',
    now: () => now,
    issue: (): SessionCredentials => {
      issued++
      return {
        accessKeyId: `ASIA${String(issued).padStart(16, '0')}`,
        secretAccessKey: 'secret',
        sessionToken: `token-${String(issued)}`,
        expiration: now + 3_600_000,
      }
    },
  })
})
after(() => ep.close())

const get = (path: string, authorization?: string) =>
  fetch(new URL(path, ep.url), {
    headers: authorization === undefined ? {} : { authorization },
  })

describe('credentials endpoint', () => {
  it('listens on loopback only, at /credentials', () => {
    assert.match(ep.url, /^http:\/\/127\.0\.0\.1:\d+\/credentials$/)
  })

  it('answers the session with the provider’s fields, Expiration in RFC 3339 with Z', async () => {
    const r = await get('/credentials', 'the-job-token')
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.deepEqual(await r.json(), {
      AccessKeyId: 'ASIA0000000000000001',
      SecretAccessKey: 'secret',
      Token: 'token-1',
      Expiration: '2026-12-02T10:00:00Z',
      AccountId: '111122223333',
    })
  })

  it('no token, a wrong one, or one of another length: 401, and no session is issued', async () => {
    const before = issued
    for (const auth of [undefined, 'the-job-tokeN', 'the-job-token2', 'x'])
      assert.equal((await get('/credentials', auth)).status, 401)
    assert.equal(issued, before)
  })

  it('any other path or method: 404', async () => {
    assert.equal((await get('/latest/meta-data/', 'the-job-token')).status, 404)
    const post = await fetch(ep.url, {
      method: 'POST',
      headers: { authorization: 'the-job-token' },
    })
    assert.equal(post.status, 404)
  })

  it('reuses the session until less than the renewal margin is left, then issues the next', async () => {
    const first = (await (await get('/credentials', 'the-job-token')).json()) as { Token: string }
    now += 3_600_000 - RENEW_BEFORE_MS - 1000
    const same = (await (await get('/credentials', 'the-job-token')).json()) as { Token: string }
    assert.equal(same.Token, first.Token)
    now += 2000
    const next = (await (await get('/credentials', 'the-job-token')).json()) as { Token: string }
    assert.notEqual(next.Token, first.Token)
  })

  it('a shorter renewal margin (a short session): renewed only once it is that close to its end', async () => {
    let t = Date.UTC(2026, 11, 2, 12)
    let made = 0
    const short = await serveCredentials({
      token: 't',
      accountId: '111122223333',
      renewBefore: 5 * 60_000,
      now: () => t,
      issue: () => ({
        accessKeyId: `ASIA${String(++made).padStart(16, '0')}`,
        secretAccessKey: 's',
        sessionToken: `short-${String(made)}`,
        expiration: t + 15 * 60_000,
      }),
    })
    try {
      const token = async () =>
        (
          (await (await fetch(short.url, { headers: { authorization: 't' } })).json()) as {
            Token: string
          }
        ).Token
      assert.equal(await token(), 'short-1')
      t += 9 * 60_000
      assert.equal(await token(), 'short-1', 'six minutes left: kept')
      t += 2 * 60_000
      assert.equal(await token(), 'short-2', 'four minutes left: renewed')
    } finally {
      await short.close()
    }
  })
})
