/**
 * S3's meaning of a public bucket policy, and what the public access block does with one
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html,
 * "The meaning of public"). A policy is public when one of its Allow statements grants to every
 * principal and no condition narrows it to a fixed value of one of the keys S3 lists.
 *
 * "Fixed" is read strictly, because a condition that holds for every request narrows nothing:
 * a negated or `…IfExists` operator, `Null`, `ForAllValues:` (true when the key is absent), a
 * wildcard or a policy variable in the value, and CIDR blocks wider than a /8 (IPv4) or a /32
 * (IPv6) all leave the grant public. (AWS's pages do not give a width; two /1 blocks cover the
 * whole IPv4 space, and a grant to a /8 is a grant to sixteen million addresses.)
 */
import { isUnloadable, type LoadedPolicy } from '../iam/load.ts'
import type { Policy } from '../iam/policy.ts'
import type { BucketRecord } from '../meta/buckets.ts'
import type { Caller } from './operation.ts'

/** Keys whose fixed value makes a grant non-public (the page above). */
const NARROWING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceowner',
  'aws:sourceaccount',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  'aws:userid',
  'aws:principalorgid',
  'aws:principalaccount',
  'aws:principalarn',
])

/** A CIDR block (or one address) no wider than a /8 for IPv4 or a /32 for IPv6. */
function narrowCidr(v: string): boolean {
  const [addr = '', bits, ...rest] = v.split('/')
  if (rest.length > 0) return false
  const v6 = addr.includes(':')
  if (!v6 && !/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) return false
  if (bits === undefined) return true
  if (!/^\d{1,3}$/.test(bits)) return false
  return Number(bits) >= (v6 ? 32 : 8)
}

/** Returns the Sid (or index) of the first statement that grants to everyone unnarrowed. */
export function publicStatement(policy: Policy): string | undefined {
  for (const s of policy.statements) {
    if (s.effect !== 'Allow') continue
    const everyone =
      s.notPrincipal !== undefined ||
      s.principal?.wildcard === true ||
      s.principal?.aws.includes('*') === true
    if (!everyone) continue
    const narrowed = s.conditions.some((c) => {
      const op = c.operator
      const family = op.base.family
      return (
        NARROWING_KEYS.has(c.lkey) &&
        (family === 'String' || family === 'Arn' || family === 'Ip') &&
        !op.base.negated &&
        !op.ifExists &&
        op.set !== 'all' &&
        c.raw.length > 0 &&
        c.raw.every((v) => !/[*?]|\$\{/.test(v) && (c.lkey !== 'aws:sourceip' || narrowCidr(v)))
      )
    })
    if (!narrowed) return s.sid ?? `Statement[${s.index}]`
  }
  return undefined
}

/**
 * Whether the bucket's public access block refuses this caller before any policy is read:
 * RestrictPublicBuckets refuses anonymous callers, and, while the bucket policy is public,
 * every caller outside the owning tenant ("only AWS service principals and authorized users
 * within the bucket owner's account", the page above): a public policy then grants nothing
 * across tenants, not even to the tenants it names. A caller without `auth` is anonymous; a
 * bucket that does not exist is decided elsewhere.
 */
export function restrictedByPublicAccessBlock(
  bucket: BucketRecord | undefined,
  caller: Pick<Caller, 'auth' | 'account'>,
  policy: () => LoadedPolicy | undefined,
): boolean {
  const restrict = bucket?.publicAccessBlock.restrictPublicBuckets ?? true
  if (!restrict) return false
  if (caller.auth === undefined) return true
  if (bucket === undefined || caller.account === bucket.tenantId) return false
  const p = policy()
  return p !== undefined && !isUnloadable(p) && publicStatement(p) !== undefined
}
