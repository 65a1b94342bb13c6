/**
 * The AWS JSON 1.1 protocol, as CloudTrail speaks it (and KMS and Organizations next): a POST
 * to `/` whose `X-Amz-Target` header names the operation (`PREFIX.Operation`), a JSON object
 * as the body, `application/x-amz-json-1.1` both ways; an error is `{"__type", "message"}`
 * with the type in `x-amzn-ErrorType` too
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
 *
 * A request speaks JSON 1.1 when its SigV4 credential scope names one of these services, or,
 * unsigned, when its `X-Amz-Target` names one (so that it is refused in its own protocol).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { StrongroomError, type ErrorCode } from '../../errors.ts'
import { readSmallBody } from '../body.ts'
import { toApiError } from '../errors.ts'
import { scopeService, type RequestView } from '../sigv4.ts'

export const JSON_SERVICES = {
  // https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
  cloudtrail: { target: 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101' },
  // https://docs.aws.amazon.com/kms/latest/APIReference/Welcome.html
  kms: { target: 'TrentService' },
  // https://docs.aws.amazon.com/organizations/latest/APIReference/Welcome.html
  organizations: { target: 'AWSOrganizationsV20161128' },
} as const

export type JsonService = keyof typeof JSON_SERVICES

/** The largest request body read: these APIs take a few filters or a policy document. */
export const MAX_JSON_BODY = 64 * 1024

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1'

/** A decoded JSON 1.1 request: the operation, its input, and what SigV4 needs to verify it. */
export interface JsonRequest {
  readonly req: IncomingMessage
  readonly service: JsonService
  readonly operation: string
  readonly input: Readonly<Record<string, unknown>>
  readonly view: RequestView
  readonly pairs: readonly [string, string][]
  /** Hex SHA-256 of the body, which SigV4 signs for these services. */
  readonly bodyHash: string
}

const isService = (s: string): s is JsonService => Object.hasOwn(JSON_SERVICES, s)

function targetService(view: RequestView): JsonService | undefined {
  const target = view.headers['x-amz-target']
  if (typeof target !== 'string') return undefined
  const prefix = target.slice(0, target.lastIndexOf('.'))
  return (Object.keys(JSON_SERVICES) as JsonService[]).find(
    (s) => JSON_SERVICES[s].target === prefix,
  )
}

/** The request's service if it speaks JSON 1.1; undefined for every other protocol. */
export function jsonServiceOf(
  view: RequestView,
  pairs: readonly [string, string][],
): JsonService | undefined {
  const scoped = scopeService(view, pairs)
  if (scoped !== undefined) return isService(scoped) ? scoped : undefined
  return view.rawPath === '/' ? targetService(view) : undefined
}

/** The request whose answer is in JSON form: its errors are too. */
const JSON_REQUESTS = new WeakMap<IncomingMessage, JsonService>()

export function jsonServiceOfRequest(req: IncomingMessage): JsonService | undefined {
  return JSON_REQUESTS.get(req)
}

const serialization = (m: string) => new StrongroomError('BAD_REQUEST', m)

/** Reads the body (at most MAX_JSON_BODY bytes) and the operation it names. */
export async function decodeJson(
  req: IncomingMessage,
  view: RequestView,
  pairs: readonly [string, string][],
  service: JsonService,
): Promise<JsonRequest> {
  JSON_REQUESTS.set(req, service)
  if (view.method !== 'POST' || view.rawPath !== '/')
    throw new StrongroomError(
      'INVALID_ACTION',
      `${service} takes POST requests to /, not ${view.method.slice(0, 16)} ${view.rawPath.slice(0, 64)}`,
    )
  const target = view.headers['x-amz-target']
  const prefix = `${JSON_SERVICES[service].target}.`
  if (typeof target !== 'string' || !target.startsWith(prefix))
    throw new StrongroomError(
      'INVALID_ACTION',
      `the X-Amz-Target header must name a ${service} operation: ${prefix}OPERATION`,
    )
  const operation = target.slice(prefix.length)
  if (!/^[A-Za-z]{1,64}$/.test(operation))
    throw new StrongroomError('INVALID_ACTION', `\`${operation.slice(0, 64)}\` is not an operation`)
  const type = view.headers['content-type']
  if (typeof type !== 'string' || type.split(';')[0]?.trim().toLowerCase() !== JSON_CONTENT_TYPE)
    throw serialization(`the request body must be ${JSON_CONTENT_TYPE}`)
  const body = await readBody(req)
  return {
    req,
    service,
    operation,
    input: parseInput(body),
    view,
    pairs,
    bodyHash: createHash('sha256').update(body).digest('hex'),
  }
}

