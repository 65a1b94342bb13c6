/**
 * Multipart uploads through the in-process gateway, seen only from the client's side, so that
 * they hold whatever the store does with the parts
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html,
 * API_UploadPart.html, API_UploadPartCopy.html, API_ListParts.html, API_AbortMultipartUpload.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html: 5 MiB minimum part but the last).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-multipart'
const MiB = 1024 * 1024

/** Bytes that differ from part to part and within a part, so that a misplaced byte shows. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13 + (i >> 10)) & 0xff
  return b
}
const md5 = (b: Buffer) => createHash('md5').update(b).digest()
/** S3's multipart ETag: MD5 of the parts' binary MD5s, dash, part count. */
const multipartEtag = (parts: Buffer[]) =>
  `"${createHash('md5')
    .update(Buffer.concat(parts.map(md5)))
    .digest('hex')}-${String(parts.length)}"`

async function status(call: Promise<unknown>): Promise<[number | undefined, string]> {
  try {
    await call
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return [e.$metadata.httpStatusCode, e.name]
  }
  assert.fail('the call succeeded')
}

const body = async (out: { Body?: { transformToByteArray(): Promise<Uint8Array> } }) =>
  Buffer.from((await out.Body?.transformToByteArray()) ?? [])

async function upload(key: string, parts: Buffer[]) {
  const { UploadId } = await a.send(new CreateMultipartUploadCommand({ Bucket: B, Key: key }))
  assert.ok(UploadId !== undefined)
  const done: { PartNumber: number; ETag: string | undefined }[] = []
  for (const [i, p] of parts.entries()) {
    const r: UploadPartCommandOutput = await a.send(
      new UploadPartCommand({ Bucket: B, Key: key, UploadId, PartNumber: i + 1, Body: p }),
    )
    assert.equal(r.ETag, `"${md5(p).toString('hex')}"`)
    done.push({ PartNumber: i + 1, ETag: r.ETag })
  }
  return { UploadId, done }
}

const P1 = pattern(5 * MiB, 1)
const P2 = pattern(5 * MiB, 2)
const P3 = pattern(1000, 3)
const WHOLE = Buffer.concat([P1, P2, P3])

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
})
after(() => gw.stop())

