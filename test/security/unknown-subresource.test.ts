/**
 * An outside review of the hardening found that a bucket sub-resource Strongroom does not
 * implement fell through to the plain operation: `DELETE /b?metadataConfiguration` (the aws
 * CLI's delete-bucket-metadata-configuration) deleted the bucket, `GET /b?policyStatus`
 * answered with a listing, `PUT /b?foo` created a bucket. S3 has dozens of sub-resources
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html);
 * one that is not implemented answers 501 NotImplemented and changes nothing. The same review
 * found two smaller gaps, kept here: a bodiless request whose signed payload hash is not the
 * empty payload's, and part numbers written as `0x1` or `1.0`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'
import { call, errorOf } from './http.ts'

const BUCKET = 'vision-subresources'

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'model.bin', Body: 'weights' }))
  s3.destroy()
})
after(stop)

async function exists(bucket: string, key?: string): Promise<boolean> {
  const s3 = sdk(alice)
  try {
    if (key === undefined) await s3.send(new HeadBucketCommand({ Bucket: bucket }))
    else await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    return true
  } catch {
    return false
  } finally {
    s3.destroy()
  }
}

describe('operations Strongroom does not implement answer NotImplemented and change nothing', () => {
  for (const [method, path] of [
    ['DELETE', `/${BUCKET}?metadataConfiguration`],
    ['DELETE', `/${BUCKET}?metadataTable`],
    ['DELETE', `/${BUCKET}?foo`],
    ['GET', `/${BUCKET}?analytics`],
    ['GET', `/${BUCKET}?metadataConfiguration`],
    ['PUT', `/${BUCKET}?abac`],
    ['DELETE', `/${BUCKET}/model.bin?renameObject`],
    ['PUT', `/${BUCKET}/model.bin?foo`],
  ] as const) {
    it(`${method} ${path.replace(BUCKET, 'BUCKET')} by the owner is 501 NotImplemented, not the plain operation`, async () => {
      const r = await call(alice, { method, path })
      assert.equal(r.status, 501, r.body)
      assert.equal(errorOf(r.body).code, 'NotImplemented')
      assert.equal(await exists(BUCKET), true, 'the bucket is still there')
      assert.equal(await exists(BUCKET, 'model.bin'), true, 'the object is still there')
    })
  }

  it('PUT /NEW?foo does not create a bucket', async () => {
    const r = await call(alice, { method: 'PUT', path: '/vision-not-created?foo' })
    assert.equal(r.status, 501, r.body)
    assert.equal(await exists('vision-not-created'), false)
  })

  it('the plain operations still take their own parameters', async () => {
    const listed = await call(alice, {
      method: 'GET',
      path: `/${BUCKET}?list-type=2&prefix=mod&delimiter=%2F&max-keys=5&encoding-type=url&fetch-owner=true&x-id=ListObjectsV2`,
    })
    assert.equal(listed.status, 200, listed.body)
    assert.match(listed.body, /<Key>model\.bin<\/Key>/)
    const got = await call(alice, {
      method: 'GET',
      path: `/${BUCKET}/model.bin?response-content-type=text%2Fplain&x-id=GetObject`,
    })
    assert.equal(got.status, 200, got.body)
    assert.equal(got.headers['content-type'], 'text/plain')
  })
})

describe('smaller gaps from the same review', () => {
  it("a signed GET whose x-amz-content-sha256 is not the empty payload's hash is refused", async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: the
    // header is the hash of the payload, and a GET's payload is empty.
    const other = 'a'.repeat(64)
    const r = await call(alice, {
      method: 'GET',
      path: `/${BUCKET}/model.bin`,
      headers: { 'x-amz-content-sha256': other },
    })
    assert.equal(r.status, 400, r.body)
    assert.equal(errorOf(r.body).code, 'XAmzContentSHA256Mismatch')
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    const ok = await call(alice, {
      method: 'GET',
      path: `/${BUCKET}/model.bin`,
      headers: { 'x-amz-content-sha256': empty },
    })
    assert.equal(ok.status, 200, ok.body)
  })

  it('a CompleteMultipartUpload part number written as 0x1, 1.0 or +1 is MalformedXML', async () => {
    const s3 = sdk(alice)
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp.bin' }),
    )
    const { ETag } = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'mp.bin',
        UploadId,
        PartNumber: 1,
        Body: 'only part',
      }),
    )
    s3.destroy()
    for (const n of ['0x1', '1.0', '+1', '1e0']) {
      const doc = `<CompleteMultipartUpload><Part><PartNumber>${n}</PartNumber><ETag>${ETag ?? ''}</ETag></Part></CompleteMultipartUpload>`
      const r = await call(alice, {
        method: 'POST',
        path: `/${BUCKET}/mp.bin?uploadId=${encodeURIComponent(UploadId ?? '')}`,
        body: Buffer.from(doc),
      })
      assert.equal(r.status, 400, `${n}: ${r.body}`)
      assert.equal(errorOf(r.body).code, 'MalformedXML', n)
    }
    assert.equal(await exists(BUCKET, 'mp.bin'), false)
  })
})