/** The body as a JSON object; an empty body is an empty input, as the SDKs send none sometimes. */
export function parseInput(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (e) {
    throw new StrongroomError('BAD_REQUEST', 'the request body is not JSON', { cause: e })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw serialization('the request body must be a JSON object')
  if (depthOver(value, MAX_DEPTH))
    throw serialization(`the request body nests deeper than ${String(MAX_DEPTH)} levels`)
  return value as Record<string, unknown>
}

/**
 * How deep an input may nest: these APIs' inputs are a few levels deep; an input thousands of
 * levels deep is refused here, before anything (an audit event's JSON.stringify) recurses into it.
 */
export const MAX_DEPTH = 16

/** Whether `value` nests deeper than `max` objects or arrays, walked without recursion. */
function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, depth] = next
    if (typeof v !== 'object' || v === null) continue
    if (depth > max) return true
    for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

/** The body, at most the limit (SigV4 checks its hash against the signature afterwards). */
const readBody = (req: IncomingMessage) => readSmallBody(req, MAX_JSON_BODY, undefined, tooLarge)

const tooLarge = () =>
  new StrongroomError(
    'VALIDATION',
    `the request body is larger than ${MAX_JSON_BODY / 1024} KiB, the most a JSON request may send`,
  )

/** The answer to a successful call. */
export function sendJsonResult(
  res: ServerResponse,
  requestId: string,
  result: Readonly<Record<string, unknown>>,
): void {
  const body = JSON.stringify(result)
  res.statusCode = 200
  res.setHeader('x-amzn-RequestId', requestId)
  res.setHeader('Content-Type', JSON_CONTENT_TYPE)
  res.setHeader('Content-Length', String(Buffer.byteLength(body)))
  res.end(body)
}

/**
 * How each of our errors reads in the JSON services' words. What is not here takes its S3
 * reading: AccessDenied, SlowDown, ServiceUnavailable and InternalError have JSON names below,
 * anything else is a ValidationException.
 */
const JSON_WIRE: Partial<Readonly<Record<ErrorCode, readonly [string, number]>>> = {
  ACCESS_DENIED: ['AccessDeniedException', 400],
  INVALID_ACCESS_KEY_ID: ['UnrecognizedClientException', 400],
  INVALID_TOKEN: ['UnrecognizedClientException', 400],
  EXPIRED_TOKEN: ['ExpiredTokenException', 400],
  SIGNATURE_DOES_NOT_MATCH: ['InvalidSignatureException', 400],
  REQUEST_TIME_TOO_SKEWED: ['InvalidSignatureException', 400],
  AUTHORIZATION_HEADER_MALFORMED: ['IncompleteSignatureException', 400],
  AUTHORIZATION_QUERY_PARAMETERS_ERROR: ['IncompleteSignatureException', 400],
  MISSING_AUTHENTICATION: ['MissingAuthenticationTokenException', 400],
  INVALID_ACTION: ['UnknownOperationException', 400],
  NOT_IMPLEMENTED: ['UnknownOperationException', 400],
  BAD_REQUEST: ['SerializationException', 400],
  SLOW_DOWN: ['ThrottlingException', 400],
  SERVICE_UNAVAILABLE: ['ServiceUnavailableException', 503],
  LOG_TAMPERED: ['ServiceUnavailableException', 503],
  // https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html#API_LookupEvents_Errors
  INVALID_LOOKUP_ATTRIBUTES: ['InvalidLookupAttributesException', 400],
  INVALID_TIME_RANGE: ['InvalidTimeRangeException', 400],
  INVALID_MAX_RESULTS: ['InvalidMaxResultsException', 400],
  INVALID_NEXT_TOKEN: ['InvalidNextTokenException', 400],
  INVALID_EVENT_CATEGORY: ['InvalidEventCategoryException', 400],
  // https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html and each action's
  KEY_NOT_FOUND: ['NotFoundException', 400],
  KEY_DELETED: ['NotFoundException', 400],
  KEY_DISABLED: ['DisabledException', 400],
  KEY_PENDING_DELETION: ['KMSInvalidStateException', 400],
  KEY_STATE_INVALID: ['KMSInvalidStateException', 400],
  KEY_EXISTS: ['AlreadyExistsException', 400],
  INVALID_CIPHERTEXT: ['InvalidCiphertextException', 400],
  INCORRECT_KEY: ['IncorrectKeyException', 400],
  MALFORMED_POLICY: ['MalformedPolicyDocumentException', 400],
  INVALID_MARKER: ['InvalidMarkerException', 400],
  LIMIT_EXCEEDED: ['LimitExceededException', 400],
  INVALID_TAG: ['TagException', 400],
  NAME_INVALID: ['ValidationException', 400],
}

