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
  'BUCKET_EXISTS',
  // encrypted-object format
  'NOT_ENCRYPTED_OBJECT',
  'UNSUPPORTED_FORMAT',
  'CORRUPT_HEADER',
  'HEADER_TAMPERED',
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
  'LENGTH_MISMATCH',
  'BAD_DIGEST',
  'CHECKSUM_MISMATCH',
  'CHECKSUM_MISSING',
  'PAYLOAD_SHA256_MISMATCH',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export class StrongroomError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

export function isStrongroomError(e: unknown, code?: ErrorCode): e is StrongroomError {
  return e instanceof StrongroomError && (code === undefined || e.code === code)
}
