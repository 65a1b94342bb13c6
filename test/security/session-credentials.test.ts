/**
 * Outside review of issue 13's sessions and `strongroom run` (2026-12-02), each finding a test:
 *
 * 1. `strongroom run` handed a job any role, even one whose trust policy denies everyone.
 *    It now asks the IAM engine whether the role trusts its account (the operator acts for
 *    the account), as ECS hands out only task roles that trust it.
 * 2. An endpoint file left by a gateway that crashed sent the job (and its signed requests
 *    and bodies) to whatever listened on that port next. The file carries the gateway's
 *    process id; a file whose process is gone is refused.
 * 3. Sessions carried no aws:MultiFactorAuthPresent, so AWS's "deny without MFA" statement
 *    never applied to them. Temporary credentials carry it, `false` without MFA.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  GetObjectCommand,
  PutObjectCommand,
  CreateBucketCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-session-sec-'))
const data = join(work, 'data')
after(() => rmSync(work, { recursive: true, force: true }))

/** The CLI on this data directory (given before a `--`, whose words are the job's). */
function cli(...args: string[]) {
  const end = args.includes('--') ? args.indexOf('--') : args.length
  const argv = [...args.slice(0, end), '--data-dir', data, ...args.slice(end)]
  return spawnSync(process.execPath, [BIN, ...argv], {
    encoding: 'utf8',
    env: { ...process.env, STRONGROOM_ENDPOINT: '' },
  })
}

describe('strongroom run hands out only roles that trust their account, to a live gateway', () => {
  before(() => {
    for (const args of [
      ['init', '--dev'],
      ['tenant', 'create', 'vision'],
    ]) {
      const r = cli(...args)
      assert.equal(r.status, 0, r.stderr)
    }
  })

  it('a role whose trust policy denies everyone is refused: exit 1, nothing runs', () => {
    const trust = join(work, 'deny.json')
    writeFileSync(
      trust,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
      }),
    )
    assert.equal(cli('role', 'create', 'locked', '--tenant', 'vision', '--trust', trust).status, 0)
    const marker = join(work, 'ran')
    const r = cli(
      'run',
      '--tenant',
      'vision',
      '--role',
      'locked',
      '--endpoint',
      'http://127.0.0.1:9',
      '--',
      'touch',
      marker,
    )
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      /role `locked` does not trust its account \(arn:aws:iam::\d{12}:root\) with sts:AssumeRole: explicit Deny/,
    )
    assert.equal(spawnSync('test', ['-e', marker]).status, 1, 'the job did not run')
  })

  it('an endpoint file whose gateway process is gone is refused, not followed: exit 2', () => {
    writeFileSync(join(data, 'endpoint'), 'http://127.0.0.1:9\n999999999\n', { mode: 0o600 })
    const r = cli('run', '--tenant', 'vision', '--role', 'locked', '--', 'true')
    assert.equal(r.status, 2, r.stderr)
    assert.match(
      r.stderr,
      /the gateway recorded in .*endpoint \(process 999999999\) is not running/,
    )
    // A file of an older format, without a process id, is refused the same way.
    writeFileSync(join(data, 'endpoint'), 'http://127.0.0.1:9\n', { mode: 0o600 })
    assert.equal(cli('run', '--tenant', 'vision', '--role', 'locked', '--', 'true').status, 2)
  })
})

describe('sessions and MFA conditions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-session-mfa-'))
  let g: InProcess
  before(async () => {
    g = await startInProcess(dir)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a role policy denying requests without MFA denies a session made without it', async () => {
    const tenant = await g.app.identity.findTenant('acme')
    assert.ok(tenant)
    const allow = { Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' }
    const { role } = await g.app.identity.createRole(tenant, {
      name: 'needs-mfa',
      trustPolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: tenant.id }, Action: 'sts:AssumeRole' }],
      }),
    })
    await g.app.identity.putRolePolicy(
      role,
      'p',
      JSON.stringify({ Version: '2012-10-17', Statement: [allow] }),
    )
    const client = (c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      new S3Client({
        endpoint: g.running.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: c,
        maxAttempts: 1,
      })
    const admin = client({ accessKeyId: g.admin.id, secretAccessKey: g.admin.secret })
    await admin.send(new CreateBucketCommand({ Bucket: 'mfa' }))
    await admin.send(new PutObjectCommand({ Bucket: 'mfa', Key: 'x', Body: 'weights' }))
    const now = Date.now()
    const c = g.app.sessions.issue({
      tenantId: tenant.id,
      kind: 'role',
      name: role.name,
      principalId: role.id,
      sessionName: 'job',
      issuedAt: now,
      expiresAt: now + 3_600_000,
    })
    const s = client({
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
    })
    const got = await s.send(new GetObjectCommand({ Bucket: 'mfa', Key: 'x' }))
    assert.equal(await got.Body?.transformToString(), 'weights')
    await g.app.identity.putRolePolicy(
      role,
      'p',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          allow,
          {
            Effect: 'Deny',
            Action: 's3:GetObject',
            Resource: '*',
            Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'false' } },
          },
        ],
      }),
    )
    await assert.rejects(s.send(new GetObjectCommand({ Bucket: 'mfa', Key: 'x' })), {
      name: 'AccessDenied',
    })
  })
})
