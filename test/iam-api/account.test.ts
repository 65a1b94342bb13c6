/**
 * GetAccountAuthorizationDetails through the AWS SDK for JavaScript: the account's users (with
 * inline policies, groups, attachments), groups, roles and managed policies with their versions,
 * documents URL-encoded as IAM returns them, filtered and paged.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { GetAccountAuthorizationDetailsCommand } from '@aws-sdk/client-iam'
import { doc, harness, outcome, TRUST, type Harness } from './client.ts'

let h: Harness
const READ = doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' }])

before(async () => {
  h = await harness('iam-account')
  const id = h.g.app.identity
  const tenant = await id.tenant('acme')
  const dev = await id.createUser(tenant, 'dev')
  await id.putUserPolicy(dev, 'read', READ)
  const g = await id.groups.create(tenant, 'researchers', '/')
  await id.groups.addUser(g, dev)
  const managed = await id.createPolicy(tenant, {
    name: 'shared',
    path: '/ml/',
    description: 'd',
    document: READ,
  })
  await id.attachPolicy('group', g, managed)
  const { role } = await id.createRole(tenant, { name: 'trainer', trustPolicy: TRUST })
  await id.attachPolicy('role', role, managed)
})
after(() => h.close())

describe('GetAccountAuthorizationDetails', () => {
  it('lists users, groups, roles and managed policies with what governs each', async () => {
    const r = await h.iam(h.g.admin).send(new GetAccountAuthorizationDetailsCommand({}))
    const dev = r.UserDetailList?.find((u) => u.UserName === 'dev')
    assert.deepEqual(dev?.GroupList, ['researchers'])
    assert.deepEqual(
      dev.UserPolicyList?.map((p) => [p.PolicyName, decodeURIComponent(p.PolicyDocument ?? '')]),
      [['read', READ]],
    )
    const arn = `arn:aws:iam::${h.account}:policy/ml/shared`
    assert.deepEqual(
      r.GroupDetailList?.map((g) => [g.GroupName, g.AttachedManagedPolicies?.[0]?.PolicyArn]),
      [['researchers', arn]],
    )
    const trainer = r.RoleDetailList?.find((x) => x.RoleName === 'trainer')
    assert.equal(decodeURIComponent(trainer?.AssumeRolePolicyDocument ?? ''), TRUST)
    assert.deepEqual(
      trainer?.AttachedManagedPolicies?.map((a) => a.PolicyArn),
      [arn],
    )
    const shared = r.Policies?.find((x) => x.PolicyName === 'shared')
    assert.equal(shared?.AttachmentCount, 2)
    assert.deepEqual(
      shared.PolicyVersionList?.map((v) => [
        v.VersionId,
        v.IsDefaultVersion,
        decodeURIComponent(v.Document ?? ''),
      ]),
      [['v1', true, READ]],
    )
    assert.equal(r.IsTruncated, false)
  })

  it('filters by entity type and pages with MaxItems and Marker', async () => {
    const roles = await h
      .iam(h.g.admin)
      .send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'] }))
    assert.deepEqual(
      [
        roles.UserDetailList?.length,
        roles.GroupDetailList?.length,
        roles.RoleDetailList?.map((x) => x.RoleName),
      ],
      [0, 0, ['trainer']],
    )
    const seen: string[] = []
    let Marker: string | undefined
    for (let i = 0; i < 10; i++) {
      const r = await h
        .iam(h.g.admin)
        .send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1, Marker }))
      seen.push(
        ...(r.UserDetailList ?? []).map((u) => `user:${u.UserName ?? ''}`),
        ...(r.GroupDetailList ?? []).map((g) => `group:${g.GroupName ?? ''}`),
        ...(r.RoleDetailList ?? []).map((x) => `role:${x.RoleName ?? ''}`),
        ...(r.Policies ?? []).map((p) => `policy:${p.PolicyName ?? ''}`),
      )
      if (r.IsTruncated !== true) break
      Marker = r.Marker
    }
    assert.deepEqual(seen, [
      'user:admin',
      'user:dev',
      'user:nobody',
      'group:researchers',
      'role:trainer',
      'policy:shared',
    ])
  })

  it('refuses an unknown filter, and a caller without iam:GetAccountAuthorizationDetails', async () => {
    assert.match(
      await outcome(
        h
          .iam(h.g.admin)
          .send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Everything' as 'Role'] })),
      ),
      /^400 ValidationError: .*enum value set/,
    )
    assert.match(
      await outcome(h.iam(h.g.nobody).send(new GetAccountAuthorizationDetailsCommand({}))),
      /^403 AccessDenied: /,
    )
  })
})
