/**
 * The S3 operation table, walked: every declaration names an IAM action and a match, and the
 * pipeline refuses an unauthorized request before its handler runs, for every operation. The
 * gateway runs in-process on port 0 over plain HTTP, its handlers wrapped to record calls;
 * requests are signed with the AWS SDK's own SigV4 signer, as test/security/http.ts does (its
 * helpers are bound to the e2e harness's HTTPS endpoint).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { actionOf, type Operation } from '../../src/api/operation.ts'
import { decode, route, SUBRESOURCES } from '../../src/api/protocols/rest-xml.ts'
import { S3_OPERATIONS } from '../../src/api/s3/table.ts'
import { startInProcess, type Creds, type InProcess, type Sample } from './inprocess.ts'

const U = 'UPLOADID'
/** One request that names each operation (checked below to route to it). */
const SAMPLES: Record<string, Sample> = {
  ListBuckets: { method: 'GET', path: '/' },
  CreateBucket: { method: 'PUT', path: '/fresh-bucket' },
  HeadBucket: { method: 'HEAD', path: '/bkt' },
  GetBucketLocation: { method: 'GET', path: '/bkt?location' },
  DeleteBucket: { method: 'DELETE', path: '/bkt' },
  PutBucketPolicy: { method: 'PUT', path: '/bkt?policy', body: '{}' },
  GetBucketPolicy: { method: 'GET', path: '/bkt?policy' },
  DeleteBucketPolicy: { method: 'DELETE', path: '/bkt?policy' },
  PutBucketEncryption: { method: 'PUT', path: '/bkt?encryption', body: '<x/>' },
  GetBucketEncryption: { method: 'GET', path: '/bkt?encryption' },
  DeleteBucketEncryption: { method: 'DELETE', path: '/bkt?encryption' },
  PutPublicAccessBlock: { method: 'PUT', path: '/bkt?publicAccessBlock', body: '<x/>' },
  GetPublicAccessBlock: { method: 'GET', path: '/bkt?publicAccessBlock' },
  DeletePublicAccessBlock: { method: 'DELETE', path: '/bkt?publicAccessBlock' },
  PutBucketVersioning: { method: 'PUT', path: '/bkt?versioning', body: '<x/>' },
  GetBucketVersioning: { method: 'GET', path: '/bkt?versioning' },
  ListObjectVersions: { method: 'GET', path: '/bkt?versions' },
  ListObjectsV2: { method: 'GET', path: '/bkt?list-type=2' },
  ListObjects: { method: 'GET', path: '/bkt' },
  GetObjectTagging: { method: 'GET', path: '/bkt/k?tagging' },
  PutObjectTagging: {
    method: 'PUT',
    path: '/bkt/k?tagging',
    body: '<Tagging><TagSet></TagSet></Tagging>',
  },
  DeleteObjectTagging: { method: 'DELETE', path: '/bkt/k?tagging' },
  CreateMultipartUpload: { method: 'POST', path: '/bkt/k?uploads' },
  UploadPartCopy: {
    method: 'PUT',
    path: `/bkt/k?partNumber=1&uploadId=${U}`,
    headers: { 'x-amz-copy-source': '/bkt/k' },
  },
  UploadPart: { method: 'PUT', path: `/bkt/k?partNumber=1&uploadId=${U}`, body: 'x' },
  CompleteMultipartUpload: { method: 'POST', path: `/bkt/k?uploadId=${U}`, body: '<x/>' },
  AbortMultipartUpload: { method: 'DELETE', path: `/bkt/k?uploadId=${U}` },
  ListParts: { method: 'GET', path: `/bkt/k?uploadId=${U}` },
  ListMultipartUploads: { method: 'GET', path: '/bkt?uploads' },
  CopyObject: { method: 'PUT', path: '/bkt/k2', headers: { 'x-amz-copy-source': '/bkt/k' } },
  PutObject: { method: 'PUT', path: '/bkt/k2', body: 'x' },
  GetObject: { method: 'GET', path: '/bkt/k' },
  HeadObject: { method: 'HEAD', path: '/bkt/k' },
  DeleteObject: { method: 'DELETE', path: '/bkt/k' },
  DeleteObjects: {
    method: 'POST',
    path: '/bkt?delete',
    body: '<Delete><Object><Key>k</Key></Object></Delete>',
  },
  GetObjectAttributes: {
    method: 'GET',
    path: '/bkt/k?attributes',
    headers: { 'x-amz-object-attributes': 'ETag' },
  },
  PutObjectLockConfiguration: { method: 'PUT', path: '/bkt?object-lock', body: '<x/>' },
  GetObjectLockConfiguration: { method: 'GET', path: '/bkt?object-lock' },
  PutObjectRetention: { method: 'PUT', path: '/bkt/k?retention', body: '<x/>' },
  GetObjectRetention: { method: 'GET', path: '/bkt/k?retention' },
  PutObjectLegalHold: { method: 'PUT', path: '/bkt/k?legal-hold', body: '<x/>' },
  GetObjectLegalHold: { method: 'GET', path: '/bkt/k?legal-hold' },
  PutBucketLifecycleConfiguration: { method: 'PUT', path: '/bkt?lifecycle', body: '<x/>' },
  GetBucketLifecycleConfiguration: { method: 'GET', path: '/bkt?lifecycle' },
  DeleteBucketLifecycle: { method: 'DELETE', path: '/bkt?lifecycle' },
  GetBucketAcl: { method: 'GET', path: '/bkt?acl' },
  PutBucketAcl: { method: 'PUT', path: '/bkt?acl', headers: { 'x-amz-acl': 'private' } },
  GetObjectAcl: { method: 'GET', path: '/bkt/k?acl' },
  PutObjectAcl: { method: 'PUT', path: '/bkt/k?acl', headers: { 'x-amz-acl': 'private' } },
  GetBucketOwnershipControls: { method: 'GET', path: '/bkt?ownershipControls' },
  PutBucketOwnershipControls: { method: 'PUT', path: '/bkt?ownershipControls', body: '<x/>' },
  GetBucketTagging: { method: 'GET', path: '/bkt?tagging' },
  PutBucketTagging: {
    method: 'PUT',
    path: '/bkt?tagging',
    body: '<Tagging><TagSet></TagSet></Tagging>',
  },
  DeleteBucketTagging: { method: 'DELETE', path: '/bkt?tagging' },
  GetBucketPolicyStatus: { method: 'GET', path: '/bkt?policyStatus' },
  GetBucketCors: { method: 'GET', path: '/bkt?cors' },
  DeleteBucketCors: { method: 'DELETE', path: '/bkt?cors' },
  GetBucketWebsite: { method: 'GET', path: '/bkt?website' },
  DeleteBucketWebsite: { method: 'DELETE', path: '/bkt?website' },
  GetBucketReplication: { method: 'GET', path: '/bkt?replication' },
  DeleteBucketReplication: { method: 'DELETE', path: '/bkt?replication' },
  GetBucketLogging: { method: 'GET', path: '/bkt?logging' },
  GetBucketRequestPayment: { method: 'GET', path: '/bkt?requestPayment' },
  GetBucketAccelerateConfiguration: { method: 'GET', path: '/bkt?accelerate' },
  GetBucketNotificationConfiguration: { method: 'GET', path: '/bkt?notification' },
}

