/**
 * Multipart details and object attributes as S3 answers them: GET/HEAD by part number with
 * x-amz-mp-parts-count, the checksum algorithm of an upload with per-part checksums and the
 * composite `-N` checksum of the object, and GetObjectAttributes.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (partNumber,
 * x-amz-mp-parts-count), https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 * (composite checksums of multipart objects), https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { failure } from '../e2e/sdk-util.ts'
import { startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-parts'
const MiB = 1024 * 1024
/** Three parts of 5 MiB, 5 MiB and 1,000 bytes, each byte recognisable. */
const PARTS = [5 * MiB, 5 * MiB, 1000].map((n, i) =>
  Buffer.from(Array.from({ length: n }, (_, j) => (j + i * 7) % 251)),
)
const WHOLE = Buffer.concat(PARTS)
const crc = (b: Buffer) => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc32(b))
  return out
}
let etag = ''

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
  const up = await a.send(
    new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp', ChecksumAlgorithm: 'CRC32' }),
  )
  assert.equal(up.ChecksumAlgorithm, 'CRC32')
  const done = []
  for (const [i, Body] of PARTS.entries()) {
    const p = await a.send(
      new UploadPartCommand({
        Bucket: B,
        Key: 'mp',
        UploadId: up.UploadId,
        PartNumber: i + 1,
        Body,
        ChecksumAlgorithm: 'CRC32',
      }),
    )
    assert.equal(p.ChecksumCRC32, crc(Body).toString('base64'))
    done.push({ PartNumber: i + 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 })
  }
  const listed = await a.send(new ListPartsCommand({ Bucket: B, Key: 'mp', UploadId: up.UploadId }))
  assert.deepEqual(
    listed.Parts?.map((p) => p.ChecksumCRC32),
    done.map((p) => p.ChecksumCRC32),
  )
  const complete = await a.send(
    new CompleteMultipartUploadCommand({
      Bucket: B,
      Key: 'mp',
      UploadId: up.UploadId,
      MultipartUpload: { Parts: done },
    }),
  )
  etag = complete.ETag ?? ''
  await a.send(new PutObjectCommand({ Bucket: B, Key: 'plain', Body: 'plain body' }))
})
after(() => gw.stop())

describe('multipart objects by part', () => {
  it('GET ?partNumber=N answers the bytes of part N with 206 and x-amz-mp-parts-count', async () => {
    let at = 0
    for (const [i, part] of PARTS.entries()) {
      const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'mp', PartNumber: i + 1 }))
      assert.equal(g.$metadata.httpStatusCode, 206)
      assert.equal(g.PartsCount, 3)
      assert.equal(g.ETag, etag, 'the ETag is the whole object’s')
      assert.equal(g.ContentRange, `bytes ${at}-${at + part.length - 1}/${WHOLE.length}`)
      assert.deepEqual(Buffer.from((await g.Body?.transformToByteArray()) ?? []), part)
      at += part.length
    }
    const h = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 3 }))
    assert.deepEqual([h.ContentLength, h.PartsCount], [1000, 3])
    const whole = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'mp' }))
    assert.equal(whole.PartsCount, undefined, 'the count only with partNumber, as S3')
  })

  it('part 1 of a simple object is all of it; any other part is InvalidPart', async () => {
    const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 1 }))
    assert.equal(await g.Body?.transformToString(), 'plain body')
    assert.equal(g.PartsCount, undefined)
    const f = await failure(
      a.send(new GetObjectCommand({ Bucket: B, Key: 'plain', PartNumber: 2 })),
    )
    assert.deepEqual([f.status, f.code], [400, 'InvalidPart'])
    const beyond = await failure(
      a.send(new GetObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 4 })),
    )
    assert.deepEqual([beyond.status, beyond.code], [400, 'InvalidPart'])
  })

  it('a Range beside partNumber is InvalidRequest; a part number out of 1..10000 InvalidArgument', async () => {
    const both = await failure(
      a.send(new GetObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 1, Range: 'bytes=0-1' })),
    )
    assert.deepEqual([both.status, both.code], [400, 'InvalidRequest'])
    const zero = await gw.call(gw.alice, { method: 'GET', path: `/${B}/mp?partNumber=0` })
    assert.equal(zero.status, 400)
    assert.match(zero.text, /<Code>InvalidArgument<\/Code>/)
  })
})

describe('multipart checksums', () => {
  it('the object carries the composite CRC32 of its parts, suffixed -3', async () => {
    const composite = `${crc(Buffer.concat(PARTS.map(crc))).toString('base64')}-3`
    const h = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'mp', ChecksumMode: 'ENABLED' }))
    assert.equal(h.ChecksumCRC32, composite)
  })

  it('Complete refuses a part whose checksum differs from the one stored, and a missing one', async () => {
    const up = await a.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp2', ChecksumAlgorithm: 'CRC32' }),
    )
    const p = await a.send(
      new UploadPartCommand({
        Bucket: B,
        Key: 'mp2',
        UploadId: up.UploadId,
        PartNumber: 1,
        Body: 'x',
        ChecksumAlgorithm: 'CRC32',
      }),
    )
    const complete = (part: {
      PartNumber: number
      ETag?: string | undefined
      ChecksumCRC32?: string | undefined
    }) =>
      a.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'mp2',
          UploadId: up.UploadId,
          MultipartUpload: { Parts: [part] },
        }),
      )
    const wrong = await failure(
      complete({ PartNumber: 1, ETag: p.ETag, ChecksumCRC32: 'AAAAAA==' }),
    )
    assert.deepEqual([wrong.status, wrong.code], [400, 'InvalidPart'])
    const missing = await failure(complete({ PartNumber: 1, ETag: p.ETag }))
    assert.deepEqual([missing.status, missing.code], [400, 'InvalidRequest'])
    assert.match(missing.message, /missing for part 1/)
    const ok = await complete({ PartNumber: 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 })
    assert.equal(ok.ChecksumCRC32, `${crc(crc(Buffer.from('x'))).toString('base64')}-1`)
  })
})

