/**
 * Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
 */
import { randomBytes } from 'node:crypto'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { checkAclHeaders } from './bucket-settings.ts'
import { writeLock } from './object-lock.ts'
import { writeConditions } from '../preconditions.ts'
import { leaf, readXml, XML_BOUNDS } from '../xml.ts'
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../store/checksums.ts'
import type { ObjectRecord, UploadRecord } from '../../meta/objects.ts'
import type { UploadCursor } from '../../meta/multipart.ts'
import { commonPrefix, listParams } from './listing.ts'
import type { BodyExpectation } from '../../store/expect.ts'
import {
  checksumFields,
  completedObject,
  MAX_PUT_BYTES,
  MIN_PART_BYTES,
  owner,
  requestTags,
  sseHeaders,
  systemMetadata,
  userMetadata,
  versionHeaders,
} from './common.ts'

/** After every key that starts with a prefix: the prefix and the highest code points (as listing.ts skips). */
const PAST_PREFIX = '\u{10FFFF}'.repeat(4)

const MAX_PARTS = 10_000

async function createUpload(ctx: Authorized): Promise<void> {
  const { bucket, key, keyId } = ctx
  const bucketName = bucket.name
  const tags = requestTags(ctx.request)
  const id = randomBytes(24).toString('base64url')
  const system = systemMetadata(ctx.request, bucket)
  const checksumAlgorithm = uploadChecksum(ctx)
  const lock = writeLock(ctx.request, bucket, ctx.objects.clock.now())
  await ctx.objectMeta.createUpload({
    id,
    bucket: bucketName,
    key,
    contentType: ctx.header('content-type') ?? null,
    metadata: userMetadata(ctx.request),
    system,
    tags: tags.tags,
    keyId,
    ...(checksumAlgorithm === undefined ? {} : { checksumAlgorithm }),
    ...(lock === undefined ? {} : { lock }),
  })
  if (checksumAlgorithm !== undefined)
    ctx.res.setHeader('x-amz-checksum-algorithm', checksumAlgorithm.toUpperCase())
  sseHeaders(ctx.res, system, ctx.keys.arn(await ctx.tenantOf(bucket), keyId))
  ctx.sendXml(200, 'InitiateMultipartUploadResult', {
    Bucket: bucketName,
    Key: key,
    UploadId: id,
  })
}

function partNumber(ctx: Authorized): number {
  const raw = ctx.query.get('partNumber') ?? ''
  const number = /^\d{1,5}$/.test(raw) ? Number(raw) : 0
  if (number < 1 || number > MAX_PARTS) {
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Part number must be an integer between 1 and 10000, inclusive',
      { details: { ArgumentName: 'partNumber', ArgumentValue: raw } },
    )
  }
  return number
}

async function uploadPart(ctx: Authorized): Promise<void> {
  const { bucket } = ctx
  const upload = await ctx.upload()
  const number = partNumber(ctx)
  const { body, expect } = ctx.streamingBody()
  if (expect.length > MAX_PUT_BYTES)
    throw new StrongroomError('ENTITY_TOO_LARGE', 'a part may be at most 5 GiB')
  const part = await ctx.objects.putPart(
    upload,
    await ctx.tenantOf(bucket),
    number,
    body,
    withUploadChecksum(expect, upload),
  )
  ctx.res.setHeader('ETag', part.etag)
  for (const [k, v] of Object.entries(part.checksums)) ctx.res.setHeader(k, v)
  sseHeaders(ctx.res, upload.system, ctx.keys.arn(await ctx.tenantOf(bucket), upload.keyId))
  ctx.send(200)
}

/** UploadPartCopy: a part made of (a range of) an existing object, re-sealed under the upload's key. */
async function uploadPartCopy(ctx: Authorized): Promise<void> {
  const { bucket, source: src } = ctx
  const upload = await ctx.upload()
  const number = partNumber(ctx)
  const size = src.object.size
  const rangeHeader = ctx.header('x-amz-copy-source-range')
  let first = 0
  let last = size - 1
  if (rangeHeader !== undefined) {
    const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(rangeHeader.trim())
    if (m === null)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      )
    first = Number(m[1])
    last = Number(m[2])
    if (first > last || last >= size)
      throw new StrongroomError(
        'RANGE_NOT_SATISFIABLE',
        `The requested range ${rangeHeader} is not satisfiable for an object of ${size} bytes`,
        { details: { RangeRequested: rangeHeader, ActualObjectSize: String(size) } },
      )
  }
  const length = size === 0 ? 0 : last - first + 1
  if (length > MAX_PUT_BYTES)
    throw new StrongroomError('ENTITY_TOO_LARGE', 'a part may be at most 5 GiB')
  const opened = await ctx.objects.open(src.object)
  let part
  try {
    part = await ctx.objects.putPart(
      upload,
      await ctx.tenantOf(bucket),
      number,
      length === 0 ? [] : opened.object.range(first, last),
      withUploadChecksum({ length }, upload),
    )
  } finally {
    await opened.close()
  }
  if (src.bucket.versioning !== 'Unversioned' || src.object.versionId !== 'null')
    ctx.res.setHeader('x-amz-copy-source-version-id', src.object.versionId)
  sseHeaders(ctx.res, upload.system, ctx.keys.arn(await ctx.tenantOf(bucket), upload.keyId))
  ctx.sendXml(200, 'CopyPartResult', {
    ETag: part.etag,
    LastModified: new Date(part.createdAt).toISOString(),
    ...checksumFields(part.checksums),
  })
}

