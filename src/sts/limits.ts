/**
 * What STS accepts in a session request, with AWS's limits and wording
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
 * API_GetFederationToken.html, API_GetSessionToken.html): session names, durations, session
 * tags, source identities and session policies. Pure: every function checks and returns.
 */
import { StrongroomError } from '../errors.ts'
import { validPolicy } from '../identity/roles.ts'

/** RoleSessionName and SourceIdentity: 2 to 64 of letters, digits and + = , . @ _ - */
export const SESSION_NAME = /^[\w+=,.@-]{2,64}$/
/** GetFederationToken's Name: 2 to 32 of the same. */
const FEDERATED_NAME = /^[\w+=,.@-]{2,32}$/
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u
/** The most session tags a request may pass. */
export const MAX_SESSION_TAGS = 50
/** The most characters of an inline session policy. */
export const MAX_SESSION_POLICY = 2048
/** A session made by a session assuming a role lasts at most an hour. */
export const CHAINED_MAX_SECONDS = 3600

function invalid(value: string, field: string, constraint: string): StrongroomError {
  return new StrongroomError(
    'VALIDATION',
    `1 validation error detected: Value '${value.slice(0, 80)}' at '${field}' failed to satisfy constraint: ${constraint}`,
  )
}

export function sessionName(value: string, field = 'roleSessionName'): string {
  if (value.length < 2 || value.length > 64)
    throw invalid(value, field, 'Member must have length between 2 and 64')
  if (!SESSION_NAME.test(value))
    throw invalid(value, field, 'Member must satisfy regular expression pattern: [\\w+=,.@-]*')
  return value
}

export function federatedName(value: string): string {
  if (!FEDERATED_NAME.test(value))
    throw invalid(
      value,
      'name',
      'Member must have length between 2 and 32 and satisfy regular expression pattern: [\\w+=,.@-]*',
    )
  return value
}

export function externalId(value: string): string {
  if (!EXTERNAL_ID.test(value))
    throw invalid(
      value,
      'externalId',
      'Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*',
    )
  return value
}

/**
 * DurationSeconds: at least 900, at most `max` (the role's maximum session, 1 hour for a
 * chained session, 36 hours for GetSessionToken and GetFederationToken).
 */
export function duration(
  given: string | undefined,
  fallback: number,
  max: number,
  tooLong: string,
): number {
  if (given === undefined) return Math.min(fallback, max)
  if (!/^\d{1,9}$/.test(given))
    throw invalid(given, 'durationSeconds', 'Member must be a whole number of seconds')
  const n = Number(given)
  if (n < 900)
    throw invalid(given, 'durationSeconds', 'Member must have value greater than or equal to 900')
  if (n > max) throw new StrongroomError('VALIDATION', tooLong)
  return n
}

/** Session tags: at most 50, keys unique regardless of case, AWS's characters and lengths. */
export function sessionTags(
  given: readonly { Key: string | undefined; Value: string | undefined }[],
): [string, string][] {
  if (given.length > MAX_SESSION_TAGS)
    throw invalid(
      `${String(given.length)} tags`,
      'tags',
      `Member must have length less than or equal to ${String(MAX_SESSION_TAGS)}`,
    )
  const seen = new Set<string>()
  return given.map(({ Key: k, Value: v }, i) => {
    const at = `tags.${String(i + 1)}.member`
    if (k === undefined || !TAG_KEY.test(k))
      throw invalid(
        k ?? '',
        `${at}.key`,
        'Member must have length between 1 and 128 and consist of letters, digits, spaces and _ . : / = + - @',
      )
    if (v === undefined || !TAG_VALUE.test(v))
      throw invalid(
        v ?? '',
        `${at}.value`,
        'Member must have length at most 256 and consist of letters, digits, spaces and _ . : / = + - @',
      )
    if (seen.has(k.toLowerCase()))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `Duplicate tag keys found: ${k.slice(0, 128)}. Tag keys are case insensitive.`,
      )
    seen.add(k.toLowerCase())
    return [k, v]
  })
}

/** The inline session policy: at most 2,048 characters, and a valid policy. */
export function sessionPolicy(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  if (text.length > MAX_SESSION_POLICY)
    throw invalid(
      `${text.slice(0, 40)}…`,
      'policy',
      `Member must have length less than or equal to ${String(MAX_SESSION_POLICY)}`,
    )
  validPolicy(text, 'session', 'Policy')
  return text
}

/** The most managed session policies a request may name. */
export const MAX_SESSION_POLICY_ARNS = 10
const POLICY_ARN = /^arn:aws:iam::(\d{12}):policy((?:\/[\x21-\x7e]*)?\/)([\w+=,.@-]{1,128})$/

/**
 * PolicyArns: at most ten managed policies of `account` (the role's; the federated user's), by
 * ARN, whose text with the inline policy's stays within 2,048 characters ("the plaintext that
 * you use for both inline and managed session policies can't exceed 2,048 characters",
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). Returns the policies'
 * names; whether each exists is the caller's to check.
 */
export function sessionPolicyArns(
  arns: readonly (string | undefined)[],
  inline: string | undefined,
  account: string,
): { readonly arn: string; readonly name: string }[] {
  if (arns.length > MAX_SESSION_POLICY_ARNS)
    throw invalid(
      `${String(arns.length)} ARNs`,
      'policyArns',
      `Member must have length less than or equal to ${String(MAX_SESSION_POLICY_ARNS)}`,
    )
  let plaintext = inline?.length ?? 0
  const out = arns.map((arn, i) => {
    const field = `policyArns.${String(i + 1)}.member.arn`
    if (arn === undefined || arn.length < 20 || arn.length > 2048)
      throw invalid(arn ?? '', field, 'Member must have length between 20 and 2048')
    const m = POLICY_ARN.exec(arn)
    if (m === null)
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `${arn.slice(0, 300)} is not a policy ARN.`,
      )
    if (m[1] !== account)
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `The policy ${arn.slice(0, 300)} is not in account ${account}: managed session policies must be in the same account as the role or user.`,
      )
    plaintext += arn.length
    return { arn, name: m[3] ?? '' }
  })
  if (plaintext > MAX_SESSION_POLICY)
    throw invalid(
      `${String(plaintext)} characters`,
      'policy',
      `The inline and managed session policies together must have length less than or equal to ${String(MAX_SESSION_POLICY)}`,
    )
  return out
}
