/**
 * The throwaway Ceph RGW of test/ceph/server.ts: S3 through the AWS SDK (ranges, Content-MD5,
 * multipart), the data outliving a gateway killed as a crash would, and nothing left running
 * after `stop`.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { NEEDS_CEPH, startRgw, type Rgw } from './server.ts'

const started = Date.now()
const rgw: Rgw | undefined = await startRgw()
const startMs = Date.now() - started

const md5 = (body: Uint8Array | string) => createHash('md5').update(body).digest('base64')

describe('a throwaway Ceph RGW', { skip: rgw === undefined ? NEEDS_CEPH : false }, () => {
  let s3: S3Client
  const Bucket = 'models'
  const body = '0123456789abcdef'

  before(() => {
    assert.ok(rgw)
    s3 = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
  })
  after(async () => {
    s3.destroy()
    await rgw?.stop()
  })

  it('starts within a minute', () => {
    assert.ok(startMs < 60_000, `startRgw took ${startMs} ms`)
  })

  it('serves a PUT with Content-MD5 and a byte range', async () => {
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'm.bin', Body: body, ContentMD5: md5(body) }))
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'm.bin', Range: 'bytes=3-9' }))
    assert.equal(got.ContentRange, `bytes 3-9/${body.length}`)
    assert.equal(await got.Body?.transformToString(), '3456789')
  })

  it('refuses a wrong Content-MD5 with BadDigest', async () => {
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: body, ContentMD5: md5('other') })),
      { name: 'BadDigest' },
    )
  })

  it('completes a two-part multipart upload', async () => {
    const Key = 'big.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const parts = [Buffer.alloc(5 * 1024 * 1024, 7), Buffer.from('x')]
    const etags = []
    for (const [i, part] of parts.entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: part }),
      )
      etags.push({ PartNumber: i + 1, ETag: r.ETag })
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags },
      }),
    )
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
    assert.equal(head.ContentLength, 5 * 1024 * 1024 + 1)
  })

  it('keeps the data across a gateway killed and started again', async () => {
    assert.ok(rgw)
    await rgw.restartGateway()
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'm.bin' }))
    assert.equal(await got.Body?.transformToString(), body)
    // Writes too: the dead gateway's watches on the control objects do not hold them up.
    const t = Date.now()
    await s3.send(new CreateBucketCommand({ Bucket: 'after-restart' }))
    await s3.send(new PutObjectCommand({ Bucket: 'after-restart', Key: 'k', Body: 'v' }))
    assert.ok(Date.now() - t < 10_000, `writes after restart took ${Date.now() - t} ms`)
  })

  it('leaves no daemon and no directory after stop', async () => {
    assert.ok(rgw)
    await rgw.stop()
    const left = spawnSync('pgrep', ['-af', rgw.dir], { encoding: 'utf8' })
    assert.equal(left.stdout, '', 'daemons left running')
    assert.equal(existsSync(rgw.dir), false)
  })
})
