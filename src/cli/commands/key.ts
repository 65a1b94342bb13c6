import { readTextFile } from '../io.ts'
import type { App } from '../../app.ts'
import { StrongroomError } from '../../errors.ts'
import type { KeyCatalog } from '../../kms/catalog.ts'
import { DELETION_WINDOW_DAYS, ROTATION_PERIOD_DAYS } from '../../kms/local.ts'
import type { TenantRecord } from '../../meta/identity.ts'
import type { KeyRecord } from '../../meta/keys.ts'
import {
  requireOpt,
  stringOpt,
  withApp,
  type Command,
  type CommandContext,
  type OptionSpec,
} from '../command.ts'

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString())

/** The key as AWS KMS's KeyMetadata names its fields. */
function keyMetadata(kms: Pick<KeyCatalog, 'arn'>, tenant: TenantRecord, k: KeyRecord) {
  return {
    KeyId: k.id,
    Arn: kms.arn(tenant, k.id),
    AliasName: k.alias,
    Description: k.description,
    KeyState: k.state,
    Enabled: k.state === 'Enabled',
    CurrentVersion: k.currentVersion,
    CreationDate: iso(k.createdAt),
    KeyRotationEnabled: k.rotationPeriodDays !== null,
    RotationPeriodInDays: k.rotationPeriodDays,
    NextRotationDate: iso(k.nextRotationAt),
    DeletionDate: iso(k.deletionAt),
  }
}

function describeLine(k: KeyRecord): string {
  const extra =
    k.state === 'PendingDeletion'
      ? `, deletion on ${iso(k.deletionAt) ?? ''}`
      : k.rotationPeriodDays !== null
        ? `, rotates every ${k.rotationPeriodDays} days`
        : ''
  return `${k.id}  ${k.alias ?? '-'}  ${k.state}  v${k.currentVersion}${extra}`
}

const TENANT: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: 'the tenant that owns the key',
}
const KEY: OptionSpec = {
  type: 'string',
  value: 'REF',
  description: 'alias/NAME, key id or key ARN',
}

/** A command that acts on one existing key of one tenant and prints it. */
function keyAction(
  name: string,
  summary: string,
  extra: Record<string, OptionSpec>,
  act: (app: App, tenant: TenantRecord, ref: string, ctx: CommandContext) => Promise<KeyRecord>,
  verb: string,
): Command {
  const cmd: Command = {
    name: `key ${name}`,
    summary,
    args: '',
    positionals: [0, 0],
    options: { tenant: TENANT, key: KEY, ...extra },
    help: `Example:\n  strongroom key ${name} --tenant vision --key alias/models`,
    async run(ctx) {
      const tenantName = requireOpt(ctx, 'tenant', cmd)
      const ref = requireOpt(ctx, 'key', cmd)
      await withApp(ctx, async (app) => {
        const tenant = await app.identity.tenant(tenantName)
        const k = await act(app, tenant, ref, ctx)
        ctx.print(`${verb} ${describeLine(k)}`, keyMetadata(app.keys, tenant, k))
      })
      return 0
    },
  }
  return cmd
}

function intOpt(ctx: CommandContext, name: string, fallback: number): number {
  const raw = stringOpt(ctx, name)
  if (raw === undefined) return fallback
  if (!/^\d{1,6}$/.test(raw))
    throw new StrongroomError(
      'USAGE',
      `--${name} takes a whole number of days, got \`${raw.slice(0, 40)}\``,
    )
  return Number(raw)
}

export const keyCreate: Command = {
  name: 'key create',
  summary: 'Create a customer-managed key for a tenant. Its material is sealed under the root key.',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    alias: {
      type: 'string',
      value: 'ALIAS',
      description: 'alias, with or without the alias/ prefix',
    },
    description: { type: 'string', value: 'TEXT', description: 'what the key protects' },
  },
  help: 'Example:\n  strongroom key create --tenant vision --alias models --json',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', keyCreate)
    const alias = requireOpt(ctx, 'alias', keyCreate)
    const description = stringOpt(ctx, 'description')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const k = await app.keys.createKey(tenant, {
        alias,
        ...(description === undefined ? {} : { description }),
      })
      ctx.print(
        `created ${describeLine(k)}\narn: ${app.keys.arn(tenant, k.id)}`,
        keyMetadata(app.keys, tenant, k),
      )
    })
    return 0
  },
}

export const keyList: Command = {
  name: 'key list',
  summary: "List a tenant's keys.",
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT },
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', keyList)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const ks = await app.keys.list(tenant)
      ctx.print(
        ks.length === 0
          ? `tenant ${tenant.name} has no keys; create one with \`strongroom key create\``
          : ks.map(describeLine).join('\n'),
        ks.map((k) => keyMetadata(app.keys, tenant, k)),
      )
    })
    return 0
  },
}

