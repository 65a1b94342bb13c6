/**
 * What several S3 operation groups share: the existing-object and copy-source reads the
 * pipeline decides on, response headers for versions, user metadata, request tags, limits.
 */
import type { ServerResponse } from 'node:http'
import { StrongroomError } from '../../errors.ts'
import {
  MULTIPART_BLOB,
  type BucketRecord,
  type ObjectRecord,
  type ObjectStore,
  type SYSTEM_HEADERS,
  type SystemMetadata,
  type Tags,
} from '../../meta/objects.ts'
import { defaultBucketKey } from '../../store/bucket-keys.ts'
import type { TenantRecord } from '../../meta/identity.ts'
import type { KeyRecord } from '../../meta/keys.ts'
import { isVersionId } from '../../store/objects.ts'
import type { Conditions, Operation, S3Request } from '../operation.ts'
import type { Authorized, Pipeline } from '../pipeline.ts'
import type { RequestState } from '../request-state.ts'
import type { KeyCatalog } from '../../kms/catalog.ts'
import { copySourceConditions, evaluate } from '../preconditions.ts'
import { splitPath } from '../protocols/rest-xml.ts'
import { quarantined } from '../quarantine.ts'
import { parseTaggingHeader, tagConditions } from '../s3-config.ts'
import type { Node } from '../xml.ts'

export const MAX_PUT_BYTES = 5 * 1024 * 1024 * 1024
export const MIN_PART_BYTES = 5 * 1024 * 1024
const MAX_METADATA_BYTES = 2 * 1024

export const NO_SUCH_UPLOAD =
  'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.'

export interface CopySource {
  readonly bucket: BucketRecord
  readonly object: ObjectRecord
  /** The versionId the source named, if any. */
  readonly versionId: string | undefined
}

/**
 * An existing object version for an operation on it: the decision sees the version's tags
 * (s3:ExistingObjectTag/*), and only then does the caller learn whether the bucket, key or
 * version exists. A delete marker answers as S3 does: 404 NoSuchKey when current, 405 when
 * named by version id.
 */
export async function existing(
  p: Pipeline,
  s: RequestState,
  action: string,
  bucketName: string,
  key: string,
  versionId: string | undefined,
  extra: Conditions = {},
): Promise<{ bucket: BucketRecord; object: ObjectRecord }> {
  const bucket = await p.bucket(s, bucketName)
  const found =
    bucket === undefined ? undefined : await p.app.objectMeta.getObject(bucketName, key, versionId)
  p.check(s, action, `arn:aws:s3:::${bucketName}/${key}`, bucket, {
    ...(found === undefined ? {} : tagConditions('s3:ExistingObjectTag', found.tags)),
    ...extra,
  })
  if (bucket === undefined) throw noSuchBucket(bucketName)
  if (found === undefined) {
    if (versionId !== undefined)
      throw new StrongroomError('NO_SUCH_VERSION', 'The specified version does not exist.', {
        details: { Key: key, VersionId: versionId },
      })
    throw new StrongroomError('NO_SUCH_KEY', 'The specified key does not exist.', {
      details: { Key: key },
    })
  }
  if (found.deleteMarker) {
    versionHeaders(s.res, bucket, found)
    if (versionId !== undefined)
      throw new StrongroomError(
        'METHOD_NOT_ALLOWED',
        'The specified method is not allowed against this resource: the version is a delete marker',
        { details: { Method: s.r.view.method, ResourceType: 'DeleteMarker' } },
      )
    throw new StrongroomError('NO_SUCH_KEY', 'The specified key does not exist.', {
      details: { Key: key },
    })
  }
  return { bucket, object: found }
}

/**
 * The object named by x-amz-copy-source (`bucket/key`, optionally `?versionId=`), after the
 * read decision on it and its key (and the quarantine permission), with the
 * x-amz-copy-source-if-* conditions checked (preconditions.ts; a copy answers 412 where a read
 * answers 304).
 */
export async function copySource(
  p: Pipeline,
  s: RequestState,
  checkQuarantine: boolean,
): Promise<CopySource> {
  const raw = s.r.header('x-amz-copy-source') ?? ''
  const q = raw.indexOf('?')
  const srcPath = q < 0 ? raw : raw.slice(0, q)
  const versionId =
    q < 0 ? undefined : (new URLSearchParams(raw.slice(q + 1)).get('versionId') ?? undefined)
  if (versionId !== undefined && !isVersionId(versionId))
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Invalid version id specified in x-amz-copy-source',
    )
  const [srcBucketName, srcKey] = splitPath(srcPath.startsWith('/') ? srcPath : `/${srcPath}`)
  if (srcBucketName === undefined || srcKey === undefined)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    )
  const { bucket, object } = await existing(
    p,
    s,
    versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion',
    srcBucketName,
    srcKey,
    versionId,
  )
  await p.checkKey(s, 'kms:Decrypt', bucket, object.keyId)
  if (checkQuarantine) p.quarantine(s, bucket, object)
  const modified = Math.floor(object.createdAt / 1000) * 1000
  if (!evaluate(copySourceConditions(s.r.header), object.etag, modified).ok)
    throw new StrongroomError(
      'PRECONDITION_FAILED',
      'At least one of the pre-conditions you specified did not hold',
    )
  return { bucket, object, versionId }
}

