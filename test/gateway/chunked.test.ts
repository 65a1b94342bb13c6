/**
 * Streaming uploads (aws-chunked) through the in-process gateway, framed and signed here by
 * hand as https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
 * sigv4-streaming-trailers.html describe (the chunk signatures computed independently of
 * src/api/sigv4.ts): a good stream is stored; a chunk altered, moved or left unsigned, a
 * frame that lies about its sizes, or a trailer that is not signed is refused and stores nothing.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway, type Reply } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-chunked'
const EMPTY = createHash('sha256').update('').digest('hex')
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
})
after(() => gw.stop())

interface Chunk {
  readonly data: Buffer
  /** Signs these bytes instead of `data` (an alteration after signing). */
  readonly signedAs?: Buffer
  /** Chains this chunk's signature from the seed, not from the chunk before (a replayed chunk). */
  readonly fromSeed?: boolean
  /** Replaces the signature this chunk would carry (undefined: none at all). */
  readonly signature?: string | undefined
  /** Replaces the size written in the chunk header. */
  readonly size?: string
}

interface Stream {
  readonly key: string
  readonly chunks: readonly Chunk[]
  /** x-amz-decoded-content-length, if not the sum of the chunks. */
  readonly decodedLength?: number
  /** Appended after the final chunk, before the closing CRLF (trailers). */
  readonly trailers?: (
    lastSignature: string,
    scope: { date: string; key: Buffer; scope: string },
  ) => string
  /** Bytes appended after each chunk's data instead of CRLF. */
  readonly afterData?: string
}

/** Frames and sends a STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) PUT signed by alice. */
async function upload(s: Stream): Promise<Reply> {
  const decoded = s.decodedLength ?? s.chunks.reduce((n, c) => n + c.data.length, 0)
  const trailer = s.trailers !== undefined
  const headers = await gw.sign(gw.alice, {
    method: 'PUT',
    path: `/${B}/${s.key}`,
    headers: {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': trailer
        ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
        : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-decoded-content-length': String(decoded),
      ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
    },
  })
  const amzDate = headers['x-amz-date'] ?? ''
  const seed = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1] ?? ''
  const day = amzDate.slice(0, 8)
  const scope = `${day}/us-east-1/s3/aws4_request`
  const key = hmac(
    hmac(hmac(hmac(`AWS4${gw.alice.secret}`, day), 'us-east-1'), 's3'),
    'aws4_request',
  )
  const parts: Buffer[] = []
  let previous = seed
  for (const c of s.chunks) {
    const computed = hmac(
      key,
      [
        'AWS4-HMAC-SHA256-PAYLOAD',
        amzDate,
        scope,
        c.fromSeed === true ? seed : previous,
        EMPTY,
        sha(c.signedAs ?? c.data),
      ].join('\n'),
    ).toString('hex')
    const signature = 'signature' in c ? c.signature : computed
    previous = computed
    const ext = signature === undefined ? '' : `;chunk-signature=${signature}`
    parts.push(
      Buffer.from(`${c.size ?? c.data.length.toString(16)}${ext}\r\n`),
      c.data,
      Buffer.from(c.data.length === 0 && trailer ? '' : (s.afterData ?? '\r\n')),
    )
  }
  if (s.trailers !== undefined)
    parts.push(Buffer.from(s.trailers(previous, { date: amzDate, key, scope })))
  parts.push(Buffer.from(trailer ? '\r\n' : ''))
  const body = Buffer.concat(parts)
  return gw.send({ method: 'PUT', path: `/${B}/${s.key}`, headers, body })
}

const ONE = Buffer.alloc(65536, 'a')
const TWO = Buffer.alloc(1024, 'b')
const stored = async (key: string) =>
  (await gw.call(gw.alice, { method: 'GET', path: `/${B}/${key}` })).status

