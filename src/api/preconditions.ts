/**
 * S3's conditional requests: If-Match, If-None-Match, If-Modified-Since and
 * If-Unmodified-Since (and their x-amz-copy-source-if-* forms), one implementation for GET,
 * HEAD, CopyObject and UploadPartCopy. The entity-tag conditions take precedence over the date
 * conditions they are paired with (RFC 9110 13.2.2), as AWS documents for GetObject and
 * HeadObject: "If both of the If-Match and If-Unmodified-Since headers are present in the
 * request as follows: If-Match condition evaluates to true, and If-Unmodified-Since condition
 * evaluates to false; then, S3 returns 200 OK and the data requested", and "If both of the
 * If-None-Match and If-Modified-Since headers are present … If-None-Match condition evaluates
 * to false, and If-Modified-Since condition evaluates to true; then, S3 returns 304 Not
 * Modified" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, also
 * https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/s3/aws.sdk.kotlin.services.s3.model/-get-object-request/if-match.html).
 * CopyObject documents the same pairs for its x-amz-copy-source-if-* headers, with 412 where a
 * read answers 304 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
 */
import { StrongroomError } from '../errors.ts'
import type { WriteCondition } from '../meta/objects.ts'

export interface Preconditions {
  readonly ifMatch: string | undefined
  readonly ifNoneMatch: string | undefined
  readonly ifModifiedSince: string | undefined
  readonly ifUnmodifiedSince: string | undefined
}

/** What the conditions say: go on, 304 (a read's "not modified"), or 412 naming the condition. */
export type Outcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 304 }
  | {
      readonly ok: false
      readonly status: 412
      readonly condition: 'If-Match' | 'If-Unmodified-Since'
    }

/** Whether a comma-separated If-Match / If-None-Match list names this ETag (or `*`); quotes optional. */
function etagIn(list: string, etag: string): boolean {
  return list
    .split(',')
    .some((t) => t.trim() === '*' || t.trim() === etag || `"${t.trim()}"` === etag)
}

/**
 * Evaluates the conditions against a version's ETag and Last-Modified (milliseconds, whole
 * seconds as S3 reports it). A date that does not parse is ignored, as RFC 9110 requires.
 */
export function evaluate(p: Preconditions, etag: string, lastModified: number): Outcome {
  if (p.ifMatch !== undefined) {
    if (!etagIn(p.ifMatch, etag)) return { ok: false, status: 412, condition: 'If-Match' }
  } else if (p.ifUnmodifiedSince !== undefined) {
    const t = Date.parse(p.ifUnmodifiedSince)
    if (!Number.isNaN(t) && t < lastModified)
      return { ok: false, status: 412, condition: 'If-Unmodified-Since' }
  }
  if (p.ifNoneMatch !== undefined) {
    if (etagIn(p.ifNoneMatch, etag)) return { ok: false, status: 304 }
  } else if (p.ifModifiedSince !== undefined) {
    const t = Date.parse(p.ifModifiedSince)
    if (!Number.isNaN(t) && lastModified <= t) return { ok: false, status: 304 }
  }
  return { ok: true }
}

/** The conditions of a read (GET, HEAD). */
export function readConditions(header: (name: string) => string | undefined): Preconditions {
  return {
    ifMatch: header('if-match'),
    ifNoneMatch: header('if-none-match'),
    ifModifiedSince: header('if-modified-since'),
    ifUnmodifiedSince: header('if-unmodified-since'),
  }
}

/** The conditions on a copy's source (CopyObject, UploadPartCopy). */
export function copySourceConditions(header: (name: string) => string | undefined): Preconditions {
  return {
    ifMatch: header('x-amz-copy-source-if-match'),
    ifNoneMatch: header('x-amz-copy-source-if-none-match'),
    ifModifiedSince: header('x-amz-copy-source-if-modified-since'),
    ifUnmodifiedSince: header('x-amz-copy-source-if-unmodified-since'),
  }
}

/**
 * The conditions of a write (PutObject): `If-None-Match: *` (no current object) and
 * `If-Match: ETAG` (the current object has that ETag), which the store checks as it commits
 * (src/meta/objects.ts `checkWriteCondition`). If-None-Match takes only `*` on a write: "Expects
 * the '*' (asterisk) character"
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); any other
 * value is NotImplemented. The date conditions do not apply to writes and are ignored, as S3
 * ignores them.
 */
export function writeConditions(
  header: (name: string) => string | undefined,
): WriteCondition | undefined {
  const none = header('if-none-match')?.trim()
  const match = header('if-match')?.trim()
  if (none === undefined && match === undefined) return undefined
  if (none !== undefined && none !== '*')
    throw new StrongroomError(
      'NOT_IMPLEMENTED',
      'A header you provided implies functionality that is not implemented: If-None-Match on a write takes only `*`',
    )
  if (match === '')
    throw new StrongroomError('INVALID_ARGUMENT', 'If-Match needs an ETag', {
      details: { ArgumentName: 'If-Match' },
    })
  return {
    ...(none === undefined ? {} : { ifNoneMatch: true }),
    ...(match === undefined ? {} : { ifMatch: match }),
  }
}
