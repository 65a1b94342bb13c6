/**
 * IAM administration from the command line, on the same services as the IAM API:
 * customer-managed policies (`policy create`, `policy attach`, `role attach-policy`) and groups
 * (`group create`, `group add-user`, `group put-policy`).
 */
import { policyArn } from '../../identity/managed.ts'
import { StrongroomError } from '../../errors.ts'
import { readTextFile } from '../io.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'

const TENANT = { type: 'string', value: 'NAME', description: 'the tenant' } as const
const POLICY_ARN = {
  type: 'string',
  value: 'ARN',
  description: 'the managed policy, arn:aws:iam::ACCOUNT:policy/PATH/NAME',
} as const

export const policyCreate: Command = {
  name: 'policy create',
  summary:
    'Create a customer-managed policy (version v1, the default): attach it to roles, users and groups.',
  args: 'NAME',
  positionals: [1, 1],
  options: {
    tenant: TENANT,
    document: { type: 'string', value: 'FILE', description: 'the policy JSON' },
    path: { type: 'string', value: 'PATH', description: 'policy path, e.g. /ml/ (default /)' },
    description: { type: 'string', value: 'TEXT', description: 'what the policy is for' },
  },
  help: 'Example:\n  strongroom policy create read-datasets --tenant vision --document read.json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', policyCreate)
    const file = requireOpt(ctx, 'document', policyCreate)
    const [name = ''] = ctx.positionals
    const document = await readTextFile(file, 'policy document')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const p = await app.identity.createPolicy(tenant, {
        name,
        path: stringOpt(ctx, 'path') ?? '/',
        description: stringOpt(ctx, 'description') ?? '',
        document,
      })
      const arn = policyArn(tenant.id, p)
      ctx.print(`created policy ${p.name} (${arn})`, {
        PolicyName: p.name,
        PolicyId: p.id,
        Arn: arn,
        DefaultVersionId: `v${String(p.defaultVersion)}`,
      })
    })
    return 0
  },
}

export const policyAttach: Command = {
  name: 'policy attach',
  summary: 'Attach a customer-managed policy to a role, a user or a group.',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    'policy-arn': POLICY_ARN,
    role: { type: 'string', value: 'ROLE', description: 'attach it to this role' },
    user: { type: 'string', value: 'USER', description: 'attach it to this user' },
    group: { type: 'string', value: 'GROUP', description: 'attach it to this group' },
  },
  help: 'Example:\n  strongroom policy attach --tenant vision --policy-arn arn:aws:iam::111122223333:policy/read-datasets --group researchers',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', policyAttach)
    const arn = requireOpt(ctx, 'policy-arn', policyAttach)
    const targets = (['role', 'user', 'group'] as const).filter(
      (k) => stringOpt(ctx, k) !== undefined,
    )
    const [kind] = targets
    if (kind === undefined || targets.length > 1)
      throw new StrongroomError('USAGE', 'name exactly one of --role, --user or --group')
    return attach(ctx, tenantName, arn, kind, stringOpt(ctx, kind) ?? '')
  },
}

export const roleAttachPolicy: Command = {
  name: 'role attach-policy',
  summary: 'Attach a customer-managed policy to a role (as `policy attach --role`).',
  args: 'ROLE',
  positionals: [1, 1],
  options: { tenant: TENANT, 'policy-arn': POLICY_ARN },
  help: 'Example:\n  strongroom role attach-policy trainer --tenant vision --policy-arn arn:aws:iam::111122223333:policy/read-datasets',
  run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', roleAttachPolicy)
    const arn = requireOpt(ctx, 'policy-arn', roleAttachPolicy)
    return attach(ctx, tenantName, arn, 'role', ctx.positionals[0] ?? '')
  },
}

async function attach(
  ctx: Parameters<Command['run']>[0],
  tenantName: string,
  arn: string,
  kind: 'role' | 'user' | 'group',
  name: string,
): Promise<number> {
  await withApp(ctx, async (app) => {
    const tenant = await app.identity.tenant(tenantName)
    const policy = await app.identity.policy(tenant, arn)
    const principal =
      kind === 'role'
        ? await app.identity.role(tenant, name)
        : kind === 'user'
          ? await app.identity.user(tenant, name)
          : await app.identity.groups.find(tenant.id, name)
    if (principal === undefined)
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `tenant \`${tenant.name}\` has no group \`${name.slice(0, 80)}\`; create it with \`strongroom group create ${name.slice(0, 80)} --tenant ${tenant.name}\``,
      )
    await app.identity.attachPolicy(kind, principal, policy)
    ctx.print(`attached ${policyArn(tenant.id, policy)} to ${kind} ${principal.name}`, {
      PolicyArn: policyArn(tenant.id, policy),
      [kind === 'role' ? 'RoleName' : kind === 'user' ? 'UserName' : 'GroupName']: principal.name,
    })
  })
  return 0
}

export const groupCreate: Command = {
  name: 'group create',
  summary: 'Create an IAM group: its policies apply to every member.',
  args: 'GROUP',
  positionals: [1, 1],
  options: {
    tenant: TENANT,
    path: { type: 'string', value: 'PATH', description: 'group path (default /)' },
  },
  help: 'Example:\n  strongroom group create researchers --tenant vision',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', groupCreate)
    const [name = ''] = ctx.positionals
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const g = await app.identity.groups.create(tenant, name, stringOpt(ctx, 'path') ?? '/')
      const arn = `arn:aws:iam::${tenant.id}:group${g.path}${g.name}`
      ctx.print(`created group ${g.name} (${arn})`, { GroupName: g.name, GroupId: g.id, Arn: arn })
    })
    return 0
  },
}

export const groupAddUser: Command = {
  name: 'group add-user',
  summary: 'Add a user to a group.',
  args: 'GROUP',
  positionals: [1, 1],
  options: { tenant: TENANT, user: { type: 'string', value: 'USER', description: 'the user' } },
  help: 'Example:\n  strongroom group add-user researchers --tenant vision --user alice',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', groupAddUser)
    const userName = requireOpt(ctx, 'user', groupAddUser)
    const [name = ''] = ctx.positionals
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const g = await app.identity.groups.find(tenant.id, name)
      if (g === undefined)
        throw new StrongroomError(
          'NO_SUCH_ENTITY',
          `tenant \`${tenant.name}\` has no group \`${name.slice(0, 80)}\``,
        )
      const user = await app.identity.user(tenant, userName)
      await app.identity.groups.addUser(g, user)
      ctx.print(`added ${user.name} to group ${g.name}`, { GroupName: g.name, UserName: user.name })
    })
    return 0
  },
}
