/**
 * The gateway end to end with nothing but Node and npm: a real `strongroom serve` over TLS,
 * driven by the AWS SDK for JavaScript (an npm dependency), its presigner, and unsigned HTTPS
 * requests (`fetchTls`, where gateway.test.ts uses curl). Each test here covers the behaviour
 * of a test in gateway.test.ts that drives an external client (aws CLI, boto3, rclone,
 * s3cmd, curl), so that `npm test` proves it on a machine without them.
 * Multipart uploads are in sdk-multipart.test.ts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  alice,
  bob,
  ca,
  dataDir,
  endpoint,
  fetchTls,
  rawTls,
  sdk,
  start,
  stop,
  strongroom,
  strongroomRun,
} from './harness.ts'
import {
  bytes,
  decisions,
  failure,
  md5,
  recordHeaders,
  refused,
  responseHeaders,
  text,
} from './sdk-util.ts'

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

const put = (Bucket: string, Key: string, Body: Buffer | string | Readable, more: object = {}) =>
  a.send(new PutObjectCommand({ Bucket, Key, Body, ...more }))
const get = (Bucket: string, Key: string, more: object = {}) =>
  a.send(new GetObjectCommand({ Bucket, Key, ...more }))
const mb = (Bucket: string) => a.send(new CreateBucketCommand({ Bucket }))
const bucketPolicy = (Bucket: string, doc: object) =>
  a.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(doc) }))

const NO_DELETES = {
  Sid: 'NoDeletes',
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:DeleteObject',
  Resource: 'arn:aws:s3:::vision-data/*',
}

/** The S3 error code in an XML error body. */
const xmlCode = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1]

