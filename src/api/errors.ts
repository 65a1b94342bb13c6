/**
 * S3's error codes and HTTP statuses
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), and
 * the one mapping from Strongroom's error codes to them, applied once at the
 * S3 codec's edge: a new ErrorCode does not compile until it has a wire
 * mapping here. Handlers throw `StrongroomError` only.
 */
import { StrongroomError, type ErrorCode } from '../errors.ts'
import { xmlDocument } from './xml.ts'

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
  InvalidToken: 400,
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
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  NoSuchTagSet: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchWebsiteConfiguration: 404,
  NoSuchLifecycleConfiguration: 404,
  ReplicationConfigurationNotFoundError: 404,
  ObjectLockConfigurationNotFoundError: 404,
  NoSuchObjectLockConfiguration: 404,
  NoSuchPublicAccessBlockConfiguration: 404,
  AccessControlListNotSupported: 400,
  InvalidBucketState: 409,
  InvalidStorageClass: 400,
} as const

export type S3Code = keyof typeof S3_ERRORS

/** How each error reaches the wire. Errors of the CLI and setup never reach it: InternalError. */
const S3_WIRE: Readonly<Record<ErrorCode, S3Code>> = {
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
  ROLE_NOT_FOUND: 'AccessDenied',
  ROLE_EXISTS: 'InvalidArgument',
  BUCKET_EXISTS: 'BucketAlreadyExists',
  BUCKET_OWNED: 'BucketAlreadyOwnedByYou',
  BUCKET_NOT_FOUND: 'NoSuchBucket',
  BUCKET_NAME_INVALID: 'InvalidBucketName',
  BUCKET_NAME_HELD: 'OperationAborted',
  BLOB_ID_INVALID: 'InternalError',
  NOT_ENCRYPTED_OBJECT: 'InternalError',
  UNSUPPORTED_FORMAT: 'InternalError',
  CORRUPT_HEADER: 'InternalError',
  HEADER_TAMPERED: 'InternalError',
  LOG_TAMPERED: 'ServiceUnavailable',
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
  CHECKSUM_MISMATCH: 'BadDigest',
  CHECKSUM_MISSING: 'InvalidRequest',
  SCAN_MALFORMED: 'InternalError',
  INTERNAL: 'InternalError',
  ACCESS_DENIED: 'AccessDenied',
  AUTHORIZATION_HEADER_MALFORMED: 'AuthorizationHeaderMalformed',
  AUTHORIZATION_QUERY_PARAMETERS_ERROR: 'AuthorizationQueryParametersError',
  BAD_DIGEST: 'BadDigest',
  BAD_REQUEST: 'BadRequest',
  BUCKET_ALREADY_OWNED_BY_YOU: 'BucketAlreadyOwnedByYou',
  BUCKET_NOT_EMPTY: 'BucketNotEmpty',
  ENTITY_TOO_LARGE: 'EntityTooLarge',
  ENTITY_TOO_SMALL: 'EntityTooSmall',
  EXPIRED_TOKEN: 'ExpiredToken',
  INCOMPLETE_BODY: 'IncompleteBody',
  INVALID_ACCESS_KEY_ID: 'InvalidAccessKeyId',
  INVALID_ARGUMENT: 'InvalidArgument',
  INVALID_BUCKET_NAME: 'InvalidBucketName',
  INVALID_DIGEST: 'InvalidDigest',
  INVALID_PART: 'InvalidPart',
  INVALID_PART_ORDER: 'InvalidPartOrder',
  INVALID_REQUEST: 'InvalidRequest',
  INVALID_TAG: 'InvalidTag',
  KEY_TOO_LONG: 'KeyTooLongError',
  MALFORMED_POLICY: 'MalformedPolicy',
  MALFORMED_XML: 'MalformedXML',
  MAX_MESSAGE_LENGTH_EXCEEDED: 'MaxMessageLengthExceeded',
  METADATA_TOO_LARGE: 'MetadataTooLarge',
  METHOD_NOT_ALLOWED: 'MethodNotAllowed',
  MISSING_CONTENT_LENGTH: 'MissingContentLength',
  NO_SUCH_BUCKET: 'NoSuchBucket',
  NO_SUCH_BUCKET_POLICY: 'NoSuchBucketPolicy',
  NO_SUCH_KEY: 'NoSuchKey',
  SLOW_DOWN: 'SlowDown',
  NO_SUCH_UPLOAD: 'NoSuchUpload',
  NO_SUCH_VERSION: 'NoSuchVersion',
  NOT_IMPLEMENTED: 'NotImplemented',
  NOT_MODIFIED: 'NotModified',
  OPERATION_ABORTED: 'OperationAborted',
  PRECONDITION_FAILED: 'PreconditionFailed',
  REQUEST_TIME_TOO_SKEWED: 'RequestTimeTooSkewed',
  REQUEST_TIMEOUT: 'RequestTimeout',
  SERVICE_UNAVAILABLE: 'ServiceUnavailable',
  SIGNATURE_DOES_NOT_MATCH: 'SignatureDoesNotMatch',
  CONTENT_SHA256_MISMATCH: 'XAmzContentSHA256Mismatch',
  NO_SUCH_TAG_SET: 'NoSuchTagSet',
  NO_SUCH_CORS_CONFIGURATION: 'NoSuchCORSConfiguration',
  NO_SUCH_WEBSITE_CONFIGURATION: 'NoSuchWebsiteConfiguration',
  NO_SUCH_LIFECYCLE_CONFIGURATION: 'NoSuchLifecycleConfiguration',
  REPLICATION_CONFIGURATION_NOT_FOUND: 'ReplicationConfigurationNotFoundError',
  OBJECT_LOCK_CONFIGURATION_NOT_FOUND: 'ObjectLockConfigurationNotFoundError',
  NO_SUCH_OBJECT_LOCK_CONFIGURATION: 'NoSuchObjectLockConfiguration',
  NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION: 'NoSuchPublicAccessBlockConfiguration',
  ACL_NOT_SUPPORTED: 'AccessControlListNotSupported',
  INVALID_BUCKET_STATE: 'InvalidBucketState',
  INVALID_STORAGE_CLASS: 'InvalidStorageClass',
  INVALID_TOKEN: 'InvalidToken',
  PACKED_POLICY_TOO_LARGE: 'InvalidRequest',
  NO_SUCH_ENTITY: 'InvalidArgument',
  ENTITY_EXISTS: 'InvalidArgument',
  DELETE_CONFLICT: 'InvalidArgument',
  VALIDATION: 'InvalidArgument',
  INVALID_ACTION: 'NotImplemented',
  MISSING_PARAMETER: 'InvalidArgument',
  INVALID_PARAMETER_VALUE: 'InvalidArgument',
  MISSING_AUTHENTICATION: 'AccessDenied',
  INVALID_IDENTITY_TOKEN: 'AccessDenied',
  EXPIRED_IDENTITY_TOKEN: 'AccessDenied',
  IDP_REJECTED_CLAIM: 'AccessDenied',
  IDP_COMMUNICATION_ERROR: 'ServiceUnavailable',
  INVALID_LOOKUP_ATTRIBUTES: 'InvalidArgument',
  INVALID_TIME_RANGE: 'InvalidArgument',
  INVALID_MAX_RESULTS: 'InvalidArgument',
  INVALID_NEXT_TOKEN: 'InvalidArgument',
  INVALID_EVENT_CATEGORY: 'InvalidArgument',
  INVALID_CIPHERTEXT: 'InvalidArgument',
  INCORRECT_KEY: 'InvalidArgument',
  INVALID_MARKER: 'InvalidArgument',
  ORG_POLICY_NOT_FOUND: 'InvalidArgument',
  ORG_POLICY_IN_USE: 'InvalidArgument',
  ORG_TARGET_NOT_FOUND: 'InvalidArgument',
  ORG_DUPLICATE_ATTACHMENT: 'InvalidArgument',
  ORG_POLICY_NOT_ATTACHED: 'InvalidArgument',
  ORG_CONSTRAINT_VIOLATION: 'InvalidArgument',
  ORG_ACCOUNT_NOT_FOUND: 'InvalidArgument',
  ORG_STATUS_NOT_FOUND: 'InvalidArgument',
}