export const keyDescribe = keyAction(
  'describe',
  'Show one key.',
  {},
  (app, t, ref) => app.keys.resolve(t, ref),
  'key',
)
export const keyEnable = keyAction(
  'enable',
  'Enable a disabled key.',
  {},
  (app, t, ref) => app.keys.enable(t, ref),
  'enabled',
)
export const keyDisable = keyAction(
  'disable',
  'Disable a key: nothing can be sealed or opened under it until it is enabled again.',
  {},
  (app, t, ref) => app.keys.disable(t, ref),
  'disabled',
)
export const keyRotate = keyAction(
  'rotate',
  'Rotate a key now: new data uses the new version; every older version still decrypts.',
  {},
  async (app, t, ref) => {
    const k = await app.keys.resolve(t, ref)
    await app.keys.rotate(k.id)
    return app.keys.resolve(t, k.id)
  },
  'rotated',
)
export const keyEnableRotation = keyAction(
  'enable-rotation',
  'Rotate a key automatically every N days.',
  {
    'rotation-period-days': {
      type: 'string',
      value: 'N',
      description: `days between rotations, ${ROTATION_PERIOD_DAYS.min} to ${ROTATION_PERIOD_DAYS.max} (default ${ROTATION_PERIOD_DAYS.default})`,
    },
  },
  (app, t, ref, ctx) =>
    app.keys.setRotation(t, ref, intOpt(ctx, 'rotation-period-days', ROTATION_PERIOD_DAYS.default)),
  'scheduled rotation for',
)
export const keyDisableRotation = keyAction(
  'disable-rotation',
  'Stop rotating a key automatically.',
  {},
  (app, t, ref) => app.keys.setRotation(t, ref, null),
  'stopped rotation for',
)
export const keyScheduleDeletion = keyAction(
  'schedule-deletion',
  'Schedule a key for deletion. When the window ends its material is erased and everything sealed under it is unrecoverable.',
  {
    'pending-window-days': {
      type: 'string',
      value: 'N',
      description: `days before deletion, ${DELETION_WINDOW_DAYS.min} to ${DELETION_WINDOW_DAYS.max} (default ${DELETION_WINDOW_DAYS.default})`,
    },
  },
  (app, t, ref, ctx) =>
    app.keys.scheduleDeletion(
      t,
      ref,
      intOpt(ctx, 'pending-window-days', DELETION_WINDOW_DAYS.default),
    ),
  'scheduled deletion of',
)
export const keyCancelDeletion = keyAction(
  'cancel-deletion',
  'Cancel a scheduled deletion. The key comes back disabled, as in AWS KMS; enable it to use it.',
  {},
  (app, t, ref) => app.keys.cancelDeletion(t, ref),
  'cancelled deletion of',
)

export const keyPutPolicy: Command = {
  name: 'key put-policy',
  summary:
    "Set a key's policy (as AWS KMS PutKeyPolicy): who may use the key, in any tenant. It is validated first; warnings are printed.",
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    key: KEY,
    policy: { type: 'string', value: 'FILE', description: 'the key policy JSON' },
  },
  help: `Reading an object needs kms:Decrypt on its key and writing one kms:GenerateDataKey: another
tenant's users can read a shared bucket only when the bucket policy AND the key policy allow
them (docs/gateway.md). Keep the statement that delegates to the owning account
("Principal": {"AWS": "arn:aws:iam::ACCOUNT:root"}), or the key's own users lose access.

Example:
  strongroom key put-policy --tenant vision --key alias/models --policy key-policy.json`,
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', keyPutPolicy)
    const ref = requireOpt(ctx, 'key', keyPutPolicy)
    const file = requireOpt(ctx, 'policy', keyPutPolicy)
    const document = await readTextFile(file, 'key policy')
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const { key, warnings } = await app.keys.putKeyPolicy(tenant, ref, document)
      for (const w of warnings) ctx.warn(`${file}:${w.line}:${w.column}: ${w.message} [${w.code}]`)
      ctx.print(`set the policy of ${describeLine(key)}`, {
        KeyId: key.id,
        PolicyName: 'default',
        Warnings: warnings,
      })
    })
    return 0
  },
}

export const keyGetPolicy: Command = {
  name: 'key get-policy',
  summary:
    "Print a key's policy (as AWS KMS GetKeyPolicy); a key never given one has the default, which delegates to its tenant's IAM policies.",
  args: '',
  positionals: [0, 0],
  options: { tenant: TENANT, key: KEY },
  help: 'Example:\n  strongroom key get-policy --tenant vision --key alias/models',
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', keyGetPolicy)
    const ref = requireOpt(ctx, 'key', keyGetPolicy)
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const { policy } = await app.keys.getKeyPolicy(tenant, ref)
      ctx.print(policy.trimEnd(), { Policy: policy, PolicyName: 'default' })
    })
    return 0
  },
}
