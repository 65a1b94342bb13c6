/**
 * Bucket control under a public or cross-tenant bucket policy (issue 9, item 3).
 * A review found that with `Principal: "*"` and the public access block off,
 * anonymous callers could replace or delete the bucket policy and delete the
 * bucket (another tenant then took the name), another tenant could change the
 * public access block, encryption and versioning, and a Deny locked the owner
 * out for good. S3's rules, which these tests encode:
 * - "If you are using an identity other than the root user of the AWS account
 *   that owns the bucket, the calling identity must both have the
 *   PutBucketPolicy permissions on the specified bucket and belong to the
 *   bucket owner's account ... If you have the correct permissions, but you're
 *   not using an identity that belongs to the bucket owner's account, Amazon S3
 *   returns a 405 Method Not Allowed error", and "the root principal in a bucket
 *   owner's AWS account can perform the GetBucketPolicy, PutBucketPolicy, and
 *   DeleteBucketPolicy API actions, even if their bucket policy explicitly
 *   denies the root principal's access"
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html);
 *   Strongroom applies the first rule to every bucket-configuration action and
 *   to DeleteBucket (src/api/bucket-owner.ts).
 * - A deleted bucket's name is not free at once; CreateBucket meanwhile answers
 *   409 OperationAborted, "A conflicting conditional operation is currently in
 *   progress against this resource"
 *   (https://repost.aws/knowledge-center/s3-conflicting-conditional-operation).
 *   Strongroom holds the name for the tenant that deleted it for
 *   `bucketNameHold` seconds (7200 here, from STRONGROOM_BUCKET_NAME_HOLD).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import { decisions as auditDecisions } from '../../src/audit/read.ts'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketEncryptionCommand,
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3'
import {
  alice,
  bob,
  ca,
  dataDir,
  endpoint,
  newKey,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
  strongroomRun,
} from '../e2e/harness.ts'

before(() => start({ STRONGROOM_BUCKET_NAME_HOLD: '7200' }))
after(stop)

const BUCKET = 'open-models'
const ARN = `arn:aws:s3:::${BUCKET}`

/** Grants everyone everything on the bucket: the careless policy the review attacked. */
const OPEN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: [ARN, `${ARN}/*`] }],
})
const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [ARN, `${ARN}/*`] }],
})

