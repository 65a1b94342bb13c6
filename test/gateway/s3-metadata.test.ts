/**
 * What an object carries besides its body, as S3 defines it: user metadata exactly as written,
 * system-defined metadata (Cache-Control, Content-Disposition, Content-Encoding,
 * Content-Language, Expires) stored by PutObject, CreateMultipartUpload and CopyObject and
 * returned by GET and HEAD, and the SSE label the writer asked for.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html (system-defined and
 * user-defined metadata), https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html (x-amz-metadata-directive),
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html (aws-chunked is not
 * stored), https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-metadata'
const SYSTEM = {
  CacheControl: 'max-age=3600, immutable',
  ContentDisposition: 'attachment; filename="model.safetensors"',
  ContentEncoding: 'gzip',
  ContentLanguage: 'en-GB',
  Expires: new Date('2031-01-02T03:04:05Z'),
}
/** As HEAD answers it: Expires is the HTTP date the SDK sent. */
const SYSTEM_OUT = { ...SYSTEM, Expires: 'Thu, 02 Jan 2031 03:04:05 GMT' }

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
})
after(() => gw.stop())

const head = (Key: string, Bucket = B) => a.send(new HeadObjectCommand({ Bucket, Key }))
const systemOf = (h: Awaited<ReturnType<typeof head>>) => ({
  CacheControl: h.CacheControl,
  ContentDisposition: h.ContentDisposition,
  ContentEncoding: h.ContentEncoding,
  ContentLanguage: h.ContentLanguage,
  Expires: h.ExpiresString,
})
const NONE = {
  CacheControl: undefined,
  ContentDisposition: undefined,
  ContentEncoding: undefined,
  ContentLanguage: undefined,
  Expires: undefined,
}

describe('object metadata as S3 keeps it', () => {
  it('system metadata set by PutObject comes back from HEAD and GET', async () => {
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'sys', Body: 'x', ...SYSTEM }))
    assert.deepEqual(systemOf(await head('sys')), SYSTEM_OUT)
    const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'sys' }))
    assert.deepEqual(systemOf(g), SYSTEM_OUT)
    await g.Body?.transformToByteArray()
  })

  it('response-* overrides win over stored system metadata', async () => {
    const g = await a.send(
      new GetObjectCommand({
        Bucket: B,
        Key: 'sys',
        ResponseCacheControl: 'no-store',
        ResponseContentLanguage: 'fr',
      }),
    )
    await g.Body?.transformToByteArray()
    assert.equal(g.CacheControl, 'no-store')
    assert.equal(g.ContentLanguage, 'fr')
    assert.equal(g.ContentDisposition, SYSTEM.ContentDisposition)
  })

  it('aws-chunked is the transfer, not the object: it is stripped from Content-Encoding', async () => {
    const chunked = (key: string, encoding: string) =>
      gw.call(gw.alice, {
        method: 'PUT',
        path: `/${B}/${key}`,
        headers: {
          'content-encoding': encoding,
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-decoded-content-length': '5',
        },
        body: '5\r\nhello\r\n0\r\n\r\n',
      })
    assert.equal((await chunked('gz', 'aws-chunked,gzip')).status, 200)
    assert.equal((await chunked('plain', 'aws-chunked')).status, 200)
    assert.equal((await head('gz')).ContentEncoding, 'gzip')
    assert.equal((await head('plain')).ContentEncoding, undefined)
    const g = await gw.call(gw.alice, { method: 'GET', path: `/${B}/gz` })
    assert.equal(g.text, 'hello')
  })

  it('user metadata round-trips exactly: no key the client never wrote', async () => {
    const Metadata = { owner: 'alice', 'strongroom-model': 'resnet' }
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'meta', Body: 'x', Metadata }))
    assert.deepEqual((await head('meta')).Metadata, Metadata)
    // The three names that carried verdicts before x-strongroom-* are reserved: never stored,
    // so a reader of the old headers is never handed a verdict the uploader wrote.
    await a.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'forged',
        Body: 'x',
        Metadata: { 'strongroom-scan': 'clean', 'strongroom-quarantined': 'false', a: '1' },
      }),
    )
    assert.deepEqual((await head('forged')).Metadata, { a: '1' })
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'bare', Body: 'x' }))
    assert.deepEqual((await head('bare')).Metadata, {})
    assert.deepEqual(systemOf(await head('bare')), NONE)
  })

  it('CopyObject keeps system metadata under COPY and takes the request under REPLACE', async () => {
    await a.send(new CopyObjectCommand({ Bucket: B, Key: 'copied', CopySource: `${B}/sys` }))
    assert.deepEqual(systemOf(await head('copied')), SYSTEM_OUT)
    await a.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'replaced',
        CopySource: `${B}/sys`,
        MetadataDirective: 'REPLACE',
        CacheControl: 'no-cache',
        Metadata: { b: '2' },
      }),
    )
    const r = await head('replaced')
    assert.deepEqual(systemOf(r), { ...NONE, CacheControl: 'no-cache' })
    assert.deepEqual(r.Metadata, { b: '2' })
  })

  it('CreateMultipartUpload system metadata is the completed object’s', async () => {
    const up = await a.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp', ...SYSTEM, Metadata: { m: '1' } }),
    )
    const part = await a.send(
      new UploadPartCommand({
        Bucket: B,
        Key: 'mp',
        UploadId: up.UploadId,
        PartNumber: 1,
        Body: 'part',
      }),
    )
    const complete = () =>
      a.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'mp',
          UploadId: up.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      )
    const first = await complete()
    const h = await head('mp')
    assert.deepEqual(systemOf(h), SYSTEM_OUT)
    assert.deepEqual(h.Metadata, { m: '1' })
    // A repeated Complete of an upload that completed answers 200 with the same result
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
    const again = await complete()
    assert.equal(again.ETag, first.ETag)
    assert.equal(again.Key, 'mp')
  })
})

