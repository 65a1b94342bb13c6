/**
 * The bucket-owner rule. A bucket's configuration belongs to the tenant that
 * owns it, as in S3: "If you are using an identity other than the root user
 * of the AWS account that owns the bucket, the calling identity must both
 * have the PutBucketPolicy permissions on the specified bucket and belong to
 * the bucket owner's account" (405 Method Not Allowed otherwise), and "the
 * root principal in a bucket owner's AWS account can perform the
 * GetBucketPolicy, PutBucketPolicy, and DeleteBucketPolicy API actions, even
 * if their bucket policy explicitly denies the root principal's access"
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html).
 *
 * So, whatever a bucket policy grants:
 * - the actions in OWNER_ONLY_ACTIONS are honoured only for signed requests of
 *   principals of the owning tenant; anyone else the policies would allow is
 *   refused with MethodNotAllowed (405), as S3 does, and the decision record
 *   names this rule;
 * - for the actions in LOCKOUT_PROOF_ACTIONS, the owning tenant's
 *   administrator (Strongroom tenants have no root user yet: an administrator
 *   is a principal with an unconditional Allow of Action `*` on Resource `*`,
 *   as AdministratorAccess has, that its other policies do not cut down) is allowed even when the bucket
 *   policy denies it, so that a bucket policy can never lock the owner out of
 *   its own bucket. Other users of the tenant stay bound by the bucket policy,
 *   as IAM users are on AWS: a Deny of s3:PutBucketPolicy "unless the principal
 *   is the security role" keeps holding for a user granted s3:*.
 *
 * The rule is keyed on action names, not on handlers: a new bucket operation
 * is owner-only by being listed here, and `bucket-owner.test.ts` fails until
 * every bucket action the gateway uses is listed here or among the bucket's
 * data actions.
 */
import type { AuthzRequest, Decision, PolicySet, Trace, authorize } from '../iam/evaluate.ts'
import { isUnloadable, type LoadedPolicy } from '../iam/load.ts'

/** Bucket-configuration actions (and DeleteBucket): only the owning tenant's principals. */
export const OWNER_ONLY_ACTIONS: ReadonlySet<string> = new Set([
  's3:DeleteBucket',
  's3:GetBucketPolicy',
  's3:GetBucketPolicyStatus',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:GetBucketPublicAccessBlock',
  's3:PutBucketPublicAccessBlock',
  's3:GetEncryptionConfiguration',
  's3:PutEncryptionConfiguration',
  's3:GetBucketVersioning',
  's3:PutBucketVersioning',
  's3:GetBucketTagging',
  's3:PutBucketTagging',
  's3:GetBucketAcl',
  's3:PutBucketAcl',
  's3:GetBucketOwnershipControls',
  's3:PutBucketOwnershipControls',
  's3:GetBucketCORS',
  's3:PutBucketCORS',
  's3:GetBucketWebsite',
  's3:PutBucketWebsite',
  's3:DeleteBucketWebsite',
  's3:GetLifecycleConfiguration',
  's3:PutLifecycleConfiguration',
  's3:GetReplicationConfiguration',
  's3:PutReplicationConfiguration',
  's3:GetBucketLogging',
  's3:PutBucketLogging',
  's3:GetBucketNotification',
  's3:PutBucketNotification',
  's3:GetBucketObjectLockConfiguration',
  's3:PutBucketObjectLockConfiguration',
  's3:GetAccelerateConfiguration',
  's3:PutAccelerateConfiguration',
  's3:GetBucketRequestPayment',
  's3:PutBucketRequestPayment',
  's3:GetAnalyticsConfiguration',
  's3:PutAnalyticsConfiguration',
  's3:GetMetricsConfiguration',
  's3:PutMetricsConfiguration',
  's3:GetInventoryConfiguration',
  's3:PutInventoryConfiguration',
  's3:GetIntelligentTieringConfiguration',
  's3:PutIntelligentTieringConfiguration',
])

/** The owner's way back in: its own policies decide these, whatever the bucket policy says. */
export const LOCKOUT_PROOF_ACTIONS: ReadonlySet<string> = new Set([
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
])

/**
 * An identity policy with AdministratorAccess's statement: Allow of Action `*` on Resource `*`,
 * with no condition. The engine alone cannot tell: `NotAction` and `NotResource` statements
 * (PowerUserAccess's `NotAction: iam:*`) also match the literal action `*` and resource `*`.
 */
function grantsEverything(p: LoadedPolicy): boolean {
  return (
    !isUnloadable(p) &&
    p.statements.some(
      (s) =>
        s.effect === 'Allow' &&
        s.action?.raw.includes('*') === true &&
        s.notAction === undefined &&
        s.resource?.some((r) => r.source === '*') === true &&
        s.notResource === undefined &&
        s.conditions.length === 0,
    )
  )
}

export interface OwnerRuled {
  readonly decision: Decision
  readonly trace: Trace | undefined
  /** The policies allowed a caller outside the owning tenant, and this rule refused it. */
  readonly outsider: boolean
}

/**
 * Applies the rule to the engine's decision `result` for `req` on an existing
 * bucket (`req.resourceAccount` is its owner). `signed`: the request was
 * authenticated (anonymous callers belong to no tenant).
 */
export function ownerRule(
  req: AuthzRequest,
  set: PolicySet,
  result: { decision: Decision; trace?: Trace | undefined },
  signed: boolean,
  /** The IAM engine, as the pipeline (its only caller) passes it: this module never calls it itself. */
  engine: typeof authorize,
): OwnerRuled {
  const same = { decision: result.decision, trace: result.trace, outsider: false }
  if (!OWNER_ONLY_ACTIONS.has(req.action)) return same
  if (!signed || req.principalAccount !== req.resourceAccount) {
    if (result.decision !== 'Allow') return same
    const trace = result.trace ?? engine(req, set, { explain: true }).trace
    return {
      decision: 'ExplicitDeny',
      trace: trace && {
        ...trace,
        decision: 'ExplicitDeny',
        decidedBy: `bucket-owner rule: ${req.action} is honoured only for principals of the owning account ${req.resourceAccount}, whatever a bucket policy grants`,
      },
      outsider: true,
    }
  }
  if (result.decision === 'Allow' || !LOCKOUT_PROOF_ACTIONS.has(req.action)) return same
  const identityOnly = { ...set, resource: undefined }
  const administrator = engine({ ...req, action: '*', resource: '*' }, identityOnly)
  if (!set.identity.some(grantsEverything) || administrator.decision !== 'Allow') return same
  const own = engine(req, identityOnly, { explain: true })
  if (own.decision !== 'Allow') return same
  return {
    decision: 'Allow',
    trace: own.trace && {
      ...own.trace,
      decidedBy: `bucket-owner rule: the owning account's administrator may ${req.action}; a bucket policy cannot lock its owner out`,
    },
    outsider: false,
  }
}
