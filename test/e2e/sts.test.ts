/**
 * STS through the clients people use, on the gateway's one URL: the aws CLI (v1 and v2) and
 * boto3 ask who they are, assume a role and use its session against S3; boto3 assumes the role
 * by itself from a profile (`role_arn` + `source_profile`), as a training script configured
 * for AWS would. https://docs.aws.amazon.com/cli/latest/reference/sts/assume-role.html,
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import {
  alice,
  aws,
  BIN,
  awsV2,
  ca,
  endpoint,
  env,
  needs,
  policyFile,
  run,
  sdk,
  start,
  stop,
  strongroom,
  work,
  type Creds,
} from './harness.ts'

let account = ''
let roleArn = ''

before(async () => {
  await start()
  const a = sdk(alice)
  for (const Bucket of ['datasets', 'private']) await a.send(new CreateBucketCommand({ Bucket }))
  await a.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'train.csv', Body: 'x,y\n1,2\n' }))
  await a.send(new PutObjectCommand({ Bucket: 'private', Key: 'secret', Body: 'not yours' }))
  const tenants = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
    name: string
    id: string
  }[]
  account = tenants.find((t) => t.name === 'vision')?.id ?? ''
  const trust = policyFile('sts-trust.json', {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'sts:AssumeRole',
      },
    ],
  })
  strongroom(['role', 'create', 'reader', '--tenant', 'vision', '--trust', trust])
  roleArn = `arn:aws:iam::${account}:role/reader`
  const read = policyFile('sts-read.json', {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
    ],
  })
  strongroom([
    'role',
    'put-policy',
    '--role',
    'reader',
    '--tenant',
    'vision',
    '--name',
    'read',
    '--document',
    read,
  ])
  const assume = policyFile('sts-assume.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }],
  })
  strongroom([
    'user',
    'put-policy',
    '--tenant',
    'vision',
    '--user',
    'alice',
    '--name',
    'assume-reader',
    '--document',
    assume,
  ])
  // A managed policy for sessions that should read only what is not the dataset.
  const elsewhere = policyFile('sts-elsewhere.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::private/*' }],
  })
  strongroom(['policy', 'create', 'elsewhere', '--tenant', 'vision', '--document', elsewhere])
})
after(stop)

interface Assumed {
  Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }
  AssumedRoleUser: { Arn: string }
}

for (const [label, cli, tool] of [
  ['aws CLI', aws, 'aws'],
  ['aws CLI v2', awsV2, 'awsV2'],
] as const) {
  describe(`${label}: sts`, () => {
    it('get-caller-identity names the user; assume-role gives a session that reads the dataset and nothing else', (t) => {
      if (!needs(t, tool)) return
      const me = cli(alice, 'sts', 'get-caller-identity', '--output', 'json')
      assert.equal(me.code, 0, me.stderr)
      const who = JSON.parse(me.stdout) as { Arn: string; Account: string }
      assert.equal(who.Arn, `arn:aws:iam::${account}:user/alice`)
      assert.equal(who.Account, account)
      const r = cli(
        alice,
        'sts',
        'assume-role',
        '--role-arn',
        roleArn,
        '--role-session-name',
        'cli-session',
        '--output',
        'json',
      )
      assert.equal(r.code, 0, r.stderr)
      const a = JSON.parse(r.stdout) as Assumed
      assert.equal(a.AssumedRoleUser.Arn, `arn:aws:sts::${account}:assumed-role/reader/cli-session`)
      const session: Creds = {
        id: a.Credentials.AccessKeyId,
        secret: a.Credentials.SecretAccessKey,
        token: a.Credentials.SessionToken,
      }
      const as = cli(session, 'sts', 'get-caller-identity', '--output', 'json')
      assert.equal((JSON.parse(as.stdout) as { Arn: string }).Arn, a.AssumedRoleUser.Arn)
      const got = cli(session, 's3', 'cp', 's3://datasets/train.csv', '-')
      assert.equal(got.code, 0, got.stderr)
      assert.equal(got.stdout, 'x,y\n1,2\n')
      const refused = cli(session, 's3', 'cp', 's3://private/secret', '-')
      assert.notEqual(refused.code, 0)
      assert.match(refused.stderr, /403|AccessDenied|Forbidden/)
    })

    it('assume-role --policy-arns: the managed session policy narrows the session', (t) => {
      if (!needs(t, tool)) return
      const r = cli(
        alice,
        'sts',
        'assume-role',
        '--role-arn',
        roleArn,
        '--role-session-name',
        'narrowed',
        '--policy-arns',
        `arn=arn:aws:iam::${account}:policy/elsewhere`,
        '--output',
        'json',
      )
      assert.equal(r.code, 0, r.stderr)
      const a = JSON.parse(r.stdout) as Assumed
      const session: Creds = {
        id: a.Credentials.AccessKeyId,
        secret: a.Credentials.SecretAccessKey,
        token: a.Credentials.SessionToken,
      }
      // The role may read the dataset; the session policy allows only elsewhere: neither both.
      const refused = cli(session, 's3', 'cp', 's3://datasets/train.csv', '-')
      assert.notEqual(refused.code, 0)
      assert.match(refused.stderr, /403|AccessDenied|Forbidden/)
      const missing = cli(
        alice,
        'sts',
        'assume-role',
        '--role-arn',
        roleArn,
        '--role-session-name',
        'narrowed',
        '--policy-arns',
        `arn=arn:aws:iam::${account}:policy/no-such-policy`,
      )
      assert.notEqual(missing.code, 0)
      assert.match(missing.stderr, /InvalidParameterValue.*does not exist or is not attachable/)
    })

    it('an over-long session is refused with STS’s ValidationError', (t) => {
      if (!needs(t, tool)) return
      const r = cli(
        alice,
        'sts',
        'assume-role',
        '--role-arn',
        roleArn,
        '--role-session-name',
        'too-long',
        '--duration-seconds',
        '7200',
      )
      assert.notEqual(r.code, 0)
      assert.match(
        r.stderr,
        /ValidationError.*The requested DurationSeconds exceeds the MaxSessionDuration set for this role/,
      )
    })
  })
}

describe('strongroom whoami', () => {
  it('names the caller of the credentials in the environment, and says why it cannot', () => {
    const who = (e: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [BIN, 'whoami', '--endpoint', endpoint, '--json'], {
        env: e,
        cwd: work,
        encoding: 'utf8',
      })
    const r = who(env(alice))
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {
      UserId: (JSON.parse(r.stdout) as { UserId: string }).UserId,
      Account: account,
      Arn: `arn:aws:iam::${account}:user/alice`,
    })
    assert.match((JSON.parse(r.stdout) as { UserId: string }).UserId, /^AIDA[A-Z2-7]{16}$/)
    const wrong = who(env({ id: alice.id, secret: 'not-the-secret' }))
    assert.equal(wrong.status, 1)
    assert.match(wrong.stderr, /refused GetCallerIdentity: SignatureDoesNotMatch/)
    const none = who({ PATH: process.env.PATH ?? '', AWS_CA_BUNDLE: ca })
    assert.equal(none.status, 2)
    assert.match(none.stderr, /no AWS credentials: set AWS_ACCESS_KEY_ID/)
  })
})

describe('strongroom role revoke-sessions', () => {
  it('a session issued before it is refused at once; one issued after works', (t) => {
    if (!needs(t, 'aws')) return
    const assume = (name: string): Creds => {
      const r = aws(
        alice,
        'sts',
        'assume-role',
        '--role-arn',
        roleArn,
        '--role-session-name',
        name,
        '--output',
        'json',
      )
      assert.equal(r.code, 0, r.stderr)
      const c = (JSON.parse(r.stdout) as Assumed).Credentials
      return { id: c.AccessKeyId, secret: c.SecretAccessKey, token: c.SessionToken }
    }
    const read = (c: Creds) => aws(c, 's3', 'cp', 's3://datasets/train.csv', '-')
    const old = assume('before-revoke')
    assert.equal(read(old).code, 0)
    const out = JSON.parse(
      strongroom(['role', 'revoke-sessions', 'reader', '--tenant', 'vision', '--json']),
    ) as {
      PolicyName: string
    }
    assert.equal(out.PolicyName, 'AWSRevokeOlderSessions')
    const refused = read(old)
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /403|AccessDenied|Forbidden/)
    const fresh = assume('after-revoke')
    assert.equal(read(fresh).code, 0, read(fresh).stderr)
  })
})

describe('boto3: sts', () => {
  it('assume_role, then S3 with the session', (t) => {
    if (!needs(t, 'boto3')) return
    const r = run(
      'python3',
      [
        '-c',
        `import boto3
sts = boto3.client('sts', endpoint_url='${endpoint}', verify='${ca}')
print(sts.get_caller_identity()['Arn'])
c = sts.assume_role(RoleArn='${roleArn}', RoleSessionName='boto3')['Credentials']
s3 = boto3.client('s3', endpoint_url='${endpoint}', verify='${ca}', aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
print(s3.get_object(Bucket='datasets', Key='train.csv')['Body'].read().decode(), end='')
try:
    s3.get_object(Bucket='private', Key='secret')
except s3.exceptions.ClientError as e:
    print(e.response['Error']['Code'])
`,
      ],
      alice,
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `arn:aws:iam::${account}:user/alice\nx,y\n1,2\nAccessDenied\n`)
  })

  it('a profile with role_arn and source_profile: boto3 assumes the role itself', (t) => {
    if (!needs(t, 'boto3')) return
    const config = join(work, 'sts-profile-config')
    writeFileSync(
      config,
      `[profile base]\nregion = us-east-1\nendpoint_url = ${endpoint}\nca_bundle = ${ca}\n\n[profile trainer]\nrole_arn = ${roleArn}\nsource_profile = base\nrole_session_name = from-profile\nregion = us-east-1\nendpoint_url = ${endpoint}\nca_bundle = ${ca}\n`,
    )
    const credentials = join(work, 'sts-profile-credentials')
    writeFileSync(
      credentials,
      `[base]\naws_access_key_id = ${alice.id}\naws_secret_access_key = ${alice.secret}\n`,
    )
    const e = env(alice)
    delete e.AWS_ACCESS_KEY_ID
    delete e.AWS_SECRET_ACCESS_KEY
    delete e.AWS_CA_BUNDLE
    const code = `import boto3
s = boto3.Session(profile_name='trainer')
print(s.client('sts').get_caller_identity()['Arn'])
print(s.client('s3').get_object(Bucket='datasets', Key='train.csv')['Body'].read().decode(), end='')
`
    const r = spawnSync('python3', ['-c', code], {
      env: { ...e, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials },
      cwd: work,
    })
    assert.equal(r.status, 0, r.stderr.toString())
    assert.equal(
      r.stdout.toString(),
      `arn:aws:sts::${account}:assumed-role/reader/from-profile\nx,y\n1,2\n`,
    )
  })
})
