/**
 * Issue 9, item 1: one unauthenticated request crashed the process. A body over a handler's
 * limit destroyed the request, and the access log then read the remote address of a null
 * socket; DeleteObjects even read its body before any authorization. Every oversized body is
 * sent here, anonymously and signed, and after each the server must still answer.
 *
 * S3's answers: an XML document over its limit is MaxMessageLengthExceeded (400, "Your request
 * was too big"), a bucket policy over 20 KB is MalformedPolicy
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/add-bucket-policy.html).
 */
import assert from 'node:assert/strict'
import { connect } from 'node:tls'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListBucketsCommand,
} from '@aws-sdk/client-s3'
import { XML_BOUNDS } from '../../src/api/xml.ts'
import { alice, ca, endpoint, sdk, start, stop } from '../e2e/harness.ts'
import { call, errorOf, send, signHeaders } from './http.ts'

const BUCKET = 'vision-oversized'
let uploadId = ''

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  uploadId =
    (await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big.bin' })))
      .UploadId ?? ''
  s3.destroy()
})
after(stop)

const KiB = 1024
const MiB = 1024 * KiB

/** The server still answers: its health check, and a signed ListBuckets. */
async function stillServing(what: string): Promise<void> {
  const health = await send({ method: 'GET', path: '/_health' })
  assert.equal(health.status, 200, `health after ${what}`)
  assert.equal(health.body, 'ok\n')
  const s3 = sdk(alice)
  try {
    const list = await s3.send(new ListBucketsCommand({}))
    assert.ok(
      list.Buckets?.some((b) => b.Name === BUCKET),
      `ListBuckets after ${what}`,
    )
  } finally {
    s3.destroy()
  }
}

interface Case {
  readonly name: string
  readonly method: string
  readonly path: () => string
  /** Just over the handler's limit. */
  readonly size: number
  /** The signed caller's answer. */
  readonly code: string
}

