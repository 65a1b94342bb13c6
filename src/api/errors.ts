/**
 * S3's error codes and HTTP statuses
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), and
 * the one mapping from Strongroom's internal codes to them: a new ErrorCode
 * does not compile until it has a wire mapping here.
 */
import { StrongroomError, type ErrorCode } from '../errors.ts'

export const S3_ERRORS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidTag: 400,
  KeyTooLongError: 400,
  'KMS.DisabledException': 400,
  'KMS.NotFoundException': 400,
  MalformedPolicy: 400,
  MalformedXML: 400,
  MaxMessageLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchBucketPolicy: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  NotModified: 304,
  OperationAborted: 409,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
} as const

export type S3Code = keyof typeof S3_ERRORS

export class ApiError extends Error {
  readonly code: S3Code
  readonly status: number
  /** Extra XML elements S3 adds for this error (BucketName, Key, …). */
  readonly extra: Readonly<Record<string, string>>
  constructor(code: S3Code, message: string, extra: Record<string, string> = {}) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = S3_ERRORS[code]
    this.extra = extra
  }
}

/** How each internal error reaches the wire. Errors of the CLI and setup never reach it: InternalError. */
const FROM_INTERNAL: Readonly<Record<ErrorCode, S3Code>> = {
  USAGE: 'InvalidArgument',
  CONFIG_INVALID: 'InvalidArgument',
  IO: 'InternalError',
  DATA_DIR_MISSING: 'InternalError',
  DATA_DIR_FOREIGN: 'InternalError',
  DATA_DIR_EXISTS: 'InternalError',
  DATA_DIR_INSECURE: 'InternalError',
  ROOT_KEY_MISSING: 'InternalError',
  ROOT_KEY_INVALID: 'InternalError',
  ROOT_KEY_WRONG: 'InternalError',
  TENANT_NOT_FOUND: 'AccessDenied',
  TENANT_EXISTS: 'InvalidArgument',
  NAME_INVALID: 'InvalidArgument',
  KEY_NOT_FOUND: 'KMS.NotFoundException',
  KEY_EXISTS: 'InvalidArgument',
  KEY_DISABLED: 'KMS.DisabledException',
  KEY_PENDING_DELETION: 'KMS.DisabledException',
  KEY_DELETED: 'KMS.NotFoundException',
  KEY_STATE_INVALID: 'InvalidArgument',
  KEY_UNWRAP_FAILED: 'InternalError',
  USER_NOT_FOUND: 'AccessDenied',
  USER_EXISTS: 'InvalidArgument',
  BUCKET_EXISTS: 'BucketAlreadyExists',
  NOT_ENCRYPTED_OBJECT: 'InternalError',
  UNSUPPORTED_FORMAT: 'InternalError',
  CORRUPT_HEADER: 'InternalError',
  HEADER_TAMPERED: 'InternalError',
  CONTEXT_MISMATCH: 'InternalError',
  WRONG_KEY: 'InternalError',
  TRUNCATED: 'InternalError',
  EXTENDED: 'InternalError',
  SEGMENT_REORDERED: 'InternalError',
  SEGMENT_FORGED: 'InternalError',
  BLOB_MISMATCH: 'InternalError',
  RANGE_NOT_SATISFIABLE: 'InvalidRange',
  LIMIT_EXCEEDED: 'InvalidArgument',
  SCAN_REJECTED: 'InvalidRequest',
  LENGTH_MISMATCH: 'IncompleteBody',
  BAD_DIGEST: 'BadDigest',
  CHECKSUM_MISMATCH: 'BadDigest',
  CHECKSUM_MISSING: 'InvalidRequest',
  PAYLOAD_SHA256_MISMATCH: 'XAmzContentSHA256Mismatch',
  INTERNAL: 'InternalError',
}

/**
 * The error a client sees. Internal failures (a tampered blob, a wrong key)
 * become InternalError with no detail: the detail goes to the log only.
 */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e
  if (e instanceof StrongroomError) {
    const code = FROM_INTERNAL[e.code]
    return new ApiError(
      code,
      code === 'InternalError' ? 'We encountered an internal error. Please try again.' : e.message,
    )
  }
  return new ApiError('InternalError', 'We encountered an internal error. Please try again.')
}
