/**
 * A subset of AWS Organizations' API (JSON 1.1, AWSOrganizationsV20161128) for platform
 * administrators: the organization and its root, accounts (tenants), and the guardrails (SCPs
 * and RCPs) with their attachments (https://docs.aws.amazon.com/organizations/latest/APIReference/).
 * Every operation but DescribeOrganization is the management account's only; ../json-decide.ts
 * refuses anyone else before the handler runs, as Organizations does.
 */
import { StrongroomError } from '../../errors.ts'
import type { TenantRecord } from '../../meta/identity.ts'
import type { OrgPolicyRecord, OrgPolicyType } from '../../meta/org.ts'
import { FULL_AWS_ACCESS, type OrgIds } from '../../org/organization.ts'
import type { JsonAuthorized } from '../authorized.ts'
import type { JsonOperation } from '../operation.ts'
import { epoch, everything, page, str, type Input } from '../kms/input.ts'

const invalid = (m: string) => new StrongroomError('VALIDATION', m)

const POLICY_TYPES: readonly OrgPolicyType[] = ['SERVICE_CONTROL_POLICY', 'RESOURCE_CONTROL_POLICY']
/** SCPs and RCPs: at most 5,120 characters (Organizations' quota). */
const MAX_CONTENT = 5120

function policyType(input: Input, name = 'Type'): OrgPolicyType {
  const t = input[name]
  if (typeof t !== 'string' || !POLICY_TYPES.includes(t as OrgPolicyType))
    throw invalid(`${name} is SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY`)
  return t as OrgPolicyType
}

function policyId(input: Input): string {
  const id = input.PolicyId
  if (typeof id !== 'string' || !/^p-[0-9a-zA-Z_]{8,128}$/.test(id))
    throw invalid('PolicyId is p- and 8 to 128 letters, digits or underscores')
  return id
}

function targetId(input: Input): string {
  const id = input.TargetId
  if (typeof id !== 'string' || !/^(r-[0-9a-z]{4,32}|\d{12})$/.test(id))
    throw invalid('TargetId is a root id (r-...) or a 12-digit account id')
  return id
}

function content(input: Input, required: boolean): string | undefined {
  const c = input.Content
  if (c === undefined && !required) return undefined
  if (typeof c !== 'string' || c.length < 1) throw invalid('Content is a policy document')
  if (c.length > MAX_CONTENT)
    throw new StrongroomError(
      'ORG_CONSTRAINT_VIOLATION',
      `The policy is ${String(c.length)} characters; a policy is at most ${String(MAX_CONTENT)}`,
    )
  return c
}

const orgArn = (ids: OrgIds, mgmt: string) =>
  `arn:aws:organizations::${mgmt}:organization/${ids.organizationId}`

function policySummary(ids: OrgIds, mgmt: string, p: OrgPolicyRecord): Record<string, unknown> {
  const type = p.type.toLowerCase()
  const managed = p.id === FULL_AWS_ACCESS
  return {
    Id: p.id,
    Arn: managed
      ? `arn:aws:organizations::aws:policy/${type}/${p.id}`
      : `arn:aws:organizations::${mgmt}:policy/${ids.organizationId}/${type}/${p.id}`,
    Name: p.name,
    Description: p.description,
    Type: p.type,
    AwsManaged: managed,
  }
}

function account(ids: OrgIds, mgmt: string, t: TenantRecord): Record<string, unknown> {
  return {
    Id: t.id,
    Arn: `arn:aws:organizations::${mgmt}:account/${ids.organizationId}/${t.id}`,
    Name: t.name,
    Status: 'ACTIVE',
    JoinedMethod: t.id === mgmt ? 'INVITED' : 'CREATED',
    JoinedTimestamp: epoch(t.createdAt),
  }
}

/** The organization's ids and its management account's id, for every answer's ARNs. */
async function org(ctx: JsonAuthorized): Promise<{ ids: OrgIds; mgmt: string }> {
  const o = ctx.organization
  const [ids, m] = await Promise.all([o.ids(), o.management()])
  if (m === undefined)
    throw new StrongroomError(
      'SERVICE_UNAVAILABLE',
      'The organization has no management account: start the gateway with `strongroom serve` once',
    )
  return { ids, mgmt: m.id }
}

function op(
  name: string,
  members: readonly string[],
  handler: (ctx: JsonAuthorized) => Promise<Record<string, unknown>>,
): JsonOperation {
  return {
    service: 'organizations',
    name,
    action: `organizations:${name}`,
    members,
    resource: everything,
    handler,
  }
}

/**
 * One page of a list, as Organizations pages: MaxResults (1 to 20) and the NextToken of the
 * page before; NextToken in the answer while more is left.
 */