/**
 * CompleteMultipartUpload; repeated for an upload it completed, the same answer again, as S3
 * gives it (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
 */
async function completeUpload(ctx: Authorized): Promise<void> {
  const { bucket, key } = ctx
  let object: ObjectRecord
  try {
    await ctx.upload()
    object = await complete(ctx)
  } catch (e) {
    if (!isStrongroomError(e, 'NO_SUCH_UPLOAD')) throw e
    object = (await completedObject(ctx.objectMeta, ctx.request)) ?? raise(e)
  }
  versionHeaders(ctx.res, bucket, object)
  sseHeaders(ctx.res, object.system, ctx.keys.arn(await ctx.tenantOf(bucket), object.keyId))
  ctx.sendXml(200, 'CompleteMultipartUploadResult', {
    Location: `/${bucket.name}/${key}`,
    Bucket: bucket.name,
    Key: key,
    ETag: object.etag,
    ...checksumFields(object.checksums),
  })
}

/**
 * CreateMultipartUpload's x-amz-checksum-algorithm: every part then carries that checksum and
 * the object gets the composite of them. A FULL_OBJECT checksum type is accepted, its parts
 * verified, but the object keeps no whole-object checksum (docs/s3-compatibility.md).
 */
function uploadChecksum(ctx: Authorized): ChecksumAlgorithm | undefined {
  const raw = ctx.header('x-amz-checksum-algorithm')
  if (raw === undefined) return undefined
  const alg = raw.toLowerCase()
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(alg))
    throw new StrongroomError(
      'INVALID_REQUEST',
      `Checksum algorithm ${raw} is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256`,
    )
  const type = ctx.header('x-amz-checksum-type')?.toUpperCase()
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT')
    throw new StrongroomError(
      'INVALID_REQUEST',
      'x-amz-checksum-type must be COMPOSITE or FULL_OBJECT',
    )
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html:
  // CRC64NVME is a full-object checksum only.
  if (alg === 'crc64nvme' && type === 'COMPOSITE')
    throw new StrongroomError(
      'INVALID_REQUEST',
      'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.',
    )
  return type === 'FULL_OBJECT' ? undefined : (alg as ChecksumAlgorithm)
}

/**
 * A part of an upload with a checksum algorithm carries that checksum: verified when the client
 * sent it, computed here when it did not (UploadPartCopy never can), so Complete can compose it.
 */
function withUploadChecksum(expect: BodyExpectation, upload: UploadRecord): BodyExpectation {
  const alg = upload.checksumAlgorithm
  if (alg === undefined) return expect
  // A part's checksum is of the upload's algorithm, as S3 requires (the composite needs it).
  for (const name of expect.checksums?.keys() ?? [])
    if (name !== `x-amz-checksum-${alg}`)
      throw new StrongroomError(
        'INVALID_REQUEST',
        `Checksum Type mismatch occurred, expected checksum Type: ${alg}, actual checksum Type: ${name.slice('x-amz-checksum-'.length)}`,
      )
  return { ...expect, compute: [`x-amz-checksum-${alg}`] }
}

function raise(e: unknown): never {
  throw e
}