const fakeRequest = (s: Sample) =>
  ({ method: s.method, url: s.path, headers: { ...s.headers } }) as unknown as IncomingMessage

describe('the S3 operation table', () => {
  it('every operation has a unique name, a match and an IAM action', () => {
    assert.ok(S3_OPERATIONS.length >= 35)
    const names = S3_OPERATIONS.map((o) => o.name)
    assert.deepEqual(names, [...new Set(names)], 'names are unique')
    for (const op of S3_OPERATIONS) {
      assert.ok(op.match.method.length > 0 && op.match.on.length > 0, `${op.name}: a match`)
      if (op.match.sub !== undefined)
        assert.ok((SUBRESOURCES as readonly string[]).includes(op.match.sub), op.name)
      const sample = SAMPLES[op.name]
      assert.ok(sample !== undefined, `${op.name}: a sample request in this test`)
      const action = actionOf(op, decode(fakeRequest(sample)))
      assert.match(action, /^(s3|strongroom):[A-Z]\w+$/, `${op.name}: an IAM action`)
      if (op.target === 'items')
        assert.ok(op.bodyBeforeAuth !== undefined, `${op.name}: per-item needs its body`)
      if (op.bodyBeforeAuth !== undefined)
        assert.ok(
          op.bodyBeforeAuth.maxBytes > 0 && op.bodyBeforeAuth.maxBytes <= 8 << 20,
          `${op.name}: a stated, small body limit`,
        )
    }
  })

  it('each sample request routes to its operation', () => {
    for (const [name, sample] of Object.entries(SAMPLES))
      assert.equal(route(S3_OPERATIONS, decode(fakeRequest(sample))).name, name)
  })
})

describe('an unauthorized request never reaches its handler, for every operation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-ops-'))
  const called = new Set<string>()
  let h: InProcess
  let uploadId = ''

  const spied: Operation[] = S3_OPERATIONS.map((op) => ({
    ...op,
    handler: (ctx) => {
      called.add(op.name)
      return op.handler(ctx)
    },
  }))

  const send = (c: Creds | undefined, s: Sample) =>
    h.send(c, { ...s, path: s.path.replace(U, uploadId) })

  before(async () => {
    h = await startInProcess(dir, { operations: spied })
    for (const s of [
      { method: 'PUT', path: '/bkt' },
      SAMPLES.PutObject ?? assert.fail(),
      { method: 'PUT', path: '/bkt/k', body: 'data' },
    ]) {
      const r = await send(h.admin, s)
      assert.equal(r.status, 200, r.body)
    }
    const created = await send(h.admin, SAMPLES.CreateMultipartUpload ?? assert.fail())
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1] ?? ''
    assert.notEqual(uploadId, '')
  })

  after(async () => {
    await h.close()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const op of S3_OPERATIONS) {
    it(op.name, async () => {
      const sample = SAMPLES[op.name] ?? assert.fail(`no sample for ${op.name}`)
      for (const [who, creds] of [
        ['a user without policies', h.nobody],
        ['an anonymous caller', undefined],
      ] as const) {
        called.clear()
        const r = await send(creds, sample)
        if (op.target === 'items' && creds !== undefined) {
          // Per-item: S3 answers 200 with each item refused; nothing is deleted.
          assert.equal(r.status, 200, `${op.name}, ${who}`)
          assert.match(r.body, /<Code>AccessDenied<\/Code>/)
          assert.doesNotMatch(r.body, /<Deleted>/)
          assert.equal((await send(h.admin, SAMPLES.HeadObject ?? assert.fail())).status, 200)
          continue
        }
        assert.equal(r.status, 403, `${op.name}, ${who}: ${r.body}`)
        assert.equal(called.has(op.name), false, `${op.name}, ${who}: the handler ran`)
      }
    })
  }
})
