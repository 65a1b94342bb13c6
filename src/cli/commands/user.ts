import { readTextFile } from '../io.ts'
import { StrongroomError } from '../../errors.ts'
import { userArn } from '../../identity/users.ts'
import { requireOpt, withApp, type Command } from '../command.ts'

const TENANT = {
  type: 'string',
  value: 'NAME',
  description: 'the tenant the user belongs to',
} as const

export const userCreate: Command = {
  name: 'user create',
  summary: 'Create an IAM user in a tenant. It can do nothing until a policy allows it.',
  args: 'USER',
  positionals: [1, 1],
  options: { tenant: TENANT },
  help: 'Example:\n  strongroom user create --tenant vision alice --json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', userCreate)
    const [name = ''] = ctx.positionals
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const u = await app.identity.createUser(tenant, name)
      const arn = userArn(tenant, u.name)
      ctx.print(`created user ${u.name} (${arn})`, {
        UserName: u.name,
        UserId: u.id,
        Arn: arn,
        CreateDate: new Date(u.createdAt).toISOString(),
      })
    })
    return 0
  },
}

export const userPutPolicy: Command = {
  name: 'user put-policy',
  summary:
    'Attach (or replace) an inline identity policy of a user. It is validated first; warnings are printed.',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    user: { type: 'string', value: 'USER', description: 'the user' },
    name: { type: 'string', value: 'POLICY', description: 'the policy name' },
    document: { type: 'string', value: 'FILE', description: 'the policy JSON' },
  },
  help: 'Example:\n  strongroom user put-policy --tenant vision --user alice --name read-models --document read-models.json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', userPutPolicy)
    const userName = requireOpt(ctx, 'user', userPutPolicy)
    const name = requireOpt(ctx, 'name', userPutPolicy)
    const file = requireOpt(ctx, 'document', userPutPolicy)
    const document = await readTextFile(file, 'policy document')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const user = await app.identity.user(tenant, userName)
      const warnings = await app.identity.putUserPolicy(user, name, document)
      for (const w of warnings) ctx.warn(`${file}:${w.line}:${w.column}: ${w.message} [${w.code}]`)
      ctx.print(`attached ${name} to ${user.name}`, {
        UserName: user.name,
        PolicyName: name,
        Warnings: warnings,
      })
    })
    return 0
  },
}

export const accessKeyCreate: Command = {
  name: 'access-key create',
  summary:
    'Create an access key for a user. The secret is shown once; Strongroom keeps it sealed under the root key.',
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT, user: { type: 'string', value: 'USER', description: 'the user' } },
  help: 'Example:\n  strongroom access-key create --tenant vision --user alice --json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', accessKeyCreate)
    const userName = requireOpt(ctx, 'user', accessKeyCreate)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const user = await app.identity.user(tenant, userName)
      const k = await app.identity.createAccessKey(user)
      ctx.print(
        `AccessKeyId:     ${k.accessKeyId}\nSecretAccessKey: ${k.secretAccessKey}\n(the secret is not shown again)`,
        {
          UserName: user.name,
          AccessKeyId: k.accessKeyId,
          SecretAccessKey: k.secretAccessKey,
          Status: 'Active',
        },
      )
    })
    return 0
  },
}

const USER = { type: 'string', value: 'USER', description: 'the user' } as const
const ACCESS_KEY_ID = {
  type: 'string',
  value: 'AKIA…',
  description: 'the access key id',
} as const

export const accessKeyList: Command = {
  name: 'access-key list',
  summary: "List a user's access keys (ids and status; secrets are never shown again).",
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT, user: USER },
  help: 'Example:\n  strongroom access-key list --tenant admin --user admin',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', accessKeyList)
    const userName = requireOpt(ctx, 'user', accessKeyList)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const user = await app.identity.user(tenant, userName)
      const keys = await app.identity.listAccessKeys(user)
      const meta = keys.map((k) => ({
        UserName: k.userName,
        AccessKeyId: k.id,
        Status: k.status,
        CreateDate: new Date(k.createdAt).toISOString(),
      }))
      ctx.print(
        meta.length === 0
          ? `user ${user.name} has no access keys; create one with \`strongroom access-key create\``
          : meta.map((k) => `${k.AccessKeyId}  ${k.Status.padEnd(8)}  ${k.CreateDate}`).join('\n'),
        meta,
      )
    })
    return 0
  },
}

export const accessKeyUpdate: Command = {
  name: 'access-key update',
  summary:
    'Make an access key Inactive (requests signed with it are refused at once) or Active again.',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    user: USER,
    'access-key-id': ACCESS_KEY_ID,
    status: { type: 'string', value: 'STATUS', description: 'Active or Inactive' },
  },
  help: 'Example:\n  strongroom access-key update --tenant admin --user admin --access-key-id AKIA… --status Inactive',
  async run(ctx) {
    const status = requireOpt(ctx, 'status', accessKeyUpdate)
    if (status !== 'Active' && status !== 'Inactive')
      throw new StrongroomError(
        'USAGE',
        `--status must be Active or Inactive, got \`${status.slice(0, 40)}\``,
      )
    return setKeyStatus(ctx, accessKeyUpdate, status)
  },
}

export const accessKeyDeactivate: Command = {
  name: 'access-key deactivate',
  summary:
    'Make an access key Inactive: requests signed with it are refused at once (as `access-key update --status Inactive`).',
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT, user: USER, 'access-key-id': ACCESS_KEY_ID },
  help: 'Example:\n  strongroom access-key deactivate --tenant admin --user admin --access-key-id AKIA…',
  run: (ctx) => setKeyStatus(ctx, accessKeyDeactivate, 'Inactive'),
}

async function setKeyStatus(
  ctx: Parameters<Command['run']>[0],
  command: Command,
  status: 'Active' | 'Inactive',
): Promise<number> {
  const tenantName = requireOpt(ctx, 'tenant', command)
  const userName = requireOpt(ctx, 'user', command)
  const id = requireOpt(ctx, 'access-key-id', command)
  await withApp(ctx, async (app) => {
    const tenant = await app.identity.tenant(tenantName)
    const k = await app.identity.userAccessKey(tenant, userName, id)
    await app.identity.setAccessKeyStatus(k.id, status)
    ctx.print(`access key ${k.id} of ${userName}: ${k.status} -> ${status}`, {
      UserName: userName,
      AccessKeyId: k.id,
      Status: status,
    })
  })
  return 0
}

export const accessKeyDelete: Command = {
  name: 'access-key delete',
  summary: 'Delete an access key for good; requests signed with it are refused at once.',
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT, user: USER, 'access-key-id': ACCESS_KEY_ID },
  help: 'Example:\n  strongroom access-key delete --tenant admin --user admin --access-key-id AKIA…',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', accessKeyDelete)
    const userName = requireOpt(ctx, 'user', accessKeyDelete)
    const id = requireOpt(ctx, 'access-key-id', accessKeyDelete)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const k = await app.identity.userAccessKey(tenant, userName, id)
      await app.identity.deleteAccessKey(k.id)
      ctx.print(`deleted access key ${k.id} of ${userName}`, {
        UserName: userName,
        AccessKeyId: k.id,
      })
    })
    return 0
  },
}