/** x-amz-version-id (and x-amz-delete-marker) once a bucket has had versioning turned on. */
export function versionHeaders(res: ServerResponse, bucket: BucketRecord, o: ObjectRecord): void {
  if (bucket.versioning !== 'Unversioned' || o.versionId !== 'null')
    res.setHeader('x-amz-version-id', o.versionId)
  if (o.deleteMarker) res.setHeader('x-amz-delete-marker', 'true')
}

/** Tags a write asks for (x-amz-tagging), with the condition keys they set. */
export function requestTags(r: S3Request): { tags: Tags; conditions: Conditions } {
  const h = r.header('x-amz-tagging')
  const tags = parseTaggingHeader(h)
  return { tags, conditions: h === undefined ? {} : tagConditions('s3:RequestObjectTag', tags) }
}

const RETIRED_VERDICT_NAMES: ReadonlySet<string> = new Set([
  'strongroom-scan',
  'strongroom-scan-finding',
  'strongroom-quarantined',
])

export function userMetadata(r: S3Request): Record<string, string> {
  const out: Record<string, string> = {}
  let size = 0
  for (const [k, v] of Object.entries(r.req.headers)) {
    if (!k.startsWith('x-amz-meta-') || v === undefined) continue
    const value = Array.isArray(v) ? v.join(',') : v
    // Verdicts travel in x-strongroom-* headers (verdictHeaders). The three names that carried
    // them before are still dropped, never stored, so that a reader of the old headers cannot be
    // handed a verdict the uploader wrote (CHANGELOG: they are reserved until 1.0).
    const name = k.slice('x-amz-meta-'.length)
    if (RETIRED_VERDICT_NAMES.has(name)) continue
    size += name.length + value.length
    out[name] = value
  }
  if (size > MAX_METADATA_BYTES)
    throw new StrongroomError(
      'METADATA_TOO_LARGE',
      'Your metadata headers exceed the maximum allowed metadata size of 2 KB',
    )
  return out
}

/**
 * The scanner's verdict on a version, outside the user-metadata namespace so that metadata
 * round-trips as written: x-strongroom-scan, x-strongroom-scan-finding (the first finding) and
 * x-strongroom-quarantined.
 */
export function verdictHeaders(res: ServerResponse, bucket: BucketRecord, o: ObjectRecord): void {
  if (o.scan !== null) {
    res.setHeader('x-strongroom-scan', o.scan.verdict)
    const first = o.scan.findings[0]
    if (first !== undefined)
      res.setHeader(
        'x-strongroom-scan-finding',
        `${first.rule} ${first.subject ?? ''}`.trim().replace(/[^\x20-\x7e]/g, '?'),
      )
  }
  if (quarantined(bucket, o)) res.setHeader('x-strongroom-quarantined', 'true')
}

/** x-amz-checksum-* values as S3's XML fields (ChecksumCRC32, …). */
export function checksumFields(
  sums: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(sums ?? {}).map(([k, v]) => [
      `Checksum${k.slice('x-amz-checksum-'.length).toUpperCase()}`,
      v,
    ]),
  )
}

export function owner(t: TenantRecord | undefined): Node {
  return t === undefined ? undefined : { ID: t.id, DisplayName: t.name }
}

/** The versionId query parameter makes an object action its …Version form. */
export const versioned =
  (plain: string, version: string) =>
  (r: S3Request): string =>
    r.versionId === undefined ? plain : version

/**
 * The bucket owner's key that `asked` names, enabled. Another tenant's key, by id or by ARN,
 * answers exactly as a key that does not exist (the same code and message; only the echoed
 * reference differs), as AWS KMS resolves a bare key id in the caller's own account only.
 * The message names no tenant.
 */
export async function bucketOwnersKey(
  keys: Pick<KeyCatalog, 'find'>,
  owner: TenantRecord,
  asked: string,
): Promise<KeyRecord> {
  const key = await keys.find(owner, asked)
  if (key === undefined)
    throw new StrongroomError('KEY_NOT_FOUND', `Invalid keyId ${asked}: no such key`)
  if (key.state !== 'Enabled')
    throw new StrongroomError('KEY_DISABLED', `The key ${asked} is ${key.state}`)
  return key
}