describe('SSE labels follow what the client asked', () => {
  it('AES256 asked: AES256 answered, and no KMS key named', async () => {
    const put = await a.send(
      new PutObjectCommand({ Bucket: B, Key: 'sse-s3', Body: 'x', ServerSideEncryption: 'AES256' }),
    )
    assert.equal(put.ServerSideEncryption, 'AES256')
    assert.equal(put.SSEKMSKeyId, undefined)
    const h = await head('sse-s3')
    assert.equal(h.ServerSideEncryption, 'AES256')
    assert.equal(h.SSEKMSKeyId, undefined)
    // Still sealed under a tenant key: the body reads back and the blob is ciphertext.
    const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'sse-s3' }))
    assert.equal(g.ServerSideEncryption, 'AES256')
    assert.equal(await g.Body?.transformToString(), 'x')
  })

  it('aws:kms asked (or nothing, on a bucket defaulting to aws:kms): aws:kms and the key ARN', async () => {
    for (const ServerSideEncryption of ['aws:kms', undefined] as const) {
      const put = await a.send(
        new PutObjectCommand({ Bucket: B, Key: 'sse-kms', Body: 'x', ServerSideEncryption }),
      )
      assert.equal(put.ServerSideEncryption, 'aws:kms')
      assert.match(put.SSEKMSKeyId ?? '', /^arn:aws:kms:[^:]+:\d{12}:key\//)
      assert.equal((await head('sse-kms')).ServerSideEncryption, 'aws:kms')
    }
  })

  it('a bucket default of AES256 labels the objects written without a header, and reads back', async () => {
    const bucket = 'gw-metadata-sse-s3'
    await a.send(new CreateBucketCommand({ Bucket: bucket }))
    await a.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      }),
    )
    const enc = await a.send(new GetBucketEncryptionCommand({ Bucket: bucket }))
    assert.deepEqual(
      enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault,
      { SSEAlgorithm: 'AES256' },
    )
    const put = await a.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))
    assert.equal(put.ServerSideEncryption, 'AES256')
    assert.equal((await head('k', bucket)).ServerSideEncryption, 'AES256')
    const kms = await a.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'k2',
        Body: 'x',
        ServerSideEncryption: 'aws:kms',
      }),
    )
    assert.equal(kms.ServerSideEncryption, 'aws:kms', 'the request wins over the default')
  })

  it('an SSE algorithm S3 does not have is refused with InvalidArgument', async () => {
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/bad-sse`,
      headers: { 'x-amz-server-side-encryption': 'DES' },
      body: 'x',
    })
    assert.equal(r.status, 400)
    assert.match(r.text, /<Code>InvalidArgument<\/Code>/)
  })
})

describe('what Strongroom does not offer is refused, not ignored', () => {
  it('SSE-C headers are NotImplemented: a client must not believe it holds the key', async () => {
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/ssec`,
      headers: {
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': Buffer.alloc(32, 7).toString('base64'),
      },
      body: 'x',
    })
    assert.equal(r.status, 501)
    assert.match(r.text, /<Code>NotImplemented<\/Code>.*SSE-C/s)
    assert.equal((await gw.call(gw.alice, { method: 'GET', path: `/${B}/ssec` })).status, 404)
  })

  it('a storage class other than STANDARD is InvalidStorageClass; STANDARD is accepted', async () => {
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/cold`,
      headers: { 'x-amz-storage-class': 'GLACIER' },
      body: 'x',
    })
    assert.equal(r.status, 400)
    assert.match(r.text, /<Code>InvalidStorageClass<\/Code>/)
    const ok = await a.send(
      new PutObjectCommand({ Bucket: B, Key: 'standard', Body: 'x', StorageClass: 'STANDARD' }),
    )
    assert.equal(ok.$metadata.httpStatusCode, 200)
  })
})
