import { readFile } from 'node:fs/promises'
import { StrongroomError } from '../../errors.ts'
import { getTenant } from '../../identity/tenants.ts'
import {
  createAccessKey,
  createUser,
  getUser,
  putUserPolicy,
  userArn,
} from '../../identity/users.ts'
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
      const tenant = await getTenant(app.store, tenantName)
      const u = await createUser(app.store, tenant, name)
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
    const document = await readFile(file, 'utf8').catch(() => {
      throw new StrongroomError('IO', `cannot read policy document \`${file}\``)
    })
    await withApp(ctx, async (app) => {
      const tenant = await getTenant(app.store, tenantName)
      const user = await getUser(app.store, tenant, userName)
      const warnings = await putUserPolicy(app.store, user, name, document)
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
      const tenant = await getTenant(app.store, tenantName)
      const user = await getUser(app.store, tenant, userName)
      const k = await createAccessKey(app.store, app.kms, user)
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
