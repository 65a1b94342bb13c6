/**
 * IAM roles through the AWS SDK for JavaScript's IAM client, on the gateway's own URL.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (name pattern, path, MaxSessionDuration 3600-43200)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html (AssumeRolePolicyDocument URL-encoded, Tags)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html (PathPrefix, Marker, MaxItems, IsTruncated)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html (DeleteConflict while it has policies)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html (PolicyDocument URL-encoded, RFC 3986)
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (50 tags)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListInstanceProfilesForRoleCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  UpdateRoleDescriptionCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { doc, harness, outcome, TRUST, type Harness } from './client.ts'

let h: Harness
let admin: IAMClient
let nobody: IAMClient

before(async () => {
  h = await harness('iam-roles')
  admin = h.iam(h.g.admin)
  nobody = h.iam(h.g.nobody)
})
after(() => h.close())

const READ = doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::data/*' }])

describe('CreateRole and GetRole', () => {
  it('creates a role and reads it back: ARN with its path, AROA id, decoded trust policy, tags', async () => {
    const before = Date.now()
    const r = await admin.send(
      new CreateRoleCommand({
        RoleName: 'trainer',
        Path: '/ml/',
        AssumeRolePolicyDocument: TRUST,
        Description: 'trains models',
        MaxSessionDuration: 7200,
        Tags: [{ Key: 'team', Value: 'vision' }],
      }),
    )
    assert.equal(r.Role?.Arn, `arn:aws:iam::${h.account}:role/ml/trainer`)
    assert.match(r.Role.RoleId ?? '', /^AROA[A-Z2-7]{17}$/)
    assert.equal(r.Role.Path, '/ml/')
    assert.deepEqual(r.Role.Tags, [{ Key: 'team', Value: 'vision' }])
    const g = await admin.send(new GetRoleCommand({ RoleName: 'trainer' }))
    assert.equal(g.Role?.RoleName, 'trainer')
    assert.equal(g.Role.RoleId, r.Role.RoleId)
    // The SDK hands the document over as IAM sends it: URL-encoded.
    assert.equal(decodeURIComponent(g.Role.AssumeRolePolicyDocument ?? ''), TRUST)
    assert.equal(g.Role.AssumeRolePolicyDocument, encodeURIComponent(TRUST))
    assert.equal(g.Role.Description, 'trains models')
    assert.equal(g.Role.MaxSessionDuration, 7200)
    assert.deepEqual(g.Role.Tags, [{ Key: 'team', Value: 'vision' }])
    const created = g.Role.CreateDate?.getTime() ?? 0
    assert.ok(created >= Math.floor(before / 1000) * 1000 && created <= Date.now(), String(created))
  })

  it('refuses a name taken in any case with EntityAlreadyExists (409)', async () => {
    assert.equal(
      await outcome(
        admin.send(new CreateRoleCommand({ RoleName: 'TRAINER', AssumeRolePolicyDocument: TRUST })),
      ),
      '409 EntityAlreadyExistsException: Role with name TRAINER already exists.',
    )
  })

  it("answers ValidationError in IAM's words for a bad name, path or session limit", async () => {
    assert.equal(
      await outcome(
        admin.send(new CreateRoleCommand({ RoleName: 'a/b', AssumeRolePolicyDocument: TRUST })),
      ),
      "400 ValidationError: 1 validation error detected: Value 'a/b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
    )
    assert.equal(
      await outcome(
        admin.send(
          new CreateRoleCommand({ RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: TRUST }),
        ),
      ),
      `400 ValidationError: 1 validation error detected: Value '${'x'.repeat(65)}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64`,
    )
    assert.equal(
      await outcome(
        admin.send(
          new CreateRoleCommand({ RoleName: 'p', Path: 'ml', AssumeRolePolicyDocument: TRUST }),
        ),
      ),
      "400 ValidationError: 1 validation error detected: Value 'ml' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
    )
    assert.equal(
      await outcome(
        admin.send(
          new CreateRoleCommand({
            RoleName: 'p',
            AssumeRolePolicyDocument: TRUST,
            MaxSessionDuration: 600,
          }),
        ),
      ),
      "400 ValidationError: 1 validation error detected: Value '600' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    )
  })

  it('refuses a trust policy that does not parse with MalformedPolicyDocument and its place', async () => {
    const out = await outcome(
      admin.send(
        new CreateRoleCommand({ RoleName: 'bad', AssumeRolePolicyDocument: '{"Version":' }),
      ),
    )
    assert.match(
      out,
      /^400 MalformedPolicyDocumentException: trust policy `bad trust policy` is not valid: 1:\d+: /,
    )
    assert.equal(
      await outcome(admin.send(new GetRoleCommand({ RoleName: 'bad' }))),
      '404 NoSuchEntityException: The role with name bad cannot be found.',
    )
  })

  it('is AccessDenied for a user without policies, and creates nothing', async () => {
    assert.equal(
      await outcome(
        nobody.send(new CreateRoleCommand({ RoleName: 'sneaky', AssumeRolePolicyDocument: TRUST })),
      ),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${h.account}:role/sneaky`,
    )
    assert.equal(
      await outcome(nobody.send(new GetRoleCommand({ RoleName: 'trainer' }))),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:GetRole on resource: arn:aws:iam::${h.account}:role/ml/trainer`,
    )
    assert.equal(await h.g.app.identity.findRole(h.account, 'sneaky'), undefined)
  })

  it('decides on the role ARN with its path: a policy on role/ml/* reaches trainer and nothing else', async () => {
    const t = await h.g.app.identity.findTenant('acme')
    assert.ok(t)
    const u = await h.g.app.identity.createUser(t, 'ml-admin')
    await h.g.app.identity.putUserPolicy(
      u,
      'ml',
      doc([
        { Effect: 'Allow', Action: 'iam:GetRole', Resource: `arn:aws:iam::${h.account}:role/ml/*` },
      ]),
    )
    const k = await h.g.app.identity.createAccessKey(u)
    const c = h.iam({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey })
    assert.equal(await outcome(c.send(new GetRoleCommand({ RoleName: 'trainer' }))), 'ok')
    await admin.send(new CreateRoleCommand({ RoleName: 'other', AssumeRolePolicyDocument: TRUST }))
    assert.match(
      await outcome(c.send(new GetRoleCommand({ RoleName: 'other' }))),
      /^403 AccessDenied: /,
    )
  })
})

describe('ListRoles', () => {
  it('pages with MaxItems and Marker in name order, and filters by PathPrefix', async () => {
    for (const n of ['page-c', 'page-a', 'page-b'])
      await admin.send(
        new CreateRoleCommand({ RoleName: n, Path: '/paged/', AssumeRolePolicyDocument: TRUST }),
      )
    const first = await admin.send(new ListRolesCommand({ PathPrefix: '/paged/', MaxItems: 2 }))
    assert.deepEqual(
      first.Roles?.map((r) => r.RoleName),
      ['page-a', 'page-b'],
    )
    assert.equal(first.IsTruncated, true)
    assert.ok(first.Marker)
    const rest = await admin.send(
      new ListRolesCommand({ PathPrefix: '/paged/', MaxItems: 2, Marker: first.Marker }),
    )
    assert.deepEqual(
      rest.Roles?.map((r) => r.RoleName),
      ['page-c'],
    )
    assert.equal(rest.IsTruncated, false)
    assert.equal(rest.Marker, undefined)
    assert.equal(rest.Roles[0]?.AssumeRolePolicyDocument, encodeURIComponent(TRUST))
    const all = await admin.send(new ListRolesCommand({}))
    assert.deepEqual(
      all.Roles?.map((r) => r.RoleName),
      ['other', 'page-a', 'page-b', 'page-c', 'trainer'],
    )
    assert.equal(
      await outcome(admin.send(new ListRolesCommand({ MaxItems: 1001 }))),
      "400 ValidationError: 1 validation error detected: Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000",
    )
  })
})

describe('UpdateRole and UpdateAssumeRolePolicy', () => {
  it('changes the description and session limit, then the trust policy', async () => {
    await admin.send(
      new UpdateRoleCommand({
        RoleName: 'trainer',
        Description: 'retrains',
        MaxSessionDuration: 43200,
      }),
    )
    const trust2 = doc([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${h.account}:root` },
        Action: 'sts:AssumeRole',
      },
    ])
    await admin.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: 'trainer', PolicyDocument: trust2 }),
    )
    const d = await admin.send(
      new UpdateRoleDescriptionCommand({ RoleName: 'other', Description: 'other role' }),
    )
    assert.equal(d.Role?.Description, 'other role')
    assert.equal(d.Role.RoleName, 'other')
    const g = await admin.send(new GetRoleCommand({ RoleName: 'trainer' }))
    assert.equal(g.Role?.Description, 'retrains')
    assert.equal(g.Role.MaxSessionDuration, 43200)
    assert.equal(decodeURIComponent(g.Role.AssumeRolePolicyDocument ?? ''), trust2)
    assert.match(
      await outcome(
        admin.send(
          new UpdateAssumeRolePolicyCommand({ RoleName: 'trainer', PolicyDocument: '[]' }),
        ),
      ),
      /^400 MalformedPolicyDocumentException: /,
    )
    assert.equal(
      await outcome(admin.send(new UpdateRoleCommand({ RoleName: 'ghost', Description: 'x' }))),
      '404 NoSuchEntityException: The role with name ghost cannot be found.',
    )
  })
})

describe('inline role policies', () => {
  it('puts, gets (URL-encoded), lists and deletes a policy; DeleteRole is a DeleteConflict meanwhile', async () => {
    await admin.send(
      new PutRolePolicyCommand({ RoleName: 'trainer', PolicyName: 'read', PolicyDocument: READ }),
    )
    const g = await admin.send(
      new GetRolePolicyCommand({ RoleName: 'trainer', PolicyName: 'read' }),
    )
    assert.equal(g.RoleName, 'trainer')
    assert.equal(g.PolicyName, 'read')
    assert.equal(g.PolicyDocument, encodeURIComponent(READ))
    const l = await admin.send(new ListRolePoliciesCommand({ RoleName: 'trainer' }))
    assert.deepEqual(l.PolicyNames, ['read'])
    assert.equal(l.IsTruncated, false)
    assert.equal(
      await outcome(admin.send(new DeleteRoleCommand({ RoleName: 'trainer' }))),
      '409 DeleteConflictException: Cannot delete entity, must remove policies first.',
    )
    assert.match(
      await outcome(
        admin.send(
          new PutRolePolicyCommand({
            RoleName: 'trainer',
            PolicyName: 'bad',
            PolicyDocument: '{"Statement":[{"Effect":"Maybe"}]}',
          }),
        ),
      ),
      /^400 MalformedPolicyDocumentException: identity policy `bad` is not valid: 1:\d+: /,
    )
    await admin.send(new DeleteRolePolicyCommand({ RoleName: 'trainer', PolicyName: 'read' }))
    assert.equal(
      await outcome(
        admin.send(new GetRolePolicyCommand({ RoleName: 'trainer', PolicyName: 'read' })),
      ),
      '404 NoSuchEntityException: The role policy with name read cannot be found.',
    )
    assert.equal(
      await outcome(
        admin.send(new DeleteRolePolicyCommand({ RoleName: 'trainer', PolicyName: 'read' })),
      ),
      '404 NoSuchEntityException: The role policy with name read cannot be found.',
    )
  })
})

describe('role tags', () => {
  it('tags, replaces a value, untags and lists; more than 50 is LimitExceeded', async () => {
    await admin.send(
      new TagRoleCommand({
        RoleName: 'trainer',
        Tags: [
          { Key: 'cost', Value: '1' },
          { Key: 'team', Value: 'nlp' },
        ],
      }),
    )
    let l = await admin.send(new ListRoleTagsCommand({ RoleName: 'trainer' }))
    assert.deepEqual(l.Tags, [
      { Key: 'cost', Value: '1' },
      { Key: 'team', Value: 'nlp' },
    ])
    await admin.send(new UntagRoleCommand({ RoleName: 'trainer', TagKeys: ['cost'] }))
    l = await admin.send(new ListRoleTagsCommand({ RoleName: 'trainer' }))
    assert.deepEqual(l.Tags, [{ Key: 'team', Value: 'nlp' }])
    const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }))
    assert.equal(
      await outcome(admin.send(new TagRoleCommand({ RoleName: 'trainer', Tags: many }))),
      '409 LimitExceededException: The number of tags has reached the maximum limit of 50.',
    )
    l = await admin.send(new ListRoleTagsCommand({ RoleName: 'trainer' }))
    assert.deepEqual(
      l.Tags,
      [{ Key: 'team', Value: 'nlp' }],
      'nothing of the refused request was written',
    )
    assert.equal(
      await outcome(
        admin.send(
          new TagRoleCommand({ RoleName: 'trainer', Tags: [{ Key: 'aws:x', Value: 'v' }] }),
        ),
      ),
      '400 InvalidParameterValue: Tag keys starting with aws: are reserved for use by AWS.',
    )
  })
})

describe('ListInstanceProfilesForRole and DeleteRole', () => {
  it('lists no instance profiles; deletes a role without policies, and its tags with it', async () => {
    const l = await admin.send(new ListInstanceProfilesForRoleCommand({ RoleName: 'trainer' }))
    assert.deepEqual(l.InstanceProfiles, [])
    assert.equal(l.IsTruncated, false)
    await admin.send(new DeleteRoleCommand({ RoleName: 'trainer' }))
    assert.equal(
      await outcome(admin.send(new GetRoleCommand({ RoleName: 'trainer' }))),
      '404 NoSuchEntityException: The role with name trainer cannot be found.',
    )
    await admin.send(
      new CreateRoleCommand({ RoleName: 'trainer', AssumeRolePolicyDocument: TRUST }),
    )
    const g = await admin.send(new GetRoleCommand({ RoleName: 'trainer' }))
    assert.equal(g.Role?.Tags, undefined, 'the old role’s tags went with it')
    assert.equal(
      await outcome(admin.send(new DeleteRoleCommand({ RoleName: 'ghost' }))),
      '404 NoSuchEntityException: The role with name ghost cannot be found.',
    )
  })
})

describe('accounts', () => {
  it("acts only inside the caller's own account, as AWS accounts do", async () => {
    const beta = await h.g.app.identity.createTenant('beta')
    const u = await h.g.app.identity.createUser(beta, 'root-like')
    await h.g.app.identity.putUserPolicy(
      u,
      'all',
      doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]),
    )
    const k = await h.g.app.identity.createAccessKey(u)
    const other = h.iam({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey })
    assert.equal(
      await outcome(other.send(new GetRoleCommand({ RoleName: 'trainer' }))),
      '404 NoSuchEntityException: The role with name trainer cannot be found.',
    )
    assert.deepEqual((await other.send(new ListRolesCommand({}))).Roles, [])
    // The same name in another account is another role.
    const r = await other.send(
      new CreateRoleCommand({ RoleName: 'trainer', AssumeRolePolicyDocument: TRUST }),
    )
    assert.equal(r.Role?.Arn, `arn:aws:iam::${beta.id}:role/trainer`)
    assert.notEqual(
      r.Role.RoleId,
      (await admin.send(new GetRoleCommand({ RoleName: 'trainer' }))).Role?.RoleId,
    )
    await other.send(new DeleteRoleCommand({ RoleName: 'trainer' }))
    assert.equal(
      await outcome(admin.send(new GetRoleCommand({ RoleName: 'trainer' }))),
      'ok',
      "deleting beta's trainer left acme's alone",
    )
  })
})
