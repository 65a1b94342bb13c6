/**
 * Buckets through the in-process gateway: create, list, head, delete, and the errors S3 gives
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, API_HeadBucket.html,
 * API_DeleteBucket.html, ErrorResponses.html).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
let b: S3Client
before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  b = gw.sdk(gw.bob)
})
after(() => gw.stop())

/** The S3 error a call fails with: [HTTP status, code]. */
async function refusal(call: Promise<unknown>): Promise<[number | undefined, string]> {
  try {
    await call
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return [e.$metadata.httpStatusCode, e.name]
  }
  assert.fail('the call succeeded')
}

describe('buckets, in process', () => {
  it('create, head, list (own tenant only), delete; then 404 NoSuchBucket', async () => {
    await a.send(new CreateBucketCommand({ Bucket: 'gw-vision-1' }))
    await b.send(new CreateBucketCommand({ Bucket: 'gw-audio-1' }))
    const head = await a.send(new HeadBucketCommand({ Bucket: 'gw-vision-1' }))
    assert.equal(head.$metadata.httpStatusCode, 200)
    const mine = await a.send(new ListBucketsCommand({}))
    assert.deepEqual(
      mine.Buckets?.map((x) => x.Name),
      ['gw-vision-1'],
    )
    const theirs = await b.send(new ListBucketsCommand({}))
    assert.deepEqual(
      theirs.Buckets?.map((x) => x.Name),
      ['gw-audio-1'],
    )
    await a.send(new DeleteBucketCommand({ Bucket: 'gw-vision-1' }))
    assert.deepEqual(await refusal(a.send(new HeadBucketCommand({ Bucket: 'gw-vision-1' }))), [
      404,
      'NotFound',
    ])
    assert.deepEqual(await refusal(a.send(new DeleteBucketCommand({ Bucket: 'gw-vision-1' }))), [
      404,
      'NoSuchBucket',
    ])
  })

  // BucketAlreadyOwnedByYou: "Amazon S3 returns this error in all Amazon Web Services Regions
  // except in the North Virginia Region. For legacy compatibility, if you re-create an existing
  // bucket that you already own in the North Virginia Region, Amazon S3 returns 200 OK"
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
  it('creating a bucket twice in us-east-1: 200 for the owner, nothing changed; BucketAlreadyExists for another tenant', async () => {
    await a.send(new CreateBucketCommand({ Bucket: 'gw-taken' }))
    await a.send(new PutObjectCommand({ Bucket: 'gw-taken', Key: 'kept', Body: 'kept' }))
    const again = await a.send(new CreateBucketCommand({ Bucket: 'gw-taken' }))
    assert.equal(again.$metadata.httpStatusCode, 200)
    assert.equal(again.Location, '/gw-taken')
    const kept = await a.send(new GetObjectCommand({ Bucket: 'gw-taken', Key: 'kept' }))
    assert.equal(await kept.Body?.transformToString(), 'kept')
    await a.send(new DeleteObjectCommand({ Bucket: 'gw-taken', Key: 'kept' }))
    assert.deepEqual(await refusal(b.send(new CreateBucketCommand({ Bucket: 'gw-taken' }))), [
      409,
      'BucketAlreadyExists',
    ])
  })

  it("the bucket service's refusals reach the wire in S3's words, with the BucketName", async () => {
    const create = async (who: typeof gw.alice, name: string) => {
      const r = await gw.call(who, { method: 'PUT', path: `/${name}` })
      const e = errorOf(r.text)
      return [r.status, e.Code, e.Message, e.BucketName]
    }
    assert.deepEqual(await create(gw.alice, 'Bad_Name'), [
      400,
      'InvalidBucketName',
      'The specified bucket is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
      'Bad_Name',
    ])
    assert.deepEqual(await create(gw.bob, 'gw-taken'), [
      409,
      'BucketAlreadyExists',
      'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
      'gw-taken',
    ])
    await a.send(new CreateBucketCommand({ Bucket: 'gw-held' }))
    await a.send(new DeleteBucketCommand({ Bucket: 'gw-held' }))
    assert.deepEqual(await create(gw.bob, 'gw-held'), [
      409,
      'OperationAborted',
      'A conflicting conditional operation is currently in progress against this resource. Please try again.',
      'gw-held',
    ])
  })

  it('another tenant cannot head or delete the bucket: 403', async () => {
    // HEAD has no body: the status alone says it, as S3 does.
    const head = await gw.call(gw.bob, { method: 'HEAD', path: '/gw-taken' })
    assert.deepEqual([head.status, head.text], [403, ''])
    assert.deepEqual(await refusal(b.send(new DeleteBucketCommand({ Bucket: 'gw-taken' }))), [
      403,
      'AccessDenied',
    ])
  })

  it('a bucket with an object is not deleted: BucketNotEmpty; once empty it is', async () => {
    await a.send(new PutObjectCommand({ Bucket: 'gw-taken', Key: 'k', Body: 'x' }))
    assert.deepEqual(await refusal(a.send(new DeleteBucketCommand({ Bucket: 'gw-taken' }))), [
      409,
      'BucketNotEmpty',
    ])
    await a.send(new DeleteObjectCommand({ Bucket: 'gw-taken', Key: 'k' }))
    await a.send(new DeleteBucketCommand({ Bucket: 'gw-taken' }))
  })

  it('names S3 does not allow are InvalidBucketName, in an XML error with the request id', async () => {
    for (const name of ['ab', 'UPPER', 'has_underscore', '-dash', 'a'.repeat(64), '192.168.0.1']) {
      const r = await gw.call(gw.alice, { method: 'PUT', path: `/${name}` })
      assert.equal(r.status, 400, name)
      const e = errorOf(r.text)
      assert.equal(e.Code, 'InvalidBucketName', name)
      assert.equal(e.RequestId, r.headers['x-amz-request-id'])
    }
  })

  it('ListBuckets as XML: the owner is the tenant, each bucket once', async () => {
    await a.send(new CreateBucketCommand({ Bucket: 'gw-xml' }))
    const r = await gw.call(gw.alice, { method: 'GET', path: '/' })
    assert.equal(r.status, 200)
    assert.match(r.headers['content-type'] ?? '', /xml/)
    assert.match(r.text, /^<\?xml version="1.0" encoding="UTF-8"\?>/)
    assert.equal([...r.text.matchAll(/<Name>gw-xml<\/Name>/g)].length, 1)
    assert.doesNotMatch(r.text, /gw-audio-1/)
  })
})

describe('buckets outside us-east-1', () => {
  let eu: Gateway
  before(async () => {
    eu = await startGateway({ STRONGROOM_REGION: 'eu-west-1' })
  })
  after(() => eu.stop())

  it("creating a bucket you own again is 409 BucketAlreadyOwnedByYou, in S3's words", async () => {
    const s3 = new S3Client({
      endpoint: eu.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: eu.alice.id, secretAccessKey: eu.alice.secret },
    })
    try {
      const create = () =>
        s3.send(
          new CreateBucketCommand({
            Bucket: 'gw-eu',
            CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
          }),
        )
      await create()
      const e = await create().then(
        () => assert.fail('created twice'),
        (err: unknown) => err,
      )
      assert.ok(e instanceof S3ServiceException, String(e))
      assert.deepEqual(
        [e.$metadata.httpStatusCode, e.name, e.message],
        [
          409,
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
        ],
      )
    } finally {
      s3.destroy()
    }
  })
})
