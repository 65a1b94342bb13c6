/**
 * The one error model. Callers branch on `code`, never on message text; the
 * edges (CLI exit codes, AWS wire errors) map codes once. Messages are
 * lowercase, without a final period, with user input in backticks, and say
 * what to do about the problem where there is something to do.
 */

export const ERROR_CODES = [
  // usage and configuration
  'USAGE',
  'CONFIG_INVALID',
  'IO',
  // data directory and root of trust
  'DATA_DIR_MISSING',
  'DATA_DIR_FOREIGN',
  'DATA_DIR_EXISTS',
  'DATA_DIR_INSECURE',
  'ROOT_KEY_MISSING',
  'ROOT_KEY_INVALID',
  'ROOT_KEY_WRONG',
  // tenants and keys
  'TENANT_NOT_FOUND',
  'TENANT_EXISTS',
  'NAME_INVALID',
  'KEY_NOT_FOUND',
  'KEY_EXISTS',
  'KEY_DISABLED',
  'KEY_PENDING_DELETION',
  'KEY_DELETED',
  'KEY_STATE_INVALID',
  'KEY_UNWRAP_FAILED',
  // identity and store
  'USER_NOT_FOUND',
  'USER_EXISTS',
  'ROLE_NOT_FOUND',
  'ROLE_EXISTS',
  'BUCKET_EXISTS',
  'BUCKET_OWNED',
  'BUCKET_NOT_FOUND',
  'BUCKET_NAME_INVALID',
  'BUCKET_NAME_HELD',
  'BLOB_ID_INVALID',
  // encrypted-object format
  'NOT_ENCRYPTED_OBJECT',
  'UNSUPPORTED_FORMAT',
  'CORRUPT_HEADER',
  'HEADER_TAMPERED',
  'LOG_TAMPERED',
  'CONTEXT_MISMATCH',
  'WRONG_KEY',
  'TRUNCATED',
  'EXTENDED',
  'SEGMENT_REORDERED',
  'SEGMENT_FORGED',
  'BLOB_MISMATCH',
  'RANGE_NOT_SATISFIABLE',
  'LIMIT_EXCEEDED',
  'SCAN_REJECTED',
  // request bodies that do not match what the request declared (checked before anything commits)
  // (a Content-MD5 or payload hash that differs: BAD_DIGEST, CONTENT_SHA256_MISMATCH below)
  'LENGTH_MISMATCH',
  'CHECKSUM_MISMATCH',
  'CHECKSUM_MISSING',
  // model scanning: bytes that do not parse as the format they claim (always turned into a finding)
  'SCAN_MALFORMED',
  'INTERNAL',
  // requests at the API edge (each maps to one wire error in src/api/errors.ts)
  'ACCESS_DENIED',
  'AUTHORIZATION_HEADER_MALFORMED',
  'AUTHORIZATION_QUERY_PARAMETERS_ERROR',
  'BAD_DIGEST',
  'BAD_REQUEST',
  'BUCKET_ALREADY_OWNED_BY_YOU',
  'BUCKET_NOT_EMPTY',
  'ENTITY_TOO_LARGE',
  'ENTITY_TOO_SMALL',
  'EXPIRED_TOKEN',
  'INCOMPLETE_BODY',
  'INVALID_ACCESS_KEY_ID',
  'INVALID_ARGUMENT',
  'INVALID_BUCKET_NAME',
  'INVALID_DIGEST',
  'INVALID_PART',
  'INVALID_PART_ORDER',
  'INVALID_REQUEST',
  'INVALID_TAG',
  'KEY_TOO_LONG',
  'MALFORMED_POLICY',
  'MALFORMED_XML',
  'MAX_MESSAGE_LENGTH_EXCEEDED',
  'METADATA_TOO_LARGE',
  'METHOD_NOT_ALLOWED',
  'MISSING_CONTENT_LENGTH',
  'NO_SUCH_BUCKET',
  'NO_SUCH_BUCKET_POLICY',
  'NO_SUCH_KEY',
  'SLOW_DOWN',
  'NO_SUCH_UPLOAD',
  'NO_SUCH_VERSION',
  'NOT_IMPLEMENTED',
  'NOT_MODIFIED',
  'OPERATION_ABORTED',
  'PRECONDITION_FAILED',
  'REQUEST_TIME_TOO_SKEWED',
  'REQUEST_TIMEOUT',
  'SERVICE_UNAVAILABLE',
  'SIGNATURE_DOES_NOT_MATCH',
  'CONTENT_SHA256_MISMATCH',
  // bucket configuration S3 answers "not configured" for, ACLs, Object Lock
  'NO_SUCH_TAG_SET',
  'NO_SUCH_CORS_CONFIGURATION',
  'NO_SUCH_WEBSITE_CONFIGURATION',
  'NO_SUCH_LIFECYCLE_CONFIGURATION',
  'REPLICATION_CONFIGURATION_NOT_FOUND',
  'OBJECT_LOCK_CONFIGURATION_NOT_FOUND',
  'NO_SUCH_OBJECT_LOCK_CONFIGURATION',
  'NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION',
  'ACL_NOT_SUPPORTED',
  'INVALID_BUCKET_STATE',
  'INVALID_STORAGE_CLASS',
  // sessions (STS)
  'INVALID_TOKEN',
  'PACKED_POLICY_TOO_LARGE',
  // the query-protocol services (STS, IAM)
  'NO_SUCH_ENTITY',
  'ENTITY_EXISTS',
  'DELETE_CONFLICT',
  'VALIDATION',
  'INVALID_ACTION',
  'MISSING_PARAMETER',
  'INVALID_PARAMETER_VALUE',
  'MISSING_AUTHENTICATION',
  // web identity (AssumeRoleWithWebIdentity)
  'INVALID_IDENTITY_TOKEN',
  'EXPIRED_IDENTITY_TOKEN',
  'IDP_REJECTED_CLAIM',
  'IDP_COMMUNICATION_ERROR',
  // the JSON-protocol services (CloudTrail's LookupEvents)
  'INVALID_LOOKUP_ATTRIBUTES',
  'INVALID_TIME_RANGE',
  'INVALID_MAX_RESULTS',
  'INVALID_NEXT_TOKEN',
  'INVALID_EVENT_CATEGORY',
  // KMS's API (JSON 1.1)
  'INVALID_CIPHERTEXT',
  'INCORRECT_KEY',
  'INVALID_MARKER',
  // Organizations' API (JSON 1.1)
  'ORG_POLICY_NOT_FOUND',
  'ORG_POLICY_IN_USE',
  'ORG_TARGET_NOT_FOUND',
  'ORG_DUPLICATE_ATTACHMENT',
  'ORG_POLICY_NOT_ATTACHED',
  'ORG_CONSTRAINT_VIOLATION',
  'ORG_ACCOUNT_NOT_FOUND',
  'ORG_STATUS_NOT_FOUND',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export interface StrongroomErrorOptions extends ErrorOptions {
  /**
   * Named values a protocol may show its client beside the message (S3 adds them to its XML
   * error: BucketName, Key, …). Never secrets: they go on the wire.
   */
  readonly details?: Readonly<Record<string, string>>
}

export class StrongroomError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, string>>
  constructor(code: ErrorCode, message: string, options?: StrongroomErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.details = options?.details ?? {}
  }
}

export function isStrongroomError(e: unknown, code?: ErrorCode): e is StrongroomError {
  return e instanceof StrongroomError && (code === undefined || e.code === code)
}