async function complete(ctx: Authorized): Promise<ObjectRecord> {
  const { bucket, key } = ctx
  const upload = await ctx.upload()
  const doc = readXml(
    'CompleteMultipartUpload',
    await ctx.readBody(XML_BOUNDS.CompleteMultipartUpload.bytes),
  )
  const asked = doc.children
    .filter((c) => c.name === 'Part')
    .map((p) => ({
      number: partNumberOf(p.children.find((c) => c.name === 'PartNumber')?.text ?? ''),
      etag: (p.children.find((c) => c.name === 'ETag')?.text ?? '').trim(),
      checksums: Object.fromEntries(
        CHECKSUM_ALGORITHMS.flatMap((alg) => {
          const v = leaf(p, `Checksum${alg.toUpperCase()}`)?.trim()
          return v === undefined ? [] : [[`x-amz-checksum-${alg}`, v]]
        }),
      ),
    }))
  if (asked.length === 0)
    throw new StrongroomError('MALFORMED_XML', 'You must specify at least one part')
  const stored = new Map((await ctx.objectMeta.listParts(upload.id)).map((p) => [p.number, p]))
  const parts = asked.map((a, i) => {
    if (i > 0 && a.number <= (asked[i - 1]?.number ?? 0)) {
      throw new StrongroomError(
        'INVALID_PART_ORDER',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      )
    }
    const p = stored.get(a.number)
    const quoted = a.etag.startsWith('"') ? a.etag : `"${a.etag}"`
    // The checksum of the upload's algorithm must be the one the part was stored with; others
    // (a client that sends every checksum it knows) are not the upload's and are not checked.
    const named = upload.checksumAlgorithm && `x-amz-checksum-${upload.checksumAlgorithm}`
    const sumsDiffer =
      named !== undefined &&
      a.checksums[named] !== undefined &&
      p?.checksums?.[named] !== a.checksums[named]
    if (p?.etag !== quoted || sumsDiffer) {
      throw new StrongroomError(
        'INVALID_PART',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { details: { PartNumber: String(a.number), ETag: a.etag } },
      )
    }
    const alg = upload.checksumAlgorithm
    if (
      alg !== undefined &&
      alg !== 'crc64nvme' &&
      a.checksums[`x-amz-checksum-${alg}`] === undefined
    )
      throw new StrongroomError(
        'INVALID_REQUEST',
        `The upload was created using a ${alg} checksum. The complete request must include the checksum for each part. It was missing for part ${String(a.number)} in the request.`,
      )
    return p
  })
  for (const p of parts.slice(0, -1)) {
    if (p.size < MIN_PART_BYTES) {
      throw new StrongroomError(
        'ENTITY_TOO_SMALL',
        'Your proposed upload is smaller than the minimum allowed object size: every part but the last must be at least 5 MiB',
        {
          details: {
            PartNumber: String(p.number),
            ProposedSize: String(p.size),
            MinSizeAllowed: String(MIN_PART_BYTES),
          },
        },
      )
    }
  }
  const tenant = await ctx.tenantOf(bucket)
  return ctx.scanned(bucket, key, () =>
    ctx.objects.complete(upload, bucket, tenant, parts, writeConditions(ctx.request.header)),
  )
}

async function abortUpload(ctx: Authorized): Promise<void> {
  await ctx.objects.abort(await ctx.upload())
  ctx.send(204)
}

async function listParts(ctx: Authorized): Promise<void> {
  const { bucketName, key } = ctx
  const upload = await ctx.upload()
  const marker = Number(ctx.query.get('part-number-marker') ?? '0') || 0
  const max = Math.min(Number(ctx.query.get('max-parts') ?? '1000') || 1000, 1000)
  const all = (await ctx.objectMeta.listParts(upload.id)).filter((p) => p.number > marker)
  const page = all.slice(0, max)
  ctx.sendXml(200, 'ListPartsResult', {
    Bucket: bucketName,
    Key: key,
    UploadId: upload.id,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.at(-1)?.number,
    MaxParts: max,
    IsTruncated: all.length > page.length,
    Part: page.map((p) => ({
      PartNumber: p.number,
      LastModified: new Date(p.createdAt).toISOString(),
      ETag: p.etag,
      Size: p.size,
      ...checksumFields(p.checksums),
    })),
    ChecksumAlgorithm: upload.checksumAlgorithm?.toUpperCase(),
    StorageClass: 'STANDARD',
  })
}

/**
 * ListMultipartUploads: by key then oldest first, grouped by delimiter, paged by key-marker
 * and upload-id-marker (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html).
 */
