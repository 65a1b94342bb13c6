/**
 * Scenario 1 of ../shared/DESIGN.md with no static key in the job: `strongroom run` starts a
 * training job as a role, and boto3, the AWS SDK for JavaScript and the aws CLI find the
 * role's short-lived credentials with no code (the container credentials provider,
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html). The
 * job reads its dataset and writes its model, reads nothing else, and its environment holds
 * no long-lived key, although the caller's had one.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import {
  alice,
  BIN,
  dataDir,
  env,
  needs,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
  work,
} from './harness.ts'

before(async () => {
  await start()
  const a = sdk(alice)
  for (const Bucket of ['datasets', 'models', 'private'])
    await a.send(new CreateBucketCommand({ Bucket }))
  await a.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'train.csv', Body: 'x,y\n1,2\n' }))
  await a.send(new PutObjectCommand({ Bucket: 'private', Key: 'secret', Body: 'not yours' }))
  // The trust policy names the account by id, as AWS trust policies do.
  const tenants = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
    name: string
    id: string
  }[]
  const trust = policyFile('trust.json', {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: tenants.find((t) => t.name === 'vision')?.id ?? '' },
        Action: 'sts:AssumeRole',
      },
    ],
  })
  strongroom(['role', 'create', 'trainer', '--tenant', 'vision', '--trust', trust])
  const train = policyFile('train.json', {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::models/*' },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
    ],
  })
  strongroom([
    'role',
    'put-policy',
    '--tenant',
    'vision',
    '--role',
    'trainer',
    '--name',
    'train',
    '--document',
    train,
  ])
})
after(stop)

/** Runs `strongroom run` as the trainer role from a shell that holds alice's long-lived key. */
function job(cmd: string[], extra: string[] = []) {
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'run',
      '--tenant',
      'vision',
      '--role',
      'trainer',
      '--data-dir',
      dataDir,
      ...extra,
      '--',
      ...cmd,
    ],
    {
      encoding: 'utf8',
      cwd: work,
      env: { ...env(alice), STRONGROOM_ROOT_KEY: 'a'.repeat(64), AWS_PROFILE: 'prod' },
    },
  )
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const model = async (key: string) =>
  (
    await sdk(alice).send(new GetObjectCommand({ Bucket: 'models', Key: key }))
  ).Body?.transformToString()

/** What the job reports about its environment: no key, no profile, nothing of ours. */
const LEAKS =
  /^(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_PROFILE|STRONGROOM_.*)$/

