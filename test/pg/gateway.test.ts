/**
 * The gateway with its metadata on PostgreSQL (`meta: postgres://…`): S3, IAM and STS through
 * the AWS SDK for JavaScript as on SQLite; PostgreSQL going away is 503 ServiceUnavailable on
 * the wire within the connection timeout, never a hang, and requests succeed again by
 * themselves once it is back.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateUserCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam'
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { NEEDS_POSTGRES, startPostgres, type Postgres } from './server.ts'

const server: Postgres | undefined = await startPostgres()

describe(
  'the gateway on PostgreSQL',
  { skip: server === undefined ? NEEDS_POSTGRES : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-pg-gateway-'))
    let g: InProcess
    let s3: S3Client
    const config = { region: 'us-east-1', maxAttempts: 1 }

    before(async () => {
      assert.ok(server)
      g = await startInProcess(dir, { meta: await server.createDatabase('gateway') })
      const credentials = { accessKeyId: g.admin.id, secretAccessKey: g.admin.secret }
      s3 = new S3Client({ ...config, endpoint: g.running.url, forcePathStyle: true, credentials })
    })
    after(async () => {
      await g.close()
      await server?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('serves S3, IAM and STS with every record in PostgreSQL', async () => {
      const credentials = { accessKeyId: g.admin.id, secretAccessKey: g.admin.secret }
      await s3.send(new CreateBucketCommand({ Bucket: 'models' }))
      await s3.send(new PutObjectCommand({ Bucket: 'models', Key: 'm.bin', Body: 'weights' }))
      const got = await s3.send(new GetObjectCommand({ Bucket: 'models', Key: 'm.bin' }))
      assert.equal(await got.Body?.transformToString(), 'weights')
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'models' }))
      assert.deepEqual(
        listed.Contents?.map((o) => o.Key),
        ['m.bin'],
      )
      const iam = new IAMClient({ ...config, endpoint: g.running.url, credentials })
      await iam.send(new CreateUserCommand({ UserName: 'trainer' }))
      assert.equal(
        (await iam.send(new GetUserCommand({ UserName: 'TRAINER' }))).User?.UserName,
        'trainer',
      )
      const sts = new STSClient({ ...config, endpoint: g.running.url, credentials })
      const me = await sts.send(new GetCallerIdentityCommand({}))
      assert.match(me.Arn ?? '', /^arn:aws:iam::\d{12}:user\/admin$/)
    })

    it('PostgreSQL down: 503 ServiceUnavailable at once; back: requests succeed again', async () => {
      assert.ok(server)
      await server.halt()
      const t0 = Date.now()
      await assert.rejects(
        s3.send(new GetObjectCommand({ Bucket: 'models', Key: 'm.bin' })),
        (e: unknown) => {
          const m = e as { name?: string; $metadata?: { httpStatusCode?: number } }
          return m.name === 'ServiceUnavailable' && m.$metadata?.httpStatusCode === 503
        },
      )
      assert.ok(Date.now() - t0 < 6000, `answered after ${String(Date.now() - t0)} ms`)
      server.restart()
      // Requests resume by themselves once the audit log's retry (every 200 ms) commits again.
      const back = Date.now()
      for (;;) {
        try {
          const got = await s3.send(new GetObjectCommand({ Bucket: 'models', Key: 'm.bin' }))
          assert.equal(await got.Body?.transformToString(), 'weights')
          break
        } catch (e) {
          if ((e as { name?: string }).name !== 'ServiceUnavailable' || Date.now() - back > 3000)
            throw e
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    })
  },
)
