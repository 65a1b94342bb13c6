/**
 * Issue 9, item 2: unsigned x-amz-* headers were obeyed. Whoever held a presigned PUT URL
 * could add x-amz-copy-source (turning the upload into a copy of anything the signer can
 * read), choose the sealing key, and set tags and metadata. S3 refuses every x-amz-* header
 * the signature does not cover: 403 AccessDenied, "There were headers present in the request
 * which were not signed", with a HeadersNotSigned element
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: "any x-amz-*
 * headers that you plan to add to the request" must be signed).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'
import { call, errorOf, presign, send, signHeaders } from './http.ts'

const BUCKET = 'vision-unsigned'
const SECRET = 'the signer can read this; the URL holder must not'

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'private/secret.txt', Body: SECRET }))
  s3.destroy()
})
after(stop)

/** The keys under `upload/` (where the attacks write). */
async function uploads(): Promise<string[]> {
  const s3 = sdk(alice)
  try {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'upload/' }))
    return (r.Contents ?? []).map((o) => o.Key ?? '')
  } finally {
    s3.destroy()
  }
}

const ATTACKS: Record<string, string> = {
  'x-amz-copy-source': `/${BUCKET}/private/secret.txt`,
  'x-amz-server-side-encryption-aws-kms-key-id': 'alias/s3-default',
  'x-amz-tagging': 'public=true',
  'x-amz-meta-x': 'planted',
}

function refusedFor(r: { status: number; body: string }, name: string): void {
  assert.equal(r.status, 403, r.body)
  const e = errorOf(r.body)
  assert.equal(e.code, 'AccessDenied')
  assert.equal(e.message, 'There were headers present in the request which were not signed')
  assert.match(r.body, new RegExp(`<HeadersNotSigned>${name}</HeadersNotSigned>`))
}

describe('unsigned x-amz-* headers are refused', () => {
  for (const [name, value] of Object.entries(ATTACKS)) {
    it(`a presigned PUT URL with an added unsigned ${name} is refused and stores nothing`, async () => {
      const url = await presign(alice, 'PUT', `/${BUCKET}/upload/presigned-${name}`)
      const r = await send({
        method: 'PUT',
        path: '',
        url,
        headers: { [name]: value },
        body: Buffer.from('attacker body'),
      })
      refusedFor(r, name)
      assert.deepEqual(await uploads(), [])
    })

    it(`a header-signed PUT with an added unsigned ${name} is refused and stores nothing`, async () => {
      const path = `/${BUCKET}/upload/signed-${name}`
      const body = Buffer.from('attacker body')
      // Signed without the header, which is then added: what a tampering hop would do.
      const headers = await signHeaders(alice, { method: 'PUT', path, body })
      delete headers.host
      const tampered = await send({
        method: 'PUT',
        path,
        headers: { ...headers, [name]: value },
        body,
      })
      refusedFor(tampered, name)
      assert.deepEqual(await uploads(), [])
    })
  }

  it('several unsigned headers are all named, in order', async () => {
    const url = await presign(alice, 'PUT', `/${BUCKET}/upload/several`)
    const r = await send({
      method: 'PUT',
      path: '',
      url,
      headers: { 'x-amz-tagging': 'a=b', 'x-amz-meta-x': 'y' },
      body: Buffer.from('x'),
    })
    refusedFor(r, 'x-amz-meta-x, x-amz-tagging')
  })

  it('a header-signed request must sign x-amz-content-sha256 too', async () => {
    const path = `/${BUCKET}/upload/no-sha-signed`
    // Signed with UNSIGNED-PAYLOAD as the payload line but without the header in SignedHeaders.
    const headers = await signHeaders(alice, { method: 'GET', path })
    const auth = headers.authorization ?? ''
    assert.match(auth, /SignedHeaders=host;x-amz-content-sha256;x-amz-date/)
    headers.authorization = auth.replace(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date',
      'SignedHeaders=host;x-amz-date',
    )
    delete headers.host
    const r = await send({ method: 'GET', path, headers })
    refusedFor(r, 'x-amz-content-sha256')
  })

  it('correctly signed requests with those headers still work (presigned and header-signed)', async () => {
    const headers = {
      'x-amz-tagging': 'public=true',
      'x-amz-meta-x': 'kept',
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': 'alias/s3-default',
    }
    const url = await presign(alice, 'PUT', `/${BUCKET}/upload/presigned-ok`, headers)
    const p = await send({ method: 'PUT', path: '', url, headers, body: Buffer.from('fine') })
    assert.equal(p.status, 200, p.body)
    const h = await call(alice, {
      method: 'PUT',
      path: `/${BUCKET}/upload/copied-ok`,
      headers: { 'x-amz-copy-source': `/${BUCKET}/private/secret.txt` },
    })
    assert.equal(h.status, 200, h.body)
    const s3 = sdk(alice)
    try {
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'upload/presigned-ok' }),
      )
      assert.equal(head.Metadata?.x, 'kept')
      assert.equal(head.TagCount, 1)
      const copy = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'upload/copied-ok' }))
      assert.equal(copy.ContentLength, SECRET.length)
    } finally {
      s3.destroy()
    }
  })

  it('a presigned URL may carry an x-amz-content-sha256 header: it is bound as the payload line', async () => {
    const url = await presign(alice, 'GET', `/${BUCKET}/private/secret.txt`)
    const r = await send({
      method: 'GET',
      path: '',
      url,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    })
    assert.equal(r.status, 200, r.body)
    assert.equal(r.body, SECRET)
  })
})
