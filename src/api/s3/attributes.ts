/**
 * GetObjectAttributes: what a client may learn about a version without reading it
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html): its ETag
 * (unquoted), checksum, parts (paginated), storage class and size, each only when asked for in
 * x-amz-object-attributes. The scanner's verdict travels in the same x-strongroom-* headers as
 * on HEAD.
 */
import { StrongroomError } from '../../errors.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import type { Node } from '../xml.ts'
import { checksumFields, verdictHeaders, versioned, versionHeaders } from './common.ts'

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const

/** A whole number header (x-amz-max-parts, x-amz-part-number-marker) within [0, max]. */
function wholeNumber(ctx: Authorized, name: string, fallback: number, max: number): number {
  const raw = ctx.header(name)
  if (raw === undefined) return fallback
  if (!/^\d{1,9}$/.test(raw) || Number(raw) > max)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `${name} must be a whole number from 0 to ${max}`,
      {
        details: { ArgumentName: name, ArgumentValue: raw.slice(0, 64) },
      },
    )
  return Number(raw)
}

async function getObjectAttributes(ctx: Authorized): Promise<void> {
  const { bucket, object, res } = ctx
  const asked = new Set(
    (ctx.header('x-amz-object-attributes') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
  )
  const unknown = [...asked].find((a) => !(ATTRIBUTES as readonly string[]).includes(a))
  if (asked.size === 0 || unknown !== undefined)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `x-amz-object-attributes must list one or more of ${ATTRIBUTES.join(', ')}${unknown === undefined ? '' : ` (not ${unknown.slice(0, 64)})`}`,
      { details: { ArgumentName: 'x-amz-object-attributes' } },
    )
  const maxParts = wholeNumber(ctx, 'x-amz-max-parts', 1000, 1000)
  const marker = wholeNumber(ctx, 'x-amz-part-number-marker', 0, 10_000)
  versionHeaders(res, bucket, object)
  verdictHeaders(res, bucket, object)
  res.setHeader('Last-Modified', new Date(Math.floor(object.createdAt / 1000) * 1000).toUTCString())
  const body: Record<string, Node | Node[]> = {}
  if (asked.has('ETag')) body.ETag = object.etag.replace(/"/g, '')
  if (asked.has('Checksum') && Object.keys(object.checksums).length > 0)
    body.Checksum = checksumFields(object.checksums)
  if (asked.has('ObjectParts') && object.parts !== undefined) {
    const after = object.parts.filter((p) => p.number > marker)
    const page = after.slice(0, maxParts)
    const truncated = after.length > page.length
    body.ObjectParts = {
      // TotalPartsCount in the SDKs: the element is PartsCount.
      PartsCount: object.parts.length,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.number ?? marker,
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: page.map((p) => ({
        PartNumber: p.number,
        Size: p.size,
        ...checksumFields(p.checksums),
      })),
    }
  }
  if (asked.has('StorageClass')) body.StorageClass = 'STANDARD'
  if (asked.has('ObjectSize')) body.ObjectSize = object.size
  ctx.sendXml(200, 'GetObjectAttributesResponse', body)
  return Promise.resolve()
}

export const ATTRIBUTE_OPERATIONS: readonly Operation[] = [
  {
    name: 'GetObjectAttributes',
    match: { method: 'GET', on: 'object', sub: 'attributes' },
    action: versioned('s3:GetObjectAttributes', 's3:GetObjectVersionAttributes'),
    // "If the bucket is not versioned, you need the s3:GetObject and s3:GetObjectAttributes
    // permissions" (the …Version forms for a version), as the page above says.
    also: (r) => [versioned('s3:GetObject', 's3:GetObjectVersion')(r)],
    resource: 'object',
    target: 'object',
    handler: getObjectAttributes,
  },
]
