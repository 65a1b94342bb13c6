/**
 * S3 requests signed with session credentials, through the gateway and the AWS SDK for
 * JavaScript: the session acts as its role (the role's policies as they are now), bounded by
 * its session policy, until it expires; a forged or altered token is refused.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_use-resources.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (InvalidToken, ExpiredToken).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import type { RoleRecord, TenantRecord } from '../../src/meta/identity.ts'
import type { SessionClaims, SessionCredentials } from '../../src/sts/token.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-sessions-'))
let g: InProcess
let tenant: TenantRecord
let role: RoleRecord

const allow = (Action: string[], Resource: string[]) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action, Resource }] })

before(async () => {
  g = await startInProcess(dir)
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  ;({ role } = await g.app.identity.createRole(tenant, {
    name: 'trainer',
    trustPolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: tenant.id }, Action: 'sts:AssumeRole' }],
    }),
  }))
  await g.app.identity.putRolePolicy(
    role,
    'train',
    allow(
      ['s3:GetObject', 's3:PutObject', 'kms:Decrypt', 'kms:GenerateDataKey'],
      ['arn:aws:s3:::datasets/*', 'arn:aws:s3:::models/*', 'arn:aws:kms:*:*:key/*'],
    ),
  )
  const admin = client({ accessKeyId: g.admin.id, secretAccessKey: g.admin.secret })
  for (const Bucket of ['datasets', 'models', 'secrets']) {
    await admin.send(new CreateBucketCommand({ Bucket }))
    await admin.send(new PutObjectCommand({ Bucket, Key: 'x', Body: `${Bucket} bytes` }))
  }
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

function client(credentials: {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}): S3Client {
  return new S3Client({
    endpoint: g.running.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  })
}

function session(extra: Partial<SessionClaims> = {}): SessionCredentials {
  const now = Date.now()
  return g.app.sessions.issue({
    tenantId: tenant.id,
    kind: 'role',
    name: role.name,
    principalId: role.id,
    sessionName: 'job-42',
    issuedAt: now,
    expiresAt: now + 3_600_000,
    ...extra,
  })
}

const as = (c: SessionCredentials) =>
  client({
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
  })

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (e instanceof S3ServiceException) return `${String(e.$metadata.httpStatusCode)} ${e.name}`
    throw e
  }
}
const read = (c: S3Client, Bucket: string) =>
  outcome(
    c.send(new GetObjectCommand({ Bucket, Key: 'x' })).then((r) => r.Body?.transformToString()),
  )
const write = (c: S3Client, Bucket: string) =>
  outcome(c.send(new PutObjectCommand({ Bucket, Key: 'y', Body: 'model' })))

describe('S3 with session credentials', () => {
  it('the session may do what its role allows, and nothing else', async () => {
    const s = as(session())
    assert.equal(await read(s, 'datasets'), 'ok')
    assert.equal(await write(s, 'models'), 'ok')
    assert.equal(await read(s, 'secrets'), '403 AccessDenied')
    assert.equal(await write(s, 'secrets'), '403 AccessDenied')
  })

  it('a session of a role deleted and created again (another unique id) has no permissions', async () => {
    const stale = as(session({ principalId: `AROA${'Q'.repeat(17)}` }))
    assert.equal(await read(stale, 'datasets'), '403 AccessDenied')
  })

  it('a session policy narrows the session to what both allow', async () => {
    // Reading a sealed object needs kms:Decrypt too: the session policy must allow both.
    const s = as(
      session({
        policy: allow(
          ['s3:GetObject', 'kms:Decrypt'],
          ['arn:aws:s3:::datasets/*', 'arn:aws:kms:*:*:key/*'],
        ),
      }),
    )
    const noKey = as(session({ policy: allow(['s3:GetObject'], ['arn:aws:s3:::datasets/*']) }))
    assert.equal(await read(noKey, 'datasets'), '403 AccessDenied')
    assert.equal(await read(s, 'datasets'), 'ok')
    assert.equal(await write(s, 'models'), '403 AccessDenied')
  })

  it('an expired session is 400 ExpiredToken; an altered token 400 InvalidToken; a wrong secret SignatureDoesNotMatch', async () => {
    const now = Date.now()
    assert.equal(
      await read(as(session({ issuedAt: now - 7_200_000, expiresAt: now - 1 })), 'datasets'),
      '400 ExpiredToken',
    )
    const c = session()
    const body = Buffer.from(c.sessionToken, 'base64')
    body[body.byteLength - 1] = (body[body.byteLength - 1] ?? 0) ^ 1
    assert.equal(
      await read(as({ ...c, sessionToken: body.toString('base64') }), 'datasets'),
      '400 InvalidToken',
    )
    // Another session's access key id with this token.
    assert.equal(
      await read(as({ ...c, accessKeyId: session().accessKeyId }), 'datasets'),
      '400 InvalidToken',
    )
    assert.equal(
      await read(as({ ...c, secretAccessKey: session().secretAccessKey }), 'datasets'),
      '403 SignatureDoesNotMatch',
    )
  })

  it('revoking sessions: a role policy denying tokens issued before a time stops the old session only', async () => {
    const old = as(session({ issuedAt: Date.now() - 60_000 }))
    assert.equal(await read(old, 'datasets'), 'ok')
    const cutoff = new Date(Date.now() - 1000).toISOString()
    await g.app.identity.putRolePolicy(
      role,
      'AWSRevokeOlderSessions',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Action: '*',
            Resource: '*',
            Condition: { DateLessThan: { 'aws:TokenIssueTime': cutoff } },
          },
        ],
      }),
    )
    assert.equal(await read(old, 'datasets'), '403 AccessDenied')
    assert.equal(await read(as(session()), 'datasets'), 'ok')
  })
})
