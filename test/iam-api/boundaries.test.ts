/**
 * Permissions boundaries through the AWS SDK for JavaScript's IAM client, and their effect: a
 * boundary caps what a user's or a role session's identity policies allow on S3.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (effective = identity ∩ boundary)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPermissionsBoundary.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePermissionsBoundary.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachedPermissionsBoundary.html (PermissionsBoundaryPolicy)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html (iam:PermissionsBoundary)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeletePolicyCommand,
  DeleteUserPermissionsBoundaryCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetUserCommand,
  ListPoliciesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { doc, harness, outcome, type Harness } from './client.ts'

let h: Harness
let admin: IAMClient
let boundary: string

const ALL_S3 = doc([{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }])
const READ_ONLY = doc([{ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' }])

before(async () => {
  h = await harness('iam-boundaries')
  admin = h.iam(h.g.admin)
  const s3 = h.s3(h.g.admin)
  await s3.send(new CreateBucketCommand({ Bucket: 'data' }))
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'x', Body: 'bytes' }))
  const p = await admin.send(
    new CreatePolicyCommand({ PolicyName: 'read-only', PolicyDocument: READ_ONLY }),
  )
  boundary = p.Policy?.Arn ?? ''
})
after(() => h.close())

const read = (c: S3Client) => outcome(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'x' })))
const write = (c: S3Client) =>
  outcome(c.send(new PutObjectCommand({ Bucket: 'data', Key: 'y', Body: 'w' })))

describe('permissions boundaries', () => {
  it("caps a user's identity policies while set, and only then", async () => {
    await admin.send(new CreateUserCommand({ UserName: 'bounded' }))
    await admin.send(
      new PutUserPolicyCommand({ UserName: 'bounded', PolicyName: 'all', PolicyDocument: ALL_S3 }),
    )
    const k = await admin.send(new CreateAccessKeyCommand({ UserName: 'bounded' }))
    const c = h.s3({
      accessKeyId: k.AccessKey?.AccessKeyId ?? '',
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? '',
    })
    assert.equal(await write(c), 'ok')
    await admin.send(
      new PutUserPermissionsBoundaryCommand({ UserName: 'bounded', PermissionsBoundary: boundary }),
    )
    assert.equal(await read(c), 'ok')
    assert.match(await write(c), /^403 AccessDenied: /)
    const u = await admin.send(new GetUserCommand({ UserName: 'bounded' }))
    assert.deepEqual(u.User?.PermissionsBoundary, {
      PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
      PermissionsBoundaryArn: boundary,
    })
    const g = await admin.send(new GetPolicyCommand({ PolicyArn: boundary }))
    assert.equal(g.Policy?.PermissionsBoundaryUsageCount, 1)
    assert.deepEqual(
      (
        await admin.send(new ListPoliciesCommand({ PolicyUsageFilter: 'PermissionsBoundary' }))
      ).Policies?.map((p) => p.PolicyName),
      ['read-only'],
    )
    assert.equal(
      await outcome(admin.send(new DeletePolicyCommand({ PolicyArn: boundary }))),
      '409 DeleteConflictException: Cannot delete a policy used as a permissions boundary: remove it from its roles and users first.',
    )
    await admin.send(new DeleteUserPermissionsBoundaryCommand({ UserName: 'bounded' }))
    assert.equal(await write(c), 'ok')
    assert.equal(
      (await admin.send(new GetUserCommand({ UserName: 'bounded' }))).User?.PermissionsBoundary,
      undefined,
    )
    assert.equal(
      await outcome(
        admin.send(
          new PutUserPermissionsBoundaryCommand({
            UserName: 'bounded',
            PermissionsBoundary: `arn:aws:iam::${h.account}:policy/ghost`,
          }),
        ),
      ),
      `404 NoSuchEntityException: Policy arn:aws:iam::${h.account}:policy/ghost does not exist or is not attachable.`,
    )
  })

  it("caps a role's sessions; CreateRole takes one, and iam:PermissionsBoundary can require it", async () => {
    const trust = doc([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${h.account}:root` },
        Action: 'sts:AssumeRole',
      },
    ])
    // A delegated administrator may create roles only with this boundary.
    await admin.send(new CreateUserCommand({ UserName: 'delegate' }))
    await admin.send(
      new PutUserPolicyCommand({
        UserName: 'delegate',
        PolicyName: 'roles-with-boundary',
        PolicyDocument: doc([
          {
            Effect: 'Allow',
            Action: 'iam:CreateRole',
            Resource: '*',
            Condition: { StringEquals: { 'iam:PermissionsBoundary': boundary } },
          },
        ]),
      }),
    )
    const dk = await admin.send(new CreateAccessKeyCommand({ UserName: 'delegate' }))
    const delegate = h.iam({
      accessKeyId: dk.AccessKey?.AccessKeyId ?? '',
      secretAccessKey: dk.AccessKey?.SecretAccessKey ?? '',
    })
    assert.match(
      await outcome(
        delegate.send(new CreateRoleCommand({ RoleName: 'free', AssumeRolePolicyDocument: trust })),
      ),
      /^403 AccessDenied: .* iam:CreateRole on resource: arn:aws:iam::\d{12}:role\/free$/,
    )
    const r = await delegate.send(
      new CreateRoleCommand({
        RoleName: 'job',
        AssumeRolePolicyDocument: trust,
        PermissionsBoundary: boundary,
      }),
    )
    assert.equal(r.Role?.PermissionsBoundary?.PermissionsBoundaryArn, boundary)
    await admin.send(
      new PutRolePolicyCommand({ RoleName: 'job', PolicyName: 'all', PolicyDocument: ALL_S3 }),
    )
    const assume = () =>
      new STSClient({
        endpoint: h.g.running.url,
        region: 'us-east-1',
        credentials: { accessKeyId: h.g.admin.id, secretAccessKey: h.g.admin.secret },
        maxAttempts: 1,
      }).send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${h.account}:role/job`,
          RoleSessionName: 'run-1',
        }),
      )
    const s = await assume()
    const c = h.s3({
      accessKeyId: s.Credentials?.AccessKeyId ?? '',
      secretAccessKey: s.Credentials?.SecretAccessKey ?? '',
      sessionToken: s.Credentials?.SessionToken ?? '',
    })
    assert.equal(await read(c), 'ok')
    assert.match(await write(c), /^403 AccessDenied: /)
    // A wider boundary takes effect on the same session at once.
    const wide = await admin.send(
      new CreatePolicyCommand({ PolicyName: 'wide', PolicyDocument: ALL_S3 }),
    )
    await admin.send(
      new PutRolePermissionsBoundaryCommand({
        RoleName: 'job',
        PermissionsBoundary: wide.Policy?.Arn ?? '',
      }),
    )
    assert.equal(await write(c), 'ok')
    assert.equal(
      (await admin.send(new GetRoleCommand({ RoleName: 'job' }))).Role?.PermissionsBoundary
        ?.PermissionsBoundaryArn,
      wide.Policy?.Arn,
    )
  })
})