/** `Code: message`, or `ok` (with the HTTP status) when the call succeeds. */
async function outcome(p: Promise<{ $metadata: { httpStatusCode?: number } }>): Promise<string> {
  try {
    const r = await p
    return `ok ${String(r.$metadata.httpStatusCode)}`
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${String(e.$metadata.httpStatusCode)} ${e.name}`
  }
}

/** An unsigned request over TLS: what anyone on the network can send. */
function anonymous(
  method: string,
  path: string,
  body = '',
): Promise<{ status: number; body: string }> {
  const url = new URL(path, endpoint)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: readFileSync(ca),
        headers: { 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const code = (r: { status: number; body: string }) =>
  `${String(r.status)} ${/<Code>([^<]*)<\/Code>/.exec(r.body)?.[1] ?? ''}`.trim()

const PAB_OFF =
  '<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>false</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>'
const SSE =
  '<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>'
const VERSIONING =
  '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'

let owner: S3Client
let admin: { id: string; secret: string }

describe('bucket control under a public or cross-tenant policy', () => {
  before(async () => {
    owner = sdk(alice)
    await owner.send(new CreateBucketCommand({ Bucket: BUCKET }))
    await owner.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'model.bin', Body: 'weights' }))
    await owner.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }))
    await owner.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: OPEN_POLICY }))
    // The vision tenant's administrator: its own policy allows everything.
    strongroom(['user', 'create', '--tenant', 'vision', 'vision-admin'])
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'vision-admin',
      '--name',
      'AdministratorAccess',
      '--document',
      policyFile('vision-admin.json', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      }),
    ])
    admin = newKey('vision', 'vision-admin')
  })
  after(() => owner.destroy())

  it('anonymous callers cannot get, put, replace or delete the bucket policy under Principal * with the public access block off', async () => {
    assert.equal(code(await anonymous('GET', `/${BUCKET}?policy`)), '405 MethodNotAllowed')
    assert.equal(
      code(await anonymous('PUT', `/${BUCKET}?policy`, DENY_ALL)),
      '405 MethodNotAllowed',
    )
    assert.equal(
      code(
        await anonymous(
          'PUT',
          `/${BUCKET}?policy`,
          OPEN_POLICY.replace('"s3:*"', '["s3:*","kms:*"]'),
        ),
      ),
      '405 MethodNotAllowed',
    )
    assert.equal(code(await anonymous('DELETE', `/${BUCKET}?policy`)), '405 MethodNotAllowed')
    const kept = await owner.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))
    assert.equal(kept.Policy, OPEN_POLICY, 'the policy is unchanged')
  })

  it('anonymous callers cannot delete the bucket or change its public access block, encryption or versioning', async () => {
    assert.equal(code(await anonymous('DELETE', `/${BUCKET}`)), '405 MethodNotAllowed')
    assert.equal(
      code(await anonymous('PUT', `/${BUCKET}?publicAccessBlock`, PAB_OFF)),
      '405 MethodNotAllowed',
    )
    assert.equal(
      code(await anonymous('DELETE', `/${BUCKET}?publicAccessBlock`)),
      '405 MethodNotAllowed',
    )
    assert.equal(
      code(await anonymous('GET', `/${BUCKET}?publicAccessBlock`)),
      '405 MethodNotAllowed',
    )
    assert.equal(code(await anonymous('PUT', `/${BUCKET}?encryption`, SSE)), '405 MethodNotAllowed')
    assert.equal(code(await anonymous('DELETE', `/${BUCKET}?encryption`)), '405 MethodNotAllowed')
    assert.equal(
      code(await anonymous('PUT', `/${BUCKET}?versioning`, VERSIONING)),
      '405 MethodNotAllowed',
    )
    assert.equal(code(await anonymous('GET', `/${BUCKET}?versioning`)), '405 MethodNotAllowed')
    const v = await owner.send(new GetBucketVersioningCommand({ Bucket: BUCKET }))
    assert.equal(v.Status, undefined, 'versioning was never turned on')
    assert.equal(
      await outcome(owner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'model.bin' }))),
      'ok 200',
    )
  })

  it('anonymous listing under a public policy that grants ListBucket still works', async () => {
    const r = await anonymous('GET', `/${BUCKET}?list-type=2`)
    assert.equal(r.status, 200)
    assert.match(r.body, /<Key>model\.bin<\/Key>/)
  })

  it('another tenant granted s3:* by the bucket policy cannot read or change its configuration, nor delete it', async () => {
    const s3 = sdk(bob)
    const B = { Bucket: BUCKET }
    const refused = '405 MethodNotAllowed'
    assert.equal(await outcome(s3.send(new GetBucketPolicyCommand(B))), refused)
    assert.equal(
      await outcome(s3.send(new PutBucketPolicyCommand({ ...B, Policy: DENY_ALL }))),
      refused,
    )
    assert.equal(await outcome(s3.send(new DeleteBucketPolicyCommand(B))), refused)
    assert.equal(await outcome(s3.send(new GetPublicAccessBlockCommand(B))), refused)
    assert.equal(
      await outcome(
        s3.send(
          new PutPublicAccessBlockCommand({
            ...B,
            PublicAccessBlockConfiguration: {
              BlockPublicAcls: false,
              IgnorePublicAcls: false,
              BlockPublicPolicy: false,
              RestrictPublicBuckets: false,
            },
          }),
        ),
      ),
      refused,
    )
    assert.equal(await outcome(s3.send(new DeletePublicAccessBlockCommand(B))), refused)
    assert.equal(await outcome(s3.send(new GetBucketEncryptionCommand(B))), refused)
    assert.equal(
      await outcome(
        s3.send(
          new PutBucketEncryptionCommand({
            ...B,
            ServerSideEncryptionConfiguration: {
              Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
            },
          }),
        ),
      ),
      refused,
    )
    assert.equal(await outcome(s3.send(new DeleteBucketEncryptionCommand(B))), refused)
    assert.equal(await outcome(s3.send(new GetBucketVersioningCommand(B))), refused)
    assert.equal(
      await outcome(
        s3.send(
          new PutBucketVersioningCommand({ ...B, VersioningConfiguration: { Status: 'Enabled' } }),
        ),
      ),
      refused,
    )
    assert.equal(await outcome(s3.send(new DeleteBucketCommand(B))), refused)
    // What the policy grants on the bucket's data still holds: bob may list it.
    assert.equal(await outcome(s3.send(new ListObjectsV2Command(B))), 'ok 200')
    s3.destroy()
    // The decision record names the rule that refused.
    const decisions = await auditDecisions(join(dataDir, 'audit'))
    const last = decisions.findLast(
      (d) => d.operation === 'DeleteBucket' && d.principal.includes(':user/bob'),
    )
    assert.match(last?.trace?.decidedBy ?? '', /bucket-owner rule/)
  })

  it("a Deny-all bucket policy does not lock the owner's admin out of the bucket policy", async () => {
    await owner.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: DENY_ALL }))
    assert.equal(
      await outcome(owner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'model.bin' }))),
      '403 AccessDenied',
      "the Deny holds for the bucket's data",
    )
    const s3 = sdk(admin)
    const got = await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))
    assert.equal(got.Policy, DENY_ALL)
    assert.equal(
      await outcome(s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: DENY_ALL }))),
      'ok 204',
    )
    assert.equal(
      await outcome(s3.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }))),
      'ok 204',
    )
    assert.equal(
      await outcome(owner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'model.bin' }))),
      'ok 200',
    )
    s3.destroy()
  })

  it('a user of the owning tenant whose own policies do not grant the bucket policy stays denied by it', async () => {
    strongroom(['user', 'create', '--tenant', 'vision', 'reader'])
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'reader',
      '--name',
      'read',
      '--document',
      policyFile('reader.json', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }],
      }),
    ])
    const s3 = sdk(newKey('vision', 'reader'))
    await owner.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: DENY_ALL }))
    assert.equal(
      await outcome(s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))),
      '403 AccessDenied',
    )
    assert.equal(
      await outcome(s3.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }))),
      '403 AccessDenied',
    )
    s3.destroy()
  })

  it('strongroom bucket delete-policy recovers a bucket whose policy denies everyone', async () => {
    const r = strongroomRun(['bucket', 'delete-policy', BUCKET])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /removed the policy of bucket open-models/)
    assert.ok(r.stdout.includes(DENY_ALL), 'the removed policy is shown, to mend and put back')
    assert.equal(
      await outcome(owner.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'model.bin' }))),
      'ok 200',
    )
    assert.equal(
      await outcome(owner.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))),
      '404 NoSuchBucketPolicy',
    )
    const again = strongroomRun(['bucket', 'delete-policy', BUCKET])
    assert.equal(again.status, 0)
    assert.match(again.stdout, /had no policy/)
    const missing = strongroomRun(['bucket', 'delete-policy', 'no-such-bucket'])
    assert.equal(missing.status, 2)
    assert.match(missing.stderr, /there is no bucket `no-such-bucket`/)
  })

  it("a deleted bucket's name cannot be taken by another tenant during the hold; the owner can recreate it at once", async () => {
    const s3 = sdk(bob)
    const name = 'held-name'
    await owner.send(new CreateBucketCommand({ Bucket: name }))
    assert.equal(await outcome(owner.send(new DeleteBucketCommand({ Bucket: name }))), 'ok 204')
    assert.equal(
      await outcome(s3.send(new CreateBucketCommand({ Bucket: name }))),
      '409 OperationAborted',
    )
    assert.equal(await outcome(owner.send(new CreateBucketCommand({ Bucket: name }))), 'ok 200')
    assert.equal(await outcome(owner.send(new DeleteBucketCommand({ Bucket: name }))), 'ok 204')
    // The clock moves on by rewriting when the hold began (no test waits for real time).
    const moveBack = (seconds: number) => {
      const db = new DatabaseSync(join(dataDir, 'meta.sqlite'))
      try {
        db.exec('PRAGMA busy_timeout = 5000')
        db.prepare('UPDATE bucket_holds SET deleted_at = deleted_at - ? WHERE name = ?').run(
          seconds * 1000,
          name,
        )
      } finally {
        db.close()
      }
    }
    moveBack(3601)
    assert.equal(
      await outcome(s3.send(new CreateBucketCommand({ Bucket: name }))),
      '409 OperationAborted',
      'past the default hour, the configured 7200 s still hold',
    )
    moveBack(3600)
    assert.equal(await outcome(s3.send(new CreateBucketCommand({ Bucket: name }))), 'ok 200')
    assert.equal(
      await outcome(owner.send(new CreateBucketCommand({ Bucket: name }))),
      '409 BucketAlreadyExists',
    )
    s3.destroy()
  })
})
