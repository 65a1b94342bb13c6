/**
 * The authorize stage for the JSON 1.1 services: the operation's action decided on its
 * resource by the caller's policies, and, for a KMS key, with the key's policy as the resource
 * policy (without which nothing is allowed: KMS's key policies are not optional). The key is
 * found in the caller's account only: another account's key is NotFoundException, exactly as a
 * key that does not exist.
 * https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html
 */
import type { IncomingMessage } from 'node:http'
import { StrongroomError } from '../errors.ts'
import { authorize } from '../iam/evaluate.ts'
import type { LoadedPolicy } from '../iam/load.ts'
import { normalizeAlias } from '../kms/aliases.ts'
import { OPEN_TO_MEMBERS } from './organizations/operations.ts'
import type { KeyRecord } from '../meta/keys.ts'
import { noteDecision } from './audit-stage.ts'
import { requestConditions } from './context.ts'
import { callerPolicies, type Caller, type Conditions, type JsonOperation } from './operation.ts'
import type { Pipeline } from './pipeline.ts'

/** What the decision read: the key the operation acts on and ReEncrypt's destination (KMS). */
export interface JsonDecided {
  readonly key: KeyRecord | undefined
  readonly to?: KeyRecord
}

/** aws:ResourceTag/KEY for each of the key's tags (keys unique regardless of case: ./kms/tags.ts). */
export function resourceTags(key: KeyRecord): Conditions {
  return Object.fromEntries(key.tags.map((t) => [`aws:ResourceTag/${t.TagKey}`, t.TagValue]))
}

/**
 * Decides the operation: on its key with the key's policy (`key`); on an alias's ARN with the
 * caller's identity policies and on the key the alias points at now (`alias`); on ReEncrypt's
 * destination key with its own action (`to`); every decision an Allow. Throws AccessDenied, or
 * NotFoundException for a key or alias that the caller's account does not have.
 */
export async function decideJson(
  p: Pipeline,
  req: IncomingMessage,
  op: JsonOperation,
  input: Readonly<Record<string, unknown>>,
  caller: Caller,
  requestId: string,
): Promise<JsonDecided> {
  const base = requestConditions(req, caller, p.now(), p.app.config.region)
  const tenant = caller.tenant
  const decide = (
    action: string,
    resource: string,
    extra: Conditions,
    keyPolicy?: LoadedPolicy,
  ) => {
    const r = authorize(
      {
        principal: caller.arn,
        principalAccount: caller.account,
        action,
        resource,
        resourceAccount: caller.account,
        context: { ...base, ...extra },
      },
      {
        ...callerPolicies(caller, caller.account),
        ...(keyPolicy === undefined ? {} : { resource: keyPolicy }),
      },
      { explain: true },
    )
    noteDecision(requestId, { action, resource }, r.decision, r.trace)
    if (r.decision !== 'Allow')
      throw new StrongroomError(
        'ACCESS_DENIED',
        `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${resource.slice(0, 300)}${keyPolicy === undefined ? '' : ' because no resource-based policy allows the action'}`,
      )
  }
  /** A key of the caller's account; NotFoundException for any other. */
  const mine = (key: KeyRecord | undefined, ref: string): KeyRecord => {
    if (key === undefined || key.tenantId !== tenant?.id || key.state === 'Deleted')
      throw new StrongroomError(
        'KEY_NOT_FOUND',
        `Key '${ref.slice(0, 300)}' does not exist in account ${caller.account}`,
      )
    return key
  }
  const find = async (ref: string) =>
    mine(tenant === undefined ? undefined : await p.app.keys.find(tenant, ref), ref)
  /** Decides `action` on a key with its policy, its tags and the caller's account as conditions. */
  const decideKey = async (action: string, key: KeyRecord, extra: Conditions) => {
    if (tenant === undefined) throw new StrongroomError('INTERNAL', 'a key without its account')
    const name = `key policy of ${key.alias ?? key.id}`
    decide(
      action,
      p.app.keys.arn(tenant, key.id),
      { ...extra, 'kms:CallerAccount': caller.account, ...resourceTags(key) },
      p.policies.load(await p.app.keys.policyText(key), 'key', name, name),
    )
  }
  // Organizations: every operation but those open to members is the management account's.
  if (op.service === 'organizations' && !OPEN_TO_MEMBERS.has(op.name)) {
    const g = caller.guardrails
    if (g === undefined || caller.account !== g.management)
      throw new StrongroomError(
        'ACCESS_DENIED',
        `You don't have permissions to access this resource: ${op.action} is the organization's management account's`,
      )
  }
  const conditions = op.conditions?.(input) ?? {}
  if (op.alias !== undefined) {
    const name = normalizeAlias(op.alias.name(input))
    decide(op.action, `arn:aws:kms:${p.app.config.region}:${caller.account}:${name}`, conditions)
    if (op.alias.current && tenant !== undefined) {
      const a = await p.app.keys.aliases.get(tenant, name)
      if (a === undefined)
        throw new StrongroomError(
          'KEY_NOT_FOUND',
          `Alias arn:aws:kms:${p.app.config.region}:${caller.account}:${name} is not found.`,
        )
      const current = mine(await p.app.keys.describe(a.keyId), a.keyId)
      await decideKey(op.action, current, conditions)
      if (op.key === undefined) return { key: current }
    }
  }
  if (op.key === undefined) {
    decide(op.action, op.resource(input, caller.account), conditions)
    return { key: undefined }
  }
  const key = await find(op.key(input))
  if (op.to === undefined) {
    await decideKey(op.action, key, conditions)
    return { key }
  }
  const to = await find(op.to.key(input))
  const same = { 'kms:ReEncryptOnSameKey': String(key.id === to.id) }
  await decideKey(op.action, key, { ...conditions, ...same })
  await decideKey(op.to.action, to, { ...op.to.conditions(input), ...same })
  return { key, to }
}

/**
 * KMS's key-policy lockout safety check: whether `policy`, as the key's policy, would still let
 * the caller change the key's policy (kms:PutKeyPolicy), so that a new policy cannot lock out
 * the principal setting it
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#prevent-unmanageable-key).
 * A document the engine cannot load is refused by the caller before this.
 */
export function keepsPolicyAccess(
  p: Pipeline,
  req: IncomingMessage,
  caller: Caller,
  keyArn: string,
  policy: string,
): boolean {
  const name = 'the new key policy'
  const r = authorize(
    {
      principal: caller.arn,
      principalAccount: caller.account,
      action: 'kms:PutKeyPolicy',
      resource: keyArn,
      resourceAccount: caller.account,
      context: {
        ...requestConditions(req, caller, p.now(), p.app.config.region),
        'kms:CallerAccount': caller.account,
      },
    },
    {
      ...callerPolicies(caller, caller.account),
      resource: p.policies.load(policy, 'key', name, name),
    },
  )
  return r.decision === 'Allow'
}
