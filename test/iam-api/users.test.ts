/**
 * IAM users and their access keys through the AWS SDK for JavaScript's IAM client.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html (no UserName: the caller; non-user credentials must name one)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html (access keys and policies first: DeleteConflict)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html (two per user: LimitExceeded)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_AccessKeyLastUsed.html ("N/A" until used)
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  UpdateUserCommand,
  type AccessKeyLastUsed,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { ListBucketsCommand } from '@aws-sdk/client-s3'
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { doc, harness, outcome, type Harness } from './client.ts'

let h: Harness
let admin: IAMClient
let nobody: IAMClient

before(async () => {
  h = await harness('iam-users')
  admin = h.iam(h.g.admin)
  nobody = h.iam(h.g.nobody)
})
after(() => h.close())

const ALL = doc([{ Effect: 'Allow', Action: '*', Resource: '*' }])

describe('CreateUser, GetUser, ListUsers', () => {
  it('creates a user with tags and reads it back: ARN, AIDA id, path /', async () => {
    const r = await admin.send(
      new CreateUserCommand({ UserName: 'alice', Tags: [{ Key: 'team', Value: 'nlp' }] }),
    )
    assert.equal(r.User?.Arn, `arn:aws:iam::${h.account}:user/alice`)
    assert.match(r.User.UserId ?? '', /^AIDA[A-Z2-7]{16,17}$/)
    assert.equal(r.User.Path, '/')
    const g = await admin.send(new GetUserCommand({ UserName: 'alice' }))
    assert.equal(g.User?.UserId, r.User.UserId)
    assert.deepEqual(g.User?.Tags, [{ Key: 'team', Value: 'nlp' }])
    assert.equal(
      await outcome(admin.send(new CreateUserCommand({ UserName: 'ALICE' }))),
      '409 EntityAlreadyExistsException: User with name ALICE already exists.',
    )
    assert.equal(
      await outcome(admin.send(new CreateUserCommand({ UserName: 'bob', Path: '/eng/' }))),
      '400 InvalidParameterValue: Strongroom keeps every user at path /, not /eng/: leave Path out, and tell users apart by name or tags',
    )
  })

  it('GetUser without UserName answers the caller; a role session must name one', async () => {
    const me = await admin.send(new GetUserCommand({}))
    assert.equal(me.User?.UserName, 'admin')
    assert.equal(me.User.Arn, `arn:aws:iam::${h.account}:user/admin`)
    await admin.send(
      new CreateRoleCommand({
        RoleName: 'ops',
        AssumeRolePolicyDocument: doc([
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${h.account}:root` },
            Action: 'sts:AssumeRole',
          },
        ]),
      }),
    )
    await admin.send(
      new PutRolePolicyCommand({ RoleName: 'ops', PolicyName: 'all', PolicyDocument: ALL }),
    )
    const s = await new STSClient({
      endpoint: h.g.running.url,
      region: 'us-east-1',
      credentials: { accessKeyId: h.g.admin.id, secretAccessKey: h.g.admin.secret },
      maxAttempts: 1,
    }).send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${h.account}:role/ops`,
        RoleSessionName: 'ops-1',
      }),
    )
    const session = h.iam({
      accessKeyId: s.Credentials?.AccessKeyId ?? '',
      secretAccessKey: s.Credentials?.SecretAccessKey ?? '',
      sessionToken: s.Credentials?.SessionToken ?? '',
    })
    assert.equal(
      await outcome(session.send(new GetUserCommand({}))),
      '400 ValidationError: Must specify userName when calling with non-User credentials',
    )
    assert.equal(
      (await session.send(new GetUserCommand({ UserName: 'alice' }))).User?.UserName,
      'alice',
    )
  })

  it('lists users in name order, paged', async () => {
    const first = await admin.send(new ListUsersCommand({ MaxItems: 2 }))
    assert.deepEqual(
      first.Users?.map((u) => u.UserName),
      ['admin', 'alice'],
    )
    assert.equal(first.IsTruncated, true)
    const rest = await admin.send(new ListUsersCommand({ Marker: first.Marker }))
    assert.deepEqual(
      rest.Users?.map((u) => u.UserName),
      ['nobody'],
    )
    assert.equal(rest.IsTruncated, false)
  })

  it('is AccessDenied for a user without policies', async () => {
    assert.equal(
      await outcome(nobody.send(new CreateUserCommand({ UserName: 'mallory' }))),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::${h.account}:user/mallory`,
    )
    assert.equal(
      await outcome(nobody.send(new ListUsersCommand({}))),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:ListUsers on resource: *`,
    )
    // Its own record too needs iam:GetUser.
    assert.match(
      await outcome(nobody.send(new GetUserCommand({}))),
      /^403 AccessDenied: .* iam:GetUser on resource: arn:aws:iam::\d{12}:user\/nobody$/,
    )
  })

  it('refuses a rename with what to do instead', async () => {
    assert.equal(
      await outcome(
        admin.send(new UpdateUserCommand({ UserName: 'alice', NewUserName: 'alicia' })),
      ),
      '400 InvalidParameterValue: Strongroom does not rename users (alice to alicia): create alicia, give it the policies and keys it needs, then delete alice',
    )
    assert.equal(
      await outcome(admin.send(new UpdateUserCommand({ UserName: 'alice', NewPath: '/' }))),
      'ok',
    )
  })
})

describe('inline user policies and tags', () => {
  it('puts, gets (URL-encoded), lists and deletes a policy', async () => {
    const read = doc([{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }])
    await admin.send(
      new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'list', PolicyDocument: read }),
    )
    const g = await admin.send(new GetUserPolicyCommand({ UserName: 'alice', PolicyName: 'list' }))
    assert.equal(g.PolicyDocument, encodeURIComponent(read))
    assert.deepEqual(
      (await admin.send(new ListUserPoliciesCommand({ UserName: 'alice' }))).PolicyNames,
      ['list'],
    )
    assert.equal(
      await outcome(admin.send(new DeleteUserCommand({ UserName: 'alice' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove policies first.',
    )
    assert.match(
      await outcome(
        admin.send(
          new PutUserPolicyCommand({
            UserName: 'alice',
            PolicyName: 'bad',
            PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps"}]}',
          }),
        ),
      ),
      /^400 MalformedPolicyDocumentException: identity policy `bad` is not valid: 1:48: Effect must be "Allow" or "Deny", got "Perhaps" at \$\.Statement\[0\]\.Effect/,
    )
    await admin.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'list' }))
    assert.deepEqual(
      (await admin.send(new ListUserPoliciesCommand({ UserName: 'alice' }))).PolicyNames,
      [],
    )
  })

  it('tags and untags', async () => {
    await admin.send(
      new TagUserCommand({ UserName: 'alice', Tags: [{ Key: 'TEAM', Value: 'cv' }] }),
    )
    // Keys are one regardless of case: TEAM replaced team.
    assert.deepEqual((await admin.send(new ListUserTagsCommand({ UserName: 'alice' }))).Tags, [
      { Key: 'TEAM', Value: 'cv' },
    ])
    await admin.send(new UntagUserCommand({ UserName: 'alice', TagKeys: ['team'] }))
    assert.deepEqual((await admin.send(new ListUserTagsCommand({ UserName: 'alice' }))).Tags, [])
  })
})

describe('access keys', () => {
  it('creates at most two, lists, deactivates (the key stops working) and deletes them', async () => {
    const a = await admin.send(new CreateAccessKeyCommand({ UserName: 'alice' }))
    assert.equal(a.AccessKey?.UserName, 'alice')
    assert.equal(a.AccessKey.Status, 'Active')
    assert.match(a.AccessKey.AccessKeyId ?? '', /^AKIA[A-Z2-7]{16}$/)
    assert.ok((a.AccessKey.SecretAccessKey ?? '').length >= 40)
    const b = await admin.send(new CreateAccessKeyCommand({ UserName: 'alice' }))
    assert.equal(
      await outcome(admin.send(new CreateAccessKeyCommand({ UserName: 'alice' }))),
      '409 LimitExceededException: Cannot exceed quota for AccessKeysPerUser: 2',
    )
    const l = await admin.send(new ListAccessKeysCommand({ UserName: 'alice' }))
    assert.deepEqual(
      l.AccessKeyMetadata?.map((k) => [k.AccessKeyId, k.Status]).sort(),
      [
        [a.AccessKey.AccessKeyId, 'Active'],
        [b.AccessKey?.AccessKeyId, 'Active'],
      ].sort(),
    )
    await admin.send(
      new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'all', PolicyDocument: ALL }),
    )
    const alice = h.iam({
      accessKeyId: a.AccessKey.AccessKeyId ?? '',
      secretAccessKey: a.AccessKey.SecretAccessKey ?? '',
    })
    // Without UserName: the calling user's own keys.
    assert.equal((await alice.send(new ListAccessKeysCommand({}))).AccessKeyMetadata?.length, 2)
    await admin.send(
      new UpdateAccessKeyCommand({
        UserName: 'alice',
        AccessKeyId: a.AccessKey.AccessKeyId,
        Status: 'Inactive',
      }),
    )
    assert.equal(
      await outcome(alice.send(new GetUserCommand({}))),
      '403 InvalidClientTokenId: The AWS Access Key Id you provided does not exist in our records.',
    )
    assert.equal(
      await outcome(
        admin.send(
          new UpdateAccessKeyCommand({
            UserName: 'alice',
            AccessKeyId: a.AccessKey.AccessKeyId,
            // Not a StatusType: what a hand-made request could send.
            Status: 'Off' as 'Active',
          }),
        ),
      ),
      "400 ValidationError: 1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
    )
    // Another user's key is not found through this one.
    assert.equal(
      await outcome(
        admin.send(
          new DeleteAccessKeyCommand({ UserName: 'nobody', AccessKeyId: a.AccessKey.AccessKeyId }),
        ),
      ),
      `404 NoSuchEntityException: The Access Key with id ${a.AccessKey.AccessKeyId} cannot be found.`,
    )
    assert.equal(
      await outcome(admin.send(new DeleteUserCommand({ UserName: 'alice' }))),
      '409 DeleteConflictException: Cannot delete entity, must delete access keys first.',
    )
    for (const k of [a, b])
      await admin.send(
        new DeleteAccessKeyCommand({ UserName: 'alice', AccessKeyId: k.AccessKey?.AccessKeyId }),
      )
    await admin.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'all' }))
    await admin.send(new DeleteUserCommand({ UserName: 'alice' }))
    assert.equal(
      await outcome(admin.send(new GetUserCommand({ UserName: 'alice' }))),
      '404 NoSuchEntityException: The user with name alice cannot be found.',
    )
  })

  it('GetAccessKeyLastUsed: N/A until the key signs a request, then when, which service and region', async () => {
    await admin.send(new CreateUserCommand({ UserName: 'carol' }))
    await admin.send(
      new PutUserPolicyCommand({ UserName: 'carol', PolicyName: 'all', PolicyDocument: ALL }),
    )
    const k = await admin.send(new CreateAccessKeyCommand({ UserName: 'carol' }))
    const id = k.AccessKey?.AccessKeyId ?? ''
    const before = await admin.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }))
    assert.equal(before.UserName, 'carol')
    assert.deepEqual(before.AccessKeyLastUsed, { ServiceName: 'N/A', Region: 'N/A' })
    const t0 = Math.floor(Date.now() / 1000) * 1000
    await h
      .s3({ accessKeyId: id, secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' })
      .send(new ListBucketsCommand({}))
    let used: AccessKeyLastUsed | undefined = before.AccessKeyLastUsed
    for (let i = 0; i < 50 && used?.LastUsedDate === undefined; i++) {
      await sleep(20)
      used = (await admin.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id })))
        .AccessKeyLastUsed
    }
    assert.equal(used?.ServiceName, 's3')
    assert.equal(used.Region, 'us-east-1')
    const at = used.LastUsedDate?.getTime() ?? 0
    assert.ok(at >= t0 && at <= Date.now(), String(at))
    assert.equal(
      await outcome(
        admin.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: 'AKIAAAAAAAAAAAAAAAAA' })),
      ),
      '404 NoSuchEntityException: The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.',
    )
  })
})
