/**
 * Bucket settings that tools read blindly (Terraform, rclone, s3fs, console-style tools): bucket
 * tagging, policy status, ownership controls and ACLs as S3 has them since 2023 (Object
 * Ownership = BucketOwnerEnforced), and the configurations Strongroom does not offer, each
 * answered with S3's own "not configured" code, never a generic NotImplemented for a read.
 */
import { StrongroomError } from '../../errors.ts'
import type { Operation, S3Request } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { parsePolicyText } from '../../iam/policy.ts'
import { publicStatement } from '../../iam/public.ts'
import { parseTagging, taggingXml } from '../s3-config.ts'
import { leaf, readXml, XML_BOUNDS, type Node, type XmlElement } from '../xml.ts'
import { onBucket, versioned } from './common.ts'

const NOT_SUPPORTED =
  'The bucket does not allow ACLs: its Object Ownership is BucketOwnerEnforced, so access is granted by policies only'

/**
 * ACLs a request sets with headers: S3 under BucketOwnerEnforced accepts only the canned ACLs
 * that grant the owner alone, `private` and `bucket-owner-full-control`, and refuses every other
 * ACL with AccessControlListNotSupported
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html).
 * Called by every operation that takes x-amz-acl: PutObject, CopyObject, CreateMultipartUpload,
 * CreateBucket, Put{Bucket,Object}Acl.
 */
export function checkAclHeaders(r: S3Request): void {
  const canned = r.header('x-amz-acl')
  if (canned !== undefined && canned !== 'private' && canned !== 'bucket-owner-full-control')
    throw new StrongroomError('ACL_NOT_SUPPORTED', `${NOT_SUPPORTED} (x-amz-acl: ${canned})`)
  const grant = Object.keys(r.req.headers).find((h) => h.startsWith('x-amz-grant-'))
  if (grant !== undefined)
    throw new StrongroomError('ACL_NOT_SUPPORTED', `${NOT_SUPPORTED} (${grant})`)
}

/** The one ACL a BucketOwnerEnforced bucket and its objects have: the owner's FULL_CONTROL. */
async function aclXml(ctx: Authorized): Promise<Node> {
  const t = await ctx.tenantOf(ctx.bucket)
  return {
    Owner: { ID: t.id, DisplayName: t.name },
    AccessControlList: {
      Grant: {
        'Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"': {
          ID: t.id,
          DisplayName: t.name,
        },
        Permission: 'FULL_CONTROL',
      },
    },
  }
}

async function getAcl(ctx: Authorized): Promise<void> {
  ctx.sendXml(200, 'AccessControlPolicy', await aclXml(ctx))
}

/**
 * Put{Bucket,Object}Acl: a canned ACL of the owner's, or a document that grants FULL_CONTROL to
 * the owner alone, changes nothing and answers 200; any other ACL is AccessControlListNotSupported.
 */
async function putAcl(ctx: Authorized): Promise<void> {
  checkAclHeaders(ctx.request)
  const body = await ctx.readBody(XML_BOUNDS.AccessControlPolicy.bytes)
  if (body.length > 0) {
    const owner = (await ctx.tenantOf(ctx.bucket)).id
    const doc = readXml('AccessControlPolicy', body)
    const list = doc.children.find((c) => c.name === 'AccessControlList')
    const grants = list?.children.filter((c) => c.name === 'Grant') ?? []
    const onlyOwner = grants.every((g) => {
      const grantee = g.children.find((c) => c.name === 'Grantee')
      return (
        grantee !== undefined &&
        leaf(grantee, 'ID')?.trim() === owner &&
        leaf(g, 'Permission')?.trim() === 'FULL_CONTROL'
      )
    })
    if (!onlyOwner) throw new StrongroomError('ACL_NOT_SUPPORTED', NOT_SUPPORTED)
  }
  ctx.send(200)
}

function getOwnershipControls(ctx: Authorized): Promise<void> {
  ctx.sendXml(200, 'OwnershipControls', { Rule: { ObjectOwnership: 'BucketOwnerEnforced' } })
  return Promise.resolve()
}

