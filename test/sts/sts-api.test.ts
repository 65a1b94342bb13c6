/**
 * STS over the query protocol on the gateway's own URL, through the AWS SDK for JavaScript's
 * STS client: who the caller is, assuming a role under its trust policy, user and federated
 * sessions, and AWS's error codes for what STS refuses.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html (role chaining: one hour)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html (sts:TagSession, transitive tags)
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DecisionView } from '../../src/audit/read.ts'
import { after, before, describe, it } from 'node:test'
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  CreateBucketCommand,
} from '@aws-sdk/client-s3'
import {
  AssumeRoleCommand,
  GetAccessKeyInfoCommand,
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  GetSessionTokenCommand,
  STSClient,
  STSServiceException,
  type Credentials,
} from '@aws-sdk/client-sts'
import type { TenantRecord, UserRecord } from '../../src/meta/identity.ts'
import { signHeaders, startInProcess, type Creds, type InProcess } from '../api/inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-sts-'))
let g: InProcess
let tenant: TenantRecord
let dev: Creds
let devUser: UserRecord
const decisions: DecisionView[] = []

const doc = (Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement })

before(async () => {
  g = await startInProcess(dir, { decisions })
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  const account = tenant.id
  // trainer trusts the account (the caller also needs sts:AssumeRole); direct trusts dev by name.
  const trustAccount = doc([
    {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${account}:root` },
      Action: 'sts:AssumeRole',
    },
  ])
  const trainer = await g.app.identity.createRole(tenant, {
    name: 'trainer',
    path: '/ml/',
    trustPolicy: trustAccount,
    maxSessionSeconds: 7200,
  })
  await g.app.identity.putRolePolicy(
    trainer.role,
    'data',
    doc([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::*/*' },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' },
    ]),
  )
  await g.app.identity.createRole(tenant, {
    name: 'direct',
    trustPolicy: doc([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:user/dev` },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
      },
    ]),
  })
  await g.app.identity.createRole(tenant, { name: 'untagged', trustPolicy: trustAccount })
  devUser = await g.app.identity.createUser(tenant, 'dev')
  await g.app.identity.putUserPolicy(
    devUser,
    'assume',
    doc([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${account}:role/ml/*` },
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: `arn:aws:iam::${account}:role/untagged`,
      },
      { Effect: 'Allow', Action: ['sts:GetFederationToken', 'sts:TagSession'], Resource: '*' },
      { Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' },
    ]),
  )
  const k = await g.app.identity.createAccessKey(devUser)
  dev = { id: k.accessKeyId, secret: k.secretAccessKey }
  const admin = s3({ accessKeyId: g.admin.id, secretAccessKey: g.admin.secret })
  for (const Bucket of ['datasets', 'models']) {
    await admin.send(new CreateBucketCommand({ Bucket }))
    await admin.send(new PutObjectCommand({ Bucket, Key: 'x', Body: `${Bucket} bytes` }))
  }
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

type Keys = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
const keys = (c: Creds): Keys => ({ accessKeyId: c.id, secretAccessKey: c.secret })
const fromSts = (c: Credentials | undefined): Keys => ({
  accessKeyId: c?.AccessKeyId ?? '',
  secretAccessKey: c?.SecretAccessKey ?? '',
  sessionToken: c?.SessionToken ?? '',
})

function sts(credentials: Keys): STSClient {
  return new STSClient({
    endpoint: g.running.url,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  })
}
function s3(credentials: Keys): S3Client {
  return new S3Client({
    endpoint: g.running.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  })
}