describe('aws-chunked uploads, in process', () => {
  it('a signed stream of two chunks and the final empty one is stored as its decoded bytes', async () => {
    const r = await upload({
      key: 'good',
      chunks: [{ data: ONE }, { data: TWO }, { data: Buffer.alloc(0) }],
    })
    assert.equal(r.status, 200, r.text)
    const got = await gw.call(gw.alice, { method: 'GET', path: `/${B}/good` })
    assert.ok(got.body.equals(Buffer.concat([ONE, TWO])))
  })

  it('rejects a chunk altered after signing', async () => {
    const r = await upload({
      key: 'altered',
      chunks: [
        { data: ONE },
        { data: Buffer.alloc(1024, 'c'), signedAs: TWO },
        { data: Buffer.alloc(0) },
      ],
    })
    assert.deepEqual([r.status, errorOf(r.text).Code], [403, 'SignatureDoesNotMatch'])
    assert.equal(await stored('altered'), 404)
  })

  it('rejects a chunk whose signature does not chain from the chunk before (a replayed chunk)', async () => {
    const r = await upload({
      key: 'replayed',
      chunks: [{ data: ONE }, { data: TWO, fromSeed: true }, { data: Buffer.alloc(0) }],
    })
    assert.deepEqual([r.status, errorOf(r.text).Code], [403, 'SignatureDoesNotMatch'])
    assert.equal(await stored('replayed'), 404)
  })

  it('rejects a chunk that carries no signature in a signed stream', async () => {
    const r = await upload({
      key: 'unsigned-chunk',
      chunks: [{ data: TWO, signature: undefined }, { data: Buffer.alloc(0) }],
    })
    assert.deepEqual([r.status, errorOf(r.text).Code], [403, 'SignatureDoesNotMatch'])
    assert.equal(await stored('unsigned-chunk'), 404)
  })

  it('rejects a chunk size that is not hexadecimal, and a chunk not followed by CRLF', async () => {
    const size = await upload({
      key: 'bad-size',
      chunks: [{ data: TWO, size: '4OO' }, { data: Buffer.alloc(0) }],
    })
    assert.deepEqual([size.status, errorOf(size.text).Code], [400, 'InvalidArgument'])
    const crlf = await upload({
      key: 'bad-crlf',
      chunks: [{ data: TWO }, { data: Buffer.alloc(0) }],
      afterData: 'XX',
    })
    assert.deepEqual([crlf.status, errorOf(crlf.text).Code], [400, 'InvalidArgument'])
    assert.equal(await stored('bad-size'), 404)
    assert.equal(await stored('bad-crlf'), 404)
  })

  it('rejects a body longer or shorter than x-amz-decoded-content-length: IncompleteBody', async () => {
    for (const [key, decodedLength] of [
      ['too-long', TWO.length - 1],
      ['too-short', TWO.length + 1],
    ] as const) {
      const r = await upload({
        key,
        chunks: [{ data: TWO }, { data: Buffer.alloc(0) }],
        decodedLength,
      })
      assert.deepEqual([r.status, errorOf(r.text).Code], [400, 'IncompleteBody'], key)
      assert.equal(await stored(key), 404)
    }
  })

  it('with trailers: a signed CRC32 trailer is checked and kept; an unsigned or forged trailer is refused', async () => {
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(TWO))
    const trailer = `x-amz-checksum-crc32:${crc.toString('base64')}`
    const signed = (last: string, s: { date: string; key: Buffer; scope: string }) => {
      const sig = hmac(
        s.key,
        ['AWS4-HMAC-SHA256-TRAILER', s.date, s.scope, last, sha(`${trailer}\n`)].join('\n'),
      ).toString('hex')
      return `${trailer}\r\nx-amz-trailer-signature:${sig}\r\n`
    }
    const ok = await upload({
      key: 'trailer-ok',
      chunks: [{ data: TWO }, { data: Buffer.alloc(0) }],
      trailers: signed,
    })
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.headers['x-amz-checksum-crc32'], crc.toString('base64'))
    const unsigned = await upload({
      key: 'trailer-unsigned',
      chunks: [{ data: TWO }, { data: Buffer.alloc(0) }],
      trailers: () => `${trailer}\r\n`,
    })
    assert.deepEqual([unsigned.status, errorOf(unsigned.text).Code], [403, 'SignatureDoesNotMatch'])
    const forged = await upload({
      key: 'trailer-forged',
      chunks: [{ data: TWO }, { data: Buffer.alloc(0) }],
      trailers: (last, s) => signed(last, s).replace(trailer, 'x-amz-checksum-crc32:AAAAAA=='),
    })
    assert.deepEqual([forged.status, errorOf(forged.text).Code], [403, 'SignatureDoesNotMatch'])
    assert.equal(await stored('trailer-unsigned'), 404)
    assert.equal(await stored('trailer-forged'), 404)
  })

  it('a checksum sent both as a header and as a trailer is checked both times; a trailer sent twice is refused', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html: a declared
    // x-amz-checksum-* that does not match the body is BadDigest; none is dropped unchecked.
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.from('hi')))
    const right = crc.toString('base64')
    const unsigned = (key: string, headers: Record<string, string>, trailers: string) =>
      gw.call(gw.alice, {
        method: 'PUT',
        path: `/${B}/${key}`,
        headers: {
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': '2',
          'x-amz-trailer': 'x-amz-checksum-crc32',
          ...headers,
        },
        body: `2\r\nhi\r\n0\r\n${trailers}\r\n`,
      })
    const both = await unsigned(
      'both',
      { 'x-amz-checksum-crc32': 'AAAAAA==' },
      `x-amz-checksum-crc32:${right}\r\n`,
    )
    assert.deepEqual([both.status, errorOf(both.text).Code], [400, 'BadDigest'])
    const twice = await unsigned(
      'twice',
      {},
      `x-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:${right}\r\n`,
    )
    assert.deepEqual([twice.status, errorOf(twice.text).Code], [400, 'InvalidArgument'])
    assert.equal(await stored('both'), 404)
    assert.equal(await stored('twice'), 404)
    const agree = await unsigned(
      'agree',
      { 'x-amz-checksum-crc32': right },
      `x-amz-checksum-crc32:${right}\r\n`,
    )
    assert.equal(agree.status, 200, agree.text)
  })
})
