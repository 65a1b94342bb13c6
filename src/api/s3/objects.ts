/** Objects: PutObject, GetObject, HeadObject, CopyObject, DeleteObject, DeleteObjects. */
import { createHash } from 'node:crypto'
import { validateHeaderValue } from 'node:http'
import { StrongroomError } from '../../errors.ts'
import type { ObjectLock, ObjectRecord, SystemMetadata } from '../../meta/objects.ts'
import { isVersionId } from '../../store/objects.ts'
import { toApiError } from '../errors.ts'
import type { Operation, S3Request } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { checkAclHeaders } from './bucket-settings.ts'
import { bypassAction, bypassing, writeLock } from './object-lock.ts'
import { ANONYMOUS_DENIED } from '../pipeline.ts'
import { evaluate, readConditions, writeConditions } from '../preconditions.ts'
import { writeAll } from '../protocols/rest-xml.ts'
import { leaf, readXml, XML_BOUNDS, type Node } from '../xml.ts'
import {
  MAX_PUT_BYTES,
  requestTags,
  sseHeaders,
  systemMetadata,
  userMetadata,
  verdictHeaders,
  versioned,
  versionHeaders,
} from './common.ts'

const RESPONSE_OVERRIDES = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
] as const

async function putObject(ctx: Authorized): Promise<void> {
  const { bucket, key, keyId } = ctx
  const tenant = await ctx.tenantOf(bucket)
  const metadata = userMetadata(ctx.request)
  const condition = writeConditions(ctx.request.header)
  const { body, expect } = ctx.streamingBody()
  if (expect.length > MAX_PUT_BYTES)
    throw new StrongroomError(
      'ENTITY_TOO_LARGE',
      'Your proposed upload exceeds the maximum allowed object size of 5 GiB for a single PUT; use multipart upload',
    )
  const object = await ctx.scanned(bucket, key, () =>
    ctx.objects.put({
      bucket,
      tenant,
      key,
      body,
      expect,
      contentType: ctx.header('content-type') ?? null,
      metadata,
      system: systemMetadata(ctx.request, bucket),
      ...lockOf(ctx),
      tags: requestTags(ctx.request).tags,
      keyId,
      ...(condition === undefined ? {} : { condition }),
    }),
  )
  ctx.res.setHeader('ETag', object.etag)
  versionHeaders(ctx.res, bucket, object)
  sseHeaders(ctx.res, object.system, ctx.keys.arn(tenant, keyId))
  for (const [k, v] of Object.entries(object.checksums)) ctx.res.setHeader(k, v)
  ctx.send(200)
}

/** The Object Lock a write asks for, or the bucket's default retention (object-lock.ts). */
function lockOf(ctx: Authorized): { lock?: ObjectLock } {
  const lock = writeLock(ctx.request, ctx.bucket, ctx.objects.clock.now())
  return lock === undefined ? {} : { lock }
}

/** x-amz-object-lock-* on a read, as S3 answers them. */
function lockHeaders(res: Authorized['res'], lock: ObjectLock | undefined): void {
  if (lock?.mode !== undefined && lock.retainUntil !== undefined) {
    res.setHeader('x-amz-object-lock-mode', lock.mode)
    res.setHeader('x-amz-object-lock-retain-until-date', new Date(lock.retainUntil).toISOString())
  }
  if (lock?.legalHold !== undefined)
    res.setHeader('x-amz-object-lock-legal-hold', lock.legalHold ? 'ON' : 'OFF')
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (several ranges, other units) is ignored, as S3 does. */
export function parseRange(
  h: string | undefined,
  size: number,
): [number, number] | 'unsatisfiable' | undefined {
  if (h === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const n = Number(m[2])
    if (n === 0) return 'unsatisfiable'
    return size === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1]
  }
  const first = Number(m[1])
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (first >= size || (m[2] !== '' && Number(m[2]) < first))
    return m[2] !== '' && Number(m[2]) < first ? undefined : 'unsatisfiable'
  return [first, last]
}

