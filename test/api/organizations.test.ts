/**
 * Organizations' API (JSON 1.1) over the installation's tenants, and the guardrails it manages
 * deciding every request: the management account (tenant `admin`) makes accounts and SCPs and
 * RCPs, FullAWSAccess is attached everywhere by default, an SCP bounds every principal of a
 * member account whatever its IAM policies say, and never the management account's
 * (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html,
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TenantRecord } from '../../src/meta/identity.ts'
import {
  ALLOW_ALL,
  callJson,
  startInProcess,
  userWith,
  type Creds,
  type InProcess,
} from './inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-org-api-'))
let g: InProcess
let mgmt: Creds
let acme: TenantRecord
let rootId = ''

const org = (c: Creds | undefined, op: string, input: unknown = {}) =>
  callJson(g.running.url, c, 'organizations', `AWSOrganizationsV20161128.${op}`, input)

const DENY_DELETE = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Deny', Action: ['s3:DeleteBucket', 'kms:ScheduleKeyDeletion'], Resource: '*' },
  ],
})
const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
})

async function createPolicy(Name: string, Content: string, Type = 'SERVICE_CONTROL_POLICY') {
  const r = await org(mgmt, 'CreatePolicy', { Name, Content, Type, Description: Name })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return (r.body.Policy as { PolicySummary: { Id: string } }).PolicySummary.Id
}

before(async () => {
  g = await startInProcess(dir)
  const admin = await g.app.identity.createTenant('admin')
  mgmt = await userWith(g.app, admin, 'admin', ALLOW_ALL)
  const found = await g.app.identity.findTenant('acme')
  assert.ok(found)
  acme = found
  const roots = await org(mgmt, 'ListRoots')
  rootId = (roots.body.Roots as { Id: string }[])[0]?.Id ?? ''
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('Organizations', () => {
  it('describes the organization, its root and its accounts; CreateAccount makes a tenant the management account administers', async () => {
    const d = await org(mgmt, 'DescribeOrganization')
    assert.equal(d.status, 200, JSON.stringify(d.body))
    const o = d.body.Organization as Record<string, unknown>
    const admin = await g.app.identity.findTenant('admin')
    assert.equal(o.MasterAccountId, admin?.id)
    assert.match(String(o.Id), /^o-[a-z0-9]{10}$/)
    assert.match(rootId, /^r-[a-z0-9]{4}$/)
    // A member account may describe the organization, as on AWS.
    assert.equal((await org(g.admin, 'DescribeOrganization')).status, 200)

    const made = await org(mgmt, 'CreateAccount', {
      AccountName: 'vision',
      Email: 'ml@example.com',
    })
    assert.equal(made.status, 200, JSON.stringify(made.body))
    const status = made.body.CreateAccountStatus as Record<string, string>
    assert.equal(status.State, 'SUCCEEDED')
    const again = await org(mgmt, 'DescribeCreateAccountStatus', {
      CreateAccountRequestId: status.Id,
    })
    assert.deepEqual(again.body.CreateAccountStatus, status)
    const vision = await g.app.identity.findTenant('vision')
    assert.equal(vision?.id, status.AccountId)
    const role = await g.app.identity.findRole(vision?.id ?? '', 'OrganizationAccountAccessRole')
    assert.match(role?.trustPolicy ?? '', new RegExp(`arn:aws:iam::${admin?.id ?? ''}:root`))
    const accounts = await org(mgmt, 'ListAccounts')
    assert.deepEqual((accounts.body.Accounts as { Name: string }[]).map((a) => a.Name).sort(), [
      'acme',
      'admin',
      'vision',
    ])
    const one = await org(mgmt, 'DescribeAccount', { AccountId: acme.id })
    assert.equal((one.body.Account as { Name: string }).Name, 'acme')
    assert.equal(
      (await org(mgmt, 'DescribeAccount', { AccountId: '999999999999' })).type,
      'AccountNotFoundException',
    )
    assert.equal(
      (await org(mgmt, 'CreateAccount', { AccountName: 'vision', Email: 'x@example.com' })).type,
      'DuplicateAccountException',
    )
  })

  it('FullAWSAccess is attached to the root and every account until something else is', async () => {
    const listed = await org(mgmt, 'ListPolicies', { Filter: 'SERVICE_CONTROL_POLICY' })
    const full = (listed.body.Policies as Record<string, unknown>[]).find(
      (p) => p.Name === 'FullAWSAccess',
    )
    assert.deepEqual([full?.Id, full?.AwsManaged], ['p-FullAWSAccess', true])
    for (const TargetId of [rootId, acme.id]) {
      const r = await org(mgmt, 'ListPoliciesForTarget', {
        TargetId,
        Filter: 'SERVICE_CONTROL_POLICY',
      })
      assert.deepEqual(
        (r.body.Policies as { Id: string }[]).map((p) => p.Id),
        ['p-FullAWSAccess'],
        TargetId,
      )
    }
    const targets = await org(mgmt, 'ListTargetsForPolicy', { PolicyId: 'p-FullAWSAccess' })
    assert.ok((targets.body.Targets as { TargetId: string }[]).some((t) => t.TargetId === acme.id))
    assert.equal(
      (await org(mgmt, 'DeletePolicy', { PolicyId: 'p-FullAWSAccess' })).type,
      'AccessDeniedException',
    )
  })

  it('an SCP bounds every principal of the account it is attached to, whatever their IAM policies say', async () => {
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/kept' })).status, 200)
    const id = await createPolicy('no-deletes', DENY_DELETE)
    assert.equal((await org(mgmt, 'AttachPolicy', { PolicyId: id, TargetId: acme.id })).status, 200)
    // acme's admin is allowed everything by IAM; the SCP still refuses.
    assert.equal((await g.send(g.admin, { method: 'DELETE', path: '/kept' })).status, 403)
    const attached = await org(mgmt, 'ListPoliciesForTarget', {
      TargetId: acme.id,
      Filter: 'SERVICE_CONTROL_POLICY',
    })
    assert.deepEqual((attached.body.Policies as { Name: string }[]).map((p) => p.Name).sort(), [
      'FullAWSAccess',
      'no-deletes',
    ])
    // Without FullAWSAccess, nothing the account's SCPs do not allow is allowed.
    assert.equal(
      (await org(mgmt, 'DetachPolicy', { PolicyId: 'p-FullAWSAccess', TargetId: acme.id })).status,
      200,
    )
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/kept' })).status, 403)
    // The last SCP of a target cannot be detached.
    assert.equal(
      (await org(mgmt, 'DetachPolicy', { PolicyId: id, TargetId: acme.id })).type,
      'ConstraintViolationException',
    )
    assert.equal(
      (await org(mgmt, 'AttachPolicy', { PolicyId: 'p-FullAWSAccess', TargetId: acme.id })).status,
      200,
    )
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/kept' })).status, 200)
    assert.equal((await org(mgmt, 'DeletePolicy', { PolicyId: id })).type, 'PolicyInUseException')
    assert.equal((await org(mgmt, 'DetachPolicy', { PolicyId: id, TargetId: acme.id })).status, 200)
    assert.equal((await g.send(g.admin, { method: 'DELETE', path: '/kept' })).status, 204)
    assert.equal((await org(mgmt, 'DeletePolicy', { PolicyId: id })).status, 200)
    assert.equal(
      (await org(mgmt, 'DescribePolicy', { PolicyId: id })).type,
      'PolicyNotFoundException',
    )
  })

  it('attack: an SCP that denies everything, attached to the root, never restricts the management account, which detaches it', async () => {
    const id = await createPolicy('deny-all', DENY_ALL)
    assert.equal((await org(mgmt, 'AttachPolicy', { PolicyId: id, TargetId: rootId })).status, 200)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/' })).status, 403)
    // The management account works on, Organizations included.
    assert.equal((await org(mgmt, 'ListRoots')).status, 200)
    assert.equal((await org(mgmt, 'DetachPolicy', { PolicyId: id, TargetId: rootId })).status, 200)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/' })).status, 200)
  })

  it('an RCP bounds what anyone may do to the account’s resources', async () => {
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/rcp-bucket' })).status, 200)
    const id = await createPolicy(
      'no-reads',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: '*' }],
      }),
      'RESOURCE_CONTROL_POLICY',
    )
    assert.equal((await org(mgmt, 'AttachPolicy', { PolicyId: id, TargetId: acme.id })).status, 200)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/rcp-bucket' })).status, 403)
    assert.equal((await org(mgmt, 'DetachPolicy', { PolicyId: id, TargetId: acme.id })).status, 200)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/rcp-bucket' })).status, 200)
  })

  it('aws:PrincipalOrgID and aws:ResourceOrgID carry the organization, so a data-perimeter RCP keeps strangers out', async () => {
    const d = await org(mgmt, 'DescribeOrganization')
    const orgId = (d.body.Organization as { Id: string }).Id
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/perimeter' })).status, 200)
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::perimeter',
        },
      ],
    })
    await g.send(g.admin, { method: 'DELETE', path: '/perimeter?publicAccessBlock' })
    assert.equal(
      (await g.send(g.admin, { method: 'PUT', path: '/perimeter?policy', body: policy })).status,
      204,
    )
    assert.equal((await g.send(undefined, { method: 'GET', path: '/perimeter' })).status, 200)
    const id = await createPolicy(
      'perimeter',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: '*',
            Condition: { StringNotEqualsIfExists: { 'aws:PrincipalOrgID': orgId } },
          },
        ],
      }),
      'RESOURCE_CONTROL_POLICY',
    )
    assert.equal((await org(mgmt, 'AttachPolicy', { PolicyId: id, TargetId: rootId })).status, 200)
    assert.equal((await g.send(undefined, { method: 'GET', path: '/perimeter' })).status, 403)
    assert.equal((await g.send(g.admin, { method: 'GET', path: '/perimeter' })).status, 200)
    assert.equal((await org(mgmt, 'DetachPolicy', { PolicyId: id, TargetId: rootId })).status, 200)
    assert.equal((await g.send(undefined, { method: 'GET', path: '/perimeter' })).status, 200)
  })

  it('attack: a member account calling the management account’s operations is refused before any handler runs', async () => {
    for (const [op, input] of [
      ['CreatePolicy', { Name: 'x', Content: DENY_ALL, Type: 'SERVICE_CONTROL_POLICY' }],
      ['DetachPolicy', { PolicyId: 'p-FullAWSAccess', TargetId: acme.id }],
      ['AttachPolicy', { PolicyId: 'p-FullAWSAccess', TargetId: acme.id }],
      ['ListAccounts', {}],
      ['CreateAccount', { AccountName: 'evil', Email: 'e@example.com' }],
    ] as const) {
      const r = await org(g.admin, op, input)
      assert.equal(r.type, 'AccessDeniedException', op)
    }
    assert.equal(await g.app.identity.findTenant('evil'), undefined)
  })

  it('attack: an attach and a delete of one policy at once never leave the policy attached yet gone, which would restrict nothing (review)', async () => {
    const o = g.app.organization
    for (let round = 0; round < 5; round++) {
      const p = await o.createPolicy(
        'SERVICE_CONTROL_POLICY',
        `race-${String(round)}`,
        '',
        DENY_ALL,
      )
      const [attached, deleted] = await Promise.allSettled([
        o.attach(p.id, acme.id),
        o.deletePolicy(p.id),
      ])
      assert.ok(
        attached.status === 'rejected' || deleted.status === 'rejected',
        `round ${String(round)}: both the attach and the delete went through`,
      )
      if (attached.status === 'fulfilled') {
        assert.equal((await g.send(g.admin, { method: 'GET', path: '/' })).status, 403)
        await o.detach(p.id, acme.id)
        await o.deletePolicy(p.id)
      }
      assert.equal((await g.send(g.admin, { method: 'GET', path: '/' })).status, 200)
    }
  })

  it('attack: two detaches at once, to leave an account with no SCP (review)', async () => {
    const o = g.app.organization
    const only = await o.createPolicy(
      'SERVICE_CONTROL_POLICY',
      'only-list',
      '',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
      }),
    )
    await o.attach(only.id, acme.id)
    const r = await Promise.allSettled([
      o.detach('p-FullAWSAccess', acme.id),
      o.detach(only.id, acme.id),
    ])
    assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1)
    const left = await o.policiesFor(acme.id, 'SERVICE_CONTROL_POLICY')
    assert.equal(left.length, 1)
    if (left[0]?.id === only.id) {
      assert.equal((await g.send(g.admin, { method: 'GET', path: '/kept-after' })).status, 403)
      await o.attach('p-FullAWSAccess', acme.id)
    }
    await o.detach(only.id, acme.id)
    await o.deletePolicy(only.id)
  })

  it('answers bad input with Organizations’ exceptions, nothing half-applied', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'CreatePolicy',
        { Name: 'bad', Content: '{', Type: 'SERVICE_CONTROL_POLICY' },
        'MalformedPolicyDocumentException',
      ],
      [
        'CreatePolicy',
        { Name: 'bad', Content: DENY_ALL, Type: 'TAG_POLICY' },
        'InvalidInputException',
      ],
      [
        'CreatePolicy',
        { Name: 'FullAWSAccess', Content: DENY_ALL, Type: 'SERVICE_CONTROL_POLICY' },
        'DuplicatePolicyException',
      ],
      [
        'CreatePolicy',
        { Name: 'big', Content: ' '.repeat(5121), Type: 'SERVICE_CONTROL_POLICY' },
        'ConstraintViolationException',
      ],
      [
        'AttachPolicy',
        { PolicyId: 'p-FullAWSAccess', TargetId: '999999999999' },
        'TargetNotFoundException',
      ],
      [
        'AttachPolicy',
        { PolicyId: 'p-FullAWSAccess', TargetId: acme.id },
        'DuplicatePolicyAttachmentException',
      ],
      ['AttachPolicy', { PolicyId: 'p-00000000', TargetId: acme.id }, 'PolicyNotFoundException'],
      ['DescribePolicy', { PolicyId: '../etc' }, 'InvalidInputException'],
      ['ListAccounts', { NextToken: 'forged' }, 'InvalidInputException'],
      [
        'DescribeCreateAccountStatus',
        { CreateAccountRequestId: 'car-000000000000' },
        'CreateAccountStatusNotFoundException',
      ],
      ['ListRoots', { Colour: 1 }, 'InvalidInputException'],
      [
        'CreateAccount',
        { AccountName: 'half', Email: 'a@example.com', RoleName: 'bad name/!' },
        'InvalidInputException',
      ],
    ]
    for (const [op, input, type] of cases)
      assert.equal(
        (await org(mgmt, op, input)).type,
        type,
        `${op} ${JSON.stringify(input).slice(0, 80)}`,
      )
    assert.equal(await g.app.identity.findTenant('half'), undefined, 'no account is left half made')
    const mine = await createPolicy('renamed', DENY_DELETE)
    assert.equal(
      (await org(mgmt, 'UpdatePolicy', { PolicyId: mine, Name: 'FullAWSAccess' })).type,
      'DuplicatePolicyException',
    )
    assert.equal((await org(mgmt, 'DeletePolicy', { PolicyId: mine })).status, 200)
    const names = await org(mgmt, 'ListPolicies', { Filter: 'SERVICE_CONTROL_POLICY' })
    assert.ok(
      !(names.body.Policies as { Name: string }[]).some((p) => ['bad', 'big'].includes(p.Name)),
    )
  })
})
