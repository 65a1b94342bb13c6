/**
 * KMS's alias operations. An alias is decided on its own ARN with the caller's identity
 * policies, and the keys it points at (now and after) with their key policies, as KMS decides
 * them (https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html); each alias
 * names a key of the caller's account only.
 */
import { StrongroomError } from '../../errors.ts'
import type { KeyRecord } from '../../meta/keys.ts'
import type { JsonAuthorized } from '../authorized.ts'
import type { JsonOperation } from '../operation.ts'
import { epoch, everything, page, required, str, type Input } from './input.ts'

const aliasName = (input: Input) => required(input, 'AliasName', 256)

/** TargetKeyId: a key id or key ARN, never an alias (an alias cannot point at an alias). */
function targetKey(input: Input): string {
  const t = required(input, 'TargetKeyId')
  if (t.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(t))
    throw new StrongroomError('VALIDATION', 'TargetKeyId is a key id or key ARN, not an alias')
  return t
}

const aliasArn = (ctx: JsonAuthorized, name: string) =>
  `arn:aws:kms:${ctx.region}:${ctx.tenant.id}:${name}`

function onAlias(
  name: string,
  members: readonly string[],
  withTarget: boolean,
  handler: (ctx: JsonAuthorized) => Promise<Record<string, unknown>>,
): JsonOperation {
  return {
    service: 'kms',
    name,
    action: `kms:${name}`,
    members: ['AliasName', ...members],
    resource: everything,
    alias: { name: aliasName, current: name !== 'CreateAlias' },
    ...(withTarget ? { key: targetKey } : {}),
    handler,
  }
}

export const ALIAS_OPERATIONS: readonly JsonOperation[] = [
  onAlias('CreateAlias', ['TargetKeyId'], true, async (ctx) => {
    await ctx.keys.aliases.create(ctx.tenant, aliasName(ctx.input), ctx.key)
    return {}
  }),
  onAlias('UpdateAlias', ['TargetKeyId'], true, async (ctx) => {
    await ctx.keys.aliases.update(ctx.tenant, aliasName(ctx.input), ctx.key)
    return {}
  }),
  onAlias('DeleteAlias', [], false, async (ctx) => {
    await ctx.keys.aliases.delete(ctx.tenant, aliasName(ctx.input))
    return {}
  }),
  {
    service: 'kms',
    name: 'ListAliases',
    action: 'kms:ListAliases',
    members: ['KeyId', 'Limit', 'Marker'],
    resource: everything,
    async handler(ctx) {
      const only = str(ctx.input, 'KeyId')
      let key: KeyRecord | undefined
      if (only !== undefined) {
        key = await ctx.keys.find(ctx.tenant, only)
        if (key === undefined || key.state === 'Deleted' || only.includes('alias/'))
          throw new StrongroomError(
            'KEY_NOT_FOUND',
            `Key '${only.slice(0, 300)}' does not exist in account ${ctx.tenant.id}`,
          )
      }
      const all = await ctx.keys.aliases.list(ctx.tenant)
      const mine = key === undefined ? all : all.filter((a) => a.keyId === key.id)
      const p = page(ctx.input, mine, (a) => a.name, 100, 50)
      return {
        Aliases: p.items.map((a) => ({
          AliasName: a.name,
          AliasArn: aliasArn(ctx, a.name),
          TargetKeyId: a.keyId,
          CreationDate: epoch(a.createdAt),
          LastUpdatedDate: epoch(a.updatedAt),
        })),
        Truncated: p.Truncated,
        ...(p.NextMarker === undefined ? {} : { NextMarker: p.NextMarker }),
      }
    },
  },
]
