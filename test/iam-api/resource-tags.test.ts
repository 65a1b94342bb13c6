/**
 * aws:ResourceTag/* and iam:ResourceTag/* on roles and users: the tags of the role or user an
 * IAM action or an AssumeRole acts on, as conditions see them, so that a delegated administrator
 * manages only its own team's roles and assumes only its team's.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_iam-tags.html#access_iam-tags_control-resources
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourcetag
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  GetUserCommand,
  PutRolePolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { doc, harness, keys, outcome, type Harness } from './client.ts'

const POLICY = doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::data/*' }])
let h: Harness
let lead: IAMClient
let leadSts: STSClient

before(async () => {
  h = await harness('iam-resource-tags')
  const id = h.g.app.identity
  const tenant = await id.findTenant('acme')
  assert.ok(tenant)
  const trust = doc([
    {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${h.account}:root` },
      Action: 'sts:AssumeRole',
    },
  ])
  for (const [name, team] of [
    ['vision-trainer', 'vision'],
    ['audio-trainer', 'audio'],
    ['untagged', undefined],
  ] as const) {
    await id.createRole(tenant, { name, path: '/ml/', trustPolicy: trust })
    if (team !== undefined) await id.tag(tenant.id, 'role', name, [{ key: 'team', value: team }])
  }
  for (const [name, team] of [
    ['lead', 'vision'],
    ['vision-dev', 'vision'],
    ['audio-dev', 'audio'],
  ] as const) {
    await id.createUser(tenant, name)
    await id.tag(tenant.id, 'user', name, [{ key: 'team', value: team }])
  }
  const user = await id.user(tenant, 'lead')
  await id.putUserPolicy(
    user,
    'own-team',
    doc([
      {
        Effect: 'Allow',
        Action: ['iam:PutRolePolicy', 'iam:GetUser'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/team': '${aws:PrincipalTag/team}' } },
      },
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: '*',
        Condition: { StringEquals: { 'iam:ResourceTag/team': 'vision' } },
      },
      {
        // AWS's delegation pattern: manage only users that keep the boundary.
        Effect: 'Allow',
        Action: ['iam:PutUserPolicy', 'iam:PutUserPermissionsBoundary'],
        Resource: '*',
        Condition: {
          StringEquals: { 'iam:PermissionsBoundary': `arn:aws:iam::${tenant.id}:policy/fence` },
        },
      },
    ]),
  )
  const fence = await id.createPolicy(tenant, {
    name: 'fence',
    path: '/',
    description: '',
    document: doc([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]),
  })
  await id.createPolicy(tenant, { name: 'wide', path: '/', description: '', document: POLICY })
  await id.setPermissionsBoundary('user', await id.createUser(tenant, 'bounded'), fence)
  await id.createUser(tenant, 'free')
  const k = await id.createAccessKey(user)
  lead = h.iam({ id: k.accessKeyId, secret: k.secretAccessKey })
  leadSts = new STSClient({
    endpoint: h.g.running.url,
    region: 'us-east-1',
    credentials: keys({ id: k.accessKeyId, secret: k.secretAccessKey }),
    maxAttempts: 1,
  })
})
after(() => h.close())

const denied = (action: string, resource: string) =>
  `403 AccessDenied: User: arn:aws:iam::${h.account}:user/lead is not authorized to perform: ${action} on resource: ${resource}`

describe('aws:ResourceTag on roles and users', () => {
  it('an IAM action on a role: allowed where the role carries the caller’s team tag', async () => {
    const put = (RoleName: string) =>
      outcome(
        lead.send(
          new PutRolePolicyCommand({ RoleName, PolicyName: 'read', PolicyDocument: POLICY }),
        ),
      )
    assert.equal(await put('vision-trainer'), 'ok')
    assert.equal(
      await put('audio-trainer'),
      denied('iam:PutRolePolicy', `arn:aws:iam::${h.account}:role/ml/audio-trainer`),
    )
    // No tag: the condition key is absent and StringEquals does not match.
    assert.equal(
      await put('untagged'),
      denied('iam:PutRolePolicy', `arn:aws:iam::${h.account}:role/ml/untagged`),
    )
  })

  it('an IAM action on a user: the user’s own tags', async () => {
    assert.equal(await outcome(lead.send(new GetUserCommand({ UserName: 'vision-dev' }))), 'ok')
    assert.equal(
      await outcome(lead.send(new GetUserCommand({ UserName: 'audio-dev' }))),
      denied('iam:GetUser', `arn:aws:iam::${h.account}:user/audio-dev`),
    )
  })

  it('AssumeRole: iam:ResourceTag is the role’s tag', async () => {
    const assume = (name: string) =>
      outcome(
        leadSts.send(
          new AssumeRoleCommand({
            RoleArn: `arn:aws:iam::${h.account}:role/ml/${name}`,
            RoleSessionName: 'lead',
          }),
        ),
      )
    assert.equal(await assume('vision-trainer'), 'ok')
    assert.equal(
      await assume('audio-trainer'),
      denied('sts:AssumeRole', `arn:aws:iam::${h.account}:role/ml/audio-trainer`),
    )
  })

  it('a tag added later is seen by the next request', async () => {
    const id = h.g.app.identity
    assert.notEqual(
      await outcome(
        lead.send(
          new PutRolePolicyCommand({
            RoleName: 'untagged',
            PolicyName: 'r',
            PolicyDocument: POLICY,
          }),
        ),
      ),
      'ok',
    )
    await id.tag(h.account, 'role', 'untagged', [{ key: 'team', value: 'vision' }])
    assert.equal(
      await outcome(
        lead.send(
          new PutRolePolicyCommand({
            RoleName: 'untagged',
            PolicyName: 'r',
            PolicyDocument: POLICY,
          }),
        ),
      ),
      'ok',
    )
  })

  it('iam:PermissionsBoundary: the user’s current boundary; the one a request sets wins', async () => {
    const put = (UserName: string) =>
      outcome(
        lead.send(new PutUserPolicyCommand({ UserName, PolicyName: 'p', PolicyDocument: POLICY })),
      )
    assert.equal(await put('bounded'), 'ok')
    assert.equal(
      await put('free'),
      denied('iam:PutUserPolicy', `arn:aws:iam::${h.account}:user/free`),
    )
    const setBoundary = (UserName: string, name: string) =>
      outcome(
        lead.send(
          new PutUserPermissionsBoundaryCommand({
            UserName,
            PermissionsBoundary: `arn:aws:iam::${h.account}:policy/${name}`,
          }),
        ),
      )
    // Swapping the boundary for a wider one is refused though the user has the right one now.
    assert.equal(
      await setBoundary('bounded', 'wide'),
      denied('iam:PutUserPermissionsBoundary', `arn:aws:iam::${h.account}:user/bounded`),
    )
    assert.equal(await setBoundary('free', 'fence'), 'ok')
    assert.equal(await put('free'), 'ok')
  })
})