function onePage<T>(input: Input, items: readonly T[], key: (item: T) => string) {
  const p = page(
    input,
    [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)),
    key,
    20,
    20,
    { limit: 'MaxResults', marker: 'NextToken' },
  )
  return { items: p.items, more: p.NextMarker === undefined ? {} : { NextToken: p.NextMarker } }
}

/** A CreateAccount request's id names the account it made: the status is read from the account. */
const requestId = (accountId: string) => `car-${accountId}`

function createStatus(t: TenantRecord): Record<string, unknown> {
  return {
    Id: requestId(t.id),
    AccountName: t.name,
    State: 'SUCCEEDED',
    RequestedTimestamp: epoch(t.createdAt),
    CompletedTimestamp: epoch(t.createdAt),
    AccountId: t.id,
  }
}

/** The role Organizations makes in a new account, which the management account may assume. */
const ACCESS_ROLE = 'OrganizationAccountAccessRole'

export const ORGANIZATIONS_OPERATIONS: readonly JsonOperation[] = [
  op('DescribeOrganization', [], async (ctx) => {
    const { ids, mgmt } = await org(ctx)
    return {
      Organization: {
        Id: ids.organizationId,
        Arn: orgArn(ids, mgmt),
        FeatureSet: 'ALL',
        MasterAccountArn: `arn:aws:organizations::${mgmt}:account/${ids.organizationId}/${mgmt}`,
        MasterAccountId: mgmt,
        AvailablePolicyTypes: POLICY_TYPES.map((Type) => ({ Type, Status: 'ENABLED' })),
      },
    }
  }),
  op('ListRoots', ['MaxResults', 'NextToken'], async (ctx) => {
    onePage(ctx.input, [], (x: string) => x)
    const { ids, mgmt } = await org(ctx)
    return {
      Roots: [
        {
          Id: ids.rootId,
          Arn: `arn:aws:organizations::${mgmt}:root/${ids.organizationId}/${ids.rootId}`,
          Name: 'Root',
          PolicyTypes: POLICY_TYPES.map((Type) => ({ Type, Status: 'ENABLED' })),
        },
      ],
    }
  }),
  op(
    'CreateAccount',
    ['AccountName', 'Email', 'IamUserAccessToBilling', 'RoleName', 'Tags'],
    async (ctx) => {
      const name = str(ctx.input, 'AccountName', 50)
      const email = str(ctx.input, 'Email', 64)
      if (name === undefined || email === undefined || !email.includes('@'))
        throw invalid('AccountName and Email are required')
      if (ctx.input.Tags !== undefined) throw invalid('Tags on accounts are not supported')
      const roleName = str(ctx.input, 'RoleName', 64) ?? ACCESS_ROLE
      // Checked before anything is made: a refused role must not leave an account behind.
      if (!/^[\w+=,.@-]{1,64}$/.test(roleName))
        throw invalid('RoleName is 1 to 64 letters, digits and + = , . @ _ -')
      const { mgmt } = await org(ctx)
      const t = await ctx.identity.createTenant(name)
      await ctx.identity.createRole(t, {
        name: roleName,
        trustPolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${mgmt}:root` },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
        description: 'Made by Organizations: the management account administers this account',
      })
      const role = await ctx.identity.role(t, roleName)
      await ctx.identity.putRolePolicy(
        role,
        'AdministratorAccess',
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      )
      return { CreateAccountStatus: createStatus(t) }
    },
  ),
  op('DescribeCreateAccountStatus', ['CreateAccountRequestId'], async (ctx) => {
    const id = ctx.input.CreateAccountRequestId
    const m = typeof id === 'string' ? /^car-(\d{12})$/.exec(id) : null
    const t = m === null ? undefined : await ctx.identity.tenantById(m[1] ?? '')
    if (t === undefined)
      throw new StrongroomError(
        'ORG_STATUS_NOT_FOUND',
        `We can't find a create account request with the ID ${String(id).slice(0, 64)}.`,
      )
    return { CreateAccountStatus: createStatus(t) }
  }),
  op('ListAccounts', ['MaxResults', 'NextToken'], async (ctx) => {
    const { ids, mgmt } = await org(ctx)
    const tenants = await ctx.identity.listTenants()
    const p = onePage(ctx.input, tenants, (t) => t.id)
    return { Accounts: p.items.map((t) => account(ids, mgmt, t)), ...p.more }
  }),
  op('DescribeAccount', ['AccountId'], async (ctx) => {
    const id = ctx.input.AccountId
    if (typeof id !== 'string' || !/^\d{12}$/.test(id))
      throw invalid('AccountId is a 12-digit account id')
    const { ids, mgmt } = await org(ctx)
    const t = await ctx.identity.tenantById(id)
    if (t === undefined)
      throw new StrongroomError(
        'ORG_ACCOUNT_NOT_FOUND',
        `You specified an account that doesn't exist: ${id}`,
      )
    return { Account: account(ids, mgmt, t) }
  }),
  op('CreatePolicy', ['Content', 'Description', 'Name', 'Type', 'Tags'], async (ctx) => {
    const i = ctx.input
    const name = str(i, 'Name', 128)
    if (name === undefined) throw invalid('Name is required')
    const description = i.Description === undefined ? '' : (str(i, 'Description', 512) ?? '')
    if (i.Tags !== undefined) throw invalid('Tags on policies are not supported')
    const p = await ctx.organization.createPolicy(
      policyType(i),
      name,
      description,
      content(i, true) ?? '',
    )
    const { ids, mgmt } = await org(ctx)
    return { Policy: { PolicySummary: policySummary(ids, mgmt, p), Content: p.content } }
  }),
  op('DescribePolicy', ['PolicyId'], async (ctx) => {
    const p = await ctx.organization.policy(policyId(ctx.input))
    const { ids, mgmt } = await org(ctx)
    return { Policy: { PolicySummary: policySummary(ids, mgmt, p), Content: p.content } }
  }),
  op('UpdatePolicy', ['PolicyId', 'Name', 'Description', 'Content'], async (ctx) => {
    const i = ctx.input
    const name = str(i, 'Name', 128)
    const description = i.Description === undefined ? undefined : (str(i, 'Description', 512) ?? '')
    const c = content(i, false)
    const p = await ctx.organization.updatePolicy(policyId(i), {
      ...(name === undefined ? {} : { name }),
      ...(description === undefined ? {} : { description }),
      ...(c === undefined ? {} : { content: c }),
    })
    const { ids, mgmt } = await org(ctx)
    return { Policy: { PolicySummary: policySummary(ids, mgmt, p), Content: p.content } }
  }),
  op('DeletePolicy', ['PolicyId'], async (ctx) => {
    await ctx.organization.deletePolicy(policyId(ctx.input))
    return {}
  }),
  op('ListPolicies', ['Filter', 'MaxResults', 'NextToken'], async (ctx) => {
    const list = await ctx.organization.listPolicies(policyType(ctx.input, 'Filter'))
    const { ids, mgmt } = await org(ctx)
    const p = onePage(ctx.input, list, (x) => `${x.name}\0${x.id}`)
    return { Policies: p.items.map((x) => policySummary(ids, mgmt, x)), ...p.more }
  }),
  op('AttachPolicy', ['PolicyId', 'TargetId'], async (ctx) => {
    await ctx.organization.attach(policyId(ctx.input), targetId(ctx.input))
    return {}
  }),
  op('DetachPolicy', ['PolicyId', 'TargetId'], async (ctx) => {
    await ctx.organization.detach(policyId(ctx.input), targetId(ctx.input))
    return {}
  }),
  op('ListPoliciesForTarget', ['TargetId', 'Filter', 'MaxResults', 'NextToken'], async (ctx) => {
    const target = targetId(ctx.input)
    await ctx.organization.target(target)
    const list = await ctx.organization.policiesFor(target, policyType(ctx.input, 'Filter'))
    const { ids, mgmt } = await org(ctx)
    const p = onePage(ctx.input, list, (x) => `${x.name}\0${x.id}`)
    return { Policies: p.items.map((x) => policySummary(ids, mgmt, x)), ...p.more }
  }),
  op('ListTargetsForPolicy', ['PolicyId', 'MaxResults', 'NextToken'], async (ctx) => {
    const { ids, mgmt } = await org(ctx)
    const targets = (await ctx.organization.targetsFor(policyId(ctx.input))).sort()
    const p = onePage(ctx.input, targets, (id) => id)
    return {
      ...p.more,
      Targets: await Promise.all(
        p.items.map(async (id) => {
          const t = await ctx.organization.target(id)
          return {
            TargetId: id,
            Arn:
              t.kind === 'ROOT'
                ? `arn:aws:organizations::${mgmt}:root/${ids.organizationId}/${id}`
                : `arn:aws:organizations::${mgmt}:account/${ids.organizationId}/${id}`,
            Name: t.name,
            Type: t.kind,
          }
        }),
      ),
    }
  }),
]

/** Organizations' operations any account may call; the rest are the management account's. */
export const OPEN_TO_MEMBERS = new Set(['DescribeOrganization'])
