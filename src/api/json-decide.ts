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
import type { KeyRecord } from '../meta/keys.ts'
import { noteDecision } from './audit-stage.ts'
import { requestConditions } from './context.ts'
import { callerPolicies, type Caller, type JsonOperation } from './operation.ts'
import type { Pipeline } from './pipeline.ts'

/** Decides the operation; returns the key it acts on (KMS), if any. Throws AccessDenied. */
export async function decideJson(
  p: Pipeline,
  req: IncomingMessage,
  op: JsonOperation,
  input: Readonly<Record<string, unknown>>,
  caller: Caller,
  requestId: string,
): Promise<KeyRecord | undefined> {
  const context = {
    ...requestConditions(req, caller, p.now(), p.app.config.region),
    ...op.conditions?.(input),
  }
  const tenant = caller.tenant
  let key: KeyRecord | undefined
  let resource = op.resource(input, caller.account)
  let keyPolicy
  if (op.key !== undefined) {
    const ref = op.key(input)
    key = tenant === undefined ? undefined : await p.app.keys.find(tenant, ref)
    if (key === undefined || tenant === undefined || key.state === 'Deleted')
      throw new StrongroomError(
        'KEY_NOT_FOUND',
        `Key '${ref.slice(0, 300)}' does not exist in account ${caller.account}`,
      )
    resource = p.app.keys.arn(tenant, key.id)
    const name = `key policy of ${key.alias ?? key.id}`
    keyPolicy = p.policies.load(await p.app.keys.policyText(key), 'key', name, name)
    context['kms:CallerAccount'] = caller.account
  }
  const r = authorize(
    {
      principal: caller.arn,
      principalAccount: caller.account,
      action: op.action,
      resource,
      resourceAccount: caller.account,
      context,
    },
    { ...callerPolicies(caller), ...(keyPolicy === undefined ? {} : { resource: keyPolicy }) },
    { explain: true },
  )
  noteDecision(requestId, { action: op.action, resource }, r.decision, r.trace)
  if (r.decision !== 'Allow')
    throw new StrongroomError(
      'ACCESS_DENIED',
      `User: ${caller.arn} is not authorized to perform: ${op.action} on resource: ${resource.slice(0, 300)}${keyPolicy === undefined ? '' : ' because no resource-based policy allows the action'}`,
    )
  return key
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
    { ...callerPolicies(caller), resource: p.policies.load(policy, 'key', name, name) },
  )
  return r.decision === 'Allow'
}
