/**
 * Multipart uploads end to end with nothing but Node and npm: the AWS SDK for JavaScript
 * against a real `strongroom serve` over TLS. Covers what gateway.test.ts proves with the
 * aws CLI (a large upload verified by SHA-256) and boto3 (the part rules and their errors),
 * and what bucket-features.test.ts proves with boto3 for UploadPartCopy.
 * Limits: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
 * Errors: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from './harness.ts'
import { bytes, md5, multipartEtag, refused, sha256 } from './sdk-util.ts'

const MiB = 1024 * 1024
let a: S3Client
before(async () => {
  await start()
  a = sdk(alice)
  await a.send(new CreateBucketCommand({ Bucket: 'vision-large' }))
})
after(async () => {
  a.destroy()
  await stop()
})

const create = async (Bucket: string, Key: string) =>
  (await a.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId ?? ''
const part = async (
  Bucket: string,
  Key: string,
  UploadId: string,
  PartNumber: number,
  Body: Buffer,
) => (await a.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }))).ETag ?? ''
const complete = (Bucket: string, Key: string, UploadId: string, parts: [number, string][]) =>
  a.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: { Parts: parts.map(([PartNumber, ETag]) => ({ PartNumber, ETag })) },
    }),
  )

describe('multipart uploads with the AWS SDK for JavaScript', () => {
  it('a 12 MiB file in three parts, verified by SHA-256, with the multipart ETag', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(2 * MiB + 7)]
    const whole = Buffer.concat(parts)
    const [b, k] = ['vision-large', 'model.safetensors']
    const u = await create(b, k)
    const etags: [number, string][] = []
    for (const [i, p] of parts.entries()) {
      const etag = await part(b, k, u, i + 1, p)
      assert.equal(etag, `"${md5(p)}"`, 'a part ETag is the MD5 of the part')
      etags.push([i + 1, etag])
    }
    const done = await complete(b, k, u, etags)
    assert.equal(done.ETag, multipartEtag(parts))
    const head = await a.send(new HeadObjectCommand({ Bucket: b, Key: k }))
    assert.deepEqual(
      [head.ContentLength, head.ETag, head.ServerSideEncryption],
      [whole.length, multipartEtag(parts), 'aws:kms'],
    )
    const got = await bytes(await a.send(new GetObjectCommand({ Bucket: b, Key: k })))
    assert.equal(got.length, whole.length)
    assert.equal(sha256(got), sha256(whole))
    // A range that straddles the boundary between parts 1 and 2.
    const r = await a.send(
      new GetObjectCommand({ Bucket: b, Key: k, Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }),
    )
    assert.equal(r.ContentRange, `bytes ${5 * MiB - 10}-${5 * MiB + 9}/${whole.length}`)
    assert.deepEqual(await bytes(r), whole.subarray(5 * MiB - 10, 5 * MiB + 10))
    await a.send(new DeleteObjectCommand({ Bucket: b, Key: k }))
    await refused(a.send(new HeadObjectCommand({ Bucket: b, Key: k })), 404, 'NotFound')
  })

  it('part rules and errors as S3 has them', async () => {
    const [b, k] = ['vision-large', 'mp/obj']
    const u = await create(b, k)
    const small = await part(b, k, u, 1, Buffer.alloc(100, 'a'))
    const last = await part(b, k, u, 2, Buffer.alloc(100, 'b'))
    const listed = await a.send(new ListPartsCommand({ Bucket: b, Key: k, UploadId: u }))
    assert.deepEqual(
      listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [
        [1, small, 100],
        [2, last, 100],
      ],
    )
    const uploads = await a.send(new ListMultipartUploadsCommand({ Bucket: b }))
    assert.deepEqual(
      uploads.Uploads?.map((x) => [x.Key, x.UploadId]),
      [[k, u]],
    )
    // Every part but the last must be at least 5 MiB.
    await refused(
      complete(b, k, u, [
        [1, small],
        [2, last],
      ]),
      400,
      'EntityTooSmall',
    )
    await refused(
      complete(b, k, u, [
        [2, last],
        [1, small],
      ]),
      400,
      'InvalidPartOrder',
    )
    await refused(
      complete(b, k, u, [[1, '"0123456789abcdef0123456789abcdef"']]),
      400,
      'InvalidPart',
    )
    await refused(part(b, k, u, 10001, Buffer.from('x')), 400, 'InvalidArgument')
    await refused(part(b, k, u, 0, Buffer.from('x')), 400, 'InvalidArgument')
    // Uploading part 1 again replaces it.
    const big = await part(b, k, u, 1, Buffer.alloc(5 * MiB, 'a'))
    await complete(b, k, u, [
      [1, big],
      [2, last],
    ])
    const body = await bytes(await a.send(new GetObjectCommand({ Bucket: b, Key: k })))
    assert.deepEqual(body, Buffer.concat([Buffer.alloc(5 * MiB, 'a'), Buffer.alloc(100, 'b')]))
    // A completed upload takes no more parts.
    await refused(part(b, k, u, 3, Buffer.from('x')), 404, 'NoSuchUpload')
    const u2 = await create(b, k)
    await part(b, k, u2, 1, Buffer.from('abandoned'))
    await a.send(new AbortMultipartUploadCommand({ Bucket: b, Key: k, UploadId: u2 }))
    await refused(
      a.send(new ListPartsCommand({ Bucket: b, Key: k, UploadId: u2 })),
      404,
      'NoSuchUpload',
    )
    await refused(complete(b, k, u2, [[1, `"${md5('abandoned')}"`]]), 404, 'NoSuchUpload')
    const left = await a.send(new ListMultipartUploadsCommand({ Bucket: b }))
    assert.deepEqual(left.Uploads ?? [], [], 'no upload is left behind')
    assert.deepEqual(
      await bytes(await a.send(new GetObjectCommand({ Bucket: b, Key: k }))),
      body,
      'the aborted upload did not touch the object',
    )
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
  it('UploadPartCopy: parts copied from ranges of an existing object', async () => {
    const b = 'vision-large'
    const src = randomBytes(6 * MiB + 123)
    await a.send(new PutObjectCommand({ Bucket: b, Key: 'src.bin', Body: src }))
    const u = await create(b, 'dst.bin')
    const cut = 5 * MiB
    const copyPart = (PartNumber: number, CopySource: string, CopySourceRange?: string) =>
      a.send(
        new UploadPartCopyCommand({
          Bucket: b,
          Key: 'dst.bin',
          UploadId: u,
          PartNumber,
          CopySource,
          CopySourceRange,
        }),
      )
    const p1 = await copyPart(1, `${b}/src.bin`, `bytes=0-${cut - 1}`)
    const p2 = await copyPart(2, `${b}/src.bin`, `bytes=${cut}-${src.length - 1}`)
    const [e1, e2] = [p1.CopyPartResult?.ETag ?? '', p2.CopyPartResult?.ETag ?? '']
    assert.equal(e1, `"${md5(src.subarray(0, cut))}"`)
    assert.equal(e2, `"${md5(src.subarray(cut))}"`)
    await refused(copyPart(3, `${b}/src.bin`, `bytes=0-${src.length}`), 416, 'InvalidRange')
    await refused(copyPart(3, `${b}/nope`), 404, 'NoSuchKey')
    await complete(b, 'dst.bin', u, [
      [1, e1],
      [2, e2],
    ])
    const got = await bytes(await a.send(new GetObjectCommand({ Bucket: b, Key: 'dst.bin' })))
    assert.equal(sha256(got), sha256(src))
  })
})
