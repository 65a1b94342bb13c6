/**
 * Customer-managed policies through the AWS SDK for JavaScript's IAM client, and their effect:
 * an attached policy's default version governs S3 requests of the user or role session.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (ARN with path, ANPA id, v1 default)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetPolicyVersion.html (Document URL-encoded, RFC 3986)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html (five versions: LimitExceeded; SetAsDefault)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html (detach and delete versions first)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicyVersion.html (not the default)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html (Scope, OnlyAttached, PathPrefix)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  AttachGroupPolicyCommand,
  CreateGroupCommand,
  GetGroupCommand,
  GetUserCommand,
  ListEntitiesForPolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  CreateAccessKeyCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListPoliciesCommand,
  ListPolicyTagsCommand,
  ListPolicyVersionsCommand,
  SetDefaultPolicyVersionCommand,
  TagPolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { doc, harness, outcome, type Harness, type Keys } from './client.ts'

let h: Harness
let admin: IAMClient
let arn: string

const READ = doc([{ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: '*' }])
const LIST_ONLY = doc([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }])

before(async () => {
  h = await harness('iam-policies')
  admin = h.iam(h.g.admin)
  const s3 = h.s3(h.g.admin)
  await s3.send(new CreateBucketCommand({ Bucket: 'data' }))
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'x', Body: 'bytes' }))
})
after(() => h.close())

describe('CreatePolicy, GetPolicy, versions', () => {
  it('creates a policy at a path: its ARN, ANPA id, v1 the default, tags', async () => {
    const r = await admin.send(
      new CreatePolicyCommand({
        PolicyName: 'read-data',
        Path: '/ml/',
        PolicyDocument: READ,
        Description: 'reads data',
        Tags: [{ Key: 'team', Value: 'cv' }],
      }),
    )
    arn = `arn:aws:iam::${h.account}:policy/ml/read-data`
    assert.equal(r.Policy?.Arn, arn)
    assert.match(r.Policy.PolicyId ?? '', /^ANPA[A-Z2-7]{17}$/)
    assert.equal(r.Policy.DefaultVersionId, 'v1')
    assert.equal(r.Policy.AttachmentCount, 0)
    assert.equal(r.Policy.IsAttachable, true)
    const g = await admin.send(new GetPolicyCommand({ PolicyArn: arn }))
    assert.equal(g.Policy?.PolicyName, 'read-data')
    assert.equal(g.Policy.Description, 'reads data')
    assert.deepEqual(g.Policy.Tags, [{ Key: 'team', Value: 'cv' }])
    const v = await admin.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }))
    assert.equal(v.PolicyVersion?.Document, encodeURIComponent(READ))
    assert.equal(v.PolicyVersion.IsDefaultVersion, true)
    assert.equal(
      await outcome(
        admin.send(new CreatePolicyCommand({ PolicyName: 'READ-DATA', PolicyDocument: READ })),
      ),
      '409 EntityAlreadyExistsException: A policy called READ-DATA already exists. Duplicate names are not allowed.',
    )
    // The ARN names the path too: another path is another (absent) policy.
    assert.equal(
      await outcome(
        admin.send(
          new GetPolicyCommand({ PolicyArn: `arn:aws:iam::${h.account}:policy/read-data` }),
        ),
      ),
      `404 NoSuchEntityException: Policy arn:aws:iam::${h.account}:policy/read-data does not exist or is not attachable.`,
    )
    assert.match(
      await outcome(
        admin.send(
          new CreatePolicyCommand({ PolicyName: 'bad', PolicyDocument: '{"Statement":1}' }),
        ),
      ),
      /^400 MalformedPolicyDocumentException: identity policy `bad` is not valid: 1:\d+: /,
    )
    await admin.send(new TagPolicyCommand({ PolicyArn: arn, Tags: [{ Key: 'tier', Value: '1' }] }))
    assert.deepEqual((await admin.send(new ListPolicyTagsCommand({ PolicyArn: arn }))).Tags, [
      { Key: 'team', Value: 'cv' },
      { Key: 'tier', Value: '1' },
    ])
  })

  it('keeps at most five versions; the default cannot be deleted; SetDefaultPolicyVersion', async () => {
    for (let i = 2; i <= 5; i++)
      await admin.send(
        new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: LIST_ONLY }),
      )
    assert.equal(
      await outcome(
        admin.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: LIST_ONLY })),
      ),
      '409 LimitExceededException: A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
    )
    const l = await admin.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))
    assert.deepEqual(
      l.Versions?.map((v) => [v.VersionId, v.IsDefaultVersion]),
      [
        ['v5', false],
        ['v4', false],
        ['v3', false],
        ['v2', false],
        ['v1', true],
      ],
    )
    assert.equal(
      await outcome(
        admin.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' })),
      ),
      '409 DeleteConflictException: Cannot delete the default version of a policy.',
    )
    assert.equal(
      await outcome(admin.send(new DeletePolicyCommand({ PolicyArn: arn }))),
      "409 DeleteConflictException: This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
    )
    for (const VersionId of ['v2', 'v3', 'v4', 'v5'])
      await admin.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId }))
    const v6 = await admin.send(
      new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: READ, SetAsDefault: true }),
    )
    assert.equal(v6.PolicyVersion?.VersionId, 'v6')
    assert.equal(v6.PolicyVersion.IsDefaultVersion, true)
    await admin.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }))
    assert.equal(
      (await admin.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId,
      'v1',
    )
    await admin.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v6' }))
    assert.equal(
      await outcome(
        admin.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v6' })),
      ),
      `404 NoSuchEntityException: Policy arn:aws:iam::${h.account}:policy/ml/read-data version v6 does not exist or is not attachable.`,
    )
    assert.equal(
      await outcome(admin.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: '6' }))),
      "400 ValidationError: 1 validation error detected: Value '6' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
    )
  })
})

describe('attached policies take effect', () => {
  it("a user's attached policy decides its S3 requests, by its default version, until detached", async () => {
    await admin.send(new CreateUserCommand({ UserName: 'reader' }))
    const k = await admin.send(new CreateAccessKeyCommand({ UserName: 'reader' }))
    const reader = h.s3({
      accessKeyId: k.AccessKey?.AccessKeyId ?? '',
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? '',
    })
    const get = () => outcome(reader.send(new GetObjectCommand({ Bucket: 'data', Key: 'x' })))
    assert.match(await get(), /^403 AccessDenied: /)
    await admin.send(new AttachUserPolicyCommand({ UserName: 'reader', PolicyArn: arn }))
    assert.equal(await get(), 'ok')
    const l = await admin.send(new ListAttachedUserPoliciesCommand({ UserName: 'reader' }))
    assert.deepEqual(l.AttachedPolicies, [{ PolicyName: 'read-data', PolicyArn: arn }])
    // A new default version that no longer allows it takes over at once.
    await admin.send(
      new CreatePolicyVersionCommand({
        PolicyArn: arn,
        PolicyDocument: LIST_ONLY,
        SetAsDefault: true,
      }),
    )
    assert.match(await get(), /^403 AccessDenied: /)
    await admin.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }))
    assert.equal(await get(), 'ok')
    assert.equal(
      (
        await admin.send(new ListPoliciesCommand({ Scope: 'Local', OnlyAttached: true }))
      ).Policies?.map((p) => [p.PolicyName, p.AttachmentCount]).join(),
      'read-data,1',
    )
    assert.equal(
      await outcome(admin.send(new DeletePolicyCommand({ PolicyArn: arn }))),
      '409 DeleteConflictException: Cannot delete a policy attached to entities.',
    )
    await admin.send(new DetachUserPolicyCommand({ UserName: 'reader', PolicyArn: arn }))
    assert.match(await get(), /^403 AccessDenied: /)
    assert.equal(
      await outcome(
        admin.send(new DetachUserPolicyCommand({ UserName: 'reader', PolicyArn: arn })),
      ),
      `404 NoSuchEntityException: Policy ${arn} was not found.`,
    )
  })

  it("a role's attached policy decides its sessions' requests; the role cannot be deleted meanwhile", async () => {
    await admin.send(
      new CreateRoleCommand({
        RoleName: 'job',
        AssumeRolePolicyDocument: doc([
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${h.account}:root` },
            Action: 'sts:AssumeRole',
          },
        ]),
      }),
    )
    await admin.send(new AttachRolePolicyCommand({ RoleName: 'job', PolicyArn: arn }))
    const s = await new STSClient({
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
    const creds: Keys = {
      accessKeyId: s.Credentials?.AccessKeyId ?? '',
      secretAccessKey: s.Credentials?.SecretAccessKey ?? '',
      sessionToken: s.Credentials?.SessionToken ?? '',
    }
    const get = () => outcome(h.s3(creds).send(new GetObjectCommand({ Bucket: 'data', Key: 'x' })))
    assert.equal(await get(), 'ok')
    assert.deepEqual(
      (await admin.send(new ListAttachedRolePoliciesCommand({ RoleName: 'job' }))).AttachedPolicies,
      [{ PolicyName: 'read-data', PolicyArn: arn }],
    )
    assert.equal(
      await outcome(admin.send(new DeleteRoleCommand({ RoleName: 'job' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove policies first.',
    )
    await admin.send(new DetachRolePolicyCommand({ RoleName: 'job', PolicyArn: arn }))
    assert.match(await get(), /^403 AccessDenied: /)
    await admin.send(new DeleteRoleCommand({ RoleName: 'job' }))
  })

  it('iam:PolicyARN limits which policy a delegated admin may attach', async () => {
    await admin.send(new CreatePolicyCommand({ PolicyName: 'other', PolicyDocument: LIST_ONLY }))
    await admin.send(new CreateUserCommand({ UserName: 'delegate' }))
    const t = await h.g.app.identity.findTenant('acme')
    const u = t && (await h.g.app.identity.findUser(t.id, 'delegate'))
    assert.ok(u)
    await h.g.app.identity.putUserPolicy(
      u,
      'attach-read-only',
      doc([
        {
          Effect: 'Allow',
          Action: 'iam:AttachUserPolicy',
          Resource: '*',
          Condition: { ArnEquals: { 'iam:PolicyARN': arn } },
        },
      ]),
    )
    const k = await h.g.app.identity.createAccessKey(u)
    const d = h.iam({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey })
    assert.equal(
      await outcome(d.send(new AttachUserPolicyCommand({ UserName: 'reader', PolicyArn: arn }))),
      'ok',
    )
    assert.match(
      await outcome(
        d.send(
          new AttachUserPolicyCommand({
            UserName: 'reader',
            PolicyArn: `arn:aws:iam::${h.account}:policy/other`,
          }),
        ),
      ),
      /^403 AccessDenied: User: arn:aws:iam::\d{12}:user\/delegate is not authorized to perform: iam:AttachUserPolicy on resource: arn:aws:iam::\d{12}:user\/reader$/,
    )
  })

  it('ListPolicies: Scope=AWS lists none, PathPrefix filters; nobody is AccessDenied', async () => {
    assert.deepEqual((await admin.send(new ListPoliciesCommand({ Scope: 'AWS' }))).Policies, [])
    assert.deepEqual(
      (await admin.send(new ListPoliciesCommand({ PathPrefix: '/ml/' }))).Policies?.map(
        (p) => p.PolicyName,
      ),
      ['read-data'],
    )
    assert.deepEqual(
      (await admin.send(new ListPoliciesCommand({}))).Policies?.map((p) => p.PolicyName),
      ['other', 'read-data'],
    )
    assert.equal(
      await outcome(h.iam(h.g.nobody).send(new GetPolicyCommand({ PolicyArn: arn }))),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:GetPolicy on resource: ${arn}`,
    )
  })

  it('ListEntitiesForPolicy names the users, groups and roles a policy is attached to', async () => {
    await admin.send(new CreateGroupCommand({ GroupName: 'readers', Path: '/ml/' }))
    await admin.send(new AttachGroupPolicyCommand({ GroupName: 'readers', PolicyArn: arn }))
    const reader = await admin.send(new GetUserCommand({ UserName: 'reader' }))
    const group = await admin.send(new GetGroupCommand({ GroupName: 'readers' }))
    const all = await admin.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn }))
    assert.deepEqual(all.PolicyUsers, [{ UserName: 'reader', UserId: reader.User?.UserId }])
    assert.deepEqual(all.PolicyGroups, [{ GroupName: 'readers', GroupId: group.Group?.GroupId }])
    assert.deepEqual(all.PolicyRoles, [])
    assert.equal(all.IsTruncated, false)
    const groups = await admin.send(
      new ListEntitiesForPolicyCommand({ PolicyArn: arn, EntityFilter: 'Group', MaxItems: 1 }),
    )
    assert.deepEqual(groups.PolicyUsers, [])
    assert.equal(groups.PolicyGroups?.length, 1)
    const prefixed = await admin.send(
      new ListEntitiesForPolicyCommand({ PolicyArn: arn, PathPrefix: '/ml/' }),
    )
    assert.deepEqual(prefixed.PolicyUsers, [])
    assert.equal(prefixed.PolicyGroups?.length, 1)
  })
})
