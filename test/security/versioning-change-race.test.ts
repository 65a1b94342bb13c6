/**
 * Outside review of issue 12 (2026-12-02): a write or delete acted on the bucket's versioning
 * as read when its request began.
 *
 * 1. A PUT held open on an unversioned bucket while the owner enabled versioning, wrote
 *    version X and suspended versioning, then finished: it replaced X (the write removed the
 *    current version, as an unversioned write does) and left two `null` versions.
 * 2. A DeleteObjects held open on an unversioned bucket while the owner enabled versioning and
 *    wrote version X, then finished: it deleted X outright, where a versioned bucket only
 *    puts a delete marker.
 *
 * 3. A PutObjectLockConfiguration held open on a versioned bucket while the owner suspended
 *    versioning, then finished: the bucket had Object Lock with versioning suspended, which S3
 *    never allows.
 *
 * The metadata store now reads the versioning in the transaction that commits, and refuses
 * (409 OperationAborted, retryable) a write or delete made under versioning that keeps less
 * history than the bucket now does; Object Lock and suspension are each refused (409
 * InvalidBucketState) in the statement that would join them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startGateway, type Gateway } from '../gateway/start.ts'

let gw: Gateway
let a: S3Client
before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
})
after(() => gw.stop())

const versioning = (Bucket: string, Status: 'Enabled' | 'Suspended') =>
  a.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status } }))

/**
 * Sends a signed request whose headers arrive now and whose body arrives after `meanwhile`;
 * answers its status and body.
 */
async function heldOpen(
  method: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  meanwhile: () => Promise<void>,
): Promise<{ status: number; text: string }> {
  const signed = await gw.sign(gw.alice, {
    method,
    path,
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
  })
  const req = request(new URL(path, gw.endpoint), {
    method,
    headers: { ...signed, 'content-length': String(body.length) },
  })
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('error', reject)
    req.on('response', (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
  })
  req.flushHeaders()
  await sleep(300)
  await meanwhile()
  req.end(body)
  return answered
}

describe('a request cannot act on versioning that changed while its body arrived', () => {
  it('a PUT begun unversioned, finished after versioning was enabled and suspended, keeps version X', async () => {
    const B = 'race-put'
    await a.send(new CreateBucketCommand({ Bucket: B }))
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'original' }))
    let x = ''
    const r = await heldOpen('PUT', `/${B}/k`, Buffer.from('late'), {}, async () => {
      await versioning(B, 'Enabled')
      x =
        (await a.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'version X' })))
          .VersionId ?? ''
      await versioning(B, 'Suspended')
    })
    assert.equal(r.status, 409, r.text)
    assert.match(r.text, /<Code>OperationAborted<\/Code>/)
    const got = await a.send(new GetObjectCommand({ Bucket: B, Key: 'k', VersionId: x }))
    assert.equal(await got.Body?.transformToString(), 'version X')
    const listed = await a.send(new ListObjectVersionsCommand({ Bucket: B }))
    assert.deepEqual(
      listed.Versions?.map((v) => v.VersionId),
      [x, 'null'],
    )
  })

  it('a DeleteObjects begun unversioned, finished after versioning was enabled, deletes nothing outright', async () => {
    const B = 'race-delete'
    await a.send(new CreateBucketCommand({ Bucket: B }))
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'original' }))
    const body = Buffer.from('<Delete><Object><Key>k</Key></Object></Delete>')
    const md5 = createHash('md5').update(body).digest('base64')
    let x = ''
    const r = await heldOpen('POST', `/${B}?delete`, body, { 'content-md5': md5 }, async () => {
      await versioning(B, 'Enabled')
      x =
        (await a.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'version X' })))
          .VersionId ?? ''
    })
    assert.equal(r.status, 200, r.text)
    assert.match(r.text, /<Error><Key>k<\/Key>.*<Code>OperationAborted<\/Code>/)
    const got = await a.send(new GetObjectCommand({ Bucket: B, Key: 'k' }))
    assert.equal(got.VersionId, x)
    assert.equal(await got.Body?.transformToString(), 'version X')
  })

  it('an Object Lock configuration finished after versioning was suspended is InvalidBucketState', async () => {
    const B = 'race-lock'
    await a.send(new CreateBucketCommand({ Bucket: B }))
    await versioning(B, 'Enabled')
    const body = Buffer.from(
      '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>',
    )
    const md5 = createHash('md5').update(body).digest('base64')
    const r = await heldOpen('PUT', `/${B}?object-lock`, body, { 'content-md5': md5 }, async () => {
      await versioning(B, 'Suspended')
    })
    assert.equal(r.status, 409, r.text)
    assert.match(r.text, /<Code>InvalidBucketState<\/Code>/)
    const lock = await gw.call(gw.alice, { method: 'GET', path: `/${B}?object-lock` })
    assert.equal(lock.status, 404, lock.text)
  })
})
