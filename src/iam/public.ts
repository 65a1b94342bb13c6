/**
 * S3's meaning of a public policy
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html,
 * "The meaning of public"): a policy is public when one of its Allow statements grants to every
 * principal and no condition narrows it to a fixed value of one of the keys S3 lists.
 *
 * "Fixed" is read strictly, because a condition that holds for every request narrows nothing:
 * a negated or `…IfExists` operator, `Null`, `ForAllValues:` (true when the key is absent), a
 * wildcard or a policy variable in the value, and CIDR blocks wider than a /8 (IPv4) or a /32
 * (IPv6) all leave the grant public. (AWS's pages do not give a width; two /1 blocks cover the
 * whole IPv4 space, and a grant to a /8 is a grant to sixteen million addresses.) The gateway's
 * public access block (../api/public-access.ts) and the detector's policy rules
 * (../audit/detect/fields.ts) both ask here.
 */
import type { Policy } from './policy.ts'

/** Keys whose fixed value makes a grant non-public. */
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