/** `ok`, or the error as `STATUS Code: message`. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (e instanceof STSServiceException || (e instanceof Error && '$metadata' in e)) {
      const status = (e as STSServiceException).$metadata.httpStatusCode
      return `${String(status)} ${e.name}: ${e.message}`
    }
    throw e
  }
}

const roleArn = (path: string, name: string) => `arn:aws:iam::${tenant.id}:role${path}${name}`

describe('GetCallerIdentity', () => {
  it('names the user, its account and its unique id', async () => {
    const r = await sts(keys(dev)).send(new GetCallerIdentityCommand({}))
    assert.equal(r.Arn, `arn:aws:iam::${tenant.id}:user/dev`)
    assert.equal(r.Account, tenant.id)
    assert.equal(r.UserId, devUser.id)
  })

  it('needs no permission: a user with no policy may call it', async () => {
    const r = await sts(keys(g.nobody)).send(new GetCallerIdentityCommand({}))
    assert.equal(r.Arn, `arn:aws:iam::${tenant.id}:user/nobody`)
  })
})

describe('AssumeRole', () => {
  it('hands out a session of the role: its ARN, its id and credentials that act as it', async () => {
    const r = await sts(keys(dev)).send(
      new AssumeRoleCommand({ RoleArn: roleArn('/ml/', 'trainer'), RoleSessionName: 'job-1' }),
    )
    const trainer = await g.app.identity.findRole(tenant.id, 'trainer')
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${tenant.id}:assumed-role/trainer/job-1`)
    assert.equal(r.AssumedRoleUser.AssumedRoleId, `${trainer?.id ?? ''}:job-1`)
    assert.match(r.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/)
    // The default session lasts an hour.
    const left = (r.Credentials?.Expiration?.getTime() ?? 0) - Date.now()
    assert.ok(left > 3_590_000 && left <= 3_600_000, String(left))
    const me = await sts(fromSts(r.Credentials)).send(new GetCallerIdentityCommand({}))
    assert.equal(me.Arn, r.AssumedRoleUser.Arn)
    assert.equal(me.UserId, r.AssumedRoleUser.AssumedRoleId)
    const body = await s3(fromSts(r.Credentials)).send(
      new GetObjectCommand({ Bucket: 'datasets', Key: 'x' }),
    )
    assert.equal(await body.Body?.transformToString(), 'datasets bytes')
    assert.equal(
      await outcome(
        s3(fromSts(r.Credentials)).send(
          new PutObjectCommand({ Bucket: 'models', Key: 'm', Body: 'w' }),
        ),
      ),
      'ok',
    )
  })

  it('a trust policy that names the account needs the caller to hold sts:AssumeRole too', async () => {
    assert.equal(
      await outcome(
        sts(keys(g.nobody)).send(
          new AssumeRoleCommand({ RoleArn: roleArn('/ml/', 'trainer'), RoleSessionName: 'x1' }),
        ),
      ),
      `403 AccessDenied: User: arn:aws:iam::${tenant.id}:user/nobody is not authorized to perform: sts:AssumeRole on resource: ${roleArn('/ml/', 'trainer')}`,
    )
  })

  it('a trust policy that names the user directly is enough in its own account', async () => {
    const r = await sts(keys(dev)).send(
      new AssumeRoleCommand({ RoleArn: roleArn('/', 'direct'), RoleSessionName: 'x2' }),
    )
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${tenant.id}:assumed-role/direct/x2`)
  })

  it('a role that does not exist, or named with another path, is refused as the trust policy would', async () => {
    for (const arn of [roleArn('/ml/', 'ghost'), roleArn('/', 'trainer')])
      assert.equal(
        await outcome(
          sts(keys(dev)).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'x3' })),
        ),
        `403 AccessDenied: User: arn:aws:iam::${tenant.id}:user/dev is not authorized to perform: sts:AssumeRole on resource: ${arn}`,
      )
  })

  it('DurationSeconds runs from 900 to the role’s maximum', async () => {
    const assume = (DurationSeconds: number) =>
      sts(keys(dev)).send(
        new AssumeRoleCommand({
          RoleArn: roleArn('/ml/', 'trainer'),
          RoleSessionName: 'x4',
          DurationSeconds,
        }),
      )
    const r = await assume(7200)
    const left = (r.Credentials?.Expiration?.getTime() ?? 0) - Date.now()
    assert.ok(left > 7_190_000 && left <= 7_200_000, String(left))
    assert.equal(
      await outcome(assume(7201)),
      '400 ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    )
    assert.equal(
      await outcome(assume(899)),
      "400 ValidationError: 1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    )
  })

  it('a role session that assumes a role gets at most one hour (role chaining)', async () => {
    const first = await sts(keys(dev)).send(
      new AssumeRoleCommand({ RoleArn: roleArn('/ml/', 'trainer'), RoleSessionName: 'outer' }),
    )
    const chained = sts(fromSts(first.Credentials))
    assert.equal(
      await outcome(
        chained.send(
          new AssumeRoleCommand({
            RoleArn: roleArn('/ml/', 'trainer'),
            RoleSessionName: 'inner',
            DurationSeconds: 3601,
          }),
        ),
      ),
      '400 ValidationError: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    )
    const r = await chained.send(
      new AssumeRoleCommand({ RoleArn: roleArn('/ml/', 'trainer'), RoleSessionName: 'inner' }),
    )
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${tenant.id}:assumed-role/trainer/inner`)
  })

  it('a session policy narrows the session to what both allow', async () => {
    const r = await sts(keys(dev)).send(
      new AssumeRoleCommand({
        RoleArn: roleArn('/ml/', 'trainer'),
        RoleSessionName: 'narrow',
        Policy: doc([{ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' }]),
      }),
    )
    assert.ok((r.SessionTokenUtilization ?? 0) > 0 && (r.SessionTokenUtilization ?? 0) < 100)
    const c = s3(fromSts(r.Credentials))
    assert.equal(
      await outcome(c.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'x' }))),
      'ok',
    )
    assert.match(
      await outcome(c.send(new PutObjectCommand({ Bucket: 'models', Key: 'n', Body: 'w' }))),
      /^403 AccessDenied/,
    )
  })

  it('refuses a malformed session policy, an illegal session name and an over-long policy', async () => {
    const assume = (o: { RoleSessionName?: string; Policy?: string }) =>
      outcome(
        sts(keys(dev)).send(
          new AssumeRoleCommand({
            RoleArn: roleArn('/ml/', 'trainer'),
            RoleSessionName: o.RoleSessionName ?? 'ok-name',
            Policy: o.Policy,
          }),
        ),
      )
    assert.match(
      await assume({ Policy: '{"Version":' }),
      /^400 MalformedPolicyDocumentException: session policy `Policy` is not valid: 1:12: /,
    )
    assert.equal(
      await assume({ RoleSessionName: 'has space' }),
      "400 ValidationError: 1 validation error detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    )
    assert.match(
      await assume({
        Policy: doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'x'.repeat(2100) }]),
      }),
      /^400 ValidationError: .*Member must have length less than or equal to 2048$/,
    )
  })

  it('session tags need sts:TagSession in the trust policy, and become aws:PrincipalTag', async () => {
    assert.equal(
      await outcome(
        sts(keys(dev)).send(
          new AssumeRoleCommand({
            RoleArn: roleArn('/', 'untagged'),
            RoleSessionName: 'tagged',
            Tags: [{ Key: 'team', Value: 'vision' }],
          }),
        ),
      ),
      `403 AccessDenied: User: arn:aws:iam::${tenant.id}:user/dev is not authorized to perform: sts:TagSession on resource: ${roleArn('/', 'untagged')}`,
    )
    const r = await sts(keys(dev)).send(
      new AssumeRoleCommand({
        RoleArn: roleArn('/', 'direct'),
        RoleSessionName: 'tagged',
        Tags: [{ Key: 'team', Value: 'vision' }],
        TransitiveTagKeys: ['team'],
      }),
    )
    const token = r.Credentials?.SessionToken ?? ''
    const { claims } = g.app.sessions.open(r.Credentials?.AccessKeyId ?? '', token, Date.now())
    assert.deepEqual(claims.tags, [['team', 'vision']])
    assert.deepEqual(claims.transitiveTagKeys, ['team'])
  })

  it('records every decision it makes, the refusals included', async () => {
    const before = decisions.length
    await outcome(
      sts(keys(g.nobody)).send(
        new AssumeRoleCommand({ RoleArn: roleArn('/ml/', 'trainer'), RoleSessionName: 'rec' }),
      ),
    )
    const d = decisions.slice(before)
    assert.deepEqual(
      d.map((x) => [x.operation, x.action, x.resource, x.decision, x.principal]),
      [
        [
          'AssumeRole',
          'sts:AssumeRole',
          roleArn('/ml/', 'trainer'),
          'ImplicitDeny',
          `arn:aws:iam::${tenant.id}:user/nobody`,
        ],
      ],
    )
  })
})

describe('managed session policies (PolicyArns)', () => {
  // "The resulting session's permissions are the intersection of the role's identity-based
  // policy and the session policies"; "you can provide up to 10 managed policy ARNs"; "the
  // plaintext that you use for both inline and managed session policies can't exceed 2,048
  // characters" (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
  // Reading an object also takes kms:Decrypt of its key.
  const readOnly = (bucket: string) =>
    doc([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
    ])
  const get = (c: Credentials | undefined, Bucket: string) =>
    outcome(s3(fromSts(c)).send(new GetObjectCommand({ Bucket, Key: 'x' })))
  const assume = (o: { PolicyArns?: string[]; Policy?: string; RoleSessionName?: string }) =>
    sts(keys(dev)).send(
      new AssumeRoleCommand({
        RoleArn: roleArn('/ml/', 'trainer'),
        RoleSessionName: o.RoleSessionName ?? 'managed',
        Policy: o.Policy,
        PolicyArns: o.PolicyArns?.map((arn) => ({ arn })),
      }),
    )
  const policyArnOf = (path: string, name: string) =>
    `arn:aws:iam::${tenant.id}:policy${path}${name}`

  it('narrow the session to what the role and one of the session policies allow', async () => {
    await g.app.identity.createPolicy(tenant, {
      name: 'datasets-read',
      path: '/session/',
      description: '',
      document: readOnly('datasets'),
    })
    const r = await assume({ PolicyArns: [policyArnOf('/session/', 'datasets-read')] })
    assert.ok((r.SessionTokenUtilization ?? 0) > 0)
    assert.equal(await get(r.Credentials, 'datasets'), 'ok')
    assert.match(await get(r.Credentials, 'models'), /^403 AccessDenied/)
    // An inline session policy and a managed one: either may allow (the role must too).
    const both = await assume({
      PolicyArns: [policyArnOf('/session/', 'datasets-read')],
      Policy: readOnly('models'),
    })
    assert.equal(await get(both.Credentials, 'datasets'), 'ok')
    assert.equal(await get(both.Credentials, 'models'), 'ok')
    assert.match(
      await outcome(
        s3(fromSts(both.Credentials)).send(
          new PutObjectCommand({ Bucket: 'models', Key: 'w', Body: 'w' }),
        ),
      ),
      /^403 AccessDenied/,
    )
  })

  it('follow the policy’s default version; a policy deleted since allows nothing', async () => {
    const p = await g.app.identity.createPolicy(tenant, {
      name: 'moving',
      path: '/',
      description: '',
      document: readOnly('datasets'),
    })
    const r = await assume({ PolicyArns: [policyArnOf('/', 'moving')] })
    assert.equal(await get(r.Credentials, 'datasets'), 'ok')
    await g.app.identity.createPolicyVersion(p, readOnly('models'), true)
    assert.match(await get(r.Credentials, 'datasets'), /^403 AccessDenied/)
    assert.equal(await get(r.Credentials, 'models'), 'ok')
    await g.app.identity.deletePolicyVersion(p, 1)
    await g.app.identity.deletePolicy(p)
    // Not the role's whole permissions: the session was limited, and stays limited to nothing.
    assert.match(await get(r.Credentials, 'models'), /^403 AccessDenied/)
    assert.match(await get(r.Credentials, 'datasets'), /^403 AccessDenied/)
  })

  it('a federated user with only a managed session policy has what it and the user allow', async () => {
    await g.app.identity.createPolicy(tenant, {
      name: 'fed-read',
      path: '/',
      description: '',
      document: doc([
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 'kms:*'], Resource: '*' },
      ]),
    })
    const r = await sts(keys(dev)).send(
      new GetFederationTokenCommand({
        Name: 'carol',
        PolicyArns: [{ arn: policyArnOf('/', 'fed-read') }],
      }),
    )
    assert.ok((r.SessionTokenUtilization ?? 0) > 0)
    assert.equal(await get(r.Credentials, 'datasets'), 'ok')
    // dev may not write: the session policy cannot add it.
    assert.match(
      await outcome(
        s3(fromSts(r.Credentials)).send(
          new PutObjectCommand({ Bucket: 'models', Key: 'f', Body: 'w' }),
        ),
      ),
      /^403 AccessDenied/,
    )
  })

  it('refuses more than ten, another account’s, a missing one, a malformed ARN, and too much text', async () => {
    await g.app.identity.createPolicy(tenant, {
      name: 'p0',
      path: '/',
      description: '',
      document: readOnly('datasets'),
    })
    const attempt = (o: { PolicyArns?: string[]; Policy?: string }) => outcome(assume(o))
    assert.equal(
      await attempt({ PolicyArns: Array.from({ length: 11 }, () => policyArnOf('/', 'p0')) }),
      "400 ValidationError: 1 validation error detected: Value at 'PolicyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
    )
    assert.equal(
      await attempt({ PolicyArns: ['arn:aws:iam::999999999999:policy/p0'] }),
      `400 InvalidParameterValue: The policy arn:aws:iam::999999999999:policy/p0 is not in account ${tenant.id}: managed session policies must be in the same account as the role or user.`,
    )
    assert.equal(
      await attempt({ PolicyArns: [policyArnOf('/', 'missing')] }),
      `400 InvalidParameterValue: The policy ${policyArnOf('/', 'missing')} does not exist or is not attachable.`,
    )
    // Named with another path: not that policy.
    assert.match(
      await attempt({ PolicyArns: [policyArnOf('/other/', 'p0')] }),
      /^400 InvalidParameterValue: The policy .* does not exist or is not attachable\.$/,
    )
    assert.equal(
      await attempt({ PolicyArns: ['arn:aws:s3:::datasets/some-object'] }),
      '400 InvalidParameterValue: arn:aws:s3:::datasets/some-object is not a policy ARN.',
    )
    assert.match(
      await attempt({ PolicyArns: ['arn:aws'] }),
      /^400 ValidationError: .* at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length between 20 and 2048$/,
    )
    // Each within its own limit, together over 2,048 characters.
    const inline = doc([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'d'.repeat(1900)}/*` },
    ])
    assert.ok(inline.length <= 2048)
    assert.match(
      await attempt({
        Policy: inline,
        PolicyArns: [
          policyArnOf('/', 'p0'),
          policyArnOf('/', 'p0'),
          policyArnOf('/', 'p0'),
          policyArnOf('/', 'p0'),
        ],
      }),
      /^400 ValidationError: .*The inline and managed session policies together must have length less than or equal to 2048$/,
    )
  })
})

describe('GetSessionToken and GetFederationToken', () => {
  it('a user’s session acts as the user, lasts 12 hours by default, and cannot make another', async () => {
    const r = await sts(keys(dev)).send(new GetSessionTokenCommand({}))
    const left = (r.Credentials?.Expiration?.getTime() ?? 0) - Date.now()
    assert.ok(left > 43_190_000 && left <= 43_200_000, String(left))
    const me = await sts(fromSts(r.Credentials)).send(new GetCallerIdentityCommand({}))
    assert.equal(me.Arn, `arn:aws:iam::${tenant.id}:user/dev`)
    assert.equal(me.UserId, devUser.id)
    assert.equal(
      await outcome(sts(fromSts(r.Credentials)).send(new GetSessionTokenCommand({}))),
      "403 AccessDenied: Cannot call GetSessionToken with session credentials: it needs an IAM user's access key",
    )
    // It may assume a role, as AWS allows.
    const a = await sts(fromSts(r.Credentials)).send(
      new AssumeRoleCommand({
        RoleArn: roleArn('/ml/', 'trainer'),
        RoleSessionName: 'from-user-session',
      }),
    )
    assert.ok(a.Credentials?.SessionToken)
  })

  it('a federated user with no session policy may do nothing; with one, what both allow', async () => {
    const bare = await sts(keys(dev)).send(new GetFederationTokenCommand({ Name: 'alice' }))
    assert.equal(bare.FederatedUser?.Arn, `arn:aws:sts::${tenant.id}:federated-user/alice`)
    assert.equal(bare.FederatedUser.FederatedUserId, `${tenant.id}:alice`)
    const read = (c: Credentials | undefined) =>
      outcome(s3(fromSts(c)).send(new GetObjectCommand({ Bucket: 'datasets', Key: 'x' })))
    assert.match(await read(bare.Credentials), /^403 AccessDenied/)
    const me = await sts(fromSts(bare.Credentials)).send(new GetCallerIdentityCommand({}))
    assert.equal(me.Arn, `arn:aws:sts::${tenant.id}:federated-user/alice`)
    const scoped = await sts(keys(dev)).send(
      new GetFederationTokenCommand({
        Name: 'alice',
        Policy: doc([{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }]),
      }),
    )
    assert.equal(await read(scoped.Credentials), 'ok')
    // The user may not write: neither may its federated user, whatever the session policy says.
    assert.match(
      await outcome(
        s3(fromSts(scoped.Credentials)).send(
          new PutObjectCommand({ Bucket: 'models', Key: 'f', Body: 'w' }),
        ),
      ),
      /^403 AccessDenied/,
    )
    assert.match(
      await outcome(sts(fromSts(scoped.Credentials)).send(new GetSessionTokenCommand({}))),
      /^403 AccessDenied: Cannot call GetSessionToken with session credentials/,
    )
  })

  it('GetFederationToken needs sts:GetFederationToken on the federated user', async () => {
    assert.equal(
      await outcome(sts(keys(g.nobody)).send(new GetFederationTokenCommand({ Name: 'bob' }))),
      `403 AccessDenied: User: arn:aws:iam::${tenant.id}:user/nobody is not authorized to perform: sts:GetFederationToken on resource: arn:aws:sts::${tenant.id}:federated-user/bob`,
    )
  })

  it('GetAccessKeyInfo names the account of a key', async () => {
    const r = await sts(keys(g.admin)).send(new GetAccessKeyInfoCommand({ AccessKeyId: dev.id }))
    assert.equal(r.Account, tenant.id)
  })
})

describe('the query protocol refuses what it cannot read, in AWS’s words', () => {
  const post = async (c: Creds | undefined, form: string, service = 'sts') => {
    const url = new URL(`${g.running.url}/`)
    const body = Buffer.from(form)
    const base = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    const headers = c === undefined ? base : await signHeaders(c, 'POST', url, body, base, service)
    const r = await fetch(url, { method: 'POST', headers, body })
    const text = await r.text()
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? ''
    return `${String(r.status)} ${code}`
  }

  it('an unknown action, a wrong version, a parameter the action does not take, a repeated one', async () => {
    assert.equal(await post(dev, 'Action=Frobnicate&Version=2011-06-15'), '400 InvalidAction')
    assert.equal(
      await post(dev, 'Action=GetCallerIdentity&Version=2010-05-08'),
      '400 InvalidAction',
    )
    assert.equal(await post(dev, 'Version=2011-06-15'), '400 MissingParameter')
    // A misspelt Policy would otherwise hand out a session wider than asked.
    assert.equal(
      await post(
        dev,
        `Action=AssumeRole&Version=2011-06-15&RoleSessionName=s&RoleArn=${encodeURIComponent(roleArn('/ml/', 'trainer'))}&Polcy=x`,
      ),
      '400 InvalidParameterValue',
    )
    assert.equal(
      await post(dev, 'Action=GetCallerIdentity&Version=2011-06-15&Action=GetCallerIdentity'),
      '400 InvalidParameterValue',
    )
  })

  it('an unsigned call that needs a signature, and a signature scoped to another service', async () => {
    assert.equal(
      await post(undefined, 'Action=GetCallerIdentity&Version=2011-06-15'),
      '403 MissingAuthenticationToken',
    )
    // Signed for S3, shaped for STS: S3 answers, and has no such operation.
    assert.equal(
      await post(dev, 'Action=GetCallerIdentity&Version=2011-06-15', 's3'),
      '405 MethodNotAllowed',
    )
    // Signed for a service this endpoint does not speak (kms it does, in JSON 1.1).
    assert.equal(
      await post(dev, 'Action=GetCallerIdentity&Version=2011-06-15', 'dynamodb'),
      '400 AuthorizationHeaderMalformed',
    )
  })

  it('a body over 64 KiB is refused before it is read whole', async () => {
    assert.equal(
      await post(dev, `Action=GetCallerIdentity&Version=2011-06-15&Pad=${'a'.repeat(70_000)}`),
      '400 ValidationError',
    )
  })
})