/** Every rule must say BucketOwnerEnforced: the only ownership Strongroom has. */
function ownershipOf(doc: XmlElement): void {
  const rules = doc.children.filter((c) => c.name === 'Rule')
  if (rules.length !== 1 || leaf(rules[0] as XmlElement, 'ObjectOwnership') === undefined)
    throw new StrongroomError(
      'MALFORMED_XML',
      'The XML you provided was not well-formed or did not validate against our published schema: one Rule with an ObjectOwnership',
    )
  const asked = leaf(rules[0] as XmlElement, 'ObjectOwnership')?.trim()
  if (asked !== 'BucketOwnerEnforced')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `Strongroom buckets are BucketOwnerEnforced: ACLs are disabled and the owner owns every object (asked: ${asked ?? ''})`,
    )
}

async function putOwnershipControls(ctx: Authorized): Promise<void> {
  ownershipOf(readXml('OwnershipControls', await ctx.readBody(XML_BOUNDS.OwnershipControls.bytes)))
  ctx.send(200)
}

/** x-amz-object-ownership on CreateBucket: BucketOwnerEnforced only. */
export function checkObjectOwnership(r: S3Request): void {
  const asked = r.header('x-amz-object-ownership')
  if (asked !== undefined && asked !== 'BucketOwnerEnforced')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `Strongroom buckets are BucketOwnerEnforced: ACLs are disabled and the owner owns every object (x-amz-object-ownership: ${asked})`,
    )
}

function getBucketTagging(ctx: Authorized): Promise<void> {
  const tags = ctx.bucket.settings?.tags ?? []
  if (tags.length === 0)
    throw new StrongroomError('NO_SUCH_TAG_SET', 'The TagSet does not exist', {
      details: { BucketName: ctx.bucket.name },
    })
  ctx.sendXml(200, 'Tagging', taggingXml(tags))
  return Promise.resolve()
}

async function putBucketTagging(ctx: Authorized): Promise<void> {
  const tags = parseTagging(
    readXml('Tagging', await ctx.readBody(XML_BOUNDS.Tagging.bytes)),
    'bucket',
  )
  await ctx.buckets.updateSettings(ctx.bucket.name, { tags: tags.length === 0 ? null : tags })
  ctx.send(204)
}

async function deleteBucketTagging(ctx: Authorized): Promise<void> {
  await ctx.buckets.updateSettings(ctx.bucket.name, { tags: null })
  ctx.send(204)
}

/**
 * GetBucketPolicyStatus: IsPublic by S3's definition of a public policy
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status),
 * the same test BlockPublicPolicy applies (public-access.ts).
 */
function getPolicyStatus(ctx: Authorized): Promise<void> {
  const text = ctx.bucket.policy
  const policy =
    text === null ? undefined : parsePolicyText(text, 'resource', 'bucket policy').policy
  if (text === null)
    throw new StrongroomError('NO_SUCH_BUCKET_POLICY', 'The bucket policy does not exist', {
      details: { BucketName: ctx.bucket.name },
    })
  // A stored policy that no longer parses grants nothing (it denies): not public.
  ctx.sendXml(200, 'PolicyStatus', {
    IsPublic: policy !== undefined && publicStatement(policy) !== undefined,
  })
  return Promise.resolve()
}

/** A configuration Strongroom does not offer: S3's answer for a bucket that has none. */
const notConfigured =
  (code: ConstructorParameters<typeof StrongroomError>[0], message: string) =>
  (ctx: Authorized): Promise<void> =>
    Promise.reject(new StrongroomError(code, message, { details: { BucketName: ctx.bucket.name } }))

/** A configuration whose "none" is an empty document (logging, accelerate, notifications). */
const emptyDocument =
  (root: string, body: Node = {}) =>
  (ctx: Authorized): Promise<void> => {
    ctx.sendXml(200, root, body)
    return Promise.resolve()
  }

