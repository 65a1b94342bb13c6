/**
 * Slow clients: a client that stalls in its headers or mid-body gets S3's
 * RequestTimeout and the connection closes, and a stalled upload leaves no
 * object. The gateway runs with a one-second header timeout
 * (STRONGROOM_HEADER_TIMEOUT) and a two-second idle timeout
 * (STRONGROOM_IDLE_TIMEOUT) so that the test is quick.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { alice, rawTls, sdk, start, stop } from './harness.ts'

before(() => start({ STRONGROOM_HEADER_TIMEOUT: '1', STRONGROOM_IDLE_TIMEOUT: '2' }))
after(stop)

describe('slow clients', () => {
  it('headers that never finish get RequestTimeout and a closed connection', async () => {
    const t0 = Date.now()
    const out = await rawTls('GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', false)
    const waited = Date.now() - t0
    assert.match(out, /^HTTP\/1\.1 400 /)
    assert.match(out, /<Code>RequestTimeout<\/Code>/)
    assert.ok(waited >= 900 && waited < 9_000, `closed after ${waited} ms`)
  })

  it('a body that stops arriving gets RequestTimeout, and nothing of it is stored', async () => {
    const client = sdk(alice)
    await client.send(new CreateBucketCommand({ Bucket: 'vision-slow' }))
    const url = new URL(
      await getSignedUrl(client, new PutObjectCommand({ Bucket: 'vision-slow', Key: 'stalled' }), {
        expiresIn: 60,
      }),
    )
    const out = await rawTls(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`,
      false,
    )
    assert.match(out, /^HTTP\/1\.1 400 /)
    assert.match(out, /<Code>RequestTimeout<\/Code>/)
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'vision-slow' }))
    assert.equal(listed.KeyCount, 0)
    client.destroy()
    // Control: a prompt client on the same server is served.
    const whole = await rawTls(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${'x'.repeat(10)}`,
      false,
    )
    assert.match(whole, /^HTTP\/1\.1 200 /)
  })
})
