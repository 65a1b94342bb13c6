/**
 * The audit stage: every request, whatever becomes of it, gives exactly one event, in
 * CloudTrail's record shape (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
 * with the caller, the decision and the statements that made it; no secret appears in any event.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { AuditEvent } from '../../src/audit/event.ts'
import { correlate } from '../../src/audit/event.ts'
import { Detector } from '../../src/audit/detect/engine.ts'
import { loadRules } from '../../src/audit/detect/load.ts'
import { AuditLog } from '../../src/audit/log.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'
import { REVOKE_POLICY_NAME, revokeOlderSessionsPolicy } from '../../src/sts/revoke.ts'
import { signHeaders, startInProcess, type InProcess } from './inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-audit-events-'))
const events: AuditEvent[] = []
const hmacKey = randomBytes(32)
const key = generateKey('strongroom/audit/test')
let g: InProcess
let log: AuditLog
before(async () => {
  log = await AuditLog.open({
    dir: join(dir, 'audit'),
    signerKey: key.signerKey,
    verifierKey: key.verifierKey,
    origin: 'strongroom/audit/test',
  })
  // What the log made durable, in order: each request's event is durable before its answer.
  log.subscribe((_, r) => events.push(JSON.parse(r.toString()) as AuditEvent))
  g = await startInProcess(dir, { events: { log, hmacKey, region: 'eu-west-1' } })
})
after(async () => {
  await g.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

/**
 * The events of the requests answered so far. Nothing waits: an answered request's event is
 * durable already (those answered from the close of a cut-off request may follow shortly).
 */
function settle(n: number): AuditEvent[] {
  assert.equal(events.length, n, JSON.stringify(events.map((e) => e.eventName)))
  return events.splice(0)
}

