/**
 * Default bucket encryption with per-request key choice, and the public access block, end to
 * end with nothing but Node and npm: the AWS SDK for JavaScript and unsigned HTTPS requests
 * (`fetchTls`, where bucket-features.test.ts uses curl) against a real `strongroom serve`.
 * Covers what bucket-features.test.ts proves with boto3 and Debian's aws CLI v2.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  UploadPartCommand,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3'
import { alice, bob, fetchTls, sdk, start, stop, strongroom } from './harness.ts'
import { failure, refused, text } from './sdk-util.ts'

let a: S3Client
let b: S3Client
before(async () => {
  await start()
  a = sdk(alice)
  b = sdk(bob)
})
after(async () => {
  a.destroy()
  b.destroy()
  await stop()
})

interface Key {
  KeyId: string
  Arn: string
}

/** A refusal to seal with a key the caller's tenant does not own: any 4xx will do (AccessDenied today, NotFound-shaped once keys of other tenants are hidden). */
async function refusedKey(call: Promise<unknown>) {
  const f = await failure(call)
  assert.ok(f.status !== undefined && f.status >= 400 && f.status < 500, `${f.code} ${f.message}`)
}

describe('bucket encryption and the public access block with the AWS SDK for JavaScript', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (x-amz-server-side-encryption-aws-kms-key-id)
  it("bucket encryption and x-amz-server-side-encryption-aws-kms-key-id choose the tenant's key; another tenant's key is refused", async () => {
    const models = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'vision', '--alias', 'models', '--json']),
    ) as Key
    const speech = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'audio', '--alias', 'speech', '--json']),
    ) as Key
    const Bucket = 'vision-enc'
    const rule = async () =>
      (await a.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration
        ?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
    const setDefault = (KMSMasterKeyID: string) =>
      a.send(
        new PutBucketEncryptionCommand({
          Bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [
              { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID } },
            ],
          },
        }),
      )
    const put = (Key: string, Body: string, SSEKMSKeyId?: string, alg = 'aws:kms') =>
      a.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body,
          ...(SSEKMSKeyId === undefined
            ? {}
            : { ServerSideEncryption: alg as ServerSideEncryption, SSEKMSKeyId }),
        }),
      )
    const keyOf = async (Key: string) =>
      (await a.send(new HeadObjectCommand({ Bucket, Key }))).SSEKMSKeyId

    await a.send(new CreateBucketCommand({ Bucket }))
    const byDefault = await rule()
    const defaultArn = byDefault?.KMSMasterKeyID ?? ''
    assert.equal(byDefault?.SSEAlgorithm, 'aws:kms')
    assert.match(defaultArn, /^arn:aws:kms:/)
    assert.notEqual(defaultArn, models.Arn)
    await setDefault('alias/models')
    assert.equal((await rule())?.KMSMasterKeyID, models.Arn, 'the alias is stored as the key ARN')
    const p = await put('a', 'sealed under models')
    assert.deepEqual([p.ServerSideEncryption, p.SSEKMSKeyId], ['aws:kms', models.Arn])
    const q = await put('b', 'sealed under default', 'alias/s3-default')
    assert.equal(q.SSEKMSKeyId, defaultArn)
    assert.equal(await keyOf('b'), defaultArn)
    assert.equal(
      await text(await a.send(new GetObjectCommand({ Bucket, Key: 'a' }))),
      'sealed under models',
    )
    assert.equal(
      await text(await a.send(new GetObjectCommand({ Bucket, Key: 'b' }))),
      'sealed under default',
    )

    // Multipart uploads and copies take the key they are given.
    const u = await a.send(
      new CreateMultipartUploadCommand({
        Bucket,
        Key: 'mp',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: models.KeyId,
      }),
    )
    assert.equal(u.SSEKMSKeyId, models.Arn)
    const e = await a.send(
      new UploadPartCommand({
        Bucket,
        Key: 'mp',
        UploadId: u.UploadId,
        PartNumber: 1,
        Body: 'part',
      }),
    )
    await a.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'mp',
        UploadId: u.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e.ETag }] },
      }),
    )
    assert.equal(await keyOf('mp'), models.Arn)
    await a.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'b',
        CopySource: `${Bucket}/b`,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: models.Arn,
      }),
    )
    assert.equal(await keyOf('b'), models.Arn)
    assert.equal(
      await text(await a.send(new GetObjectCommand({ Bucket, Key: 'b' }))),
      'sealed under default',
    )

    // Someone else's key, by ARN or by id, never seals this tenant's objects.
    await refusedKey(put('x', 'x', speech.Arn))
    await refusedKey(put('x', 'x', speech.KeyId))
    await refusedKey(setDefault(speech.Arn))
    await refused(a.send(new HeadObjectCommand({ Bucket, Key: 'x' })), 404, 'NotFound')
    assert.equal((await rule())?.KMSMasterKeyID, models.Arn, 'the bucket default is unchanged')
    await refused(put('x', 'x', 'alias/nope'), 400, 'KMS.NotFoundException')
    await refused(put('x', 'x', 'alias/models', 'aws:fsx'), 400, 'InvalidArgument')
    await refused(a.send(new HeadObjectCommand({ Bucket, Key: 'x' })), 404, 'NotFound')
    await a.send(new DeleteBucketEncryptionCommand({ Bucket }))
    assert.equal((await rule())?.KMSMasterKeyID, defaultArn)

    // And the other tenant cannot point its own bucket at vision's key either.
    await b.send(new CreateBucketCommand({ Bucket: 'audio-enc' }))
    await refusedKey(
      b.send(
        new PutObjectCommand({
          Bucket: 'audio-enc',
          Key: 'x',
          Body: 'x',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: models.Arn,
        }),
      ),
    )
    await refused(b.send(new HeadObjectCommand({ Bucket: 'audio-enc', Key: 'x' })), 404, 'NotFound')
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
  it('public access block: on by default, blocks public policies, and anonymous access needs it off', async () => {
    const Bucket = 'vision-public'
    const anonymous = async (path: string) => (await fetchTls(path)).status
    await a.send(new CreateBucketCommand({ Bucket }))
    await a.send(new CreateBucketCommand({ Bucket: 'vision-closed' }))
    await a.send(new PutObjectCommand({ Bucket, Key: 'readme', Body: 'hi' }))
    const pab = await a.send(new GetPublicAccessBlockCommand({ Bucket }))
    assert.deepEqual(pab.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    })
    const grant = {
      Effect: 'Allow',
      Principal: '*',
      Action: ['s3:ListBucket', 's3:GetObject'],
      Resource: [`arn:aws:s3:::${Bucket}`, `arn:aws:s3:::${Bucket}/*`],
    }
    const policy = (statement: object) =>
      a.send(
        new PutBucketPolicyCommand({
          Bucket,
          Policy: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }),
        }),
      )
    const blocked = await refused(policy(grant), 403, 'AccessDenied')
    assert.match(blocked.message, /BlockPublicPolicy/)
    // Narrowed to fixed source addresses, the same grant is not public.
    await policy({ ...grant, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })
    await a.send(
      new PutPublicAccessBlockCommand({
        Bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: false,
          RestrictPublicBuckets: true,
        },
      }),
    )
    await policy(grant)
    assert.equal(
      await anonymous(`/${Bucket}`),
      403,
      'RestrictPublicBuckets still refuses anonymous callers',
    )
    // After DeletePublicAccessBlock there is no configuration to get, as in S3
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetPublicAccessBlock.html).
    await a.send(new DeletePublicAccessBlockCommand({ Bucket }))
    await assert.rejects(a.send(new GetPublicAccessBlockCommand({ Bucket })), (e: Error) => {
      assert.equal(e.name, 'NoSuchPublicAccessBlockConfiguration')
      return true
    })
    assert.equal(await anonymous(`/${Bucket}`), 200, 'the public policy now lets anyone list')
    assert.equal(
      await anonymous(`/${Bucket}/readme`),
      403,
      'but an object sealed under a KMS key is never readable anonymously',
    )
    assert.equal(await anonymous('/vision-closed'), 403, 'other buckets stay closed')
  })
})
