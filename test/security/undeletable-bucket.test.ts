/**
 * A bucket that can never be deleted (issue 9, item 13). After a
 * CompleteMultipartUpload refused for a part too small, DeleteBucket answered
 * 500 InternalError ("FOREIGN KEY constraint failed") forever: the upload's
 * parts still named the bucket. As in S3, an unfinished multipart upload is
 * content: DeleteBucket answers 409 BucketNotEmpty until it is aborted
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/directory-bucket-empty.html:
 * "In-progress multipart uploads ... must be aborted before the bucket itself
 * can be deleted"; BucketNotEmpty is 409,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
 * Every other delete path of the store is checked in
 * src/meta/sqlite/delete-paths.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'

before(() => start())
after(stop)

/** `status Code: message`, or `ok status`. */
async function outcome(p: Promise<{ $metadata: { httpStatusCode?: number } }>): Promise<string> {
  try {
    const r = await p
    return `ok ${String(r.$metadata.httpStatusCode)}`
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${String(e.$metadata.httpStatusCode)} ${e.name}: ${e.message}`
  }
}

describe('a bucket can always be deleted once emptied', () => {
  it('after a CompleteMultipartUpload refused with EntityTooSmall, DeleteBucket answers 409 BucketNotEmpty (not 500) until the upload is aborted, then 204', async () => {
    const s3 = sdk(alice)
    const Bucket = 'small-parts'
    await s3.send(new CreateBucketCommand({ Bucket }))
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'm.bin' }))
    const parts = []
    for (const PartNumber of [1, 2]) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key: 'm.bin', UploadId, PartNumber, Body: 'tiny part' }),
      )
      parts.push({ PartNumber, ETag: r.ETag })
    }
    assert.match(
      await outcome(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: 'm.bin',
            UploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      ),
      /^400 EntityTooSmall/,
    )
    const refused = await outcome(s3.send(new DeleteBucketCommand({ Bucket })))
    assert.match(refused, /^409 BucketNotEmpty: .*unfinished multipart uploads/)
    assert.doesNotMatch(refused, /FOREIGN KEY|constraint/i)
    assert.match(
      await outcome(s3.send(new DeleteBucketCommand({ Bucket }))),
      /^409 BucketNotEmpty/,
      'and again: nothing was half deleted',
    )
    assert.equal(
      await outcome(s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'm.bin', UploadId }))),
      'ok 204',
    )
    assert.equal(await outcome(s3.send(new DeleteBucketCommand({ Bucket }))), 'ok 204')
    s3.destroy()
  })

  it('an unfinished upload without parts also keeps the bucket until it is aborted', async () => {
    const s3 = sdk(alice)
    const Bucket = 'no-parts'
    await s3.send(new CreateBucketCommand({ Bucket }))
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'k' }))
    assert.match(await outcome(s3.send(new DeleteBucketCommand({ Bucket }))), /^409 BucketNotEmpty/)
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'k', UploadId }))
    assert.equal(await outcome(s3.send(new DeleteBucketCommand({ Bucket }))), 'ok 204')
    s3.destroy()
  })

  it('a versioned bucket with tagged versions and delete markers answers 409 until every version is gone, then 204', async () => {
    const s3 = sdk(alice)
    const Bucket = 'many-versions'
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'unversioned' }))
    await s3.send(
      new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'v1', Tagging: 'team=vision' }))
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket,
        Key: 'a',
        Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] },
      }),
    )
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a' }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: Buffer.alloc(200 * 1024, 7) }))
    assert.match(await outcome(s3.send(new DeleteBucketCommand({ Bucket }))), /^409 BucketNotEmpty/)
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }))
    const all = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]
    assert.equal(all.length, 4)
    for (const v of all)
      await s3.send(new DeleteObjectCommand({ Bucket, Key: v.Key, VersionId: v.VersionId }))
    assert.equal(await outcome(s3.send(new DeleteBucketCommand({ Bucket }))), 'ok 204')
    s3.destroy()
  })
})