describe('S3 gateway with the AWS SDK for JavaScript', () => {
  it('serves HTTPS with the CA it wrote to DATA_DIR/ca.pem, and a health endpoint', async () => {
    assert.match(endpoint, /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(existsSync(ca))
    const r = await fetchTls('/_health')
    assert.deepEqual([r.status, r.text], [200, 'ok\n'])
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html (BucketNotEmpty, 409)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html (404 without a body)
  it('bucket lifecycle: create, put, list, get, BucketNotEmpty, delete, then 404', async () => {
    await mb('vision-models')
    await put('vision-models', 'resnet/a.txt', 'weights v1\n')
    const l = await a.send(new ListObjectsV2Command({ Bucket: 'vision-models', Prefix: 'resnet/' }))
    assert.deepEqual(
      l.Contents?.map((o) => [o.Key, o.Size]),
      [['resnet/a.txt', 11]],
    )
    assert.equal(await text(await get('vision-models', 'resnet/a.txt')), 'weights v1\n')
    const buckets = await a.send(new ListBucketsCommand({}))
    assert.ok(buckets.Buckets?.some((x) => x.Name === 'vision-models'))
    await refused(
      a.send(new DeleteBucketCommand({ Bucket: 'vision-models' })),
      409,
      'BucketNotEmpty',
    )
    await a.send(new DeleteObjectCommand({ Bucket: 'vision-models', Key: 'resnet/a.txt' }))
    await a.send(new DeleteBucketCommand({ Bucket: 'vision-models' }))
    await refused(a.send(new HeadBucketCommand({ Bucket: 'vision-models' })), 404, 'NotFound')
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
  it('put and get with CRC32 checksums, in a header and in an aws-chunked trailer; the ETag is the MD5 of the plaintext', async () => {
    await mb('vision-ckpt')
    const seen = recordHeaders(a)
    const data = randomBytes(2 * 1024 * 1024 + 3)
    // A Buffer body: the SDK sends x-amz-checksum-crc32 as a header.
    await put('vision-ckpt', 'epoch-1.bin', data)
    // A stream of known length: the SDK sends it aws-chunked, with the CRC32 as a trailer.
    await put('vision-ckpt', 'epoch-2.bin', Readable.from([data]), {
      ContentLength: data.length,
    })
    const puts = seen.filter((r) => r.method === 'PUT').map((r) => r.headers)
    assert.equal(puts.length, 2)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(data))
    const [inHeader = {}, chunked = {}] = puts
    assert.equal(inHeader['x-amz-checksum-crc32'], crc.toString('base64'))
    assert.equal(chunked['content-encoding'], 'aws-chunked')
    assert.equal(chunked['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER')
    assert.equal(chunked['x-amz-trailer'], 'x-amz-checksum-crc32')
    // A checksum that does not match the body: refused, and nothing is stored.
    await refused(
      put('vision-ckpt', 'epoch-3.bin', data, { ChecksumCRC32: 'AAAAAA==' }),
      400,
      'BadDigest',
    )
    await refused(
      a.send(new HeadObjectCommand({ Bucket: 'vision-ckpt', Key: 'epoch-3.bin' })),
      404,
      'NotFound',
    )
    for (const key of ['epoch-1.bin', 'epoch-2.bin']) {
      const got = await get('vision-ckpt', key, { ChecksumMode: 'ENABLED' })
      assert.equal(got.ChecksumCRC32, crc.toString('base64'))
      assert.deepEqual(await bytes(got), data)
      const head = await a.send(new HeadObjectCommand({ Bucket: 'vision-ckpt', Key: key }))
      assert.equal(head.ETag, `"${md5(data)}"`, 'the ETag is the MD5 of the plaintext')
      assert.equal(head.ServerSideEncryption, 'aws:kms')
      assert.equal(head.ContentLength, data.length)
    }
  })

  it('a client that sends no checksum at all (older SDKs, Debian boto3): put and get', async () => {
    const plain = sdk(alice)
    plain.config.requestChecksumCalculation = () => Promise.resolve('WHEN_REQUIRED' as const)
    const seen = recordHeaders(plain)
    await plain.send(
      new PutObjectCommand({ Bucket: 'vision-ckpt', Key: 'old', Body: Buffer.alloc(1000, 'x') }),
    )
    assert.equal(
      Object.keys(seen[0]?.headers ?? {}).filter((h) => h.startsWith('x-amz-checksum-')).length,
      0,
    )
    const got = await plain.send(new GetObjectCommand({ Bucket: 'vision-ckpt', Key: 'old' }))
    assert.equal(await text(got), 'x'.repeat(1000))
    plain.destroy()
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Range, Content-Range)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html (Delimiter, MaxKeys, ContinuationToken)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Content-MD5: BadDigest)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (NoSuchKey, NoSuchBucket)
  it('put, ranged get, list with delimiter and pages, missing key and bucket, wrong Content-MD5', async () => {
    await mb('vision-data')
    const data = Buffer.alloc(256 * 5000)
    for (let i = 0; i < data.length; i++) data[i] = i % 256
    await put('vision-data', 'sets/train.bin', data, { Metadata: { owner: 'alice' } })
    await put('vision-data', 'sets/val.bin', 'val')
    await put('vision-data', 'readme', 'hi')
    assert.deepEqual(await bytes(await get('vision-data', 'sets/train.bin')), data)
    const g = await get('vision-data', 'sets/train.bin', { Range: 'bytes=1000-1999' })
    assert.equal(g.$metadata.httpStatusCode, 206)
    assert.equal(g.ContentRange, `bytes 1000-1999/${String(data.length)}`)
    assert.equal(g.ContentLength, 1000)
    assert.deepEqual(await bytes(g), data.subarray(1000, 2000))
    // The scan verdict is in x-strongroom-* headers, never in the user's metadata (docs/scanner.md).
    let head: HeadObjectCommandOutput | undefined
    const raw = await responseHeaders(a, async (c) => {
      head = await c.send(new HeadObjectCommand({ Bucket: 'vision-data', Key: 'sets/train.bin' }))
    })
    assert.deepEqual(head?.Metadata, { owner: 'alice' })
    assert.equal(raw['x-strongroom-scan'], 'suspicious')
    assert.equal(raw['x-strongroom-scan-finding'], 'format.unknown')
    const l = await a.send(new ListObjectsV2Command({ Bucket: 'vision-data', Delimiter: '/' }))
    assert.deepEqual(
      l.Contents?.map((o) => o.Key),
      ['readme'],
    )
    assert.deepEqual(l.CommonPrefixes, [{ Prefix: 'sets/' }])
    const p = await a.send(new ListObjectsV2Command({ Bucket: 'vision-data', MaxKeys: 1 }))
    assert.deepEqual([p.IsTruncated, p.KeyCount, p.Contents?.[0]?.Key], [true, 1, 'readme'])
    const q = await a.send(
      new ListObjectsV2Command({
        Bucket: 'vision-data',
        MaxKeys: 5,
        ContinuationToken: p.NextContinuationToken,
      }),
    )
    assert.deepEqual(
      [q.IsTruncated, q.Contents?.map((o) => o.Key)],
      [false, ['sets/train.bin', 'sets/val.bin']],
    )
    await refused(get('vision-data', 'nope'), 404, 'NoSuchKey')
    await refused(get('no-such-bucket-x', 'k'), 404, 'NoSuchBucket')
    // The MD5 of the empty string, sent with the body "abc".
    await refused(
      put('vision-data', 'bad', 'abc', { ContentMD5: '1B2M2Y8AsgTpgAmY7PhCfg==' }),
      400,
      'BadDigest',
    )
    await refused(
      a.send(new HeadObjectCommand({ Bucket: 'vision-data', Key: 'bad' })),
      404,
      'NotFound',
    )
    // Control: the right Content-MD5 is accepted.
    await put('vision-data', 'good', 'abc', {
      ContentMD5: Buffer.from(md5('abc'), 'hex').toString('base64'),
    })
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  it('presigned GET and PUT work with a plain HTTPS client', async () => {
    const body = randomBytes(100_000)
    await put('vision-data', 'js/blob.bin', body)
    const getUrl = await getSignedUrl(
      a,
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'js/blob.bin' }),
      { expiresIn: 60 },
    )
    const fetched = await fetchTls(getUrl)
    assert.equal(fetched.status, 200)
    assert.deepEqual(fetched.body, body)
    const putUrl = await getSignedUrl(
      a,
      new PutObjectCommand({ Bucket: 'vision-data', Key: 'js/presigned.txt' }),
      { expiresIn: 60 },
    )
    const up = await fetchTls(putUrl, { method: 'PUT', body: 'uploaded by URL' })
    assert.equal(up.status, 200, up.text)
    assert.equal(await text(await get('vision-data', 'js/presigned.txt')), 'uploaded by URL')
  })

  // SigV2 is not supported: https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html
  // Expiry: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (X-Amz-Expires)
  it('presigned URLs: a SigV2 URL gets a clear InvalidRequest, an expired SigV4 URL is refused', async () => {
    const sigv2 = `/vision-data/readme?AWSAccessKeyId=${alice.id}&Signature=abc&Expires=9999999999`
    const v2 = await fetchTls(sigv2)
    assert.equal(v2.status, 400)
    assert.equal(xmlCode(v2.text), 'InvalidRequest')
    assert.match(v2.text, /<Message>[^<]*Signature Version 2/)
    // Signed an hour ago for 60 seconds: expired without waiting for a clock.
    const url = await getSignedUrl(
      a,
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'readme' }),
      {
        expiresIn: 60,
        signingDate: new Date(Date.now() - 3600_000),
      },
    )
    const expired = await fetchTls(url)
    assert.equal(expired.status, 403)
    assert.match(expired.text, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/)
    // Control: the same request signed now is served.
    const fresh = await fetchTls(
      await getSignedUrl(a, new GetObjectCommand({ Bucket: 'vision-data', Key: 'readme' }), {
        expiresIn: 60,
      }),
    )
    assert.deepEqual([fresh.status, fresh.text], [200, 'hi'])
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
  it('refuses wrong secrets, unknown keys and anonymous requests with S3 errors', async () => {
    const wrong = sdk({ id: alice.id, secret: 'wrong-secret-wrong-secret' })
    await refused(wrong.send(new ListBucketsCommand({})), 403, 'SignatureDoesNotMatch')
    wrong.destroy()
    const unknown = sdk({ id: 'AKIANOSUCHKEY0000000', secret: 'x'.repeat(30) })
    await refused(unknown.send(new ListBucketsCommand({})), 403, 'InvalidAccessKeyId')
    unknown.destroy()
    const anon = await fetchTls('/vision-data/readme')
    assert.deepEqual([anon.status, xmlCode(anon.text)], [403, 'AccessDenied'])
  })

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  it('bucket policies: a Deny in the bucket policy wins over the identity Allow; a malformed one is refused', async () => {
    await bucketPolicy('vision-data', { Version: '2012-10-17', Statement: [NO_DELETES] })
    const denied = await refused(
      a.send(new DeleteObjectCommand({ Bucket: 'vision-data', Key: 'readme' })),
      403,
      'AccessDenied',
    )
    assert.equal(await text(await get('vision-data', 'readme')), 'hi', 'the object is still there')
    // The admin can see which statement decided it, by the request id.
    const explained = strongroomRun(['explain', denied.requestId ?? ''])
    assert.match(
      explained.stdout,
      /decided by: explicit Deny in resource policy `bucket policy of vision-data`, statement `NoDeletes`/,
    )
    await refused(
      bucketPolicy('vision-data', { Version: '2012-10-17', Statement: [{ Effect: 'Maybe' }] }),
      400,
      'MalformedPolicy',
    )
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
  // (reading an SSE-KMS object needs kms:Decrypt on its key, besides s3:GetObject)
  it('cross-tenant: a bucket policy naming the other tenant is not enough, the key policy still refuses', async () => {
    const tenants = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
      id: string
      name: string
    }[]
    const audioId = tenants.find((t) => t.name === 'audio')?.id ?? ''
    await bucketPolicy('vision-data', {
      Version: '2012-10-17',
      Statement: [
        NO_DELETES,
        {
          Sid: 'CarelessShare',
          Effect: 'Allow',
          Principal: { AWS: audioId },
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::vision-data', 'arn:aws:s3:::vision-data/*'],
        },
      ],
    })
    const listed = await b.send(new ListObjectsV2Command({ Bucket: 'vision-data' }))
    assert.ok(
      listed.Contents?.some((o) => o.Key === 'readme'),
      'listing is shared by the bucket policy',
    )
    const read = await failure(
      b.send(new GetObjectCommand({ Bucket: 'vision-data', Key: 'readme' })),
    )
    assert.deepEqual(
      [read.status, read.code],
      [403, 'AccessDenied'],
      "the data stays sealed under vision's key",
    )
    // It was the key policy that refused: S3 allowed the read, kms:Decrypt did not.
    const kms = await decisions('user/bob', '"action":"kms:Decrypt"', read.requestId ?? '?')
    assert.deepEqual(
      kms.map((d) => d.decision),
      ['ImplicitDeny'],
    )
  })

  it('copies a directory of files in and out, as rclone and s3cmd do: sizes and MD5 ETags match', async () => {
    const files = new Map([
      ['rclone/model.bin', randomBytes(300_000)],
      ['rclone/sub/config.json', Buffer.from('{"layers": 12}')],
      ['rclone/empty', Buffer.alloc(0)],
    ])
    for (const [k, v] of files) await put('vision-data', k, v)
    const l = await a.send(new ListObjectsV2Command({ Bucket: 'vision-data', Prefix: 'rclone/' }))
    assert.deepEqual(
      l.Contents?.map((o) => [o.Key, o.Size, o.ETag]),
      [...files].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, v.length, `"${md5(v)}"`]),
    )
    for (const [k, v] of files) assert.deepEqual(await bytes(await get('vision-data', k)), v)
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
  it('CopyObject: within and across buckets, metadata directive, conditions', async () => {
    await mb('vision-copies')
    await a.send(
      new CopyObjectCommand({
        Bucket: 'vision-copies',
        Key: 'copied',
        CopySource: 'vision-data/good',
      }),
    )
    assert.equal(await text(await get('vision-copies', 'copied')), 'abc')
    await put('vision-copies', 'src', 'payload', {
      Metadata: { a: '1' },
      ContentType: 'text/x-model',
    })
    const own = (m: Record<string, string> | undefined) => m ?? {}
    await a.send(
      new CopyObjectCommand({
        Bucket: 'vision-copies',
        Key: 'kept',
        CopySource: 'vision-copies/src',
      }),
    )
    const kept = await a.send(new HeadObjectCommand({ Bucket: 'vision-copies', Key: 'kept' }))
    assert.deepEqual([own(kept.Metadata), kept.ContentType], [{ a: '1' }, 'text/x-model'])
    await a.send(
      new CopyObjectCommand({
        Bucket: 'vision-copies',
        Key: 'replaced',
        CopySource: 'vision-copies/src',
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
      }),
    )
    const replaced = await a.send(
      new HeadObjectCommand({ Bucket: 'vision-copies', Key: 'replaced' }),
    )
    assert.deepEqual(own(replaced.Metadata), { b: '2' })
    const copy = (more: object) =>
      a.send(
        new CopyObjectCommand({
          Bucket: 'vision-copies',
          Key: 'x',
          CopySource: 'vision-copies/src',
          ...more,
        }),
      )
    // Copying an object onto itself without changing anything is refused.
    await refused(
      a.send(
        new CopyObjectCommand({
          Bucket: 'vision-copies',
          Key: 'src',
          CopySource: 'vision-copies/src',
        }),
      ),
      400,
      'InvalidRequest',
    )
    await refused(copy({ CopySourceIfMatch: '"nope"' }), 412, 'PreconditionFailed')
    await refused(copy({ CopySource: 'vision-copies/missing' }), 404, 'NoSuchKey')
    await copy({ CopySourceIfMatch: `"${md5('payload')}"` })
    assert.equal(await text(await get('vision-copies', 'x')), 'payload')
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (RequestHeaderSectionTooLarge is S3's 400; Strongroom answers 431)
  it('bad input: oversized headers get 431, a body shorter than its Content-Length leaves no object', async () => {
    const big = await rawTls(
      `GET /vision-data/readme HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
      false,
    )
    assert.match(big, /^HTTP\/1\.1 431 /)
    assert.match(big, /<Code>InvalidRequest<\/Code><Message>Your request headers are too large/)
    await mb('vision-bad-input')
    const url = new URL(
      await getSignedUrl(
        a,
        new PutObjectCommand({ Bucket: 'vision-bad-input', Key: 'short-body' }),
        {
          expiresIn: 60,
        },
      ),
    )
    const count = async () =>
      (await a.send(new ListObjectsV2Command({ Bucket: 'vision-bad-input' }))).KeyCount
    await rawTls(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(500)}`,
      true,
    )
    assert.equal(await count(), 0, 'a partial upload must not become visible')
    // Control: the same raw request with its whole body is accepted, so the check above can fail.
    const whole = await rawTls(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${'x'.repeat(1000)}`,
      false,
    )
    assert.match(whole, /^HTTP\/1\.1 200 /)
    assert.equal(await count(), 1)
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html (up to 1,024 bytes of UTF-8)
  it('treats keys as data: ../, NUL-free unicode and 1,024-byte keys round-trip; longer keys are refused', async () => {
    const keys = [
      '../../etc/passwd',
      'a/./b/../c',
      'données/модель 🤖.pt',
      'k'.repeat(1024),
      '€'.repeat(341) + 'k', // 1,024 bytes of UTF-8 in 342 characters
      ' leading and trailing ',
    ]
    for (const k of keys) {
      await put('vision-data', k, k)
      assert.equal(await text(await get('vision-data', k)), k, k)
    }
    await refused(put('vision-data', 'k'.repeat(1025), 'x'), 400, 'KeyTooLongError')
    await refused(put('vision-data', '€'.repeat(342), 'x'), 400, 'KeyTooLongError')
    assert.equal(existsSync(join(dataDir, '..', 'etc')), false)
  })

  it('keeps the trace of every denial for the admin, by request id', async () => {
    const denied = await fetchTls('/vision-data/readme')
    const id = /<RequestId>([0-9A-F]+)<\/RequestId>/.exec(denied.text)?.[1]
    assert.ok(id)
    assert.equal(denied.headers['x-amz-request-id'], id)
    assert.deepEqual(
      (await decisions(id)).map((r) => [r.action, r.decision]),
      [['s3:GetObject', 'ImplicitDeny']],
    )
    const explained = strongroomRun(['explain', id])
    assert.equal(explained.status, 1, 'a denied request explains with exit status 1')
    assert.match(
      explained.stdout,
      /GetObject: ImplicitDeny for \*\n {2}s3:GetObject on arn:aws:s3:::vision-data\/readme/,
    )
  })
})
