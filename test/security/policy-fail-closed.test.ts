/**
 * Issue 9, item 7: stored policies fail closed. A stored bucket or identity
 * policy that no longer parses (a corrupt row, a stricter parser) used to be
 * dropped silently, so a Deny it held vanished. Now it denies every request
 * that would have read it, the trace names it for `strongroom explain`, and the
 * gateway logs one alert per policy text, without the text.
 *
 * The rows are corrupted directly in SQLite (node:sqlite) under the running
 * gateway, as an attacker or a disk error would.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import {
  alice,
  dataDir,
  newKey,
  policyFile,
  sdk,
  serverStderr,
  start,
  stop,
  strongroom,
  strongroomRun,
  type Creds,
} from '../e2e/harness.ts'

before(() => start())
after(stop)

const BUCKET = 'fail-closed-bucket'
const USER_BUCKET = 'fail-closed-user'

/** Runs one SQL statement on the gateway's metadata database, beside the running gateway. */
function corrupt(sql: string, ...args: string[]): void {
  const db = new DatabaseSync(join(dataDir, 'meta.sqlite'))
  try {
    db.exec('PRAGMA busy_timeout = 10000')
    const r = db.prepare(sql).run(...args)
    assert.equal(r.changes, 1, sql)
  } finally {
    db.close()
  }
}

/** The S3 error code and request id of a request expected to fail. */
async function denied(
  send: Promise<unknown>,
): Promise<{ code: string; status: number | undefined; requestId: string }> {
  try {
    await send
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return {
      code: e.name,
      status: e.$metadata.httpStatusCode,
      requestId: e.$metadata.requestId ?? '',
    }
  }
  assert.fail('the request was allowed')
}

/** Waits until the gateway's stderr has logged the request (its access line comes after any alert). */
async function logged(requestId: string): Promise<string> {
  for (let i = 0; i < 200 && !serverStderr().includes(requestId); i++)
    await new Promise((r) => setTimeout(r, 50))
  return serverStderr()
}

function alerts(log: string, policy: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.alert === 'policy-unloadable' && l.policy === policy)
}

function explain(requestId: string): { status: number | null; stdout: string } {
  const r = strongroomRun(['explain', requestId])
  return { status: r.status, stdout: r.stdout }
}

describe('stored policies fail closed', () => {
  it('a corrupt bucket policy row denies every request on the bucket instead of losing its Deny', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'model.pt', Body: 'weights' }))
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: BUCKET,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'NoDeletes',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:DeleteObject',
              Resource: `arn:aws:s3:::${BUCKET}/*`,
            },
          ],
        }),
      }),
    )
    const get = new GetObjectCommand({ Bucket: BUCKET, Key: 'model.pt' })
    assert.equal((await s3.send(get)).$metadata.httpStatusCode, 200)
    assert.equal(
      (await denied(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'model.pt' })))).code,
      'AccessDenied',
    )

    // The row loses its tail: the Deny no longer parses.
    corrupt('UPDATE buckets SET policy = substr(policy, 1, 60) WHERE name = ?', BUCKET)

    // Dropping the policy would let the owner delete (the Deny is gone) and read: both are denied.
    const del = await denied(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'model.pt' })))
    assert.deepEqual([del.code, del.status], ['AccessDenied', 403])
    const read = await denied(s3.send(get))
    assert.deepEqual([read.code, read.status], ['AccessDenied', 403])
    const put = await denied(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'new.pt', Body: 'x' })),
    )
    assert.deepEqual([put.code, put.status], ['AccessDenied', 403])

    const why = explain(read.requestId)
    assert.equal(why.status, 1)
    assert.match(why.stdout, /GetObject: ExplicitDeny for arn:aws:iam::\d{12}:user\/alice/)
    assert.match(
      why.stdout,
      new RegExp(
        `decided by: explicit Deny in resource policy \`bucket policy of ${BUCKET}\`, which cannot be loaded \\(InvalidJson at \\$ \\(1:\\d+\\)\\) and so denies every request`,
      ),
    )
    assert.match(
      why.stdout,
      /cannot be loaded \(InvalidJson at \$ \(1:\d+\)\): denies every request until replaced or deleted/,
    )

    // One alert for this policy text, however many requests read it; no policy text in it.
    const log = await logged(put.requestId)
    const a = alerts(log, `bucket policy of ${BUCKET}`)
    assert.equal(a.length, 1, log)
    assert.equal(a[0]?.level, 'alert')
    assert.equal(a[0].owner, `bucket ${BUCKET}`)
    assert.match(
      String(a[0].message),
      new RegExp(
        `^stored resource policy \`bucket policy of ${BUCKET}\` cannot be loaded \\(InvalidJson at \\$ \\(1:\\d+\\)\\): every request that reads it is denied until it is replaced or deleted$`,
      ),
    )
    assert.doesNotMatch(JSON.stringify(a[0]), /Statement|NoDeletes/)
  })

  it('a corrupt identity policy row denies every request of its user instead of losing its Deny', async () => {
    strongroom(['user', 'create', '--tenant', 'vision', 'carol'])
    const put = (name: string, doc: object) =>
      strongroom([
        'user',
        'put-policy',
        '--tenant',
        'vision',
        '--user',
        'carol',
        '--name',
        name,
        '--document',
        policyFile(`${name}.json`, doc),
      ])
    put('carol-allow', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:*', 'kms:GenerateDataKey', 'kms:Decrypt'], Resource: '*' },
      ],
    })
    put('carol-guardrail', {
      Version: '2012-10-17',
      Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }],
    })
    const carol: Creds = newKey('vision', 'carol')
    const s3 = sdk(carol)
    await s3.send(new CreateBucketCommand({ Bucket: USER_BUCKET }))
    await s3.send(new PutObjectCommand({ Bucket: USER_BUCKET, Key: 'data.bin', Body: 'rows' }))
    const get = new GetObjectCommand({ Bucket: USER_BUCKET, Key: 'data.bin' })
    assert.equal((await s3.send(get)).$metadata.httpStatusCode, 200)

    // As a stricter parser would: `deny` is not a valid Effect.
    corrupt(
      `UPDATE user_policies SET document = replace(document, '"Effect":"Deny"', '"Effect":"deny"') WHERE user_name = 'carol' AND name = 'carol-guardrail'`,
    )

    const read = await denied(s3.send(get))
    assert.deepEqual([read.code, read.status], ['AccessDenied', 403])
    const del = await denied(
      s3.send(new DeleteObjectCommand({ Bucket: USER_BUCKET, Key: 'data.bin' })),
    )
    assert.deepEqual([del.code, del.status], ['AccessDenied', 403])

    const why = explain(read.requestId)
    assert.equal(why.status, 1)
    assert.match(
      why.stdout,
      /decided by: explicit Deny in identity policy `carol-guardrail`, which cannot be loaded \([A-Za-z]+ at \$\.Statement\[0\]\.Effect \(1:\d+\)\) and so denies every request/,
    )

    const log = await logged(del.requestId)
    const a = alerts(log, 'carol-guardrail')
    assert.equal(a.length, 1, log)
    assert.equal(a[0]?.owner, 'vision/carol')

    // Other users of the tenant are untouched.
    const other = await sdk(alice).send(
      new GetObjectCommand({ Bucket: USER_BUCKET, Key: 'data.bin' }),
    )
    assert.equal(other.$metadata.httpStatusCode, 200)
  })
})