/**
 * The tenant key a write seals under: the key x-amz-server-side-encryption-aws-kms-key-id names
 * (a key id, alias/NAME or either ARN; only the bucket owner's own keys), the tenant's default
 * key when the write asks for SSE-S3 (`AES256`: S3 manages that key, so the bucket's own key is
 * not it), else the bucket's key. Every object is sealed under a tenant key; only the label a
 * client sees follows what it asked (sseLabel).
 */
export async function writeKeyOf(
  keys: KeyCatalog,
  owner: () => Promise<TenantRecord>,
  bucket: BucketRecord,
  r: S3Request,
): Promise<string> {
  const sse = r.header('x-amz-server-side-encryption')
  if (sse !== undefined && sse !== 'aws:kms' && sse !== 'AES256')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'x-amz-server-side-encryption must be aws:kms or AES256 (every object is sealed under a tenant key)',
      { details: { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: sse } },
    )
  const asked = r.header('x-amz-server-side-encryption-aws-kms-key-id')
  if (sse === 'AES256') {
    if (asked !== undefined)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'x-amz-server-side-encryption-aws-kms-key-id is only allowed with aws:kms',
      )
    return (await defaultBucketKey(keys, await owner())).id
  }
  if (asked === undefined || asked === '') return bucket.keyId
  return (await bucketOwnersKey(keys, await owner(), asked)).id
}

/** The SSE label a write reports and keeps: what it asked for, else the bucket default's label. */
export function sseLabel(r: S3Request, bucket: BucketRecord): 'AES256' | 'aws:kms' {
  const asked = r.header('x-amz-server-side-encryption')
  if (asked === 'AES256' || asked === 'aws:kms') return asked
  return bucket.settings?.sse ?? 'aws:kms'
}

/** The system-defined metadata a write sets (ObjectRecord.system): what S3 stores of its headers. */
export function systemMetadata(r: S3Request, bucket: BucketRecord): SystemMetadata {
  const out: Partial<Record<(typeof SYSTEM_HEADERS)[number], string>> = {}
  for (const h of [
    'Cache-Control',
    'Content-Disposition',
    'Content-Language',
    'Expires',
  ] as const) {
    const v = r.header(h.toLowerCase())
    if (v !== undefined) out[h] = v
  }
  // aws-chunked describes the transfer, not the object: S3 stores the other codings only
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
  const codings = (r.header('content-encoding') ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c.toLowerCase() !== 'aws-chunked')
  if (codings.length > 0) out['Content-Encoding'] = codings.join(',')
  if (sseLabel(r, bucket) === 'AES256') out['x-amz-server-side-encryption'] = 'AES256'
  return out
}

/**
 * The SSE headers of a response about a version: `AES256` alone for a version written as SSE-S3,
 * else aws:kms and the key's ARN.
 */
export function sseHeaders(
  res: ServerResponse,
  system: SystemMetadata | undefined,
  keyArn: string,
): void {
  if (system?.['x-amz-server-side-encryption'] === 'AES256') {
    res.setHeader('x-amz-server-side-encryption', 'AES256')
    return
  }
  res.setHeader('x-amz-server-side-encryption', 'aws:kms')
  res.setHeader('x-amz-server-side-encryption-aws-kms-key-id', keyArn)
}

/**
 * The current version a multipart upload that is gone made, if it did: a repeated
 * CompleteMultipartUpload answers with it, as S3 does.
 */
export async function completedObject(
  meta: Pick<ObjectStore, 'getObject'>,
  r: S3Request,
): Promise<ObjectRecord | undefined> {
  const id = r.query.get('uploadId')
  if (r.bucketName === undefined || r.key === undefined || id === undefined) return undefined
  const o = await meta.getObject(r.bucketName, r.key)
  return o !== undefined && !o.deleteMarker && o.blob === `${MULTIPART_BLOB}${id}` ? o : undefined
}

/** A bucket-configuration operation: decided on the bucket, which must exist. */
export const onBucket = (
  name: string,
  method: 'GET' | 'PUT' | 'DELETE',
  sub: string,
  action: string,
  handler: (ctx: Authorized) => Promise<void>,
): Operation => ({
  name,
  match: { method, on: 'bucket', sub },
  action,
  resource: 'bucket',
  target: 'bucket',
  handler,
})

export function noSuchBucket(name: string): StrongroomError {
  return new StrongroomError('NO_SUCH_BUCKET', 'The specified bucket does not exist', {
    details: { BucketName: name },
  })
}
