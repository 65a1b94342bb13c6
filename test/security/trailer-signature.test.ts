/**
 * A stream signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER signs every chunk and then
 * its trailers, with x-amz-trailer-signature
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html). The
 * request-path review found that the trailer signature was never checked: whoever could
 * alter the trailer (the checksum S3 stores and returns) went unnoticed. Now the trailer of a
 * signed stream must carry a signature that matches, chained from the final chunk's.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'
import { errorOf, send, signHeaders, type Reply } from './http.ts'

const BUCKET = 'vision-trailers'
const EMPTY = createHash('sha256').digest('hex')

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  s3.destroy()
})
after(stop)

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()
const crc = (b: Buffer) => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc32(b))
  return out.toString('base64')
}

/** A signed streaming PUT with one data chunk and a CRC32 trailer; `tamper` changes what is signed. */
async function put(
  key: string,
  data: Buffer,
  tamper: { trailerSigned?: string; noSignature?: boolean } = {},
): Promise<Reply> {
  const path = `/${BUCKET}/${key}`
  const headers = await signHeaders(alice, {
    method: 'PUT',
    path,
    headers: {
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    },
  })
  const auth = headers.authorization ?? headers.Authorization ?? ''
  const date = headers['x-amz-date'] ?? ''
  const seed = /Signature=([0-9a-f]{64})/.exec(auth)?.[1] ?? ''
  const scope = /Credential=[^/]+\/([^,]+)/.exec(auth)?.[1] ?? ''
  const [day = '', region = '', service = ''] = scope.split('/')
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${alice.secret}`, day), region), service),
    'aws4_request',
  )
  const chunkSig = (previous: string, chunk: Buffer) =>
    hmac(
      signingKey,
      [
        'AWS4-HMAC-SHA256-PAYLOAD',
        date,
        scope,
        previous,
        EMPTY,
        createHash('sha256').update(chunk).digest('hex'),
      ].join('\n'),
    ).toString('hex')
  const first = chunkSig(seed, data)
  const last = chunkSig(first, Buffer.alloc(0))
  const trailer = `x-amz-checksum-crc32:${crc(data)}`
  const signedTrailer = tamper.trailerSigned ?? trailer
  const trailerSig = hmac(
    signingKey,
    [
      'AWS4-HMAC-SHA256-TRAILER',
      date,
      scope,
      last,
      createHash('sha256').update(`${signedTrailer}\n`).digest('hex'),
    ].join('\n'),
  ).toString('hex')
  const body = Buffer.concat([
    Buffer.from(`${data.length.toString(16)};chunk-signature=${first}\r\n`),
    data,
    Buffer.from(`\r\n0;chunk-signature=${last}\r\n${trailer}\r\n`),
    Buffer.from(tamper.noSignature === true ? '' : `x-amz-trailer-signature:${trailerSig}\r\n`),
    Buffer.from('\r\n'),
  ])
  delete headers.host
  return send({ method: 'PUT', path, headers, body })
}

async function stored(key: string): Promise<string | undefined> {
  const s3 = sdk(alice)
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    return await r.Body?.transformToString()
  } catch {
    return undefined
  } finally {
    s3.destroy()
  }
}

describe('the trailer of a signed stream is checked', () => {
  it('a correctly signed trailer is accepted (so the attacks below can fail)', async () => {
    const r = await put('ok.bin', Buffer.from('weights v1'))
    assert.equal(r.status, 200, r.body)
    assert.equal(await stored('ok.bin'), 'weights v1')
  })

  it('a trailer that differs from what was signed is refused with SignatureDoesNotMatch and stores nothing', async () => {
    const r = await put('altered.bin', Buffer.from('weights v2'), {
      trailerSigned: `x-amz-checksum-crc32:${crc(Buffer.from('something else'))}`,
    })
    assert.equal(r.status, 403, r.body)
    assert.equal(errorOf(r.body).code, 'SignatureDoesNotMatch')
    assert.equal(await stored('altered.bin'), undefined)
  })

  it('a signed stream whose trailer carries no x-amz-trailer-signature is refused', async () => {
    const r = await put('unsigned-trailer.bin', Buffer.from('weights v3'), { noSignature: true })
    assert.equal(r.status, 403, r.body)
    assert.equal(errorOf(r.body).code, 'SignatureDoesNotMatch')
    assert.equal(await stored('unsigned-trailer.bin'), undefined)
  })
})