/**
 * GET/HEAD ?partNumber=N: the bytes of part N of a multipart object, as a ranged GET of them
 * (206, Content-Range, x-amz-mp-parts-count); part 1 of any other object is all of it, as S3
 * answers (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax).
 * A part beyond the last is InvalidPart; a Range beside partNumber is InvalidRequest.
 */
function partRange(
  ctx: Authorized,
  object: ObjectRecord,
):
  | {
      range: [number, number] | undefined
      count: number | undefined
      checksums: Readonly<Record<string, string>>
    }
  | undefined {
  const raw = ctx.query.get('partNumber')
  if (raw === undefined) return undefined
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : 0
  if (n < 1 || n > 10_000)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Part number must be an integer between 1 and 10000, inclusive',
      { details: { ArgumentName: 'partNumber', ArgumentValue: raw } },
    )
  if (ctx.header('range') !== undefined)
    throw new StrongroomError(
      'INVALID_REQUEST',
      'Cannot specify both Range header and partNumber query parameter',
    )
  const parts: readonly { size: number; checksums?: Readonly<Record<string, string>> }[] =
    object.parts ?? [{ size: object.size, checksums: object.checksums }]
  const chosen = parts[n - 1]
  if (chosen === undefined)
    throw new StrongroomError('INVALID_PART', 'The requested partnumber is not satisfiable', {
      details: { PartNumberRequested: raw, ActualPartCount: String(parts.length) },
    })
  const first = parts.slice(0, n - 1).reduce((at, p) => at + p.size, 0)
  return {
    range: chosen.size === 0 ? undefined : [first, first + chosen.size - 1],
    // S3 tells the count of a multipart object's parts only.
    count: object.parts === undefined ? undefined : parts.length,
    checksums: chosen.checksums ?? {},
  }
}

/**
 * The response-* query parameters as the headers they set, checked before any header is: a
 * value a header cannot carry (CR, LF, other controls, characters beyond Latin-1) is the
 * caller's error.
 */
function responseOverrides(ctx: Authorized): [string, string][] {
  const out: [string, string][] = []
  for (const [q, h] of RESPONSE_OVERRIDES) {
    const v = ctx.query.get(q)
    if (v === undefined) continue
    try {
      validateHeaderValue(h, v)
    } catch (e) {
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `${q} must be a value an HTTP header can carry: no control characters, Latin-1 only`,
        { cause: e, details: { ArgumentName: q } },
      )
    }
    out.push([h, v])
  }
  return out
}

