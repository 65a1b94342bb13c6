/**
 * IAM groups through the AWS SDK for JavaScript's IAM client, and their effect: a group's
 * inline and attached policies govern its members' S3 requests.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateGroup.html (name up to 128, ARN with path, AGPA id)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetGroup.html (the group and its users)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteGroup.html (no users, no policies)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html (group memberships first)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeleteUserCommand,
  DetachGroupPolicyCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  ListAttachedGroupPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  PutGroupPolicyCommand,
  RemoveUserFromGroupCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { doc, harness, outcome, type Harness } from './client.ts'

let h: Harness
let admin: IAMClient
let member: S3Client

const READ = doc([{ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' }])

before(async () => {
  h = await harness('iam-groups')
  admin = h.iam(h.g.admin)
  const s3 = h.s3(h.g.admin)
  await s3.send(new CreateBucketCommand({ Bucket: 'data' }))
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'x', Body: 'bytes' }))
  await admin.send(new CreateUserCommand({ UserName: 'dana' }))
  const k = await admin.send(new CreateAccessKeyCommand({ UserName: 'dana' }))
  member = h.s3({
    accessKeyId: k.AccessKey?.AccessKeyId ?? '',
    secretAccessKey: k.AccessKey?.SecretAccessKey ?? '',
  })
})
after(() => h.close())

const get = () => outcome(member.send(new GetObjectCommand({ Bucket: 'data', Key: 'x' })))

describe('groups', () => {
  it('creates a group at a path, refuses the name in another case, lists it', async () => {
    const r = await admin.send(new CreateGroupCommand({ GroupName: 'readers', Path: '/ml/' }))
    assert.equal(r.Group?.Arn, `arn:aws:iam::${h.account}:group/ml/readers`)
    assert.match(r.Group.GroupId ?? '', /^AGPA[A-Z2-7]{17}$/)
    assert.equal(
      await outcome(admin.send(new CreateGroupCommand({ GroupName: 'READERS' }))),
      '409 EntityAlreadyExistsException: Group with name READERS already exists.',
    )
    assert.equal(
      await outcome(admin.send(new CreateGroupCommand({ GroupName: 'g'.repeat(129) }))),
      `400 ValidationError: 1 validation error detected: Value '${'g'.repeat(129)}' at 'groupName' failed to satisfy constraint: Member must have length less than or equal to 128`,
    )
    await admin.send(new CreateGroupCommand({ GroupName: 'ops' }))
    assert.deepEqual(
      (await admin.send(new ListGroupsCommand({}))).Groups?.map((g) => g.GroupName),
      ['ops', 'readers'],
    )
    assert.deepEqual(
      (await admin.send(new ListGroupsCommand({ PathPrefix: '/ml/' }))).Groups?.map(
        (g) => g.GroupName,
      ),
      ['readers'],
    )
    assert.match(
      await outcome(h.iam(h.g.nobody).send(new CreateGroupCommand({ GroupName: 'x' }))),
      /^403 AccessDenied: User: arn:aws:iam::\d{12}:user\/nobody is not authorized to perform: iam:CreateGroup on resource: arn:aws:iam::\d{12}:group\/x$/,
    )
  })

  it("a group's inline policy governs its members' requests, from joining until leaving", async () => {
    assert.match(await get(), /^403 AccessDenied: /)
    await admin.send(
      new PutGroupPolicyCommand({ GroupName: 'readers', PolicyName: 'read', PolicyDocument: READ }),
    )
    assert.match(await get(), /^403 AccessDenied: /, 'not a member yet')
    await admin.send(new AddUserToGroupCommand({ GroupName: 'readers', UserName: 'dana' }))
    assert.equal(await get(), 'ok')
    const g = await admin.send(new GetGroupCommand({ GroupName: 'readers' }))
    assert.equal(g.Group?.GroupName, 'readers')
    assert.deepEqual(
      g.Users?.map((u) => u.UserName),
      ['dana'],
    )
    assert.deepEqual(
      (await admin.send(new ListGroupsForUserCommand({ UserName: 'dana' }))).Groups?.map(
        (x) => x.GroupName,
      ),
      ['readers'],
    )
    assert.equal(
      (await admin.send(new GetGroupPolicyCommand({ GroupName: 'readers', PolicyName: 'read' })))
        .PolicyDocument,
      encodeURIComponent(READ),
    )
    assert.deepEqual(
      (await admin.send(new ListGroupPoliciesCommand({ GroupName: 'readers' }))).PolicyNames,
      ['read'],
    )
    // A member without keys or policies still cannot be deleted while in a group.
    await admin.send(new CreateUserCommand({ UserName: 'eve' }))
    await admin.send(new AddUserToGroupCommand({ GroupName: 'readers', UserName: 'eve' }))
    assert.equal(
      await outcome(admin.send(new DeleteUserCommand({ UserName: 'eve' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove user from all groups first.',
    )
    await admin.send(new RemoveUserFromGroupCommand({ GroupName: 'readers', UserName: 'eve' }))
    await admin.send(new DeleteUserCommand({ UserName: 'eve' }))
    assert.equal(
      await outcome(admin.send(new DeleteGroupCommand({ GroupName: 'readers' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove users from group first.',
    )
    await admin.send(new RemoveUserFromGroupCommand({ GroupName: 'readers', UserName: 'dana' }))
    assert.match(await get(), /^403 AccessDenied: /)
    assert.equal(
      await outcome(
        admin.send(new RemoveUserFromGroupCommand({ GroupName: 'readers', UserName: 'dana' })),
      ),
      '404 NoSuchEntityException: The user with name dana is not in group readers.',
    )
    assert.equal(
      await outcome(admin.send(new DeleteGroupCommand({ GroupName: 'readers' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove policies first.',
    )
    await admin.send(new DeleteGroupPolicyCommand({ GroupName: 'readers', PolicyName: 'read' }))
    await admin.send(new DeleteGroupCommand({ GroupName: 'readers' }))
    assert.equal(
      await outcome(admin.send(new GetGroupCommand({ GroupName: 'readers' }))),
      '404 NoSuchEntityException: The group with name readers cannot be found.',
    )
  })

  it("a managed policy attached to a group governs its members' requests", async () => {
    const p = await admin.send(
      new CreatePolicyCommand({ PolicyName: 'read', PolicyDocument: READ }),
    )
    const arn = p.Policy?.Arn ?? ''
    await admin.send(new AddUserToGroupCommand({ GroupName: 'ops', UserName: 'dana' }))
    assert.match(await get(), /^403 AccessDenied: /)
    await admin.send(new AttachGroupPolicyCommand({ GroupName: 'ops', PolicyArn: arn }))
    assert.equal(await get(), 'ok')
    assert.deepEqual(
      (await admin.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'ops' })))
        .AttachedPolicies,
      [{ PolicyName: 'read', PolicyArn: arn }],
    )
    await admin.send(new DetachGroupPolicyCommand({ GroupName: 'ops', PolicyArn: arn }))
    assert.match(await get(), /^403 AccessDenied: /)
  })
})