/**
 * S3's own wording for errors that a service raises in its own words (BucketService): the
 * service's message names things for an operator, S3 clients get S3's sentence. The details
 * (BucketName) are the service's.
 */
const S3_MESSAGE: Partial<Readonly<Record<ErrorCode, string>>> = {
  BUCKET_NAME_INVALID:
    'The specified bucket is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
  BUCKET_OWNED:
    'Your previous request to create the named bucket succeeded and you already own it.',
  BUCKET_EXISTS:
    'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
  BUCKET_NAME_HELD:
    'A conflicting conditional operation is currently in progress against this resource. Please try again.',
}

/** An error as S3 puts it on the wire. */
export interface S3WireError {
  readonly code: S3Code
  readonly status: number
  readonly message: string
  /** Extra XML elements S3 adds for this error (BucketName, Key, …). */
  readonly extra: Readonly<Record<string, string>>
}

const INTERNAL_MESSAGE = 'We encountered an internal error. Please try again.'

/**
 * The error a client sees: the one mapping at the S3 edge. Internal failures (a tampered
 * blob, a wrong key, a bug) become InternalError with no detail: the detail goes to the log
 * only, by request id.
 */
export function toApiError(e: unknown): S3WireError {
  if (e instanceof StrongroomError) {
    const code = S3_WIRE[e.code]
    if (code === 'InternalError')
      return { code, status: S3_ERRORS[code], message: INTERNAL_MESSAGE, extra: {} }
    const message = S3_MESSAGE[e.code] ?? e.message
    return { code, status: S3_ERRORS[code], message, extra: e.details }
  }
  return { code: 'InternalError', status: 500, message: INTERNAL_MESSAGE, extra: {} }
}

/** S3's XML error document. */
export function errorXml(e: S3WireError, resource: string, requestId: string): string {
  return xmlDocument('Error', {
    Code: e.code,
    Message: e.message,
    ...e.extra,
    Resource: resource,
    RequestId: requestId,
  }).replace(' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', '')
}
