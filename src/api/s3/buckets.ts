/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, DeleteBucket. */
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { leaf, readXml, XML_BOUNDS } from '../xml.ts'
import { checkAclHeaders, checkObjectOwnership } from './bucket-settings.ts'
import { owner } from './common.ts'

async function listBuckets(ctx: Authorized): Promise<void> {
  const tenant = ctx.caller.tenant
  const buckets = tenant === undefined ? [] : await ctx.buckets.list(tenant)
  ctx.sendXml(200, 'ListAllMyBucketsResult', {
    Owner: owner(tenant),
    Buckets: {
      Bucket: buckets.map((b) => ({
        Name: b.name,
        CreationDate: new Date(b.createdAt).toISOString(),
      })),
    },
  })
}

async function createBucket(ctx: Authorized): Promise<void> {
  const name = ctx.bucketName
  // A bad name is refused before the body is read (the wire words are errors.ts's).
  ctx.buckets.checkName(name)
  const region = ctx.config.region
  const body = await ctx.readBody(XML_BOUNDS.CreateBucketConfiguration.bytes)
  if (body.length > 0) {
    const cfg = readXml('CreateBucketConfiguration', body)
    const loc = leaf(cfg, 'LocationConstraint')?.trim()
    if (loc !== undefined && loc !== '' && loc !== region) {
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `this endpoint serves region ${region}; the LocationConstraint ${loc} cannot be created here`,
      )
    }
  }
  const tenant = ctx.caller.tenant
  if (tenant === undefined) throw new StrongroomError('ACCESS_DENIED', 'Access Denied')
  // Global names, the hold a deleted name keeps for its tenant (a deletion is never a
  // takeover) and the tenant's default key are the service's (BUCKET_OWNED, BUCKET_EXISTS,
  // BUCKET_NAME_HELD: S3's codes and sentences come from errors.ts).
  try {
    await ctx.buckets.create(tenant, name)
    // x-amz-bucket-object-lock-enabled: Object Lock, which needs versioning, from the start.
    if (ctx.header('x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true') {
      await ctx.buckets.setVersioning(name, 'Enabled')
      await ctx.buckets.updateSettings(name, { objectLock: {} })
    }
  } catch (e) {
    // "For legacy compatibility, if you re-create an existing bucket that you already own in
    // the North Virginia Region, Amazon S3 returns 200 OK" (BucketAlreadyOwnedByYou,
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html); nothing of the
    // bucket changes (the ACLs S3 resets are always the owner's here). Elsewhere: the error.
    if (!(isStrongroomError(e) && e.code === 'BUCKET_OWNED' && region === 'us-east-1')) throw e
  }
  ctx.res.setHeader('Location', `/${name}`)
  ctx.send(200)
}

function headBucket(ctx: Authorized): Promise<void> {
  ctx.send(200)
  return Promise.resolve()
}

function getBucketLocation(ctx: Authorized): Promise<void> {
  const region = ctx.config.region
  // S3 answers an empty LocationConstraint for us-east-1.
  ctx.sendXml(200, 'LocationConstraint', region === 'us-east-1' ? '' : region)
  return Promise.resolve()
}

async function deleteBucket(ctx: Authorized): Promise<void> {
  const left = await ctx.buckets.delete(ctx.bucketName)
  if (left !== 'deleted')
    throw new StrongroomError(
      'BUCKET_NOT_EMPTY',
      left === 'uploads'
        ? 'The bucket you tried to delete is not empty: it has unfinished multipart uploads (ListMultipartUploads, then AbortMultipartUpload each)'
        : 'The bucket you tried to delete is not empty',
      { details: { BucketName: ctx.bucketName } },
    )
  ctx.send(204)
}

export const BUCKET_OPERATIONS: readonly Operation[] = [
  {
    name: 'ListBuckets',
    match: { method: 'GET', on: 'service' },
    action: 's3:ListAllMyBuckets',
    resource: 'service',
    target: 'none',
    handler: listBuckets,
  },
  {
    name: 'CreateBucket',
    match: { method: 'PUT', on: 'bucket', reads: [] },
    action: 's3:CreateBucket',
    resource: 'bucket',
    target: 'none',
    conditions: (r) => {
      checkAclHeaders(r)
      checkObjectOwnership(r)
      return {}
    },
    handler: createBucket,
  },
  {
    name: 'HeadBucket',
    match: { method: 'HEAD', on: 'bucket', reads: [] },
    action: 's3:ListBucket',
    resource: 'bucket',
    target: 'bucket',
    answersRegion: true,
    handler: headBucket,
  },
  {
    name: 'GetBucketLocation',
    match: { method: 'GET', on: 'bucket', sub: 'location' },
    action: 's3:GetBucketLocation',
    resource: 'bucket',
    target: 'bucket',
    handler: getBucketLocation,
  },
  {
    name: 'DeleteBucket',
    match: { method: 'DELETE', on: 'bucket', reads: [] },
    action: 's3:DeleteBucket',
    resource: 'bucket',
    target: 'bucket',
    handler: deleteBucket,
  },
]