/**
 * Where a service words an error its own way: Organizations' errors
 * (https://docs.aws.amazon.com/organizations/latest/APIReference/CommonErrors.html and each
 * action's).
 */
const SERVICE_WIRE: Partial<Record<JsonService, Partial<Record<ErrorCode, [string, number]>>>> = {
  organizations: {
    VALIDATION: ['InvalidInputException', 400],
    NAME_INVALID: ['InvalidInputException', 400],
    INVALID_MARKER: ['InvalidInputException', 400],
    ENTITY_EXISTS: ['DuplicatePolicyException', 400],
    MALFORMED_POLICY: ['MalformedPolicyDocumentException', 400],
    TENANT_EXISTS: ['DuplicateAccountException', 400],
    ORG_POLICY_NOT_FOUND: ['PolicyNotFoundException', 400],
    ORG_POLICY_IN_USE: ['PolicyInUseException', 400],
    ORG_TARGET_NOT_FOUND: ['TargetNotFoundException', 400],
    ORG_DUPLICATE_ATTACHMENT: ['DuplicatePolicyAttachmentException', 400],
    ORG_POLICY_NOT_ATTACHED: ['PolicyNotAttachedException', 400],
    ORG_CONSTRAINT_VIOLATION: ['ConstraintViolationException', 400],
    ORG_ACCOUNT_NOT_FOUND: ['AccountNotFoundException', 400],
    ORG_STATUS_NOT_FOUND: ['CreateAccountStatusNotFoundException', 400],
  },
}

/** The error as a JSON service answers it. Internal failures say nothing more than S3's do. */
export function encodeJsonError(
  e: unknown,
  service?: JsonService,
): {
  readonly code: string
  readonly status: number
  readonly body: string
} {
  const s3 = toApiError(e)
  const mapped =
    e instanceof StrongroomError
      ? ((service === undefined ? undefined : SERVICE_WIRE[service]?.[e.code]) ?? JSON_WIRE[e.code])
      : undefined
  const [code, status] =
    mapped ??
    (s3.code === 'InternalError'
      ? ['InternalFailure', 500]
      : s3.code === 'AccessDenied'
        ? ['AccessDeniedException', 400]
        : s3.code === 'ServiceUnavailable' || s3.code === 'SlowDown'
          ? ['ServiceUnavailableException', 503]
          : ['ValidationException', 400])
  return { code, status, body: JSON.stringify({ __type: code, message: s3.message }) }
}

/**
 * Refuses a member the operation does not take: a misspelt filter silently ignored would
 * answer a question nobody asked.
 */
export function onlyMembers(
  input: Readonly<Record<string, unknown>>,
  operation: string,
  members: readonly string[],
): void {
  for (const k of Object.keys(input))
    if (!members.includes(k))
      throw new StrongroomError(
        'VALIDATION',
        `${operation} does not take the member ${k.slice(0, 64)}; it takes ${members.join(', ')}`,
      )
}
