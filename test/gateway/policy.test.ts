/**
 * Bucket policies through the in-process gateway: a Deny beats the identity Allow, an Allow for
 * another principal, anonymous reads under a public-access block, malformed documents
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeletePublicAccessBlockCommand,
  GetBucketPolicyCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-policy'

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
  for (const key of ['private/secret.txt', 'public/readme.txt', 'keep/me.txt'])
    await a.send(new PutObjectCommand({ Bucket: B, Key: key, Body: key }))
})
after(() => gw.stop())

async function failure(call: Promise<unknown>) {
  try {
    await call
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return { status: e.$metadata.httpStatusCode, code: e.name, message: e.message }
  }
  assert.fail('the call succeeded')
}

const policy = (...Statement: object[]) =>
  a.send(
    new PutBucketPolicyCommand({
      Bucket: B,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement }),
    }),
  )

describe('bucket policies, in process', () => {
  it('a Deny in the bucket policy wins over the identity policy’s Allow, for that prefix only', async () => {
    await policy({
      Sid: 'KeepKeep',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject',
      Resource: `arn:aws:s3:::${B}/keep/*`,
    })
    const f = await failure(a.send(new DeleteObjectCommand({ Bucket: B, Key: 'keep/me.txt' })))
    assert.deepEqual([f.status, f.code], [403, 'AccessDenied'])
    // Elsewhere the identity Allow still applies.
    await a.send(new PutObjectCommand({ Bucket: B, Key: 'other.txt', Body: 'x' }))
    await a.send(new DeleteObjectCommand({ Bucket: B, Key: 'other.txt' }))
    // The stored policy reads back as written.
    const got = await a.send(new GetBucketPolicyCommand({ Bucket: B }))
    assert.equal(
      (JSON.parse(got.Policy ?? '{}') as { Statement: { Sid: string }[] }).Statement[0]?.Sid,
      'KeepKeep',
    )
  })

  it('the denial is explained to the admin by request id (strongroom explain)', async () => {
    const r = await gw.call(gw.alice, { method: 'DELETE', path: `/${B}/keep/me.txt` })
    assert.equal(r.status, 403)
    const id = String(r.headers['x-amz-request-id'])
    const explained = await gw.cli('explain', id)
    // Exit status 1: the request it explains was denied.
    assert.equal(explained.code, 1, explained.stderr)
    assert.match(
      explained.stdout,
      /^\S+ DeleteObject: ExplicitDeny for arn:aws:iam::\d{12}:user\/alice\n/,
    )
    assert.match(explained.stdout, /KeepKeep/)
    assert.match(explained.stdout, /s3:DeleteObject/)
  })

  it('audit query finds a refusal by decision, error code and source; nothing matched is exit 1', async () => {
    const r = await gw.send({ method: 'GET', path: `/${B}/keep/me.txt` })
    assert.equal(r.status, 403)
    const id = String(r.headers['x-amz-request-id'])
    const q = await gw.cli(
      'audit',
      'query',
      '--decision',
      'ImplicitDeny',
      '--error-code',
      'AccessDenied',
      '--source',
      '127.0.0.0/8',
      '--json',
    )
    assert.equal(q.code, 0, q.stderr)
    const found = q.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { requestID: string; eventName: string; userIdentity: { type: string } },
      )
      .filter((e) => e.requestID === id)
    assert.deepEqual(
      found.map((e) => [e.eventName, e.userIdentity.type]),
      [['GetObject', 'AWSAccount']],
    )
    const none = await gw.cli('audit', 'query', '--source', '203.0.113.0/24')
    assert.deepEqual([none.code, none.stdout], [1, ''])
    const bad = await gw.cli('audit', 'query', '--since', 'yesterday')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /`yesterday` is not a time/)
  })

  it('explain: an anonymous refusal, an id never seen, and text that is not a request id', async () => {
    const r = await gw.send({ method: 'GET', path: `/${B}/keep/me.txt` })
    assert.equal(r.status, 403)
    const anonymous = await gw.cli('explain', String(r.headers['x-amz-request-id']).toLowerCase())
    assert.equal(anonymous.code, 1)
    assert.match(
      anonymous.stdout,
      /anonymous request: refused before any policy was evaluated \(sign it with AWS Signature Version 4\)/,
    )
    const unknown = await gw.cli('explain', '0123456789ABCDEF')
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [1, 'strongroom: no request 0123456789ABCDEF in the audit log [IO]\n'],
    )
    const bad = await gw.cli('explain', 'not-an-id')
    assert.deepEqual(
      [bad.code, bad.stderr],
      [2, 'strongroom: `NOT-AN-ID` is not a request id (16 hexadecimal characters) [USAGE]\n'],
    )
  })

  it('anonymous reads: refused while the public access block is on, even with a public policy', async () => {
    const anonymous = () => gw.send({ method: 'GET', path: `/${B}/public/readme.txt` })
    assert.equal((await anonymous()).status, 403)
    const f = await failure(
      policy({
        Sid: 'PublicRead',
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${B}/public/*`,
      }),
    )
    assert.deepEqual([f.status, f.code], [403, 'AccessDenied'])
  })

  it('with the block removed, a public policy opens what it names; sealed objects still need a signature', async () => {
    await a.send(new DeletePublicAccessBlockCommand({ Bucket: B }))
    await policy({
      Sid: 'PublicList',
      Effect: 'Allow',
      Principal: '*',
      Action: ['s3:ListBucket', 's3:GetObject'],
      Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/public/*`],
    })
    const list = await gw.send({ method: 'GET', path: `/${B}?list-type=2&prefix=public/` })
    assert.equal(list.status, 200)
    assert.deepEqual(
      [...list.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]),
      ['public/readme.txt'],
    )
    // Every body is sealed under a tenant KMS key, and kms:Decrypt needs a signed caller.
    const read = await gw.send({ method: 'GET', path: `/${B}/public/readme.txt` })
    assert.equal(read.status, 403)
    assert.match(errorOf(read.text).Message ?? '', /kms:Decrypt needs a signed request/)
    const closed = await gw.send({ method: 'GET', path: `/${B}/private/secret.txt` })
    assert.deepEqual([closed.status, errorOf(closed.text).Code], [403, 'AccessDenied'])
    const write = await gw.send({ method: 'PUT', path: `/${B}/public/new.txt`, body: 'x' })
    assert.equal(write.status, 403)
  })

  it('malformed policies are MalformedPolicy with the reason; an empty bucket policy is NoSuchBucketPolicy', async () => {
    for (const doc of [
      '{not json',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Maybe', Principal: '*', Action: 's3:GetObject', Resource: '*' }],
      }),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::another-bucket/*',
          },
        ],
      }),
    ]) {
      const f = await failure(a.send(new PutBucketPolicyCommand({ Bucket: B, Policy: doc })))
      assert.deepEqual([f.status, f.code], [400, 'MalformedPolicy'], doc)
      assert.ok(f.message.length > 0)
    }
    await a.send(new DeleteBucketPolicyCommand({ Bucket: B }))
    const none = await failure(a.send(new GetBucketPolicyCommand({ Bucket: B })))
    assert.deepEqual([none.status, none.code], [404, 'NoSuchBucketPolicy'])
  })

  it('another tenant cannot read or replace the bucket policy', async () => {
    const b = gw.sdk(gw.bob)
    const read = await failure(b.send(new GetBucketPolicyCommand({ Bucket: B })))
    assert.deepEqual([read.status, read.code], [403, 'AccessDenied'])
    const write = await failure(
      b.send(
        new PutBucketPolicyCommand({
          Bucket: B,
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${B}/*` },
            ],
          }),
        }),
      ),
    )
    assert.deepEqual([write.status, write.code], [403, 'AccessDenied'])
  })
})
