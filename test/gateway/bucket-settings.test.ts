/**
 * Bucket settings that tools read without asking whether they are set: tagging, policy status,
 * ACLs and Object Ownership (BucketOwnerEnforced, S3's default since April 2023), and the
 * configurations Strongroom does not offer, each with S3's own "not configured" answer.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketTagging.html (NoSuchTagSet),
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html (ACLs
 * disabled: only bucket-owner-full-control and equivalents are accepted, else
 * AccessControlListNotSupported), https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 * (NoSuchCORSConfiguration, NoSuchWebsiteConfiguration, ReplicationConfigurationNotFoundError),
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html (x-amz-bucket-region).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  DeleteBucketCorsCommand,
  DeleteBucketTaggingCommand,
  GetBucketAccelerateConfigurationCommand,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketLoggingCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyStatusCommand,
  GetBucketReplicationCommand,
  GetBucketRequestPaymentCommand,
  GetBucketTaggingCommand,
  GetBucketWebsiteCommand,
  GetObjectAclCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { refused } from '../e2e/sdk-util.ts'
import { startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-settings'

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
  await a.send(new PutObjectCommand({ Bucket: B, Key: 'o', Body: 'x' }))
})
after(() => gw.stop())

describe('bucket tagging', () => {
  it('a bucket without tags answers NoSuchTagSet; put, get and delete round-trip', async () => {
    await refused(a.send(new GetBucketTaggingCommand({ Bucket: B })), 404, 'NoSuchTagSet')
    const TagSet = [
      { Key: 'team', Value: 'vision' },
      { Key: 'cost-centre', Value: '' },
    ]
    await a.send(new PutBucketTaggingCommand({ Bucket: B, Tagging: { TagSet } }))
    assert.deepEqual((await a.send(new GetBucketTaggingCommand({ Bucket: B }))).TagSet, TagSet)
    await a.send(new DeleteBucketTaggingCommand({ Bucket: B }))
    await refused(a.send(new GetBucketTaggingCommand({ Bucket: B })), 404, 'NoSuchTagSet')
  })

  it('a bucket takes up to 50 tags (an object 10); 51 is InvalidTag', async () => {
    const tags = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ Key: `k${String(i)}`, Value: 'v' }))
    await a.send(new PutBucketTaggingCommand({ Bucket: B, Tagging: { TagSet: tags(50) } }))
    assert.equal((await a.send(new GetBucketTaggingCommand({ Bucket: B }))).TagSet?.length, 50)
    await refused(
      a.send(new PutBucketTaggingCommand({ Bucket: B, Tagging: { TagSet: tags(51) } })),
      400,
      'InvalidTag',
    )
    await a.send(new DeleteBucketTaggingCommand({ Bucket: B }))
  })

  it("another tenant cannot read a bucket's tags", async () => {
    await refused(
      gw.sdk(gw.bob).send(new GetBucketTaggingCommand({ Bucket: B })),
      403,
      'AccessDenied',
    )
  })
})

describe('policy status', () => {
  it('no policy: NoSuchBucketPolicy; a private policy: not public; an open one: public', async () => {
    await refused(
      a.send(new GetBucketPolicyStatusCommand({ Bucket: B })),
      404,
      'NoSuchBucketPolicy',
    )
    const policy = (Principal: unknown) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` },
        ],
      })
    await a.send(
      new PutBucketPolicyCommand({
        Bucket: B,
        Policy: policy({ AWS: 'arn:aws:iam::123456789012:root' }),
      }),
    )
    const closed = await a.send(new GetBucketPolicyStatusCommand({ Bucket: B }))
    assert.equal(closed.PolicyStatus?.IsPublic, false)
    await a.send(
      new PutPublicAccessBlockCommand({
        Bucket: B,
        PublicAccessBlockConfiguration: { BlockPublicPolicy: false },
      }),
    )
    await a.send(new PutBucketPolicyCommand({ Bucket: B, Policy: policy('*') }))
    const open = await a.send(new GetBucketPolicyStatusCommand({ Bucket: B }))
    assert.equal(open.PolicyStatus?.IsPublic, true)
  })
})

describe('ACLs under BucketOwnerEnforced', () => {
  it('GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL', async () => {
    for (const acl of [
      await a.send(new GetBucketAclCommand({ Bucket: B })),
      await a.send(new GetObjectAclCommand({ Bucket: B, Key: 'o' })),
    ]) {
      assert.equal(acl.Owner?.DisplayName, 'vision')
      assert.match(acl.Owner.ID ?? '', /^\d{12}$/)
      assert.deepEqual(acl.Grants, [
        {
          Grantee: { Type: 'CanonicalUser', ID: acl.Owner.ID, DisplayName: 'vision' },
          Permission: 'FULL_CONTROL',
        },
      ])
    }
  })

  it("the owner's own canned ACLs are accepted; any other is AccessControlListNotSupported", async () => {
    await a.send(new PutBucketAclCommand({ Bucket: B, ACL: 'private' }))
    await a.send(new PutObjectAclCommand({ Bucket: B, Key: 'o', ACL: 'bucket-owner-full-control' }))
    await a.send(
      new PutObjectCommand({ Bucket: B, Key: 'o2', Body: 'x', ACL: 'bucket-owner-full-control' }),
    )
    const notSupported = 'AccessControlListNotSupported'
    await refused(
      a.send(new PutBucketAclCommand({ Bucket: B, ACL: 'public-read' })),
      400,
      notSupported,
    )
    await refused(
      a.send(new PutObjectCommand({ Bucket: B, Key: 'o3', Body: 'x', ACL: 'public-read' })),
      400,
      notSupported,
    )
    await refused(
      a.send(new PutObjectCommand({ Bucket: B, Key: 'o3', Body: 'x', GrantRead: 'uri="x"' })),
      400,
      notSupported,
    )
    await refused(
      a.send(new CreateBucketCommand({ Bucket: 'gw-settings-public', ACL: 'public-read-write' })),
      400,
      notSupported,
    )
  })

  it('an ACL document granting the owner alone is accepted; one granting everyone is refused', async () => {
    const owner = (await a.send(new GetBucketAclCommand({ Bucket: B }))).Owner
    const ownerGrant = {
      Grantee: { Type: 'CanonicalUser' as const, ID: owner?.ID },
      Permission: 'FULL_CONTROL' as const,
    }
    await a.send(
      new PutObjectAclCommand({
        Bucket: B,
        Key: 'o',
        AccessControlPolicy: { Owner: owner, Grants: [ownerGrant] },
      }),
    )
    await refused(
      a.send(
        new PutObjectAclCommand({
          Bucket: B,
          Key: 'o',
          AccessControlPolicy: {
            Owner: owner,
            Grants: [
              ownerGrant,
              {
                Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' },
                Permission: 'READ',
              },
            ],
          },
        }),
      ),
      400,
      'AccessControlListNotSupported',
    )
  })

  it('ownership controls are BucketOwnerEnforced, and only that can be set', async () => {
    const got = await a.send(new GetBucketOwnershipControlsCommand({ Bucket: B }))
    assert.deepEqual(got.OwnershipControls?.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }])
    await a.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: B,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    )
    await refused(
      a.send(
        new PutBucketOwnershipControlsCommand({
          Bucket: B,
          OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] },
        }),
      ),
      400,
      'InvalidArgument',
    )
  })
})

describe('configurations Strongroom does not offer answer as an unconfigured S3 bucket', () => {
  it("reads get S3's not-configured codes or empty documents, never NotImplemented", async () => {
    await refused(a.send(new GetBucketCorsCommand({ Bucket: B })), 404, 'NoSuchCORSConfiguration')
    await refused(
      a.send(new GetBucketWebsiteCommand({ Bucket: B })),
      404,
      'NoSuchWebsiteConfiguration',
    )
    await refused(
      a.send(new GetBucketReplicationCommand({ Bucket: B })),
      404,
      'ReplicationConfigurationNotFoundError',
    )
    const logging = await a.send(new GetBucketLoggingCommand({ Bucket: B }))
    assert.equal(logging.LoggingEnabled, undefined)
    const payment = await a.send(new GetBucketRequestPaymentCommand({ Bucket: B }))
    assert.equal(payment.Payer, 'BucketOwner')
    const accel = await a.send(new GetBucketAccelerateConfigurationCommand({ Bucket: B }))
    assert.equal(accel.Status, undefined)
    await a.send(new DeleteBucketCorsCommand({ Bucket: B }))
  })

  it('a read of a bucket that does not exist is NoSuchBucket, not a not-configured code', async () => {
    await refused(
      a.send(new GetBucketCorsCommand({ Bucket: 'gw-settings-missing' })),
      404,
      'NoSuchBucket',
    )
  })
})

describe('HeadBucket tells the region to anyone', () => {
  it('an anonymous HeadBucket is refused and still carries x-amz-bucket-region', async () => {
    const r = await gw.call(undefined, { method: 'HEAD', path: `/${B}` })
    assert.equal(r.status, 403)
    assert.equal(r.headers['x-amz-bucket-region'], 'us-east-1')
    const own = await gw.call(gw.alice, { method: 'HEAD', path: `/${B}` })
    assert.equal(own.status, 200)
    assert.equal(own.headers['x-amz-bucket-region'], 'us-east-1')
  })
})

describe('lifecycle configuration', () => {
  it('none: NoSuchLifecycleConfiguration; put, get and delete round-trip', async () => {
    const Bucket = 'gw-settings-lifecycle'
    await a.send(new CreateBucketCommand({ Bucket }))
    await refused(
      a.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
      404,
      'NoSuchLifecycleConfiguration',
    )
    const Rules = [
      {
        ID: 'scratch',
        Status: 'Enabled' as const,
        Filter: { Prefix: 'tmp/' },
        Expiration: { Days: 7 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
      },
      {
        ID: 'old-checkpoints',
        Status: 'Enabled' as const,
        Filter: { And: { Prefix: 'ckpt/', Tags: [{ Key: 'keep', Value: 'no' }] } },
        NoncurrentVersionExpiration: { NoncurrentDays: 30, NewerNoncurrentVersions: 3 },
      },
    ]
    await a.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }),
    )
    const got = await a.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))
    assert.deepEqual(got.Rules, Rules)
    await a.send(new DeleteBucketLifecycleCommand({ Bucket }))
    await refused(
      a.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
      404,
      'NoSuchLifecycleConfiguration',
    )
  })

  it('a transition to another storage class is InvalidStorageClass; a rule without an action MalformedXML', async () => {
    const put = (Rule: object) =>
      a.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: B,
          LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: {}, ...Rule }] },
        }),
      )
    await refused(
      put({ Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }),
      400,
      'InvalidStorageClass',
    )
    await refused(put({}), 400, 'MalformedXML')
  })
})