const CASES: readonly Case[] = [
  {
    name: 'DeleteObjects',
    method: 'POST',
    path: () => `/${BUCKET}?delete`,
    size: XML_BOUNDS.Delete.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    name: 'PutObjectTagging',
    method: 'PUT',
    path: () => `/${BUCKET}/some-key?tagging`,
    size: XML_BOUNDS.Tagging.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    name: 'PutBucketPolicy',
    method: 'PUT',
    path: () => `/${BUCKET}?policy`,
    size: 20 * KiB + 1,
    code: 'MalformedPolicy',
  },
  {
    name: 'PutBucketPolicy (far over)',
    method: 'PUT',
    path: () => `/${BUCKET}?policy`,
    size: 2 * MiB,
    code: 'MalformedPolicy',
  },
  {
    name: 'CreateBucket',
    method: 'PUT',
    path: () => '/vision-oversized-new',
    size: XML_BOUNDS.CreateBucketConfiguration.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    name: 'PutBucketVersioning',
    method: 'PUT',
    path: () => `/${BUCKET}?versioning`,
    size: XML_BOUNDS.VersioningConfiguration.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    name: 'PutBucketEncryption',
    method: 'PUT',
    path: () => `/${BUCKET}?encryption`,
    size: XML_BOUNDS.ServerSideEncryptionConfiguration.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    name: 'PutPublicAccessBlock',
    method: 'PUT',
    path: () => `/${BUCKET}?publicAccessBlock`,
    size: XML_BOUNDS.PublicAccessBlockConfiguration.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
  {
    // CompleteMultipartUpload may list 10,000 parts with checksums: its limit is the largest.
    name: 'CompleteMultipartUpload',
    method: 'POST',
    path: () => `/${BUCKET}/big.bin?uploadId=${encodeURIComponent(uploadId)}`,
    size: XML_BOUNDS.CompleteMultipartUpload.bytes + 1,
    code: 'MaxMessageLengthExceeded',
  },
]

/** Whitespace that stays over 20 KB once minified: one long string in an otherwise valid policy. */
function body(c: Case): Buffer {
  if (c.code === 'MalformedPolicy') {
    const doc = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'x'.repeat(c.size),
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:root' },
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${BUCKET}/*`,
        },
      ],
    })
    return Buffer.from(doc)
  }
  return Buffer.alloc(c.size, 'a')
}

describe('oversized bodies never crash the server', () => {
  for (const c of CASES) {
    it(`anonymous oversized ${c.name} body (${c.size} bytes) does not crash the server`, async () => {
      const r = await call(undefined, { method: c.method, path: c.path(), body: body(c) })
      // Refused before a byte of the body is read: anonymous callers never get that far.
      assert.equal(r.status, 403, r.body)
      assert.equal(errorOf(r.body).code, 'AccessDenied')
      await stillServing(`anonymous ${c.name}`)
    })

    it(`signed oversized ${c.name} body (${c.size} bytes) gets ${c.code} and does not crash the server`, async () => {
      const r = await call(alice, { method: c.method, path: c.path(), body: body(c) })
      assert.equal(r.status, 400, r.body)
      assert.equal(errorOf(r.body).code, c.code)
      if (c.code === 'MalformedPolicy')
        assert.match(errorOf(r.body).message ?? '', /^Policies must be less than 20 KB/)
      else assert.match(errorOf(r.body).message ?? '', /^Your request was too big/)
      await stillServing(`signed ${c.name}`)
    })
  }

  it('anonymous oversized DeleteObjects body without Content-Length (chunked) does not crash the server', async () => {
    const r = await call(undefined, {
      method: 'POST',
      path: `/${BUCKET}?delete`,
      body: Buffer.alloc(XML_BOUNDS.Delete.bytes + 1, 'a'),
      chunked: 64 * KiB,
    })
    assert.equal(r.status, 403, r.body)
    assert.equal(errorOf(r.body).code, 'AccessDenied')
    await stillServing('anonymous chunked DeleteObjects')
  })

  for (const c of CASES) {
    it(`signed ${c.name} body without Content-Length that grows past the limit gets ${c.code} and does not crash the server`, async () => {
      const r = await call(alice, {
        method: c.method,
        path: c.path(),
        body: body(c),
        chunked: 16 * KiB,
      })
      assert.equal(r.status, 400, r.body)
      assert.equal(errorOf(r.body).code, c.code)
      await stillServing(`signed chunked ${c.name}`)
    })
  }

  it('a policy of more than 20 KB that is under 20 KB without its whitespace is accepted', async () => {
    const doc = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:root' },
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${BUCKET}/*`,
        },
      ],
    }).replace('{', `{${' \n'.repeat(12 * KiB)}`)
    assert.ok(doc.length > 20 * KiB)
    const r = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}?policy`,
      body: Buffer.from(doc),
    })
    assert.equal(r.status, 204, r.body)
    const del = await call(alice, { method: 'DELETE', path: `/${BUCKET}?policy` })
    assert.equal(del.status, 204, del.body)
  })

  it('a client that drops the connection in the middle of an anonymous DeleteObjects body does not crash the server', async () => {
    const { port } = new URL(endpoint)
    await new Promise<void>((resolve, reject) => {
      const sock = connect(
        { host: '127.0.0.1', port: Number(port), ca: readFileSync(ca), servername: 'localhost' },
        () => {
          sock.write(
            `POST /${BUCKET}?delete HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${XML_BOUNDS.Delete.bytes + 1}\r\n\r\n`,
          )
          sock.write(Buffer.alloc(256 * KiB, 'a'), () => {
            sock.destroy()
            resolve()
          })
        },
      )
      sock.on('error', reject)
    })
    await stillServing('a dropped connection')
  })

  it('a client that drops the connection in the middle of a signed DeleteObjects body does not crash the server', async () => {
    const { port } = new URL(endpoint)
    const head = await signHeaders(alice, {
      method: 'POST',
      path: `/${BUCKET}?delete`,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    })
    await new Promise<void>((resolve, reject) => {
      const sock = connect(
        { host: '127.0.0.1', port: Number(port), ca: readFileSync(ca), servername: 'localhost' },
        () => {
          const lines = Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`)
          sock.write(
            `POST /${BUCKET}?delete HTTP/1.1\r\n${lines.join('')}Content-Length: ${MiB}\r\n\r\n`,
          )
          sock.write(Buffer.alloc(64 * KiB, 'a'), () => {
            sock.destroy()
            resolve()
          })
        },
      )
      sock.on('error', reject)
    })
    await stillServing('a dropped signed connection')
  })
})