describe('strongroom run: a job as a role, with no long-lived key', () => {
  it('the AWS SDK for JavaScript, default chain: reads its dataset, writes its model, reads nothing else', async () => {
    const script = join(work, 'job.mjs')
    writeFileSync(
      script,
      `import { S3Client, GetObjectCommand, PutObjectCommand } from '${import.meta.resolve('@aws-sdk/client-s3')}'
import { readFileSync } from 'node:fs'
const s3 = new S3Client({ forcePathStyle: true })
const data = await (await s3.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'train.csv' }))).Body.transformToString()
await s3.send(new PutObjectCommand({ Bucket: 'models', Key: 'js.bin', Body: 'trained on ' + data.length + ' bytes' }))
let denied = ''
try { await s3.send(new GetObjectCommand({ Bucket: 'private', Key: 'secret' })) } catch (e) { denied = e.name }
const environ = readFileSync('/proc/self/environ', 'utf8')
console.log(JSON.stringify({
  denied,
  leaked: Object.keys(process.env).filter((k) => ${LEAKS.toString()}.test(k)),
  aliceKeyInEnviron: environ.includes(${JSON.stringify(alice.id)}),
  tokenFile: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  uri: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
}))
`,
    )
    const r = job([process.execPath, script])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as {
      denied: string
      leaked: string[]
      aliceKeyInEnviron: boolean
      tokenFile: string
      uri: string
    }
    assert.equal(report.denied, 'AccessDenied')
    assert.deepEqual(report.leaked, [])
    assert.equal(report.aliceKeyInEnviron, false)
    assert.match(report.uri, /^http:\/\/127\.0\.0\.1:\d+\/credentials$/)
    assert.equal(existsSync(report.tokenFile), false, 'the token file is removed when the job ends')
    assert.equal(await model('js.bin'), 'trained on 8 bytes')
  })

  it('boto3 with no arguments', async (t) => {
    if (!needs(t, 'boto3')) return
    const r = job([
      'python3',
      '-c',
      [
        'import boto3, os, re, json',
        "s3 = boto3.client('s3')",
        "data = s3.get_object(Bucket='datasets', Key='train.csv')['Body'].read()",
        "s3.put_object(Bucket='models', Key='py.bin', Body=b'trained on %d bytes' % len(data))",
        'try:',
        "    s3.get_object(Bucket='private', Key='secret'); denied = ''",
        'except s3.exceptions.ClientError as e:',
        "    denied = e.response['Error']['Code']",
        `print(json.dumps({'denied': denied, 'leaked': [k for k in os.environ if re.match(r'${LEAKS.source}', k)]}))`,
      ].join('\n'),
    ])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as { denied: string; leaked: string[] }
    assert.equal(report.denied, 'AccessDenied')
    assert.deepEqual(report.leaked, [])
    assert.equal(await model('py.bin'), 'trained on 8 bytes')
  })

  it('the aws CLI', async (t) => {
    if (!needs(t, 'aws')) return
    const r = job(['aws', 's3', 'cp', 's3://datasets/train.csv', '-'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'x,y\n1,2\n')
    const denied = job(['aws', 's3', 'cp', 's3://private/secret', '-'])
    assert.notEqual(denied.code, 0)
    assert.match(denied.stderr, /AccessDenied|Forbidden|403/)
    await Promise.resolve()
  })

  it('the aws CLI v2 too old for AWS_ENDPOINT_URL, given the endpoint from the environment', async (t) => {
    if (!needs(t, 'awsV2')) return
    const r = job([
      'sh',
      '-c',
      '/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp s3://datasets/train.csv -',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'x,y\n1,2\n')
    await Promise.resolve()
  })

  it('--imds: boto3 and the AWS SDK for JavaScript find the role through an IMDSv2 endpoint', (t) => {
    const script = join(work, 'imds-job.mjs')
    writeFileSync(
      script,
      `import { S3Client, GetObjectCommand } from '${import.meta.resolve('@aws-sdk/client-s3')}'
const s3 = new S3Client({ forcePathStyle: true })
const data = await (await s3.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'train.csv' }))).Body.transformToString()
let denied = ''
try { await s3.send(new GetObjectCommand({ Bucket: 'private', Key: 'secret' })) } catch (e) { denied = e.name }
console.log(JSON.stringify({ data, denied, container: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? null, imds: process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT }))
`,
    )
    const r = job([process.execPath, script], ['--imds'])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as Record<string, string | null>
    assert.equal(report.data, 'x,y\n1,2\n')
    assert.equal(report.denied, 'AccessDenied')
    assert.equal(report.container, null)
    assert.match(report.imds ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
    if (!needs(t, 'boto3')) return
    const py = job(
      [
        'python3',
        '-c',
        [
          'import boto3',
          's = boto3.Session()',
          "print(s.get_credentials().method, s.client('s3').get_object(Bucket='datasets', Key='train.csv')['Body'].read().decode(), end='')",
        ].join('\n'),
      ],
      ['--imds'],
    )
    assert.equal(py.code, 0, py.stderr)
    assert.equal(py.stdout, 'iam-role x,y\n1,2\n')
  })

  it('strongroom whoami inside the job names the role’s session', () => {
    const r = job([process.execPath, BIN, 'whoami', '--json'], ['--session-name', 'who'])
    assert.equal(r.code, 0, r.stderr)
    const who = JSON.parse(r.stdout) as { Arn: string; Account: string }
    assert.match(who.Arn, /^arn:aws:sts::\d{12}:assumed-role\/trainer\/who$/)
  })

  it('passes the job’s exit status on; a bad duration, role or command is refused before anything runs', () => {
    assert.equal(job([process.execPath, '-e', 'process.exit(7)']).code, 7)
    const long = job(['true'], ['--duration', '13h'])
    assert.equal(long.code, 2)
    assert.match(
      long.stderr,
      /--duration is 46800 seconds: it must be 900 \(15m\) to the role's maximum session of 3600 seconds/,
    )
    const missing = spawnSync(
      process.execPath,
      [BIN, 'run', '--tenant', 'vision', '--role', 'nobody', '--data-dir', dataDir, '--', 'true'],
      { encoding: 'utf8' },
    )
    assert.equal(missing.status, 1)
    assert.match(
      missing.stderr,
      /tenant `vision` has no role `nobody`; create it with `strongroom role create nobody/,
    )
    // As env(1) answers: 127 not found, 126 not runnable.
    const nothing = job(['/nonexistent/command'])
    assert.equal(nothing.code, 127)
    assert.match(nothing.stderr, /command `\/nonexistent\/command` not found/)
    assert.equal(job([dataDir]).code, 126)
    // A job killed by a signal: 128 + its number, as a shell says.
    assert.equal(job(['sh', '-c', 'kill -ABRT $$']).code, 134)
  })
})