describe('GetObjectAttributes', () => {
  it('a multipart object: unquoted ETag, checksum, size, storage class and its parts, paginated', async () => {
    const attrs = (PartNumberMarker?: string) =>
      a.send(
        new GetObjectAttributesCommand({
          Bucket: B,
          Key: 'mp',
          ObjectAttributes: ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'],
          MaxParts: 2,
          PartNumberMarker,
        }),
      )
    const first = await attrs()
    assert.equal(first.ETag, etag.replace(/"/g, ''))
    assert.equal(first.ObjectSize, WHOLE.length)
    assert.equal(first.StorageClass, 'STANDARD')
    assert.match(first.Checksum?.ChecksumCRC32 ?? '', /-3$/)
    assert.equal(first.ObjectParts?.TotalPartsCount, 3)
    assert.equal(first.ObjectParts.IsTruncated, true)
    assert.deepEqual(
      first.ObjectParts.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32]),
      PARTS.slice(0, 2).map((b, i) => [i + 1, b.length, crc(b).toString('base64')]),
    )
    const rest = await attrs(String(first.ObjectParts.NextPartNumberMarker))
    assert.deepEqual(
      rest.ObjectParts?.Parts?.map((p) => p.PartNumber),
      [3],
    )
    assert.equal(rest.ObjectParts.IsTruncated, false)
  })

  it('only what is asked for; a simple object has no parts; a version answers for itself', async () => {
    const plain = await a.send(
      new GetObjectAttributesCommand({ Bucket: B, Key: 'plain', ObjectAttributes: ['ObjectSize'] }),
    )
    assert.deepEqual([plain.ObjectSize, plain.ETag, plain.ObjectParts], [10, undefined, undefined])
    const Bucket = 'gw-parts-versions'
    await a.send(new CreateBucketCommand({ Bucket }))
    await a.send(
      new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const v1 = await a.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'one' }))
    await a.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'three' }))
    const old = await a.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key: 'k',
        VersionId: v1.VersionId,
        ObjectAttributes: ['ObjectSize', 'ETag'],
      }),
    )
    assert.deepEqual([old.ObjectSize, old.VersionId], [3, v1.VersionId])
  })

  it('no attribute or an unknown one is InvalidArgument', async () => {
    const r = await gw.call(gw.alice, {
      method: 'GET',
      path: `/${B}/plain?attributes`,
      headers: { 'x-amz-object-attributes': 'ETag,Owner' },
    })
    assert.equal(r.status, 400)
    assert.match(r.text, /<Code>InvalidArgument<\/Code>/)
  })
})

describe('parts of an upload with a checksum algorithm that arrive without it', () => {
  it('UploadPartCopy and a plain UploadPart get the checksum computed, and the upload completes', async () => {
    const up = await a.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'copied-mp', ChecksumAlgorithm: 'CRC32' }),
    )
    const copied = await a.send(
      new UploadPartCopyCommand({
        Bucket: B,
        Key: 'copied-mp',
        UploadId: up.UploadId,
        PartNumber: 1,
        CopySource: `${B}/mp`,
        CopySourceRange: `bytes=0-${String(5 * MiB - 1)}`,
      }),
    )
    const first = PARTS[0] ?? Buffer.alloc(0)
    assert.equal(copied.CopyPartResult?.ChecksumCRC32, crc(first).toString('base64'))
    // A raw UploadPart with no checksum header at all (the SDK would add one).
    const raw = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/copied-mp?partNumber=2&uploadId=${encodeURIComponent(up.UploadId ?? '')}`,
      body: 'tail',
    })
    assert.equal(raw.status, 200, raw.text)
    const done = await a.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'copied-mp',
        UploadId: up.UploadId,
        MultipartUpload: {
          Parts: [
            {
              PartNumber: 1,
              ETag: copied.CopyPartResult.ETag,
              ChecksumCRC32: copied.CopyPartResult.ChecksumCRC32,
            },
            {
              PartNumber: 2,
              ETag: String(raw.headers.etag),
              ChecksumCRC32: crc(Buffer.from('tail')).toString('base64'),
            },
          ],
        },
      }),
    )
    assert.equal(
      done.ChecksumCRC32,
      `${crc(Buffer.concat([crc(first), crc(Buffer.from('tail'))])).toString('base64')}-2`,
    )
  })

  it('a part checksum of another algorithm than the upload’s, and COMPOSITE CRC64NVME, are InvalidRequest', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    const up = await a.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'mixed', ChecksumAlgorithm: 'CRC32' }),
    )
    const sha = createHash('sha256').update('tail').digest('base64')
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/mixed?partNumber=1&uploadId=${up.UploadId ?? ''}`,
      headers: { 'x-amz-checksum-sha256': sha },
      body: 'tail',
    })
    assert.equal(r.status, 400, r.text)
    assert.match(
      r.text,
      /<Code>InvalidRequest<\/Code>.*expected checksum Type: crc32, actual checksum Type: sha256/,
    )
    const composite = await gw.call(gw.alice, {
      method: 'POST',
      path: `/${B}/nvme?uploads`,
      headers: { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' },
    })
    assert.equal(composite.status, 400, composite.text)
    assert.match(composite.text, /<Code>InvalidRequest<\/Code>/)
  })
})
