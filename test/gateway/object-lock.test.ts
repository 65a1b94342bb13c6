/**
 * Object Lock through the gateway: WORM retention that nobody shortens in COMPLIANCE mode, the
 * tenant's administrator included, that GOVERNANCE yields only to an explicit, permitted bypass,
 * legal holds, and a bucket's default retention.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html (bypassing
 * governance mode: x-amz-bypass-governance-retention and s3:BypassGovernanceRetention),
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { refused } from '../e2e/sdk-util.ts'
import { startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-locked'
const DAY = 86_400_000
const inDays = (n: number) => new Date(Math.floor((Date.now() + n * DAY) / 1000) * 1000)

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B, ObjectLockEnabledForBucket: true }))
})
after(() => gw.stop())

const put = (Key: string, extra: Record<string, unknown> = {}) =>
  a.send(new PutObjectCommand({ Bucket: B, Key, Body: 'artifact', ...extra }))

describe('Object Lock on a bucket', () => {
  it('a bucket created with Object Lock has it, and versioning cannot be suspended', async () => {
    const c = await a.send(new GetObjectLockConfigurationCommand({ Bucket: B }))
    assert.equal(c.ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled')
    await refused(
      a.send(
        new PutBucketVersioningCommand({
          Bucket: B,
          VersioningConfiguration: { Status: 'Suspended' },
        }),
      ),
      409,
      'InvalidBucketState',
    )
  })

  it('a bucket without it: ObjectLockConfigurationNotFoundError, lock headers refused; an unversioned one cannot get it', async () => {
    const plain = 'gw-unlocked'
    await a.send(new CreateBucketCommand({ Bucket: plain }))
    await refused(
      a.send(new GetObjectLockConfigurationCommand({ Bucket: plain })),
      404,
      'ObjectLockConfigurationNotFoundError',
    )
    await refused(
      a.send(
        new PutObjectCommand({
          Bucket: plain,
          Key: 'k',
          Body: 'x',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: inDays(1),
        }),
      ),
      400,
      'InvalidRequest',
    )
    await refused(
      a.send(
        new PutObjectLockConfigurationCommand({
          Bucket: plain,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
        }),
      ),
      409,
      'InvalidBucketState',
    )
  })
})

describe('retention', () => {
  it('COMPLIANCE: no one removes the version before its date, the administrator included', async () => {
    const until = inDays(1)
    const v = await put('compliance', {
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: until,
    })
    const h = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'compliance' }))
    assert.equal(h.ObjectLockMode, 'COMPLIANCE')
    assert.equal(h.ObjectLockRetainUntilDate?.getTime(), until.getTime())
    const del = (s3: S3Client, bypass: boolean) =>
      s3.send(
        new DeleteObjectCommand({
          Bucket: B,
          Key: 'compliance',
          VersionId: v.VersionId,
          BypassGovernanceRetention: bypass,
        }),
      )
    const f = await refused(del(a, false), 403, 'AccessDenied')
    assert.match(f.message, /COMPLIANCE mode until/)
    await refused(del(a, true), 403, 'AccessDenied')
    await refused(del(gw.sdk(gw.admin), true), 403, 'AccessDenied')
    await refused(
      a.send(
        new PutObjectRetentionCommand({
          Bucket: B,
          Key: 'compliance',
          VersionId: v.VersionId,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(2) },
        }),
      ),
      403,
      'AccessDenied',
    )
    await refused(
      a.send(
        new PutObjectRetentionCommand({
          Bucket: B,
          Key: 'compliance',
          VersionId: v.VersionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(0.5) },
          BypassGovernanceRetention: true,
        }),
      ),
      403,
      'AccessDenied',
    )
    const later = inDays(3)
    await a.send(
      new PutObjectRetentionCommand({
        Bucket: B,
        Key: 'compliance',
        VersionId: v.VersionId,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later },
      }),
    )
    const r = await a.send(
      new GetObjectRetentionCommand({ Bucket: B, Key: 'compliance', VersionId: v.VersionId }),
    )
    assert.equal(r.Retention?.RetainUntilDate?.getTime(), later.getTime())
    // A plain DELETE only puts a delete marker on top: the locked version stays.
    await a.send(new DeleteObjectCommand({ Bucket: B, Key: 'compliance' }))
    const versions = await a.send(
      new ListObjectVersionsCommand({ Bucket: B, Prefix: 'compliance' }),
    )
    assert.deepEqual(
      versions.Versions?.map((x) => x.VersionId),
      [v.VersionId],
    )
  })

  it('GOVERNANCE yields only to x-amz-bypass-governance-retention with the permission', async () => {
    const v = await put('governance', {
      ObjectLockMode: 'GOVERNANCE',
      ObjectLockRetainUntilDate: inDays(1),
    })
    const del = (bypass: boolean) =>
      a.send(
        new DeleteObjectCommand({
          Bucket: B,
          Key: 'governance',
          VersionId: v.VersionId,
          BypassGovernanceRetention: bypass,
        }),
      )
    await refused(del(false), 403, 'AccessDenied')
    await del(true)
    await refused(
      a.send(new HeadObjectCommand({ Bucket: B, Key: 'governance', VersionId: v.VersionId })),
      404,
      'NotFound',
    )
  })

  it('a retain-until date in the past, or a mode without a date, is InvalidArgument', async () => {
    await refused(
      put('past', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(-1) }),
      400,
      'InvalidArgument',
    )
    const r = await gw.call(gw.alice, {
      method: 'PUT',
      path: `/${B}/no-date`,
      headers: { 'x-amz-object-lock-mode': 'COMPLIANCE' },
      body: 'x',
    })
    assert.equal(r.status, 400)
    assert.match(r.text, /<Code>InvalidArgument<\/Code>/)
  })
})

describe('legal hold and default retention', () => {
  it('a legal hold keeps a version until it is turned off', async () => {
    const v = await put('held')
    await a.send(
      new PutObjectLegalHoldCommand({
        Bucket: B,
        Key: 'held',
        VersionId: v.VersionId,
        LegalHold: { Status: 'ON' },
      }),
    )
    const got = await a.send(
      new GetObjectLegalHoldCommand({ Bucket: B, Key: 'held', VersionId: v.VersionId }),
    )
    assert.equal(got.LegalHold?.Status, 'ON')
    const del = () =>
      a.send(
        new DeleteObjectCommand({
          Bucket: B,
          Key: 'held',
          VersionId: v.VersionId,
          BypassGovernanceRetention: true,
        }),
      )
    const f = await refused(del(), 403, 'AccessDenied')
    assert.match(f.message, /legal hold/)
    await a.send(
      new PutObjectLegalHoldCommand({
        Bucket: B,
        Key: 'held',
        VersionId: v.VersionId,
        LegalHold: { Status: 'OFF' },
      }),
    )
    await del()
  })

  it("the bucket's default retention applies to writes that ask for none", async () => {
    await a.send(
      new PutObjectLockConfigurationCommand({
        Bucket: B,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } },
        },
      }),
    )
    const before = Date.now()
    await put('defaulted')
    const h = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'defaulted' }))
    assert.equal(h.ObjectLockMode, 'GOVERNANCE')
    const until = h.ObjectLockRetainUntilDate?.getTime() ?? 0
    assert.ok(until >= before + 2 * DAY - 1000 && until <= Date.now() + 2 * DAY, String(until))
    const c = await a.send(new GetObjectLockConfigurationCommand({ Bucket: B }))
    assert.deepEqual(c.ObjectLockConfiguration?.Rule?.DefaultRetention, {
      Mode: 'GOVERNANCE',
      Days: 2,
    })
  })
})
