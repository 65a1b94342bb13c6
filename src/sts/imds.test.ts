/**
 * The instance metadata endpoint, version 2 only, as EC2 documents it
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html,
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { serveInstanceMetadata } from './imds.ts'
import type { CredentialsEndpoint } from './credentials-endpoint.ts'
import type { SessionCredentials } from './token.ts'

let clock = Date.parse('2026-12-02T12:00:00Z')
let issued = 0
let md: CredentialsEndpoint

const issue = (): SessionCredentials => {
  issued++
  return {
    accessKeyId: `ASIAEXAMPLE${String(issued).padStart(9, '0')}`,
    secretAccessKey: `secret-${String(issued)}`,
    sessionToken: `token-${String(issued)}`,
    expiration: clock + 3_600_000,
  }
}

before(async () => {
  md = await serveInstanceMetadata({
    issue,
    accountId: '123456789012',
    region: 'eu-west-1',
    roleName: 'trainer',
    roleId: 'AROAEXAMPLEEXAMPLE12',
    now: () => clock,
  })
})
after(() => md.close())

async function call(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${md.url}${path}`, { method, headers })
  return { status: r.status, text: await r.text(), headers: r.headers }
}

async function token(ttl = '21600'): Promise<string> {
  const r = await call('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl })
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('x-aws-ec2-metadata-token-ttl-seconds'), ttl)
  return r.text
}

describe('IMDSv2', () => {
  it('lists the role, then serves its credentials as EC2 does', async () => {
    const t = { 'X-aws-ec2-metadata-token': await token() }
    const list = await call('GET', '/latest/meta-data/iam/security-credentials/', t)
    assert.deepEqual([list.status, list.text], [200, 'trainer'])
    const r = await call('GET', '/latest/meta-data/iam/security-credentials/trainer', t)
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.text), {
      Code: 'Success',
      LastUpdated: '2026-12-02T12:00:00Z',
      Type: 'AWS-HMAC',
      AccessKeyId: `ASIAEXAMPLE${String(issued).padStart(9, '0')}`,
      SecretAccessKey: `secret-${String(issued)}`,
      Token: `token-${String(issued)}`,
      Expiration: '2026-12-02T13:00:00Z',
    })
    const info = JSON.parse((await call('GET', '/latest/meta-data/iam/info', t)).text) as Record<
      string,
      string
    >
    assert.equal(info.InstanceProfileArn, 'arn:aws:iam::123456789012:instance-profile/trainer')
    assert.equal(info.InstanceProfileId, 'AIPAEXAMPLEEXAMPLE12')
    const doc = JSON.parse(
      (await call('GET', '/latest/dynamic/instance-identity/document', t)).text,
    ) as Record<string, string>
    assert.equal(doc.accountId, '123456789012')
    assert.equal(doc.region, 'eu-west-1')
    assert.equal((await call('GET', '/latest/meta-data/placement/region', t)).text, 'eu-west-1')
    assert.equal(
      (await call('GET', '/latest/meta-data/iam/security-credentials/other', t)).status,
      404,
    )
  })

  it('refuses IMDSv1 (no token), an unknown token and an expired one with 401', async () => {
    const path = '/latest/meta-data/iam/security-credentials/trainer'
    assert.equal((await call('GET', path)).status, 401)
    assert.equal((await call('GET', path, { 'X-aws-ec2-metadata-token': 'guess' })).status, 401)
    const short = await token('1')
    assert.equal((await call('GET', path, { 'X-aws-ec2-metadata-token': short })).status, 200)
    clock += 1000
    assert.equal((await call('GET', path, { 'X-aws-ec2-metadata-token': short })).status, 401)
  })

  it('refuses a token TTL outside 1 to 21,600 seconds, a GET for a token, and a proxied PUT', async () => {
    for (const ttl of ['0', '21601', 'x', ''])
      assert.equal(
        (await call('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl }))
          .status,
        400,
        ttl,
      )
    assert.equal((await call('PUT', '/latest/api/token')).status, 400)
    assert.equal((await call('GET', '/latest/api/token')).status, 405)
    assert.equal(
      (
        await call('PUT', '/latest/api/token', {
          'X-aws-ec2-metadata-token-ttl-seconds': '60',
          'X-Forwarded-For': '203.0.113.9',
        })
      ).status,
      403,
    )
  })

  it('renews the session once less than 20 minutes of it are left, and not before', async () => {
    const t = { 'X-aws-ec2-metadata-token': await token() }
    const path = '/latest/meta-data/iam/security-credentials/trainer'
    const first = JSON.parse((await call('GET', path, t)).text) as { AccessKeyId: string }
    clock += 39 * 60_000
    const same = JSON.parse((await call('GET', path, t)).text) as { AccessKeyId: string }
    assert.equal(same.AccessKeyId, first.AccessKeyId)
    clock += 2 * 60_000
    const renewed = JSON.parse((await call('GET', path, t)).text) as {
      AccessKeyId: string
      LastUpdated: string
    }
    assert.notEqual(renewed.AccessKeyId, first.AccessKeyId)
    assert.equal(renewed.LastUpdated, new Date(clock).toISOString().replace(/\.\d{3}Z$/, 'Z'))
  })
})
