import { readTextFile } from '../io.ts'
import { StrongroomError } from '../../errors.ts'
import { roleArn } from '../../identity/roles.ts'
import { REVOKE_POLICY_NAME, revokeOlderSessionsPolicy } from '../../sts/revoke.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'

const TENANT = {
  type: 'string',
  value: 'NAME',
  description: 'the tenant the role belongs to',
} as const

/** `1h`, `90m`, `3600s` or `3600`: seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d{1,6})([smh]?)$/.exec(text.trim())
  if (m === null)
    throw new StrongroomError(
      'USAGE',
      `--${flag} \`${text.slice(0, 40)}\` is not a duration: write it as 3600, 3600s, 60m or 1h`,
    )
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1)
}

export const roleCreate: Command = {
  name: 'role create',
  summary:
    'Create an IAM role: its trust policy says who may assume it; its sessions can do nothing until a policy allows it.',
  args: 'ROLE',
  positionals: [1, 1],
  options: {
    tenant: TENANT,
    trust: { type: 'string', value: 'FILE', description: 'the trust policy JSON' },
    'max-session': {
      type: 'string',
      value: 'DURATION',
      description: 'longest session, 1h (default) to 12h',
    },
    path: { type: 'string', value: 'PATH', description: 'role path, e.g. /ml/ (default /)' },
    description: { type: 'string', value: 'TEXT', description: 'what the role is for' },
  },
  help: 'Example:\n  strongroom role create trainer --tenant vision --trust trust.json --max-session 2h',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', roleCreate)
    const trustFile = requireOpt(ctx, 'trust', roleCreate)
    const [name = ''] = ctx.positionals
    const max = stringOpt(ctx, 'max-session')
    const trustPolicy = await readTextFile(trustFile, 'trust policy')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const { role, warnings } = await app.identity.createRole(tenant, {
        name,
        trustPolicy,
        maxSessionSeconds: max === undefined ? undefined : parseDuration(max, 'max-session'),
        path: stringOpt(ctx, 'path'),
        description: stringOpt(ctx, 'description'),
      })
      for (const w of warnings)
        ctx.warn(`${trustFile}:${w.line}:${w.column}: ${w.message} [${w.code}]`)
      const arn = roleArn(tenant.id, role)
      ctx.print(`created role ${role.name} (${arn})`, {
        RoleName: role.name,
        RoleId: role.id,
        Arn: arn,
        Path: role.path,
        MaxSessionDuration: role.maxSessionSeconds,
        CreateDate: new Date(role.createdAt).toISOString(),
      })
    })
    return 0
  },
}

export const rolePutPolicy: Command = {
  name: 'role put-policy',
  summary:
    'Attach (or replace) an inline policy of a role. It is validated first; warnings are printed.',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    role: { type: 'string', value: 'ROLE', description: 'the role' },
    name: { type: 'string', value: 'POLICY', description: 'the policy name' },
    document: { type: 'string', value: 'FILE', description: 'the policy JSON' },
  },
  help: 'Example:\n  strongroom role put-policy --tenant vision --role trainer --name train --document train.json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', rolePutPolicy)
    const roleName = requireOpt(ctx, 'role', rolePutPolicy)
    const name = requireOpt(ctx, 'name', rolePutPolicy)
    const file = requireOpt(ctx, 'document', rolePutPolicy)
    const text = await readTextFile(file, 'policy document')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const role = await app.identity.role(tenant, roleName)
      const warnings = await app.identity.putRolePolicy(role, name, text)
      for (const w of warnings) ctx.warn(`${file}:${w.line}:${w.column}: ${w.message} [${w.code}]`)
      ctx.print(`attached ${name} to role ${role.name}`, {
        RoleName: role.name,
        PolicyName: name,
        Warnings: warnings,
      })
    })
    return 0
  },
}

export const roleList: Command = {
  name: 'role list',
  summary: "List a tenant's roles.",
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT },
  help: 'Example:\n  strongroom role list --tenant vision --json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', roleList)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const roles = await app.identity.listRoles(tenant)
      ctx.print(
        roles.length === 0
          ? `tenant ${tenant.name} has no roles`
          : roles.map((r) => `${r.name}\t${roleArn(tenant.id, r)}`).join('\n'),
        roles.map((r) => ({
          RoleName: r.name,
          RoleId: r.id,
          Arn: roleArn(tenant.id, r),
          MaxSessionDuration: r.maxSessionSeconds,
        })),
      )
    })
    return 0
  },
}

export const roleRevokeSessions: Command = {
  name: 'role revoke-sessions',
  summary:
    "End every session of a role issued before now (AWS's AWSRevokeOlderSessions inline policy); new sessions are unaffected.",
  args: 'ROLE',
  positionals: [1, 1],
  options: { tenant: TENANT },
  help: [
    'Takes effect at once on every gateway: a session issued before now is refused from its next',
    'request. Jobs started by `strongroom run` get a new session when theirs is next renewed;',
    'restart them to act at once. Running it again moves the cut-off to the new time.',
    '',
    'Example:',
    '  strongroom role revoke-sessions trainer --tenant vision',
  ].join('\n'),
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', roleRevokeSessions)
    const [name = ''] = ctx.positionals
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const role = await app.identity.role(tenant, name)
      const now = app.clock.now()
      await app.identity.putRolePolicy(role, REVOKE_POLICY_NAME, revokeOlderSessionsPolicy(now))
      const cutoff = new Date(now).toISOString()
      ctx.print(`revoked every session of role ${role.name} issued before ${cutoff}`, {
        RoleName: role.name,
        PolicyName: REVOKE_POLICY_NAME,
        RevokedBefore: cutoff,
      })
    })
    return 0
  },
}
