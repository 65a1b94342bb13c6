/** Listing a bucket's objects: ListObjects and ListObjectsV2. */
import { StrongroomError } from '../../errors.ts'
import type { ObjectRecord } from '../../meta/objects.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import type { Node } from '../xml.ts'
import { owner } from './common.ts'

const LIST_PARAMETERS = [
  'list-type',
  'prefix',
  'delimiter',
  'marker',
  'max-keys',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'encoding-type',
]

/** The page size (max-keys, or `limit` where it is named otherwise) and encoding-type, as every listing reads them. */
export function listParams(
  ctx: Authorized,
  limit = 'max-keys',
): {
  maxKeys: number
  enc: (s: string) => string
  urlEncode: boolean
} {
  const q = ctx.query
  const rawMax = q.get(limit) ?? '1000'
  if (!/^\d{1,9}$/.test(rawMax))
    throw new StrongroomError('INVALID_ARGUMENT', `${limit} must be a whole number from 0 to 1000`)
  const urlEncode = q.get('encoding-type') === 'url'
  if (q.has('encoding-type') && !urlEncode)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Invalid Encoding Method specified in Request: encoding-type must be url',
    )
  return {
    maxKeys: Math.min(Number(rawMax), 1000),
    urlEncode,
    enc: (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s),
  }
}

/** The common prefix `key` rolls up to under `prefix` and `delimiter`, if any. */
export function commonPrefix(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === '') return undefined
  const rest = key.slice(prefix.length)
  const d = rest.indexOf(delimiter)
  return d >= 0 ? prefix + rest.slice(0, d + delimiter.length) : undefined
}

async function listObjects(ctx: Authorized): Promise<void> {
  const q = ctx.query
  const v2 = q.get('list-type') === '2'
  const bucket = ctx.bucket
  const name = bucket.name
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') ?? ''
  const { maxKeys, enc, urlEncode } = listParams(ctx)
  let after: string
  if (v2) {
    // An empty token is no token: S3 lists from the start and echoes it (ceph s3-tests,
    // test_bucket_listv2_continuationtoken_empty).
    const token = q.get('continuation-token') ?? ''
    if (token !== '') {
      const decoded = Buffer.from(token, 'base64url').toString('utf8')
      if (!decoded.startsWith('k:'))
        throw new StrongroomError(
          'INVALID_ARGUMENT',
          'The continuation token provided is incorrect',
        )
      after = decoded.slice(2)
    } else after = q.get('start-after') ?? ''
  } else after = q.get('marker') ?? ''

  const contents: ObjectRecord[] = []
  const prefixes: string[] = []
  let cursor = after
  let truncated = false
  let last = ''
  while (contents.length + prefixes.length < maxKeys) {
    const page = await ctx.objectMeta.listObjects(
      name,
      prefix,
      cursor,
      Math.min(1000, maxKeys - contents.length - prefixes.length + 1),
    )
    if (page.objects.length === 0) break
    for (const o of page.objects) {
      const cp = commonPrefix(o.key, prefix, delimiter)
      // A key under the common prefix just listed (or under a marker that is one: a NextMarker)
      // adds nothing: it neither counts nor makes the listing truncated.
      if (cp !== undefined && (cp === after || prefixes.at(-1) === cp)) {
        cursor = cp + '\u{10FFFF}'.repeat(4)
        continue
      }
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true
        break
      }
      if (cp !== undefined) {
        prefixes.push(cp)
        last = cp
        // Skip every other key under this common prefix.
        cursor = cp + '\u{10FFFF}'.repeat(4)
      } else {
        contents.push(o)
        last = o.key
        cursor = o.key
      }
    }
    if (truncated) break
    if (page.truncatedAfter === undefined && cursor === page.objects.at(-1)?.key) break
    if (page.truncatedAfter === undefined && delimiter === '') break
  }
  if (!truncated && contents.length + prefixes.length >= maxKeys && maxKeys > 0) {
    truncated = (await ctx.objectMeta.listObjects(name, prefix, cursor, 1)).objects.length > 0
  }
  const fetchOwner = q.get('fetch-owner') === 'true' || !v2
  const ownerTenant = await ctx.tenantOf(bucket)
  const body: Record<string, Node | Node[]> = {
    Name: name,
    Prefix: enc(prefix),
    ...(v2
      ? {
          StartAfter: q.has('start-after') ? enc(q.get('start-after') ?? '') : undefined,
          KeyCount: contents.length + prefixes.length,
        }
      : { Marker: enc(q.get('marker') ?? '') }),
    MaxKeys: maxKeys,
    Delimiter: delimiter === '' ? undefined : enc(delimiter),
    EncodingType: urlEncode ? 'url' : undefined,
    IsTruncated: truncated,
    ...(v2 && q.has('continuation-token')
      ? { ContinuationToken: q.get('continuation-token') }
      : {}),
    ...(truncated && v2
      ? { NextContinuationToken: Buffer.from(`k:${last}`).toString('base64url') }
      : {}),
    ...(truncated && !v2 && delimiter !== '' ? { NextMarker: enc(last) } : {}),
    Contents: contents.map((o) => ({
      Key: enc(o.key),
      LastModified: new Date(o.createdAt).toISOString(),
      ETag: o.etag,
      Size: o.size,
      ...(fetchOwner ? { Owner: owner(ownerTenant) } : {}),
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
  }
  ctx.sendXml(200, 'ListBucketResult', body)
}

export const LISTING_OPERATIONS: readonly Operation[] = [
  {
    name: 'ListObjectsV2',
    match: { method: 'GET', on: 'bucket', query: { 'list-type': '2' }, reads: LIST_PARAMETERS },
    action: 's3:ListBucket',
    resource: 'bucket',
    target: 'bucket',
    handler: listObjects,
  },
  {
    name: 'ListObjects',
    match: { method: 'GET', on: 'bucket', reads: LIST_PARAMETERS },
    action: 's3:ListBucket',
    resource: 'bucket',
    target: 'bucket',
    handler: listObjects,
  },
]
