/**
 * Issue 9, item 5: a malformed x-amz-content-sha256 (neither 64 hex characters nor one of
 * the documented markers) was read as "unsigned", so the body went unchecked. S3 answers
 * 400 InvalidArgument naming the header
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html for the markers).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'
import { call, errorOf } from './http.ts'

const BUCKET = 'vision-sha256'

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  s3.destroy()
})
after(stop)

async function keys(): Promise<string[]> {
  const s3 = sdk(alice)
  try {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))
    return (r.Contents ?? []).map((o) => o.Key ?? '')
  } finally {
    s3.destroy()
  }
}

const BODY = Buffer.from('model weights')
const HEX = createHash('sha256').update(BODY).digest('hex')

const MALFORMED: Record<string, string> = {
  'a truncated hash': HEX.slice(0, 63),
  'a hash with a non-hex character': `${HEX.slice(0, 63)}g`,
  'a hash one character too long': `${HEX}0`,
  'a lower-case marker': 'unsigned-payload',
  'a made-up marker': 'STREAMING-UNSIGNED-PAYLOAD',
  'an empty value': '',
  'base64 of the hash': createHash('sha256').update(BODY).digest('base64'),
}

describe('a malformed x-amz-content-sha256 is refused', () => {
  for (const [what, value] of Object.entries(MALFORMED)) {
    it(`a signed PUT whose x-amz-content-sha256 is ${what} gets 400 InvalidArgument and stores nothing`, async () => {
      const r = await call(alice, {
        method: 'PUT',
        path: `/${BUCKET}/obj`,
        headers: { 'x-amz-content-sha256': value },
        body: BODY,
      })
      assert.equal(r.status, 400, r.body)
      assert.equal(errorOf(r.body).code, 'InvalidArgument')
      assert.match(r.body, /<ArgumentName>x-amz-content-sha256<\/ArgumentName>/)
      assert.deepEqual(await keys(), [])
    })
  }

  it('an anonymous request with a malformed x-amz-content-sha256 gets 400 InvalidArgument too', async () => {
    const r = await call(undefined, {
      method: 'GET',
      path: `/${BUCKET}`,
      headers: { 'x-amz-content-sha256': 'not-a-hash' },
    })
    assert.equal(r.status, 400, r.body)
    assert.equal(errorOf(r.body).code, 'InvalidArgument')
  })

  it('a SigV4A (ECDSA) streaming marker on an HMAC-signed request is refused, not read as unsigned', async () => {
    const r = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}/obj`,
      headers: {
        'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
        'x-amz-decoded-content-length': String(BODY.length),
      },
      body: Buffer.from(`${BODY.length.toString(16)}\r\n${BODY.toString()}\r\n0\r\n\r\n`),
    })
    assert.equal(r.status, 400, r.body)
    assert.equal(errorOf(r.body).code, 'InvalidArgument')
    assert.deepEqual(await keys(), [])
  })

  it('an upper-case hex hash is a hash: checked against the body, not skipped', async () => {
    const wrong = createHash('sha256').update('other bytes').digest('hex').toUpperCase()
    const bad = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}/obj`,
      headers: { 'x-amz-content-sha256': wrong },
      body: BODY,
    })
    assert.equal(bad.status, 400, bad.body)
    assert.equal(errorOf(bad.body).code, 'XAmzContentSHA256Mismatch')
    assert.deepEqual(await keys(), [])
    const good = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}/obj`,
      headers: { 'x-amz-content-sha256': HEX.toUpperCase() },
      body: BODY,
    })
    assert.equal(good.status, 200, good.body)
    assert.deepEqual(await keys(), ['obj'])
  })

  it('a small document body (a bucket policy) is checked against its signed hash too', async () => {
    const policy = Buffer.from(
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::123456789012:root' },
            Action: 's3:GetObject',
            Resource: `arn:aws:s3:::${BUCKET}/*`,
          },
        ],
      }),
    )
    const r = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}?policy`,
      headers: { 'x-amz-content-sha256': createHash('sha256').update('{}').digest('hex') },
      body: policy,
    })
    assert.equal(r.status, 400, r.body)
    assert.equal(errorOf(r.body).code, 'XAmzContentSHA256Mismatch')
  })

  it('the documented markers are accepted', async () => {
    const r = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}/unsigned`,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      body: BODY,
    })
    assert.equal(r.status, 200, r.body)
  })
})