describe('multipart uploads, in process', () => {
  it('three parts: list them, complete, then the object is the parts in order with the multipart ETag', async () => {
    const { UploadId, done } = await upload('big.bin', [P1, P2, P3])
    const listed = await a.send(new ListPartsCommand({ Bucket: B, Key: 'big.bin', UploadId }))
    assert.deepEqual(
      listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]),
      done.map((d, i) => [d.PartNumber, [P1, P2, P3][i]?.length, d.ETag]),
    )
    const uploads = await a.send(new ListMultipartUploadsCommand({ Bucket: B }))
    assert.deepEqual(
      uploads.Uploads?.map((u) => [u.Key, u.UploadId]),
      [['big.bin', UploadId]],
    )
    const c = await a.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'big.bin',
        UploadId,
        MultipartUpload: { Parts: done },
      }),
    )
    assert.equal(c.ETag, multipartEtag([P1, P2, P3]))
    const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'big.bin' }))
    assert.equal(g.ContentLength, WHOLE.length)
    assert.equal(g.ETag, c.ETag)
    assert.ok((await body(g)).equals(WHOLE))
    const after = await a.send(new ListMultipartUploadsCommand({ Bucket: B }))
    assert.deepEqual(after.Uploads ?? [], [])
  })

  for (const [what, from, to] of [
    ['inside the first part', 10, 20],
    ['across the first part boundary', 5 * MiB - 3, 5 * MiB + 3],
    ['across both boundaries', 5 * MiB - 1, 10 * MiB],
    ['the last part only', 10 * MiB, 10 * MiB + 999],
    ['the last byte', 10 * MiB + 999, 10 * MiB + 999],
  ] as const) {
    it(`a range ${what} (${from}-${to}) returns exactly those bytes`, async () => {
      const g = await a.send(
        new GetObjectCommand({ Bucket: B, Key: 'big.bin', Range: `bytes=${from}-${to}` }),
      )
      assert.equal(g.ContentRange, `bytes ${from}-${to}/${WHOLE.length}`)
      assert.ok((await body(g)).equals(WHOLE.subarray(from, to + 1)))
    })
  }

  // Conditional writes on CompleteMultipartUpload, as on PutObject:
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
  it('Complete with If-None-Match: * on an existing key is 412 and leaves the upload to complete later', async () => {
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'guarded.bin', Body: 'first' }))
    const { UploadId, done } = await upload('guarded.bin', [P1, P3])
    const complete = (extra: { IfNoneMatch?: string; IfMatch?: string }) =>
      a.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'guarded.bin',
          UploadId,
          MultipartUpload: { Parts: done },
          ...extra,
        }),
      )
    assert.deepEqual(await status(complete({ IfNoneMatch: '*' })), [412, 'PreconditionFailed'])
    assert.deepEqual(await status(complete({ IfMatch: '"0123"' })), [412, 'PreconditionFailed'])
    const still = await a.send(new GetObjectCommand({ Bucket: B, Key: 'guarded.bin' }))
    assert.equal((await body(still)).toString(), 'first')
    const head = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'guarded.bin' }))
    const c = await complete({ IfMatch: head.ETag ?? '' })
    assert.equal(c.ETag, multipartEtag([P1, P3]))
    assert.ok(
      (await body(await a.send(new GetObjectCommand({ Bucket: B, Key: 'guarded.bin' })))).equals(
        Buffer.concat([P1, P3]),
      ),
    )
  })

  it('a part smaller than 5 MiB that is not the last: EntityTooSmall, and the upload stays open', async () => {
    const { UploadId, done } = await upload('small.bin', [P3, P3])
    assert.deepEqual(
      await status(
        a.send(
          new CompleteMultipartUploadCommand({
            Bucket: B,
            Key: 'small.bin',
            UploadId,
            MultipartUpload: { Parts: done },
          }),
        ),
      ),
      [400, 'EntityTooSmall'],
    )
    // One part alone may be small: completing with the first part only succeeds.
    const c = await a.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'small.bin',
        UploadId,
        MultipartUpload: { Parts: done.slice(0, 1) },
      }),
    )
    assert.equal(c.ETag, multipartEtag([P3]))
  })

  it('a wrong part ETag is InvalidPart; parts out of order are InvalidPartOrder', async () => {
    const { UploadId, done } = await upload('bad.bin', [P1, P3])
    const [first, second] = done as [(typeof done)[0], (typeof done)[0]]
    const complete = (Parts: { PartNumber: number; ETag: string | undefined }[]) =>
      a.send(
        new CompleteMultipartUploadCommand({
          Bucket: B,
          Key: 'bad.bin',
          UploadId,
          MultipartUpload: { Parts },
        }),
      )
    assert.deepEqual(await status(complete([first, { ...second, ETag: '"00"' }])), [
      400,
      'InvalidPart',
    ])
    assert.deepEqual(await status(complete([second, first])), [400, 'InvalidPartOrder'])
    assert.deepEqual(await status(complete([first, { PartNumber: 7, ETag: second.ETag }])), [
      400,
      'InvalidPart',
    ])
    await a.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'bad.bin', UploadId }))
    assert.deepEqual(await status(complete([first, second])), [404, 'NoSuchUpload'])
    assert.deepEqual(await status(a.send(new HeadObjectCommand({ Bucket: B, Key: 'bad.bin' }))), [
      404,
      'NotFound',
    ])
  })

  it('an upload id that does not exist, or belongs to another key: NoSuchUpload as XML', async () => {
    const { UploadId } = await upload('mine.bin', [])
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/other.bin?partNumber=1&uploadId=${encodeURIComponent(UploadId)}`,
      body: 'x',
    })
    assert.deepEqual([r.status, errorOf(r.text).Code], [404, 'NoSuchUpload'])
    const none = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/mine.bin?partNumber=1&uploadId=nope`,
      body: 'x',
    })
    assert.deepEqual([none.status, errorOf(none.text).Code], [404, 'NoSuchUpload'])
    await a.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'mine.bin', UploadId }))
  })

  it('another tenant can neither upload a part nor complete the upload', async () => {
    const { UploadId, done } = await upload('owned.bin', [P3])
    const b = gw.sdk(gw.bob)
    assert.deepEqual(
      await status(
        b.send(
          new UploadPartCommand({ Bucket: B, Key: 'owned.bin', UploadId, PartNumber: 2, Body: P3 }),
        ),
      ),
      [403, 'AccessDenied'],
    )
    assert.deepEqual(
      await status(
        b.send(
          new CompleteMultipartUploadCommand({
            Bucket: B,
            Key: 'owned.bin',
            UploadId,
            MultipartUpload: { Parts: done },
          }),
        ),
      ),
      [403, 'AccessDenied'],
    )
    await a.send(new AbortMultipartUploadCommand({ Bucket: B, Key: 'owned.bin', UploadId }))
  })

  it('UploadPartCopy with x-amz-copy-source-range takes exactly that slice of the source', async () => {
    const source = Buffer.concat([P1, P3])
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'source.bin', Body: source }))
    const { UploadId } = await a.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: 'copied.bin' }),
    )
    const copied = await a.send(
      new UploadPartCopyCommand({
        Bucket: B,
        Key: 'copied.bin',
        UploadId,
        PartNumber: 1,
        CopySource: `${B}/source.bin`,
        CopySourceRange: 'bytes=100-5243079',
      }),
    )
    const slice = source.subarray(100, 5243080)
    assert.equal(copied.CopyPartResult?.ETag, `"${md5(slice).toString('hex')}"`)
    const last = await a.send(
      new UploadPartCommand({ Bucket: B, Key: 'copied.bin', UploadId, PartNumber: 2, Body: P3 }),
    )
    await a.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'copied.bin',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: copied.CopyPartResult.ETag },
            { PartNumber: 2, ETag: last.ETag },
          ],
        },
      }),
    )
    const g = await a.send(new GetObjectCommand({ Bucket: B, Key: 'copied.bin' }))
    assert.ok((await body(g)).equals(Buffer.concat([slice, P3])))
  })

  it('ListMultipartUploads pages by key-marker and upload-id-marker, groups by delimiter, url-encodes keys', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
    const L = 'gw-multipart-list'
    await a.send(new CreateBucketCommand({ Bucket: L }))
    const start = async (Key: string) =>
      (await a.send(new CreateMultipartUploadCommand({ Bucket: L, Key }))).UploadId ?? ''
    const a1 = await start('a/1')
    await start('a/2')
    const b1 = await start('b')
    const b2 = await start('b')
    const c = await start('c d')
    const list = (q: Partial<ConstructorParameters<typeof ListMultipartUploadsCommand>[0]>) =>
      a.send(new ListMultipartUploadsCommand({ Bucket: L, ...q }))

    // Two at a time, following NextKeyMarker and NextUploadIdMarker: every upload once, in order.
    const seen: string[] = []
    let marker: { KeyMarker?: string | undefined; UploadIdMarker?: string | undefined } = {}
    for (let page = 0; page < 10; page++) {
      const r = await list({ MaxUploads: 2, ...marker })
      assert.equal(r.MaxUploads, 2)
      seen.push(...(r.Uploads ?? []).map((u) => `${u.Key ?? ''}:${u.UploadId ?? ''}`))
      if (r.IsTruncated !== true) break
      assert.equal(r.Uploads?.length, 2)
      marker = { KeyMarker: r.NextKeyMarker, UploadIdMarker: r.NextUploadIdMarker }
    }
    const b = [b1, b2] // the same key: oldest first
    assert.deepEqual(seen.slice(0, 1), [`a/1:${a1}`])
    assert.deepEqual(
      seen.filter((s) => s.startsWith('b:')),
      b.map((id) => `b:${id}`),
    )
    assert.equal(seen.length, 5)
    assert.equal(seen.at(-1), `c d:${c}`)

    // key-marker alone: only keys after it. Without key-marker, upload-id-marker is ignored.
    const afterB = await list({ KeyMarker: 'b' })
    assert.deepEqual(
      afterB.Uploads?.map((u) => u.Key),
      ['c d'],
    )
    assert.equal(afterB.KeyMarker, 'b')
    const afterB1 = await list({ KeyMarker: 'b', UploadIdMarker: b1 })
    assert.deepEqual(
      afterB1.Uploads?.map((u) => u.UploadId),
      [b2, c],
    )
    assert.equal((await list({ UploadIdMarker: b1 })).Uploads?.length, 5)

    // Delimiter: a/1 and a/2 are one common prefix, counted once toward max-uploads.
    const grouped = await list({ Delimiter: '/' })
    assert.deepEqual(grouped.CommonPrefixes, [{ Prefix: 'a/' }])
    assert.deepEqual(
      grouped.Uploads?.map((u) => u.Key),
      ['b', 'b', 'c d'],
    )
    assert.equal(grouped.Delimiter, '/')
    const first = await list({ Delimiter: '/', MaxUploads: 1 })
    assert.equal(first.IsTruncated, true)
    assert.deepEqual(first.CommonPrefixes, [{ Prefix: 'a/' }])
    assert.equal(first.Uploads, undefined)
    assert.equal(first.NextKeyMarker, 'a/')
    const second = await list({ Delimiter: '/', MaxUploads: 1, KeyMarker: 'a/' })
    assert.deepEqual(
      second.Uploads?.map((u) => u.UploadId),
      [b1],
    )
    assert.equal(second.CommonPrefixes, undefined)
    assert.equal(second.NextUploadIdMarker, b1)

    // encoding-type=url: keys come back encoded (the SDK decodes them for its caller).
    const raw = await gw.call(gw.alice, {
      method: 'GET',
      path: `/${L}?uploads&encoding-type=url&key-marker=b`,
    })
    assert.equal(raw.status, 200)
    assert.match(raw.text, /<Key>c%20d<\/Key>/)
    assert.match(raw.text, /<EncodingType>url<\/EncodingType>/)

    // max-uploads=0: nothing, not truncated (a loop on IsTruncated ends).
    const none = await list({ MaxUploads: 0 })
    assert.deepEqual([none.Uploads, none.IsTruncated], [undefined, false])

    // max-uploads that is not a number is refused, not read as the default.
    const bad = await gw.call(gw.alice, { method: 'GET', path: `/${L}?uploads&max-uploads=ten` })
    assert.equal(bad.status, 400)
    assert.match(bad.text, /<Code>InvalidArgument<\/Code>/)
  })

  it('aborting every upload page by page, each page before the next, leaves none', async () => {
    // The next page's upload-id-marker names an upload just aborted: it must not skip the rest.
    const X = 'gw-multipart-abort'
    await a.send(new CreateBucketCommand({ Bucket: X }))
    for (let i = 0; i < 9; i++)
      await a.send(new CreateMultipartUploadCommand({ Bucket: X, Key: 'k' }))
    await a.send(new CreateMultipartUploadCommand({ Bucket: X, Key: 'z' }))
    let marker: { KeyMarker?: string | undefined; UploadIdMarker?: string | undefined } = {}
    let aborted = 0
    for (let page = 0; page < 20; page++) {
      const l = await a.send(
        new ListMultipartUploadsCommand({ Bucket: X, MaxUploads: 2, ...marker }),
      )
      for (const u of l.Uploads ?? []) {
        await a.send(
          new AbortMultipartUploadCommand({ Bucket: X, Key: u.Key, UploadId: u.UploadId }),
        )
        aborted++
      }
      if (l.IsTruncated !== true) break
      marker = { KeyMarker: l.NextKeyMarker, UploadIdMarker: l.NextUploadIdMarker }
    }
    assert.equal(aborted, 10)
    assert.equal((await a.send(new ListMultipartUploadsCommand({ Bucket: X }))).Uploads, undefined)
  })
})