async function getObject(ctx: Authorized): Promise<void> {
  const head = ctx.request.view.method === 'HEAD'
  const { bucket, object, res } = ctx
  const overrides = responseOverrides(ctx)
  versionHeaders(res, bucket, object)
  verdictHeaders(res, bucket, object)
  if (object.tags.length > 0) res.setHeader('x-amz-tagging-count', String(object.tags.length))
  const lastModified = new Date(Math.floor(object.createdAt / 1000) * 1000)
  const outcome = evaluate(readConditions(ctx.request.header), object.etag, lastModified.getTime())
  if (!outcome.ok && outcome.status === 412)
    throw new StrongroomError(
      'PRECONDITION_FAILED',
      'At least one of the pre-conditions you specified did not hold',
      { details: { Condition: outcome.condition } },
    )
  res.setHeader('ETag', object.etag)
  res.setHeader('Last-Modified', lastModified.toUTCString())
  if (!outcome.ok) {
    ctx.send(304)
    return
  }
  res.setHeader('Accept-Ranges', 'bytes')
  res.setHeader('Content-Type', object.contentType ?? 'binary/octet-stream')
  for (const [k, v] of Object.entries(object.metadata)) res.setHeader(`x-amz-meta-${k}`, v)
  lockHeaders(res, object.lock)
  for (const [h, v] of Object.entries(object.system ?? {}))
    if (h !== 'x-amz-server-side-encryption') res.setHeader(h, v)
  sseHeaders(res, object.system, ctx.keys.arn(await ctx.tenantOf(bucket), object.keyId))
  for (const [h, v] of overrides) res.setHeader(h, v)
  const part = partRange(ctx, object)
  if (part?.count !== undefined) res.setHeader('x-amz-mp-parts-count', String(part.count))
  // Checksums, when asked for, of what is read: the whole object, or the part asked for (a
  // multipart object's part has its own); none for a byte range.
  if (ctx.header('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    const sums =
      part === undefined
        ? ctx.header('range') === undefined
          ? object.checksums
          : {}
        : part.checksums
    for (const [k, v] of Object.entries(sums)) res.setHeader(k, v)
  }
  const range = part !== undefined ? part.range : parseRange(ctx.header('range'), object.size)
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${object.size}`)
    throw new StrongroomError('RANGE_NOT_SATISFIABLE', 'The requested range is not satisfiable', {
      details: { RangeRequested: ctx.header('range') ?? '', ActualObjectSize: String(object.size) },
    })
  }
  const [first, last] = range ?? [0, object.size - 1]
  const status = range === undefined ? 200 : 206
  if (range !== undefined) res.setHeader('Content-Range', `bytes ${first}-${last}/${object.size}`)
  res.setHeader('Content-Length', String(object.size === 0 ? 0 : last - first + 1))
  if (head) {
    ctx.send(status)
    return
  }
  // A body that fails to open or verify answers InternalError without the object's headers.
  const refused = (e: unknown): never => {
    for (const h of res.getHeaderNames()) res.removeHeader(h)
    throw e
  }
  // Opening verifies the body (an empty one's tag included) before the status line goes out.
  const opened = await ctx.objects.open(object).catch(refused)
  try {
    if (object.size === 0) {
      ctx.send(status)
      return
    }
    // The first segment is decrypted and verified before the status line goes out.
    const it = opened.object.range(first, last)[Symbol.asyncIterator]()
    const firstChunk = await it.next().catch(refused)
    res.statusCode = status
    res.setHeader('x-amz-request-id', ctx.requestId)
    await writeAll(res, firstChunk.done === true ? [] : [firstChunk.value], it)
  } finally {
    await opened.close()
  }
}

/** x-amz-tagging-directive: COPY (the source's tags) or REPLACE (x-amz-tagging). */
function tagDirective(r: S3Request): 'COPY' | 'REPLACE' {
  const d = r.header('x-amz-tagging-directive') ?? 'COPY'
  if (d !== 'COPY' && d !== 'REPLACE')
    throw new StrongroomError('INVALID_ARGUMENT', 'Unknown tagging directive: use COPY or REPLACE')
  return d
}

/**
 * The copy's system metadata: the source's under COPY, the request's under REPLACE; its SSE label
 * is what the copy request asks, else the destination bucket's default, as S3 encrypts a copy
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
 */
function copiedSystem(
  directive: 'COPY' | 'REPLACE',
  source: ObjectRecord,
  ctx: Authorized,
): SystemMetadata {
  const asked = systemMetadata(ctx.request, ctx.bucket)
  if (directive === 'REPLACE') return asked
  const kept: Record<string, string> = { ...source.system }
  delete kept['x-amz-server-side-encryption']
  const sse = asked['x-amz-server-side-encryption']
  return sse === undefined ? kept : { ...kept, 'x-amz-server-side-encryption': sse }
}

/**
 * CopyObject: read permission on the source (and its key), write permission on the
 * destination (and its key), all decided by the pipeline; the plaintext is re-sealed under the
 * destination bucket's key with a fresh data key.
 */
async function copyObject(ctx: Authorized): Promise<void> {
  const { source: src, bucket: dest, key, keyId } = ctx
  const source = src.object
  const tags = tagDirective(ctx.request) === 'REPLACE' ? requestTags(ctx.request).tags : source.tags
  const directive = ctx.header('x-amz-metadata-directive') ?? 'COPY'
  if (directive !== 'COPY' && directive !== 'REPLACE')
    throw new StrongroomError('INVALID_ARGUMENT', 'Unknown metadata directive: use COPY or REPLACE')
  if (
    directive === 'COPY' &&
    src.bucket.name === dest.name &&
    source.key === key &&
    src.versionId === undefined &&
    ctx.header('x-amz-server-side-encryption') === undefined &&
    keyId === source.keyId
  ) {
    throw new StrongroomError(
      'INVALID_REQUEST',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
  }
  const destTenant = await ctx.tenantOf(dest)
  const opened = await ctx.objects.open(source)
  let copied: ObjectRecord
  try {
    copied = await ctx.scanned(dest, key, () =>
      ctx.objects.put({
        bucket: dest,
        tenant: destTenant,
        key,
        body: source.size === 0 ? [] : opened.object.range(0, source.size - 1),
        expect: { length: source.size },
        contentType:
          directive === 'COPY' ? source.contentType : (ctx.header('content-type') ?? null),
        metadata: directive === 'COPY' ? source.metadata : userMetadata(ctx.request),
        system: copiedSystem(directive, source, ctx),
        ...lockOf(ctx),
        tags,
        keyId,
      }),
    )
  } finally {
    await opened.close()
  }
  if (src.bucket.versioning !== 'Unversioned' || source.versionId !== 'null')
    ctx.res.setHeader('x-amz-copy-source-version-id', source.versionId)
  versionHeaders(ctx.res, dest, copied)
  sseHeaders(ctx.res, copied.system, ctx.keys.arn(destTenant, keyId))
  ctx.sendXml(200, 'CopyObjectResult', {
    ETag: copied.etag,
    LastModified: new Date(copied.createdAt).toISOString(),
  })
}

async function deleteObject(ctx: Authorized): Promise<void> {
  const { bucket, key, versionId } = ctx
  const r = await ctx.objects.delete(bucket, key, versionId, {
    bypassGovernance: bypassing(ctx.request),
  })
  if (r !== undefined) versionHeaders(ctx.res, bucket, r)
  else if (versionId !== undefined) ctx.res.setHeader('x-amz-version-id', versionId)
  ctx.send(204)
}

interface DeleteRequest {
  readonly quiet: boolean
  readonly keys: readonly { key: string; versionId: string | undefined }[]
}

/** The DeleteObjects document, its Content-MD5 checked: 1 to 1,000 keys. */
function deleteRequest(body: Buffer, r: S3Request): DeleteRequest {
  const md5 = r.header('content-md5')
  if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5)
    throw new StrongroomError(
      'BAD_DIGEST',
      'The Content-MD5 you specified did not match what we received.',
    )
  const doc = readXml('Delete', body)
  const keys = doc.children
    .filter((c) => c.name === 'Object')
    .map((o) => {
      const key = leaf(o, 'Key')
      if (key === undefined || key === '')
        throw new StrongroomError(
          'MALFORMED_XML',
          'The XML you provided was not well-formed or did not validate against our published schema: every Object needs a Key of at least one character',
        )
      return { key, versionId: leaf(o, 'VersionId')?.trim() }
    })
  if (keys.length === 0 || keys.length > 1000)
    throw new StrongroomError(
      'MALFORMED_XML',
      'The XML you provided was not well-formed or did not validate against our published schema: 1 to 1000 objects',
    )
  const quiet = doc.children.find((c) => c.name === 'Quiet')?.text.trim() === 'true'
  return { quiet, keys }
}

/**
 * DeleteObjects: each key is decided on its own once the body names it (s3:DeleteObject or
 * s3:DeleteObjectVersion), as S3 does. An anonymous caller learns nothing about a bucket it
 * may not delete from: until one of its keys is allowed, every answer is the one a missing
 * bucket gets.
 */
async function deleteObjects(ctx: Authorized): Promise<void> {
  const { bucket } = ctx
  const anonymous = ctx.caller.auth === undefined
  const { quiet, keys } = deleteRequest(ctx.earlyBody, ctx.request)
  let allowedAny = false
  const deleted: Node[] = []
  const errors: Node[] = []
  for (const { key, versionId } of keys) {
    try {
      if (versionId !== undefined && !isVersionId(versionId))
        throw new StrongroomError('NO_SUCH_VERSION', 'The specified version does not exist.')
      ctx.authorizeItem(
        versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion',
        `arn:aws:s3:::${bucket.name}/${key}`,
        versionId === undefined ? {} : { 's3:VersionId': versionId },
      )
      allowedAny = true
      // The bypass is decided for each key, as a single DeleteObject decides it for its key.
      const bypass = bypassing(ctx.request)
      if (bypass)
        ctx.authorizeItem('s3:BypassGovernanceRetention', `arn:aws:s3:::${bucket.name}/${key}`, {})
      const r = await ctx.objects.delete(bucket, key, versionId, { bypassGovernance: bypass })
      if (!quiet)
        deleted.push({
          Key: key,
          VersionId: versionId,
          ...(r?.deleteMarker === true
            ? {
                DeleteMarker: true,
                // The marker made, or the marker removed by its id, as S3 answers both.
                DeleteMarkerVersionId: r.versionId,
              }
            : {}),
        })
    } catch (e) {
      const a = toApiError(e)
      errors.push({ Key: key, VersionId: versionId, Code: a.code, Message: a.message })
    }
  }
  if (anonymous && !allowedAny) throw new StrongroomError('ACCESS_DENIED', ANONYMOUS_DENIED)
  ctx.sendXml(200, 'DeleteResult', { Deleted: deleted, Error: errors })
}

const OBJECT_READS = ['versionId', 'partNumber', ...RESPONSE_OVERRIDES.map(([q]) => q)]

export const OBJECT_OPERATIONS: readonly Operation[] = [
  {
    name: 'CopyObject',
    match: { method: 'PUT', on: 'object', header: 'x-amz-copy-source', reads: [] },
    action: 's3:PutObject',
    resource: 'object',
    target: 'bucket',
    copySource: true,
    quarantine: true,
    conditions: (r) => {
      checkAclHeaders(r)
      return tagDirective(r) === 'REPLACE' ? requestTags(r).conditions : {}
    },
    also: (r) =>
      tagDirective(r) === 'REPLACE' && requestTags(r).tags.length > 0
        ? ['s3:PutObjectTagging']
        : [],
    kms: { action: 'kms:GenerateDataKey', key: 'write' },
    handler: copyObject,
  },
  {
    name: 'PutObject',
    match: { method: 'PUT', on: 'object', reads: [] },
    action: 's3:PutObject',
    resource: 'object',
    target: 'bucket',
    conditions: (r) => {
      checkAclHeaders(r)
      return requestTags(r).conditions
    },
    // If-Match reads the current ETag: "you must have the s3:PutObject and s3:GetObject
    // permissions" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
    also: (r) => [
      ...(requestTags(r).tags.length > 0 ? ['s3:PutObjectTagging'] : []),
      ...(r.header('if-match') !== undefined ? ['s3:GetObject'] : []),
    ],
    kms: { action: 'kms:GenerateDataKey', key: 'write' },
    handler: putObject,
  },
  {
    name: 'GetObject',
    match: { method: 'GET', on: 'object', reads: OBJECT_READS },
    action: versioned('s3:GetObject', 's3:GetObjectVersion'),
    resource: 'object',
    target: 'object',
    kms: { action: 'kms:Decrypt', key: 'object' },
    quarantine: true,
    handler: getObject,
  },
  {
    name: 'HeadObject',
    match: { method: 'HEAD', on: 'object', reads: OBJECT_READS },
    action: versioned('s3:GetObject', 's3:GetObjectVersion'),
    resource: 'object',
    target: 'object',
    kms: { action: 'kms:Decrypt', key: 'object' },
    handler: getObject,
  },
  {
    name: 'DeleteObject',
    match: { method: 'DELETE', on: 'object', reads: ['versionId'] },
    action: versioned('s3:DeleteObject', 's3:DeleteObjectVersion'),
    resource: 'object',
    target: 'bucket',
    also: bypassAction,
    handler: deleteObject,
  },
  {
    name: 'DeleteObjects',
    match: { method: 'POST', on: 'bucket', sub: 'delete' },
    action: 's3:DeleteObject',
    resource: 'objects',
    target: 'items',
    bodyBeforeAuth: {
      maxBytes: XML_BOUNDS.Delete.bytes,
      read: (body, r) => {
        deleteRequest(body, r)
        return {}
      },
    },
    handler: deleteObjects,
  },
]