async function listUploads(ctx: Authorized): Promise<void> {
  const { bucketName, query: q } = ctx
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') ?? ''
  const keyMarker = q.get('key-marker') ?? ''
  // Without key-marker, upload-id-marker is ignored (the page above).
  const uploadIdMarker = keyMarker === '' ? '' : (q.get('upload-id-marker') ?? '')
  const { maxKeys: max, enc, urlEncode } = listParams(ctx, 'max-uploads')

  const uploads: UploadRecord[] = []
  const prefixes: string[] = []
  let after: UploadCursor | undefined =
    keyMarker === ''
      ? undefined
      : { key: keyMarker, ...(uploadIdMarker === '' ? {} : { uploadId: uploadIdMarker }) }
  let truncated = false
  let next: { key: string; uploadId?: string } | undefined
  // max-uploads=0 lists nothing and is not truncated (as ListObjects answers max-keys=0), so
  // that a loop on IsTruncated ends.
  scan: for (; max > 0;) {
    const page = await ctx.objectMeta.listUploads(bucketName, prefix, after, 1000)
    for (const u of page) {
      const cp = commonPrefix(u.key, prefix, delimiter)
      // Uploads under a common prefix just listed, or under a key-marker that is one, add
      // nothing: the next page starts past all of them, one probe rather than a walk through
      // every upload beneath the prefix (bench/pg-scale.ts found that walk growing with the bucket).
      if (cp !== undefined && (cp === keyMarker || prefixes.at(-1) === cp)) {
        after = { key: cp + PAST_PREFIX }
        continue scan
      }
      if (uploads.length + prefixes.length >= max) {
        truncated = true
        break scan
      }
      if (cp !== undefined) {
        prefixes.push(cp)
        next = { key: cp }
        after = { key: cp + PAST_PREFIX }
        continue scan
      }
      uploads.push(u)
      next = { key: u.key, uploadId: u.id }
    }
    const last = page.at(-1)
    if (last === undefined || page.length < 1000) break
    after = { key: last.key, uploadId: last.id }
  }
  const ownerTenant = await ctx.tenantOf(ctx.bucket)
  ctx.sendXml(200, 'ListMultipartUploadsResult', {
    Bucket: bucketName,
    KeyMarker: enc(keyMarker),
    UploadIdMarker: uploadIdMarker,
    // The last entry listed is where the next page starts; a common prefix has no upload id.
    ...(truncated && next !== undefined
      ? { NextKeyMarker: enc(next.key), NextUploadIdMarker: next.uploadId ?? '' }
      : {}),
    Prefix: enc(prefix),
    Delimiter: delimiter === '' ? undefined : enc(delimiter),
    MaxUploads: max,
    EncodingType: urlEncode ? 'url' : undefined,
    IsTruncated: truncated,
    Upload: uploads.map((u) => ({
      Key: enc(u.key),
      UploadId: u.id,
      Initiator: owner(ownerTenant),
      Owner: owner(ownerTenant),
      StorageClass: 'STANDARD',
      Initiated: new Date(u.createdAt).toISOString(),
      ChecksumAlgorithm: u.checksumAlgorithm?.toUpperCase(),
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
  })
}

/** A CompleteMultipartUpload part number: decimal digits only (no `0x1`, `1.0`, `+1`). */
function partNumberOf(text: string): number {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t))
    throw new StrongroomError(
      'MALFORMED_XML',
      `The XML you provided was not well-formed or did not validate against our published schema: PartNumber \`${t.slice(0, 20)}\` is not an integer`,
    )
  return Number(t)
}

const PUT = { action: 's3:PutObject', resource: 'object', target: 'bucket' } as const
const WRITE_UPLOAD_KEY = { action: 'kms:GenerateDataKey', key: 'upload' } as const

export const MULTIPART_OPERATIONS: readonly Operation[] = [
  {
    name: 'CreateMultipartUpload',
    match: { method: 'POST', on: 'object', sub: 'uploads' },
    ...PUT,
    conditions: (r) => {
      checkAclHeaders(r)
      return requestTags(r).conditions
    },
    also: (r) => (requestTags(r).tags.length > 0 ? ['s3:PutObjectTagging'] : []),
    kms: { action: 'kms:GenerateDataKey', key: 'write' },
    handler: createUpload,
  },
  {
    name: 'UploadPartCopy',
    match: {
      method: 'PUT',
      on: 'object',
      sub: 'uploadId',
      query: { partNumber: true },
      header: 'x-amz-copy-source',
    },
    ...PUT,
    copySource: true,
    quarantine: true,
    kms: WRITE_UPLOAD_KEY,
    handler: uploadPartCopy,
  },
  {
    name: 'UploadPart',
    match: { method: 'PUT', on: 'object', sub: 'uploadId', query: { partNumber: true } },
    ...PUT,
    kms: WRITE_UPLOAD_KEY,
    handler: uploadPart,
  },
  {
    name: 'CompleteMultipartUpload',
    match: { method: 'POST', on: 'object', sub: 'uploadId' },
    ...PUT,
    // Conditional writes, as on PutObject (objects.ts).
    also: (r) => (r.header('if-match') !== undefined ? ['s3:GetObject'] : []),
    kms: WRITE_UPLOAD_KEY,
    handler: completeUpload,
  },
  {
    name: 'AbortMultipartUpload',
    match: { method: 'DELETE', on: 'object', sub: 'uploadId' },
    action: 's3:AbortMultipartUpload',
    resource: 'object',
    target: 'bucket',
    handler: abortUpload,
  },
  {
    name: 'ListParts',
    match: { method: 'GET', on: 'object', sub: 'uploadId' },
    action: 's3:ListMultipartUploadParts',
    resource: 'object',
    target: 'bucket',
    handler: listParts,
  },
  {
    name: 'ListMultipartUploads',
    match: { method: 'GET', on: 'bucket', sub: 'uploads' },
    action: 's3:ListBucketMultipartUploads',
    resource: 'bucket',
    target: 'bucket',
    handler: listUploads,
  },
]
