/**
 * AssumeRoleWithWebIdentity through the AWS SDK for JavaScript: Kubernetes (IRSA) and GitHub
 * Actions trust policies work as written for AWS, with the provider's keys given inline (the
 * HTTPS discovery path is src/sts/web-identity.test.ts's and test/e2e/web-identity.test.ts's).
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 * https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html (GitHub's sub)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  CreateBucketCommand,
} from '@aws-sdk/client-s3'
import {
  AssumeRoleWithWebIdentityCommand,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts'
import type { TenantRecord } from '../../src/meta/identity.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { serviceAccountClaims, startIssuer, type Issuer } from './oidc-issuer.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-wif-'))
let g: InProcess
let issuer: Issuer
let tenant: TenantRecord
let host = ''
const doc = (Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement })

before(async () => {
  issuer = await startIssuer()
  g = await startInProcess(dir)
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  host = issuer.url.replace(/^https:\/\//, '')
  await g.app.identity.oidc.create(tenant, {
    url: issuer.url,
    clientIds: ['sts.amazonaws.com'],
    thumbprints: [],
    jwks: issuer.jwks,
  })
  const provider = `arn:aws:iam::${tenant.id}:oidc-provider/${host}`
  const trainer = await g.app.identity.createRole(tenant, {
    name: 'trainer',
    trustPolicy: doc([
      {
        Effect: 'Allow',
        Principal: { Federated: provider },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: 'system:serviceaccount:ml:trainer',
            [`${host}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ]),
    maxSessionSeconds: 7200,
  })
  await g.app.identity.putRolePolicy(
    trainer.role,
    'read',
    doc([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
    ]),
  )
  await g.app.identity.createRole(tenant, {
    name: 'deployer',
    trustPolicy: doc([
      {
        Effect: 'Allow',
        Principal: { Federated: provider },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { [`${host}:aud`]: 'sts.amazonaws.com' },
          StringLike: { [`${host}:sub`]: 'repo:acme/models:ref:refs/heads/main' },
        },
      },
    ]),
  })
  const s3 = new S3Client({
    endpoint: g.running.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: g.admin.id, secretAccessKey: g.admin.secret },
  })
  await s3.send(new CreateBucketCommand({ Bucket: 'datasets' }))
  await s3.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'x', Body: 'rows' }))
})
after(async () => {
  await g.close()
  await issuer.close()
  rmSync(dir, { recursive: true, force: true })
})

/** STS without credentials: AssumeRoleWithWebIdentity is unsigned. */
function sts(): STSClient {
  return new STSClient({
    endpoint: g.running.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  })
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (e instanceof STSServiceException)
      return `${String(e.$metadata.httpStatusCode)} ${e.name}: ${e.message}`
    throw e
  }
}

const arn = (name: string) => `arn:aws:iam::${tenant.id}:role/${name}`

describe('AssumeRoleWithWebIdentity', () => {
  it('a Kubernetes service-account token assumes the role its trust policy names, and reads with it', async () => {
    const token = await issuer.sign(serviceAccountClaims(issuer.url))
    const r = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: arn('trainer'),
        RoleSessionName: 'pod-1',
        WebIdentityToken: token,
      }),
    )
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${tenant.id}:assumed-role/trainer/pod-1`)
    assert.equal(r.SubjectFromWebIdentityToken, 'system:serviceaccount:ml:trainer')
    assert.equal(r.Audience, 'sts.amazonaws.com')
    assert.equal(r.Provider, host)
    const left = (r.Credentials?.Expiration?.getTime() ?? 0) - Date.now()
    assert.ok(left > 3_590_000 && left <= 3_600_000, String(left))
    const s3 = new S3Client({
      endpoint: g.running.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: r.Credentials?.AccessKeyId ?? '',
        secretAccessKey: r.Credentials?.SecretAccessKey ?? '',
        sessionToken: r.Credentials?.SessionToken ?? '',
      },
    })
    const body = await s3.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'x' }))
    assert.equal(await body.Body?.transformToString(), 'rows')
  })

  it('PolicyArns narrows the pod’s session to what the role and the managed policy allow', async () => {
    await g.app.identity.createPolicy(tenant, {
      name: 'nothing-readable',
      path: '/',
      description: '',
      document: doc([{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }]),
    })
    const token = await issuer.sign(serviceAccountClaims(issuer.url))
    const r = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: arn('trainer'),
        RoleSessionName: 'pod-narrow',
        WebIdentityToken: token,
        PolicyArns: [{ arn: `arn:aws:iam::${tenant.id}:policy/nothing-readable` }],
      }),
    )
    const s3 = new S3Client({
      endpoint: g.running.url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: {
        accessKeyId: r.Credentials?.AccessKeyId ?? '',
        secretAccessKey: r.Credentials?.SecretAccessKey ?? '',
        sessionToken: r.Credentials?.SessionToken ?? '',
      },
    })
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'datasets', Key: 'x' })), {
      name: 'AccessDenied',
    })
  })

  it('another service account is refused as AWS refuses it', async () => {
    const token = await issuer.sign(serviceAccountClaims(issuer.url, { account: 'intruder' }))
    assert.equal(
      await outcome(
        sts().send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: arn('trainer'),
            RoleSessionName: 'pod-2',
            WebIdentityToken: token,
          }),
        ),
      ),
      '403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity',
    )
  })

  it('a GitHub Actions token of the main branch assumes the deployer; another branch does not', async () => {
    const gh = (ref: string) => {
      const c = serviceAccountClaims(issuer.url)
      return issuer.sign({ ...c, sub: `repo:acme/models:ref:${ref}` })
    }
    const assume = async (ref: string) =>
      outcome(
        sts().send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: arn('deployer'),
            RoleSessionName: 'gha',
            WebIdentityToken: await gh(ref),
          }),
        ),
      )
    assert.equal(await assume('refs/heads/main'), 'ok')
    assert.equal(
      await assume('refs/heads/feature'),
      '403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity',
    )
  })

  it('DurationSeconds up to the role’s maximum; beyond is ValidationError', async () => {
    const token = await issuer.sign(serviceAccountClaims(issuer.url))
    const assume = (DurationSeconds: number) =>
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: arn('trainer'),
          RoleSessionName: 'pod-3',
          WebIdentityToken: token,
          DurationSeconds,
        }),
      )
    assert.equal(await outcome(assume(7200)), 'ok')
    assert.equal(
      await outcome(assume(7201)),
      '400 ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    )
  })
})
