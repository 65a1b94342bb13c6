/**
 * Two gateways of one installation on one PostgreSQL database: nothing a request is decided by
 * is cached in a gateway (policies are compiled by the digest of their text, tenants never
 * change; users, keys, policies, boundaries, tags and key states are read for each request), so
 * a change made through one gateway binds the other's very next request: the bound on
 * staleness is zero requests, measured here for the changes that take access away.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteUserPolicyCommand,
  IAMClient,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam'
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { NEEDS_POSTGRES, startPostgres } from './server.ts'

const server = await startPostgres()

describe(
  'two gateways on one PostgreSQL',
  { skip: server === undefined ? NEEDS_POSTGRES : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-pg-two-'))
    let a: InProcess
    let b: InProcess
    const config = { region: 'us-east-1', maxAttempts: 1 }
    type Keys = { accessKeyId: string; secretAccessKey: string }
    let alice: Keys

    before(async () => {
      assert.ok(server)
      const meta = await server.createDatabase('shared')
      a = await startInProcess(dir, { meta })
      b = await startInProcess(dir, { meta, joins: a })
      const iam = new IAMClient({
        ...config,
        endpoint: a.running.url,
        credentials: { accessKeyId: a.admin.id, secretAccessKey: a.admin.secret },
      })
      const { User } = await iam.send(new CreateUserCommand({ UserName: 'alice' }))
      assert.equal(User?.UserName, 'alice')
      const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'alice' }))
      alice = {
        accessKeyId: k.AccessKey?.AccessKeyId ?? '',
        secretAccessKey: k.AccessKey?.SecretAccessKey ?? '',
      }
    })
    after(async () => {
      await b.close()
      await a.close()
      await server?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    const adminOf = (g: InProcess) =>
      new IAMClient({
        ...config,
        endpoint: g.running.url,
        credentials: { accessKeyId: g.admin.id, secretAccessKey: g.admin.secret },
      })
    const list = (g: InProcess, credentials: Keys) =>
      new S3Client({ ...config, endpoint: g.running.url, forcePathStyle: true, credentials })
        .send(new ListBucketsCommand({}))
        .then(
          () => 'ok',
          (e: unknown) => (e as { name?: string }).name ?? 'error',
        )

    it('a policy put through one gateway allows, and deleted through it denies, the next request on the other', async () => {
      assert.equal(await list(b, alice), 'AccessDenied')
      await adminOf(a).send(
        new PutUserPolicyCommand({
          UserName: 'alice',
          PolicyName: 'list',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
          }),
        }),
      )
      assert.equal(await list(b, alice), 'ok')
      await adminOf(a).send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'list' }))
      assert.equal(await list(b, alice), 'AccessDenied')
    })

    it('an access key made Inactive through one gateway is refused by the other at once', async () => {
      await adminOf(b).send(
        new PutUserPolicyCommand({
          UserName: 'alice',
          PolicyName: 'list',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
          }),
        }),
      )
      assert.equal(await list(a, alice), 'ok')
      await adminOf(b).send(
        new UpdateAccessKeyCommand({
          UserName: 'alice',
          AccessKeyId: alice.accessKeyId,
          Status: 'Inactive',
        }),
      )
      assert.equal(await list(a, alice), 'InvalidAccessKeyId')
    })

    it('a key disabled through one gateway seals and opens nothing on the other, though it read the key before', async () => {
      const admin = { accessKeyId: a.admin.id, secretAccessKey: a.admin.secret }
      const s3 = (g: InProcess) =>
        new S3Client({
          ...config,
          endpoint: g.running.url,
          forcePathStyle: true,
          credentials: admin,
        })
      await s3(a).send(new CreateBucketCommand({ Bucket: 'models' }))
      await s3(b).send(new PutObjectCommand({ Bucket: 'models', Key: 'm', Body: 'weights' }))
      const read = () =>
        s3(b)
          .send(new GetObjectCommand({ Bucket: 'models', Key: 'm' }))
          .then(
            async (r) => (await r.Body?.transformToString()) ?? '',
            (e: unknown) => (e as { name?: string }).name ?? 'error',
          )
      assert.equal(await read(), 'weights')
      const tenant = await a.app.identity.tenant('acme')
      const bucket = await a.app.buckets.get('models')
      assert.ok(bucket)
      await a.app.keys.disable(tenant, bucket.keyId)
      assert.equal(await read(), 'KMS.DisabledException')
      await a.app.keys.enable(tenant, bucket.keyId)
      assert.equal(await read(), 'weights')
    })
  },
)
