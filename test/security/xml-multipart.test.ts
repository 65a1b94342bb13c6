/**
 * Issue 9, items 4 and 12: CompleteMultipartUpload documents that the old
 * hand-written XML reader refused or misread.
 *
 * - Item 4: its global 10,000-element cap stopped completion at about 3,333
 *   parts (2,500 with checksums), with MalformedXML. S3 allows 10,000 parts
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html) and
 *   answers InvalidPart for a listed part that was never uploaded, InvalidPartOrder
 *   for parts out of order
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
 * - Item 12: Go's encoding/xml writes the ETag's quotes as `&#34;`; the old reader
 *   did not decode character references, so every rclone multipart upload failed
 *   with InvalidPart.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { alice, ca, endpoint, needs, sdk, start, stop, work } from '../e2e/harness.ts'
import { errorCode, s3Request } from './xml-requests.ts'
import { goStyle } from './xml-styles.ts'

const BUCKET = 'xml-multipart'

before(async () => {
  await start()
  await sdk(alice).send(new CreateBucketCommand({ Bucket: BUCKET }))
})
after(stop)

/** Starts an upload and uploads `sizes.length` parts; returns the upload id and their ETags. */
async function upload(key: string, sizes: number[]): Promise<{ id: string; etags: string[] }> {
  const s3 = sdk(alice)
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))
  assert.ok(UploadId !== undefined)
  const etags: string[] = []
  for (const [i, size] of sizes.entries()) {
    const r = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        PartNumber: i + 1,
        Body: randomBytes(size),
      }),
    )
    assert.ok(r.ETag !== undefined)
    etags.push(r.ETag)
  }
  return { id: UploadId, etags }
}

/**
 * A CompleteMultipartUpload document as Go writes it: no white space, the
 * namespace on the root, the ETag's quotes as `&#34;`, a CRC32 for every part.
 */
function goDocument(parts: { number: number; etag: string }[]): string {
  return goStyle(
    'CompleteMultipartUpload',
    parts.map((p) => [
      'Part',
      [
        ['ChecksumCRC32', 'AAAAAA=='],
        ['ETag', p.etag],
        ['PartNumber', String(p.number)],
      ],
    ]),
  )
}

const complete = (key: string, uploadId: string, doc: string) =>
  s3Request(alice, 'POST', `/${BUCKET}/${key}`, { uploadId }, doc)

describe('CompleteMultipartUpload with 10,000 parts (issue 9 item 4)', () => {
  it('a document listing 10,000 parts, each with a checksum, is read fully and answers InvalidPart naming the first part never uploaded', async () => {
    const { id, etags } = await upload('ten-thousand', [1024, 1024])
    const parts = Array.from({ length: 10_000 }, (_, i) => ({
      number: i + 1,
      etag: etags[i] ?? `"${createHash('md5').update(String(i)).digest('hex')}"`,
    }))
    const r = await complete('ten-thousand', id, goDocument(parts))
    assert.equal(r.status, 400, r.body)
    assert.equal(errorCode(r.body), 'InvalidPart', r.body)
    // Parts 1 and 2 were uploaded and their &#34;-quoted ETags match: part 3 is the first refused.
    assert.match(r.body, /<PartNumber>3<\/PartNumber>/)
  })

  it('10,000 parts out of order answer InvalidPartOrder, not MalformedXML', async () => {
    const { id, etags } = await upload('out-of-order', [1024, 1024])
    const parts = Array.from({ length: 10_000 }, (_, i) => ({
      number: i + 1,
      etag: etags[i] ?? '"00000000000000000000000000000000"',
    }))
    // Both uploaded parts listed correctly, then part 1 again: the third entry is out of order.
    parts[2] = { number: 1, etag: etags[0] ?? '' }
    const r = await complete('out-of-order', id, goDocument(parts))
    assert.equal(r.status, 400, r.body)
    assert.equal(errorCode(r.body), 'InvalidPartOrder', r.body)
  })
})

describe("rclone multipart uploads (issue 9 item 12: Go's &#34; ETag quotes)", () => {
  it('a CompleteMultipartUpload written as Go writes it completes the upload', async () => {
    const { id, etags } = await upload('go-style', [5 * 1024 * 1024, 10])
    const doc = goDocument(etags.map((etag, i) => ({ number: i + 1, etag })))
    assert.match(doc, /<ETag>&#34;[0-9a-f]{32}&#34;<\/ETag>/)
    const r = await complete('go-style', id, doc)
    assert.equal(r.status, 200, r.body)
    const got = await sdk(alice).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'go-style' }))
    // Read the body through: an unread response holds its connection (and the gateway's shutdown) open.
    const body = await got.Body?.transformToByteArray()
    assert.equal(body?.length, 5 * 1024 * 1024 + 10)
  })

  it('rclone copyto of a 12 MiB file in 5 MiB chunks uploads in parts and reads back with the same SHA-256', async (t) => {
    if (!needs(t, 'rclone')) return
    const dir = join(work, 'rclone-multipart')
    mkdirSync(dir, { recursive: true })
    const conf = join(dir, 'rclone.conf')
    writeFileSync(
      conf,
      `[sr]\ntype = s3\nprovider = Other\naccess_key_id = ${alice.id}\nsecret_access_key = ${alice.secret}\nendpoint = ${endpoint}\nregion = us-east-1\n`,
    )
    const src = join(dir, 'model.bin')
    const back = join(dir, 'back.bin')
    writeFileSync(src, randomBytes(12 * 1024 * 1024))
    // rclone reads AWS_* variables too; it gets only its config file.
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')),
    )
    const rc = (...args: string[]) =>
      spawnSync('rclone', ['--config', conf, '--ca-cert', ca, ...args], {
        encoding: 'utf8',
        env: clean,
      })
    const put = rc(
      'copyto',
      '--s3-upload-cutoff',
      '6M',
      '--s3-chunk-size',
      '5M',
      // One attempt: a refused completion should fail the test now, not after rclone's retries.
      '--retries',
      '1',
      '--low-level-retries',
      '1',
      src,
      `sr:${BUCKET}/rclone/model.bin`,
    )
    assert.equal(put.status, 0, put.stderr)
    // It really was a multipart upload: 12 MiB in 5 MiB chunks is three parts.
    const head = await sdk(alice).send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'rclone/model.bin' }),
    )
    assert.match(head.ETag ?? '', /-3"$/)
    const get = rc('copyto', `sr:${BUCKET}/rclone/model.bin`, back)
    assert.equal(get.status, 0, get.stderr)
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
    assert.equal(sha(back), sha(src))
  })
})