describe('audit events', () => {
  it('one event per request, in CloudTrail’s shape, for an allowed write and read', async () => {
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/models' })).status, 200)
    const put = await g.send(g.admin, {
      method: 'PUT',
      path: '/models/llm/w.bin',
      body: 'weights',
      headers: { 'user-agent': 'trainer/1.0' },
    })
    assert.equal(put.status, 200)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/models/llm/w.bin' })).status, 200)
    const [create, write, read] = settle(3)
    assert.equal(events.length, 0)
    assert.ok(create !== undefined && write !== undefined && read !== undefined)
    assert.equal(create.eventName, 'CreateBucket')
    assert.equal(write.eventVersion, '1.11')
    assert.equal(write.eventSource, 's3.amazonaws.com')
    assert.equal(write.eventName, 'PutObject')
    assert.equal(write.awsRegion, 'eu-west-1')
    assert.equal(write.sourceIPAddress, '127.0.0.1')
    assert.equal(write.userAgent, 'trainer/1.0')
    assert.equal(write.readOnly, false)
    assert.equal(write.eventType, 'AwsApiCall')
    assert.match(write.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.match(write.eventID, /^[0-9a-f-]{36}$/)
    const account = write.recipientAccountId
    assert.deepEqual(write.userIdentity, {
      type: 'IAMUser',
      principalId: (write.userIdentity as { principalId: string }).principalId,
      arn: `arn:aws:iam::${account}:user/admin`,
      accountId: account,
      accessKeyId: g.admin.id,
      userName: 'admin',
    })
    assert.match((write.userIdentity as { principalId: string }).principalId, /^AIDA/)
    assert.deepEqual(write.requestParameters, {
      bucketName: 'models',
      key: 'llm/w.bin',
      Host: new URL(g.running.url).host,
    })
    assert.deepEqual(write.resources, [
      { ARN: 'arn:aws:s3:::models', accountId: account, type: 'AWS::S3::Bucket' },
      { ARN: 'arn:aws:s3:::models/llm/w.bin', accountId: account, type: 'AWS::S3::Object' },
    ])
    assert.equal(write.errorCode, undefined)
    assert.equal(write.strongroom.decision, 'Allow')
    // What allowed it: the identity policy (s3:PutObject, kms:GenerateDataKey) and the key policy.
    assert.deepEqual(write.strongroom.statements, [
      'all#0',
      'key policy of alias/s3-default#Enable IAM User Permissions',
    ])
    assert.equal(write.strongroom.status, 200)
    assert.ok(write.strongroom.bytesIn >= 'weights'.length, String(write.strongroom.bytesIn))
    // Bytes out are the answer's body: none for a PutObject, the object for a GetObject.
    assert.equal(write.strongroom.bytesOut, 0)
    assert.equal(read.eventName, 'GetObject')
    assert.equal(read.readOnly, true)
    assert.equal(read.responseElements, null)
    assert.equal(read.strongroom.bytesOut, 'weights'.length)
  })

  it('records a refusal with its decision, error and the anonymous caller as CloudTrail names it', async () => {
    assert.equal((await g.send(g.nobody, { method: 'GET', path: '/models/llm/w.bin' })).status, 403)
    assert.equal(
      (await g.send(undefined, { method: 'GET', path: '/models/llm/w.bin' })).status,
      403,
    )
    const [denied, anonymous] = settle(2)
    assert.ok(denied !== undefined && anonymous !== undefined)
    assert.equal(denied.strongroom.decision, 'ImplicitDeny')
    assert.deepEqual(denied.strongroom.statements, [])
    assert.equal(denied.errorCode, 'AccessDenied')
    assert.equal(denied.errorMessage, 'Access Denied')
    assert.equal(denied.strongroom.status, 403)
    assert.deepEqual(anonymous.userIdentity, {
      type: 'AWSAccount',
      principalId: '',
      accountId: 'anonymous',
    })
    assert.equal(anonymous.errorCode, 'AccessDenied')
  })

  it('gives one event even to a request no operation matches, or that fails authentication', async () => {
    const bad = { id: g.admin.id, secret: 'not-the-secret' }
    assert.equal((await g.send(bad, { method: 'GET', path: '/models' })).status, 403)
    assert.equal(
      (await g.send(g.admin, { method: 'POST', path: '/models/x?nonsense' })).status >= 400,
      true,
    )
    const got = settle(2)
    assert.equal(got.length, 2)
    assert.equal(got[0]?.errorCode, 'SignatureDoesNotMatch')
    assert.ok(got[1]?.errorCode !== undefined)
    // Not authenticated, but the key it claimed is named: attempts with a key can be found.
    assert.deepEqual(got[0].userIdentity, {
      type: 'AWSAccount',
      principalId: '',
      accountId: 'anonymous',
      accessKeyId: g.admin.id,
    })
  })

  it('names the access key an unknown or presigned credential claims, when it looks like one', async () => {
    const unknown = { id: 'AKIAUNKNOWNKEY000001', secret: 'whatever' }
    assert.equal((await g.send(unknown, { method: 'GET', path: '/models' })).status, 403)
    const presigned = `/models?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${unknown.id}%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=${'0'.repeat(64)}`
    assert.equal((await g.send(undefined, { method: 'GET', path: presigned })).status, 403)
    // Not a key id (lower case, markup): nothing of it is written.
    const junk = `/models?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%3Cscript%3E%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=${'0'.repeat(64)}`
    assert.equal((await g.send(undefined, { method: 'GET', path: junk })).status >= 400, true)
    const [a, b, c] = settle(3)
    assert.ok(a !== undefined && b !== undefined)
    assert.equal(a.userIdentity.type, 'AWSAccount')
    assert.equal('accessKeyId' in a.userIdentity ? a.userIdentity.accessKeyId : '', unknown.id)
    assert.equal('accessKeyId' in b.userIdentity ? b.userIdentity.accessKeyId : '', unknown.id)
    assert.deepEqual(c?.userIdentity, {
      type: 'AWSAccount',
      principalId: '',
      accountId: 'anonymous',
    })
  })

  it('never writes a secret: no secret key, signature or session token; a token only as its HMAC', async () => {
    const url = new URL(`${g.running.url}/`)
    const form = Buffer.from('Action=GetSessionToken&Version=2011-06-15')
    const base = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    const headers = await signHeaders(g.admin, 'POST', url, form, base, 'sts')
    const reply = await fetch(url, { method: 'POST', headers, body: form })
    const sts = { status: reply.status, body: await reply.text() }
    assert.equal(sts.status, 200, sts.body)
    const session = {
      id: /<AccessKeyId>(.+?)<\/AccessKeyId>/.exec(sts.body)?.[1] ?? '',
      secret: /<SecretAccessKey>(.+?)<\/SecretAccessKey>/.exec(sts.body)?.[1] ?? '',
      token: /<SessionToken>(.+?)<\/SessionToken>/.exec(sts.body)?.[1] ?? '',
    }
    const [issued] = settle(1)
    assert.equal(issued?.eventSource, 'sts.amazonaws.com')
    assert.equal(issued.eventName, 'GetSessionToken')
    // Parameters as CloudTrail names them (lower camel case), without Action and Version.
    assert.deepEqual(issued.requestParameters, {})
    const all = JSON.stringify(issued)
    for (const secret of [g.admin.secret, session.secret, session.token])
      assert.ok(!all.includes(secret))
    assert.ok(session.token.length > 0)
    // The session's own request: its token appears only as its HMAC under the audit key.
    const used = { id: session.id, secret: session.secret }
    const h = await signHeaders(used, 'GET', new URL(`${g.running.url}/models`), Buffer.alloc(0), {
      'x-amz-security-token': session.token,
    })
    assert.equal((await fetch(`${g.running.url}/models`, { headers: h })).status, 200)
    const [listed] = settle(1)
    assert.equal(
      listed?.strongroom.sessionTokenHmac,
      correlate(hmacKey, 'session-token', session.token),
    )
    assert.ok(!JSON.stringify(listed).includes(session.token))
    assert.ok(!JSON.stringify(listed).includes(session.secret))
  })

  it('an IAM write names its parameters as CloudTrail does, so the detector reads the policy it grants', async () => {
    const doc = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
    })
    const url = new URL(`${g.running.url}/`)
    const form = Buffer.from(
      new URLSearchParams({
        Action: 'PutUserPolicy',
        Version: '2010-05-08',
        UserName: 'admin',
        PolicyName: 'wide',
        PolicyDocument: doc,
      }).toString(),
    )
    const base = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    const headers = await signHeaders(g.admin, 'POST', url, form, base, 'iam')
    const reply = await fetch(url, { method: 'POST', headers, body: form })
    assert.equal(reply.status, 200, await reply.text())
    const [put] = settle(1)
    assert.equal(put?.eventName, 'PutUserPolicy')
    assert.deepEqual(put.requestParameters, {
      userName: 'admin',
      policyName: 'wide',
      policyDocument: doc,
    })
    const alerts = new Detector(loadRules()).observe(put)
    assert.deepEqual(
      alerts.map((a) => a.strongroom.alert.ruleId),
      ['policy-grants-all-actions'],
    )
  })

  it('a bucket policy and a public access block are in the event, so the detector sees a bucket made public', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::models/*',
        },
      ],
    }
    const off =
      '<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>'
    const block = { method: 'PUT', path: '/models?publicAccessBlock', body: off }
    assert.equal((await g.send(g.admin, block)).status, 200)
    const put = { method: 'PUT', path: '/models?policy', body: JSON.stringify(policy) }
    assert.equal((await g.send(g.admin, put)).status, 204)
    const bad = { method: 'PUT', path: '/models?policy', body: '{"Version": ' }
    assert.equal((await g.send(g.admin, bad)).status, 400)
    const [b, p, m] = settle(3)
    assert.ok(b !== undefined && p !== undefined && m !== undefined)
    assert.deepEqual(b.requestParameters, {
      bucketName: 'models',
      Host: new URL(g.running.url).host,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    })
    assert.deepEqual(p.requestParameters?.bucketPolicy, policy)
    // A document that does not parse is kept as text, and the refusal recorded.
    assert.equal(m.requestParameters?.bucketPolicy, '{"Version": ')
    assert.equal(m.errorCode, 'MalformedPolicy')
    const detector = new Detector(loadRules())
    assert.deepEqual(
      detector.observe(b).map((a) => a.strongroom.alert.ruleId),
      ['public-access-block-off'],
    )
    assert.deepEqual(
      detector.observe(p).map((a) => a.strongroom.alert.ruleId),
      ['policy-grants-public'],
    )
  })

  it('a session refused because its role’s sessions were revoked is marked, and alerted', async () => {
    const tenant = g.app.identity
    const acme = await tenant.findTenant('acme')
    assert.ok(acme !== undefined)
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${acme.id}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    })
    const { role } = await tenant.createRole(acme, { name: 'trainer', trustPolicy: trust })
    await tenant.putRolePolicy(
      role,
      'read',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
      }),
    )
    const url = new URL(`${g.running.url}/`)
    const form = Buffer.from(
      new URLSearchParams({
        Action: 'AssumeRole',
        Version: '2011-06-15',
        RoleArn: `arn:aws:iam::${acme.id}:role/trainer`,
        RoleSessionName: 'job',
      }).toString(),
    )
    const base = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    const reply = await fetch(url, {
      method: 'POST',
      headers: await signHeaders(g.admin, 'POST', url, form, base, 'sts'),
      body: form,
    })
    const text = await reply.text()
    assert.equal(reply.status, 200, text)
    const session = {
      id: /<AccessKeyId>(.+?)<\/AccessKeyId>/.exec(text)?.[1] ?? '',
      secret: /<SecretAccessKey>(.+?)<\/SecretAccessKey>/.exec(text)?.[1] ?? '',
      token: /<SessionToken>(.+?)<\/SessionToken>/.exec(text)?.[1] ?? '',
    }
    const get = (c: typeof session) =>
      g.send(c, { method: 'GET', path: '/models', headers: { 'x-amz-security-token': c.token } })
    assert.equal((await get(session)).status, 200)
    // `strongroom role revoke-sessions`: AWS's AWSRevokeOlderSessions, a second later.
    await tenant.putRolePolicy(
      role,
      REVOKE_POLICY_NAME,
      revokeOlderSessionsPolicy(Date.now() + 1000),
    )
    assert.equal((await get(session)).status, 403)
    const [, allowed, refused] = settle(3)
    assert.ok(allowed !== undefined && refused !== undefined)
    assert.equal(allowed.strongroom.sessionRevoked, undefined)
    assert.equal(refused.strongroom.decision, 'ExplicitDeny')
    assert.equal(refused.strongroom.sessionRevoked, true)
    assert.deepEqual(
      new Detector(loadRules()).observe(refused).map((a) => a.strongroom.alert.ruleId),
      ['revoked-session-use'],
    )
  })
})
