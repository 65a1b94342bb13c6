/**
 * What the public access block does with a public bucket policy (../iam/public.ts says which
 * policies are public:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
 */
import { isUnloadable, type LoadedPolicy } from '../iam/load.ts'
import { publicStatement } from '../iam/public.ts'
import type { BucketRecord } from '../meta/buckets.ts'
import type { Caller } from './operation.ts'

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
