/**
 * Web identity end to end: a test OIDC issuer (keys made here; discovery and JWKS over HTTPS on
 * loopback, its CA trusted through the gateway's oidcCaFile setting) signs a Kubernetes-style
 * service-account token; with AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE set and no key,
 * boto3, the aws CLI and the AWS SDK for JavaScript get credentials from Strongroom's STS and
 * use them. https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html
 * (web identity), https://docs.aws.amazon.com/eks/latest/userguide/pod-configuration.html
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { serviceAccountClaims, startIssuer, type Issuer } from '../sts/oidc-issuer.ts'
import {
  alice,
  ca,
  endpoint,
  needs,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
  work,
} from './harness.ts'

let issuer: Issuer
let account = ''
let tokenFile = ''

before(async () => {
  issuer = await startIssuer()
  const caFile = join(work, 'oidc-ca.pem')
  writeFileSync(caFile, issuer.caPem)
  await start({ STRONGROOM_OIDC_CA_FILE: caFile })
  const a = sdk(alice)
  await a.send(new CreateBucketCommand({ Bucket: 'datasets' }))
  await a.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'train.csv', Body: 'x,y\n1,2\n' }))
  const tenants = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
    name: string
    id: string
  }[]
  account = tenants.find((t) => t.name === 'vision')?.id ?? ''
  const made = JSON.parse(
    strongroom([
      'oidc-provider',
      'create',
      '--tenant',
      'vision',
      '--url',
      issuer.url,
      '--client-id',
      'sts.amazonaws.com',
      '--json',
    ]),
  ) as { OpenIDConnectProviderArn: string }
  const host = issuer.url.replace(/^https:\/\//, '')
  assert.equal(made.OpenIDConnectProviderArn, `arn:aws:iam::${account}:oidc-provider/${host}`)
  const trust = policyFile('wi-trust.json', {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: made.OpenIDConnectProviderArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: 'system:serviceaccount:ml:trainer',
            [`${host}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  })
  strongroom(['role', 'create', 'pod-trainer', '--tenant', 'vision', '--trust', trust])
  const read = policyFile('wi-read.json', {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
    ],
  })
  strongroom([
    'role',
    'put-policy',
    '--tenant',
    'vision',
    '--role',
    'pod-trainer',
    '--name',
    'read',
    '--document',
    read,
  ])
  tokenFile = join(work, 'sa-token')
  writeFileSync(tokenFile, await issuer.sign(serviceAccountClaims(issuer.url)))
})
after(async () => {
  await stop()
  await issuer.close()
})

/** The environment a pod with IRSA has: a role, a token file, the endpoint; no key. */
function podEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work }
  return {
    ...env,
    AWS_ROLE_ARN: `arn:aws:iam::${account}:role/pod-trainer`,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_SESSION_NAME: 'pod-1',
    AWS_ENDPOINT_URL: endpoint,
    AWS_CA_BUNDLE: ca,
    NODE_EXTRA_CA_CERTS: ca,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
}

/**
 * Runs a client without blocking this process: the issuer the gateway fetches keys from is
 * served from here, and a synchronous spawn would leave it unable to answer.
 */
function client(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd: work, encoding: 'utf8' }, (e, stdout, stderr) => {
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : -1
      resolve({ status: code, stdout, stderr })
    })
  })
}

const ARN = () => `arn:aws:sts::${account}:assumed-role/pod-trainer/pod-1`

describe('web identity: a pod’s token becomes a role session', () => {
  it('boto3 with no arguments', async (t) => {
    if (!needs(t, 'boto3')) return
    const r = await client(
      'python3',
      [
        '-c',
        [
          'import boto3',
          "print(boto3.client('sts').get_caller_identity()['Arn'])",
          "s3 = boto3.client('s3', config=boto3.session.Config(s3={'addressing_style': 'path'}))",
          "print(s3.get_object(Bucket='datasets', Key='train.csv')['Body'].read().decode(), end='')",
        ].join('\n'),
      ],
      podEnv(),
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, `${ARN()}\nx,y\n1,2\n`)
  })

  it('the aws CLI', async (t) => {
    if (!needs(t, 'aws')) return
    const r = await client('aws', ['sts', 'get-caller-identity', '--output', 'json'], podEnv())
    assert.equal(r.status, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { Arn: string }).Arn, ARN())
  })

  it('the AWS SDK for JavaScript, default chain', async () => {
    const script = join(work, 'wi-job.mjs')
    writeFileSync(
      script,
      `import { S3Client, GetObjectCommand } from '${import.meta.resolve('@aws-sdk/client-s3')}'
import { STSClient, GetCallerIdentityCommand } from '${import.meta.resolve('@aws-sdk/client-sts')}'
const me = await new STSClient({}).send(new GetCallerIdentityCommand({}))
const s3 = new S3Client({ forcePathStyle: true })
const data = await (await s3.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'train.csv' }))).Body.transformToString()
console.log(JSON.stringify({ arn: me.Arn, data }))
`,
    )
    const r = await client(process.execPath, [script], podEnv())
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), { arn: ARN(), data: 'x,y\n1,2\n' })
  })

  it('a token of another service account is refused as AWS refuses it', async (t) => {
    if (!needs(t, 'boto3')) return
    const other = join(work, 'other-token')
    writeFileSync(
      other,
      await issuer.sign(serviceAccountClaims(issuer.url, { account: 'intruder' })),
    )
    const r = await client(
      'python3',
      ['-c', "import boto3\nprint(boto3.client('sts').get_caller_identity()['Arn'])"],
      { ...podEnv(), AWS_WEB_IDENTITY_TOKEN_FILE: other },
    )
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /AccessDenied.*Not authorized to perform sts:AssumeRoleWithWebIdentity/)
  })
})
