/** Versioning: Put/GetBucketVersioning and ListObjectVersions. */
import { StrongroomError } from '../../errors.ts'
import type { VersionRecord } from '../../meta/objects.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { parseVersioning } from '../s3-config.ts'
import { readXml, XML_BOUNDS } from '../xml.ts'
import { owner } from './common.ts'
import { commonPrefix, listParams } from './listing.ts'

async function putBucketVersioning(ctx: Authorized): Promise<void> {
  const status = parseVersioning(
    readXml(
      'VersioningConfiguration',
      await ctx.readBody(XML_BOUNDS.VersioningConfiguration.bytes),
    ),
  )
  // Object Lock needs every version kept: S3 refuses to suspend versioning on such a bucket.
  if (status === 'Suspended' && ctx.bucket.settings?.objectLock !== undefined)
    throw new StrongroomError(
      'INVALID_BUCKET_STATE',
      'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
    )
  await ctx.buckets.setVersioning(ctx.bucketName, status)
  ctx.send(200)
}

function getBucketVersioning(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  ctx.sendXml(200, 'VersioningConfiguration', {
    Status: b.versioning === 'Unversioned' ? undefined : b.versioning,
  })
  return Promise.resolve()
}

/** ListObjectVersions: every version and delete marker, by key, newest first. */
async function listVersions(ctx: Authorized): Promise<void> {
  const q = ctx.query
  const bucket = ctx.bucket
  const name = bucket.name
  const { maxKeys, enc, urlEncode } = listParams(ctx)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') ?? ''
  const keyMarker = q.get('key-marker') ?? ''
  const vidMarker = q.get('version-id-marker')
  if (vidMarker !== undefined && vidMarker !== '' && keyMarker === '')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'A version-id marker cannot be specified without a key marker.',
    )
  const versions: VersionRecord[] = []
  const prefixes: string[] = []
  let afterKey = keyMarker
  let afterVid = vidMarker === '' ? undefined : vidMarker
  let truncated = false
  let next: { key: string; versionId: string | undefined } | undefined
  scan: for (;;) {
    const page = await ctx.objectMeta.listVersions(name, prefix, afterKey, afterVid, 1000)
    if (page.length === 0) break
    for (const v of page) {
      if (versions.length + prefixes.length >= maxKeys) {
        truncated = true
        break scan
      }
      const cp = commonPrefix(v.key, prefix, delimiter)
      if (cp !== undefined) {
        // Skip every other version under this common prefix.
        afterKey = cp + '\u{10FFFF}'.repeat(4)
        afterVid = undefined
        if (cp !== keyMarker) {
          prefixes.push(cp)
          next = { key: cp, versionId: undefined }
        }
        continue scan
      }
      versions.push(v)
      next = { key: v.key, versionId: v.versionId }
      afterKey = v.key
      afterVid = v.versionId
    }
    if (page.length < 1000) break
  }
  const ownerNode = owner(await ctx.tenantOf(bucket))
  ctx.sendXml(200, 'ListVersionsResult', {
    Name: name,
    Prefix: enc(prefix),
    KeyMarker: enc(keyMarker),
    VersionIdMarker: vidMarker ?? '',
    NextKeyMarker: truncated && next !== undefined ? enc(next.key) : undefined,
    NextVersionIdMarker: truncated ? next?.versionId : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter === '' ? undefined : enc(delimiter),
    EncodingType: urlEncode ? 'url' : undefined,
    IsTruncated: truncated,
    Version: versions
      .filter((v) => !v.deleteMarker)
      .map((v) => ({
        Key: enc(v.key),
        VersionId: v.versionId,
        IsLatest: v.isLatest,
        LastModified: new Date(v.createdAt).toISOString(),
        ETag: v.etag,
        Size: v.size,
        Owner: ownerNode,
        StorageClass: 'STANDARD',
      })),
    DeleteMarker: versions
      .filter((v) => v.deleteMarker)
      .map((v) => ({
        Key: enc(v.key),
        VersionId: v.versionId,
        IsLatest: v.isLatest,
        LastModified: new Date(v.createdAt).toISOString(),
        Owner: ownerNode,
      })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
  })
}

export const VERSIONING_OPERATIONS: readonly Operation[] = [
  {
    name: 'PutBucketVersioning',
    match: { method: 'PUT', on: 'bucket', sub: 'versioning' },
    action: 's3:PutBucketVersioning',
    resource: 'bucket',
    target: 'bucket',
    handler: putBucketVersioning,
  },
  {
    name: 'GetBucketVersioning',
    match: { method: 'GET', on: 'bucket', sub: 'versioning' },
    action: 's3:GetBucketVersioning',
    resource: 'bucket',
    target: 'bucket',
    handler: getBucketVersioning,
  },
  {
    name: 'ListObjectVersions',
    match: { method: 'GET', on: 'bucket', sub: 'versions' },
    action: 's3:ListBucketVersions',
    resource: 'bucket',
    target: 'bucket',
    handler: listVersions,
  },
]
