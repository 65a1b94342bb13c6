import type { TenantRecord } from '../../meta/identity.ts'
import { withApp, type Command } from '../command.ts'

const view = (t: TenantRecord) => ({
  id: t.id,
  name: t.name,
  createdAt: new Date(t.createdAt).toISOString(),
})

export const tenantCreate: Command = {
  name: 'tenant create',
  summary: 'Create a tenant (a team): it behaves as an AWS account with a 12-digit id.',
  args: 'NAME',
  positionals: [1, 1],
  options: {},
  help: 'Example:\n  strongroom tenant create vision --json',
  async run(ctx) {
    const t = await withApp(ctx, (app) => app.identity.createTenant(ctx.positionals[0] ?? ''))
    ctx.print(`created tenant ${t.name} (account ${t.id})`, view(t))
    return 0
  },
}

export const tenantList: Command = {
  name: 'tenant list',
  summary: 'List tenants.',
  args: '',
  positionals: [0, 0],
  options: {},
  async run(ctx) {
    const ts = await withApp(ctx, (app) => app.identity.listTenants())
    ctx.print(
      ts.length === 0
        ? 'no tenants yet; create one with `strongroom tenant create NAME`'
        : ts.map((t) => `${t.id}  ${t.name}`).join('\n'),
      ts.map(view),
    )
    return 0
  },
}