/** Deleting a configuration the bucket cannot have: there is nothing to delete (S3 answers 204). */
const nothingToDelete = (ctx: Authorized): Promise<void> => {
  ctx.send(204)
  return Promise.resolve()
}

export const BUCKET_SETTING_OPERATIONS: readonly Operation[] = [
  onBucket('GetBucketAcl', 'GET', 'acl', 's3:GetBucketAcl', getAcl),
  onBucket('PutBucketAcl', 'PUT', 'acl', 's3:PutBucketAcl', putAcl),
  {
    name: 'GetObjectAcl',
    match: { method: 'GET', on: 'object', sub: 'acl' },
    action: versioned('s3:GetObjectAcl', 's3:GetObjectVersionAcl'),
    resource: 'object',
    target: 'object',
    handler: getAcl,
  },
  {
    name: 'PutObjectAcl',
    match: { method: 'PUT', on: 'object', sub: 'acl' },
    action: versioned('s3:PutObjectAcl', 's3:PutObjectVersionAcl'),
    resource: 'object',
    target: 'object',
    handler: putAcl,
  },
  onBucket(
    'GetBucketOwnershipControls',
    'GET',
    'ownershipControls',
    's3:GetBucketOwnershipControls',
    getOwnershipControls,
  ),
  onBucket(
    'PutBucketOwnershipControls',
    'PUT',
    'ownershipControls',
    's3:PutBucketOwnershipControls',
    putOwnershipControls,
  ),
  onBucket('GetBucketTagging', 'GET', 'tagging', 's3:GetBucketTagging', getBucketTagging),
  onBucket('PutBucketTagging', 'PUT', 'tagging', 's3:PutBucketTagging', putBucketTagging),
  onBucket('DeleteBucketTagging', 'DELETE', 'tagging', 's3:PutBucketTagging', deleteBucketTagging),
  onBucket(
    'GetBucketPolicyStatus',
    'GET',
    'policyStatus',
    's3:GetBucketPolicyStatus',
    getPolicyStatus,
  ),
  onBucket(
    'GetBucketCors',
    'GET',
    'cors',
    's3:GetBucketCORS',
    notConfigured('NO_SUCH_CORS_CONFIGURATION', 'The CORS configuration does not exist'),
  ),
  onBucket('DeleteBucketCors', 'DELETE', 'cors', 's3:PutBucketCORS', nothingToDelete),
  onBucket(
    'GetBucketWebsite',
    'GET',
    'website',
    's3:GetBucketWebsite',
    notConfigured(
      'NO_SUCH_WEBSITE_CONFIGURATION',
      'The specified bucket does not have a website configuration',
    ),
  ),
  onBucket('DeleteBucketWebsite', 'DELETE', 'website', 's3:DeleteBucketWebsite', nothingToDelete),
  onBucket(
    'GetBucketReplication',
    'GET',
    'replication',
    's3:GetReplicationConfiguration',
    notConfigured(
      'REPLICATION_CONFIGURATION_NOT_FOUND',
      'The replication configuration was not found',
    ),
  ),
  onBucket(
    'DeleteBucketReplication',
    'DELETE',
    'replication',
    's3:PutReplicationConfiguration',
    nothingToDelete,
  ),
  onBucket(
    'GetBucketLogging',
    'GET',
    'logging',
    's3:GetBucketLogging',
    emptyDocument('BucketLoggingStatus'),
  ),
  onBucket(
    'GetBucketRequestPayment',
    'GET',
    'requestPayment',
    's3:GetBucketRequestPayment',
    emptyDocument('RequestPaymentConfiguration', { Payer: 'BucketOwner' }),
  ),
  onBucket(
    'GetBucketAccelerateConfiguration',
    'GET',
    'accelerate',
    's3:GetAccelerateConfiguration',
    emptyDocument('AccelerateConfiguration'),
  ),
  onBucket(
    'GetBucketNotificationConfiguration',
    'GET',
    'notification',
    's3:GetBucketNotification',
    emptyDocument('NotificationConfiguration'),
  ),
]
