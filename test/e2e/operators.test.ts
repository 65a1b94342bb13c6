/**
 * What an operator does from the CLI against a running gateway, end to end with
 * the AWS SDK for JavaScript (no external client): explain an allowed request by
 * its request id, share one tenant's bucket with another (bucket policy plus key
 * policy), replace a lost admin access key and retire the old one, and list the
 * quarantined versions of a bucket.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { CASES } from '../scan/corpus.ts'
import {
  ADMIN,
  alice,
  bob,
  endpoint,
  needs,
  python,
  run,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
  strongroomRun,
  work,
} from './harness.ts'

before(() => start())
after(stop)

const tenants = () =>
  JSON.parse(strongroom(['tenant', 'list', '--json'])) as { id: string; name: string }[]
const accountOf = (name: string) => tenants().find((t) => t.name === name)?.id ?? ''

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return e.name
  }
  return 'ok'
}

/** `strongroom explain` output without the time stamps that start each decision. */
const untimed = (out: string) => out.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, '')

describe('operators', () => {
  it('explains an allowed request: the principal and the statements that allowed it', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-data' }))
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'ops-data', Key: 'hello.txt', Body: 'hello' }),
    )
    const id = put.$metadata.requestId ?? ''
    assert.match(id, /^[0-9A-F]{16}$/)
    const vision = accountOf('vision')
    const key = (
      JSON.parse(
        strongroom([
          'key',
          'describe',
          '--tenant',
          'vision',
          '--key',
          'alias/s3-default',
          '--json',
        ]),
      ) as { Arn: string }
    ).Arn
    const r = strongroomRun(['explain', id])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(
      untimed(r.stdout),
      [
        `PutObject: Allow for arn:aws:iam::${vision}:user/alice`,
        '  s3:PutObject on arn:aws:s3:::ops-data/hello.txt',
        '  decided by: an identity-based policy allows the action',
        '  identity policy all-s3',
        '    applies  Allow #0',
        `PutObject: Allow for arn:aws:iam::${vision}:user/alice`,
        `  kms:GenerateDataKey on ${key}`,
        '  decided by: an identity-based policy allows the action',
        '  identity policy all-s3',
        '    applies  Allow #1',
        '  resource policy key policy of alias/s3-default',
        '    applies  Allow Enable IAM User Permissions',
        '',
      ].join('\n'),
    )
    s3.destroy()
  })

  describe('the request ids of docs/gateway.md, from each client', () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'gateway.md'), 'utf8')
    const explained = (id: string) => {
      const r = strongroomRun(['explain', id])
      assert.equal(r.status, 0, r.stderr)
      return untimed(r.stdout).split('\n')[0]
    }
    before(async () => {
      const s3 = sdk(alice)
      await s3.send(new CreateBucketCommand({ Bucket: 'vision-models' }))
      s3.destroy()
    })

    it('the aws CLI with --debug', (t) => {
      if (!needs(t, 'aws')) return
      const line = /`(aws --debug [^`]+)`/.exec(page)?.[1] ?? ''
      assert.match(line, /^aws --debug --endpoint-url https:\/\/127\.0\.0\.1:9443 /)
      const r = run('bash', ['-c', line.replace('https://127.0.0.1:9443', endpoint)], alice)
      const id = /^'x-amz-request-id': '([0-9A-F]{16})'$/.exec(r.stdout.trim())?.[1]
      assert.ok(id !== undefined, r.stdout + r.stderr)
      assert.match(explained(id) ?? '', /^HeadBucket: Allow for arn:aws:iam::\d{12}:user\/alice$/)
    })

    it("boto3's ResponseMetadata", (t) => {
      if (!needs(t, 'boto3')) return
      const expr = /- boto3: `([^`]+)`/.exec(page)?.[1] ?? ''
      assert.equal(expr, "s3.head_bucket(Bucket='vision-models')['ResponseMetadata']['RequestId']")
      const r = python(alice, `print(${expr})`)
      const id = r.stdout.trim()
      assert.match(id, /^[0-9A-F]{16}$/, r.stderr)
      assert.match(explained(id) ?? '', /^HeadBucket: Allow for arn:aws:iam::\d{12}:user\/alice$/)
    })
  })

  it('another tenant reads a shared object only once both the bucket policy and the key policy allow it', async () => {
    const vision = accountOf('vision')
    const audio = accountOf('audio')
    const owner = sdk(alice)
    const reader = sdk(bob)
    await owner.send(new CreateBucketCommand({ Bucket: 'vision-shared' }))
    await owner.send(
      new PutObjectCommand({ Bucket: 'vision-shared', Key: 'model.pt', Body: 'weights' }),
    )
    const get = () =>
      reader
        .send(new GetObjectCommand({ Bucket: 'vision-shared', Key: 'model.pt' }))
        .then(async (o) => Buffer.from((await o.Body?.transformToByteArray()) ?? []).toString())
    assert.equal(await failure(get()), 'AccessDenied', 'nothing is shared yet')

    await owner.send(
      new PutBucketPolicyCommand({
        Bucket: 'vision-shared',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AudioReads',
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${audio}:root` },
              Action: 's3:GetObject',
              Resource: 'arn:aws:s3:::vision-shared/*',
            },
          ],
        }),
      }),
    )
    assert.equal(
      await failure(get()),
      'AccessDenied',
      "the bucket policy alone: vision's key still refuses",
    )

    const ref = ['--tenant', 'vision', '--key', 'alias/s3-default']
    assert.deepEqual(JSON.parse(strongroom(['key', 'get-policy', ...ref])), {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${vision}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    })
    const keyPolicy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${vision}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'AudioDecrypts',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${audio}:root` },
          Action: 'kms:Decrypt',
          Resource: '*',
        },
      ],
    }
    const file = policyFile('vision-key-policy.json', keyPolicy)
    const set = strongroomRun(['key', 'put-policy', ...ref, '--policy', file])
    assert.equal(set.status, 0, set.stderr)
    assert.match(
      set.stdout,
      /^set the policy of [0-9a-f-]{36} {2}alias\/s3-default {2}Enabled {2}v1\n$/,
    )
    assert.deepEqual(JSON.parse(strongroom(['key', 'get-policy', ...ref])), keyPolicy)

    assert.equal(await get(), 'weights', 'bucket policy and key policy both allow: bob reads')
    assert.equal(
      await failure(
        reader.send(new PutObjectCommand({ Bucket: 'vision-shared', Key: 'x', Body: 'x' })),
      ),
      'AccessDenied',
      'sharing reads shares nothing else',
    )
    owner.destroy()
    reader.destroy()
  })

  it('refuses a key policy that does not parse, and keeps the one in force', () => {
    const bad = join(work, 'bad-key-policy.json')
    policyFile('bad-key-policy.json', { Version: '2012-10-17', Statement: [{ Effect: 'Maybe' }] })
    const r = strongroomRun([
      'key',
      'put-policy',
      '--tenant',
      'vision',
      '--key',
      'alias/s3-default',
      '--policy',
      bad,
    ])
    assert.equal(r.status, 2, 'an invalid document is a usage error')
    assert.match(r.stderr, /^strongroom: the key policy is not valid: .+ \[CONFIG_INVALID\]\n$/)
    assert.match(
      strongroom(['key', 'get-policy', '--tenant', 'vision', '--key', 'alias/s3-default']),
      /AudioDecrypts/,
    )
  })

  it('a lost admin key is replaced from the CLI; the old one, made Inactive then deleted, is refused', async () => {
    const admin = ['--tenant', 'admin', '--user', 'admin']
    const fresh = JSON.parse(strongroom(['access-key', 'create', ...admin, '--json'])) as {
      AccessKeyId: string
      SecretAccessKey: string
    }
    const now = sdk({ id: fresh.AccessKeyId, secret: fresh.SecretAccessKey })
    const old = sdk(ADMIN)
    assert.equal(await failure(now.send(new ListBucketsCommand({}))), 'ok')
    assert.equal(await failure(old.send(new ListBucketsCommand({}))), 'ok')

    const listed = strongroom(['access-key', 'list', ...admin])
    assert.match(
      listed,
      new RegExp(`^${ADMIN.id} {2}Active {4}\\S+Z\\n${fresh.AccessKeyId} {2}Active {4}\\S+Z\\n$`),
    )
    assert.equal(
      strongroom([
        'access-key',
        'update',
        ...admin,
        '--access-key-id',
        ADMIN.id,
        '--status',
        'Inactive',
      ]),
      `access key ${ADMIN.id} of admin: Active -> Inactive\n`,
    )
    assert.equal(await failure(old.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId')
    const key = ['--access-key-id', ADMIN.id]
    assert.equal(
      strongroom(['access-key', 'update', ...admin, ...key, '--status', 'Active']),
      `access key ${ADMIN.id} of admin: Inactive -> Active\n`,
    )
    assert.equal(await failure(old.send(new ListBucketsCommand({}))), 'ok')
    assert.equal(
      strongroom(['access-key', 'deactivate', ...admin, ...key]),
      `access key ${ADMIN.id} of admin: Active -> Inactive\n`,
    )
    assert.equal(await failure(old.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId')
    assert.equal(
      strongroom(['access-key', 'delete', ...admin, '--access-key-id', ADMIN.id]),
      `deleted access key ${ADMIN.id} of admin\n`,
    )
    assert.equal(await failure(old.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId')
    assert.equal(await failure(now.send(new ListBucketsCommand({}))), 'ok')
    const gone = strongroomRun(['access-key', 'delete', ...admin, '--access-key-id', ADMIN.id])
    assert.equal(gone.status, 1)
    assert.equal(
      gone.stderr,
      `strongroom: user \`admin\` of tenant \`admin\` has no access key \`${ADMIN.id}\`; list them with \`strongroom access-key list --tenant admin --user admin\` [USER_NOT_FOUND]\n`,
    )
    now.destroy()
    old.destroy()
  })

  it('lists which versions are quarantined, with a filter', async () => {
    const bytesOf = (name: string) => CASES.find((c) => c.name === name)?.bytes ?? Buffer.alloc(0)
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-models' }))
    strongroom(['bucket', 'scan-policy', 'ops-models', 'enforce'])
    for (const [key, name] of [
      ['good.pt', 'benign-torch-zip-state-dict'],
      ['evil.pt', 'torch-zip-payload'],
    ] as const)
      await s3.send(new PutObjectCommand({ Bucket: 'ops-models', Key: key, Body: bytesOf(name) }))
    s3.destroy()

    const all = strongroomRun(['bucket', 'verdicts', 'ops-models'])
    assert.equal(all.status, 1, 'something in the bucket is not clean')
    assert.equal(
      all.stdout,
      [
        'bucket ops-models (scan policy enforce):',
        'malicious  quarantined evil.pt  pickle.dangerous-global: imports os.system: os can run commands, code or I/O when called',
        'clean      good.pt',
        '',
      ].join('\n'),
    )
    const q = strongroomRun(['bucket', 'verdicts', 'ops-models', '--quarantined', '--json'])
    assert.equal(q.status, 1)
    const listed = JSON.parse(q.stdout) as { Versions: { Key: string; Quarantined: boolean }[] }
    assert.deepEqual(
      listed.Versions.map((v) => [v.Key, v.Quarantined]),
      [['evil.pt', true]],
    )
    const clean = strongroomRun(['bucket', 'verdicts', 'ops-models', '--verdict', 'clean'])
    assert.equal(clean.status, 0)
    assert.equal(clean.stdout, 'bucket ops-models (scan policy enforce):\nclean      good.pt\n')
    const none = strongroomRun(['bucket', 'verdicts', 'ops-models', '--verdict', 'suspicious'])
    assert.equal(
      none.stdout,
      'bucket ops-models (scan policy enforce):\n  no suspicious versions\n',
    )
    const bad = strongroomRun(['bucket', 'verdicts', 'ops-models', '--verdict', 'evil'])
    assert.equal(bad.status, 2)
    assert.equal(
      bad.stderr,
      'strongroom: --verdict must be one of clean, suspicious, malicious, unscanned, got `evil` [USAGE]\n',
    )
  })
})
