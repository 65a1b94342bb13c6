/**
 * What several S3 operation groups share: the existing-object and copy-source reads the
 * pipeline decides on, response headers for versions, user metadata, request tags, limits.
 */
import type { ServerResponse } from 'node:http'
import { StrongroomError } from '../../errors.ts'
import type { BucketRecord, ObjectRecord, Tags } from '../../meta/objects.ts'
import type { TenantRecord } from '../../meta/identity.ts'
import type { KeyRecord } from '../../meta/keys.ts'
import { isVersionId } from '../../store/objects.ts'
import type { Conditions, S3Request } from '../operation.ts'
import type { Pipeline } from '../pipeline.ts'
import type { RequestState } from '../request-state.ts'
import type { KeyCatalog } from '../../kms/catalog.ts'
import { copySourceConditions, evaluate } from '../preconditions.ts'
import { splitPath } from '../protocols/rest-xml.ts'
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

export function userMetadata(r: S3Request): Record<string, string> {
  const out: Record<string, string> = {}
  let size = 0
  for (const [k, v] of Object.entries(r.req.headers)) {
    if (!k.startsWith('x-amz-meta-') || v === undefined) continue
    const value = Array.isArray(v) ? v.join(',') : v
    const name = k.slice('x-amz-meta-'.length)
    // strongroom-* is Strongroom's own (scan verdicts): a client's copy is dropped, never stored,
    // so metadata that round-trips through a download and an upload cannot vouch for itself.
    if (name.startsWith('strongroom-')) continue
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

export function noSuchBucket(name: string): StrongroomError {
  return new StrongroomError('NO_SUCH_BUCKET', 'The specified bucket does not exist', {
    details: { BucketName: name },
  })
}
