/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, DeleteBucket. */
import { StrongroomError } from '../../errors.ts'
import { ALL_BLOCKED } from '../../meta/objects.ts'
import { bucketKey } from '../../store/bucket-keys.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { readXml, XML_BOUNDS } from '../xml.ts'
import { owner } from './common.ts'

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

export function validBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !/\.\.|^\d+\.\d+\.\d+\.\d+$|^xn--|-s3alias$|--ol-s3$/.test(name)
}

async function listBuckets(ctx: Authorized): Promise<void> {
  const tenant = ctx.caller.tenant
  const buckets = tenant === undefined ? [] : await ctx.store.listBuckets(tenant.id)
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
  if (!validBucketName(name)) {
    throw new StrongroomError(
      'INVALID_BUCKET_NAME',
      'The specified bucket is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
      { details: { BucketName: name } },
    )
  }
  const region = ctx.config.region
  const body = await ctx.readBody(XML_BOUNDS.CreateBucketConfiguration.bytes)
  if (body.length > 0) {
    const cfg = readXml('CreateBucketConfiguration', body)
    const loc = cfg.children.find((c) => c.name === 'LocationConstraint')?.text.trim()
    if (loc !== undefined && loc !== '' && loc !== region) {
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `this endpoint serves region ${region}; the LocationConstraint ${loc} cannot be created here`,
      )
    }
  }
  const tenant = ctx.caller.tenant
  if (tenant === undefined) throw new StrongroomError('ACCESS_DENIED', 'Access Denied')
  const existing = await ctx.store.getBucket(name)
  if (existing !== undefined) {
    if (existing.tenantId === tenant.id)
      throw new StrongroomError(
        'BUCKET_ALREADY_OWNED_BY_YOU',
        'Your previous request to create the named bucket succeeded and you already own it.',
        { details: { BucketName: name } },
      )
    throw new StrongroomError(
      'BUCKET_EXISTS',
      'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
      { details: { BucketName: name } },
    )
  }
  // A deleted bucket's name stays its tenant's for a while, so a deletion is never a takeover.
  const hold = await ctx.store.bucketHold(name)
  if (
    hold !== undefined &&
    hold.tenantId !== tenant.id &&
    ctx.now() - hold.deletedAt < ctx.config.bucketNameHold * 1000
  )
    throw new StrongroomError(
      'OPERATION_ABORTED',
      'A conflicting conditional operation is currently in progress against this resource. Please try again.',
      { details: { BucketName: name } },
    )
  const key = await bucketKey(ctx.kms, ctx.store, tenant)
  try {
    await ctx.store.createBucket({
      name,
      tenantId: tenant.id,
      keyId: key.id,
      policy: null,
      createdAt: ctx.now(),
      versioning: 'Unversioned',
      publicAccessBlock: ALL_BLOCKED,
      scanPolicy: 'report',
    })
  } catch (e) {
    if (e instanceof StrongroomError && e.code === 'BUCKET_EXISTS')
      throw new StrongroomError('BUCKET_EXISTS', 'The requested bucket name is not available.', {
        details: { BucketName: name },
        cause: e,
      })
    throw e
  }
  ctx.res.setHeader('Location', `/${name}`)
  ctx.send(200)
}

function headBucket(ctx: Authorized): Promise<void> {
  ctx.res.setHeader('x-amz-bucket-region', ctx.config.region)
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
  const left = await ctx.store.deleteBucket(ctx.bucketName, ctx.now())
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
    handler: createBucket,
  },
  {
    name: 'HeadBucket',
    match: { method: 'HEAD', on: 'bucket', reads: [] },
    action: 's3:ListBucket',
    resource: 'bucket',
    target: 'bucket',
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
