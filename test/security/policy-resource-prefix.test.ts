/**
 * Outside review of issue 12 (2026-12-02): PutBucketPolicy checked that every Resource of a
 * bucket policy belongs to the bucket by string prefix, so the policy of bucket `data` could
 * name `arn:aws:s3:::data-other/*` (another tenant's bucket) or `arn:aws:s3:::data*`. S3
 * refuses a bucket policy whose resources are not the bucket or its objects with
 * MalformedPolicy ("Policy has invalid resource";
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html: a bucket
 * policy's resources are the bucket and the objects in it). Only `*`, the bucket's ARN and
 * `arn:aws:s3:::BUCKET/…` are accepted now.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  GetBucketPolicyCommand,
  PutBucketPolicyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { failure } from '../e2e/sdk-util.ts'
import { startGateway, type Gateway } from '../gateway/start.ts'

let gw: Gateway
let a: S3Client

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: 'data' }))
  await gw.sdk(gw.bob).send(new CreateBucketCommand({ Bucket: 'data-other' }))
})
after(() => gw.stop())

const policy = (Resource: string | string[]) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:root' },
        Action: 's3:GetObject',
        Resource,
      },
    ],
  })

describe('a bucket policy names only its own bucket', () => {
  for (const resource of [
    'arn:aws:s3:::data-other/*',
    'arn:aws:s3:::data-other',
    'arn:aws:s3:::data*',
    'arn:aws:s3:::database/x',
  ])
    it(`the policy of bucket data naming ${resource} is MalformedPolicy, and nothing is stored`, async () => {
      const f = await failure(
        a.send(new PutBucketPolicyCommand({ Bucket: 'data', Policy: policy(resource) })),
      )
      assert.deepEqual([f.status, f.code], [400, 'MalformedPolicy'])
      assert.match(f.message, /outside this bucket/)
      const none = await failure(a.send(new GetBucketPolicyCommand({ Bucket: 'data' })))
      assert.equal(none.code, 'NoSuchBucketPolicy')
    })

  it('the bucket, its objects and * are accepted', async () => {
    await a.send(
      new PutBucketPolicyCommand({
        Bucket: 'data',
        Policy: policy(['arn:aws:s3:::data', 'arn:aws:s3:::data/models/*', '*']),
      }),
    )
    const got = await a.send(new GetBucketPolicyCommand({ Bucket: 'data' }))
    assert.match(got.Policy ?? '', /data\/models/)
  })
})
