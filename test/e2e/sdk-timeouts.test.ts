/**
 * Slow clients, with nothing but Node and npm (timeouts.test.ts uses boto3 to create and list
 * the bucket): a client that stalls in its headers or mid-body gets S3's RequestTimeout and the
 * connection closes, and a stalled upload leaves no object. The gateway runs with a one-second
 * header timeout (STRONGROOM_HEADER_TIMEOUT) and a two-second idle timeout
 * (STRONGROOM_IDLE_TIMEOUT) so that the test is quick; the test itself measures no time.
 * RequestTimeout: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 * ("Your socket connection to the server was not read from or written to within the timeout period.")
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { alice, rawTls, sdk, start, stop } from './harness.ts'
import { untilServerCloses } from './sdk-util.ts'

let a: S3Client
before(async () => {
  await start({ STRONGROOM_HEADER_TIMEOUT: '1', STRONGROOM_IDLE_TIMEOUT: '2' })
  a = sdk(alice)
})
after(async () => {
  a.destroy()
  await stop()
})

describe('slow clients (AWS SDK for JavaScript and raw TLS)', () => {
  it('headers that never finish get RequestTimeout and a closed connection', async () => {
    const r = await untilServerCloses('GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    assert.match(r.out, /^HTTP\/1\.1 400 /)
    assert.match(r.out, /\r\nConnection: close\r\n/)
    assert.match(r.out, /<Code>RequestTimeout<\/Code>/)
    assert.equal(r.closed, true, 'the server closed the connection')
  })

  it('a body that stops arriving gets RequestTimeout, and nothing of it is stored', async () => {
    const Bucket = 'vision-slow'
    await a.send(new CreateBucketCommand({ Bucket }))
    const url = new URL(
      await getSignedUrl(a, new PutObjectCommand({ Bucket, Key: 'stalled' }), { expiresIn: 60 }),
    )
    const count = async () => (await a.send(new ListObjectsV2Command({ Bucket }))).KeyCount
    const r = await untilServerCloses(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`,
    )
    assert.match(r.out, /^HTTP\/1\.1 400 /)
    assert.match(r.out, /<Code>RequestTimeout<\/Code>/)
    assert.equal(r.closed, true, 'the server closed the connection')
    assert.equal(await count(), 0)
    // Control: a prompt client on the same server is served.
    const whole = await rawTls(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${'x'.repeat(10)}`,
      false,
    )
    assert.match(whole, /^HTTP\/1\.1 200 /)
    assert.equal(await count(), 1)
  })
})
