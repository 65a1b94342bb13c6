/**
 * Customer-managed policies of a tenant: a named, versioned identity policy (at most five
 * versions, one the default) that is attached to roles and users, whose default version then
 * counts among their identity policies. Its ARN is arn:aws:iam::ACCOUNT:policy/PATH/NAME and its
 * unique id ANPA… (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
 */
import { randomInt } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import type { ManagedPolicyRecord } from '../meta/policies.ts'
import type { TenantRecord } from '../meta/identity.ts'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** An AWS-shaped unique id: the prefix (AIDA, AROA, ANPA, AGPA) and 17 base-32 characters. */
export function uniqueId(prefix: string): string {
  return prefix + Array.from({ length: 17 }, () => BASE32[randomInt(32)]).join('')
}

export function policyArn(tenantId: string, p: Pick<ManagedPolicyRecord, 'path' | 'name'>): string {
  return `arn:aws:iam::${tenantId}:policy${p.path}${p.name}`
}

/** A managed policy's limits: 6,144 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
export const MAX_MANAGED_POLICY_CHARS = 6144
/** Managed policies attached to one role or user. */
export const MAX_ATTACHED = 10

/**
 * The policy name and path an ARN names in the tenant's account; NO_SUCH_ENTITY for an ARN of
 * another account, and INVALID_PARAMETER_VALUE for a string that is no policy ARN at all.
 */
export function parsePolicyArn(
  tenant: TenantRecord,
  arn: string,
): { readonly path: string; readonly name: string } {
  const m = /^arn:aws:iam::(\d{12}|aws):policy(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,128})$/.exec(arn)
  if (m === null)
    throw new StrongroomError('INVALID_PARAMETER_VALUE', `ARN ${arn.slice(0, 300)} is not valid.`)
  if (m[1] !== tenant.id)
    throw new StrongroomError(
      'NO_SUCH_ENTITY',
      `Policy ${arn.slice(0, 300)} does not exist or is not attachable.`,
    )
  return { path: m[2] ?? '/', name: m[3] ?? '' }
}

/** `v3` → 3; a malformed version id is a ValidationError, as IAM answers it. */
export function versionNumber(id: string): number {
  const m = /^v([1-9]\d{0,8})$/.exec(id)
  if (m === null)
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${id.slice(0, 32)}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?`,
    )
  return Number(m[1])
}
