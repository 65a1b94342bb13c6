/**
 * The AWS query protocol, as IAM (2010-05-08) and STS (2011-06-15) speak it: a form-encoded
 * POST (or a GET with the same parameters in its query string) naming an `Action` and a
 * `Version`; an XML answer `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>`,
 * or `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
 *
 * A request is a query-protocol request when its SigV4 credential scope names one of these
 * services, or, unsigned (AssumeRoleWithWebIdentity), when it is a form POST to `/`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { StrongroomError, type ErrorCode } from '../../errors.ts'
import { readSmallBody } from '../body.ts'
import { toApiError } from '../errors.ts'
import { parseQuery, scopeService, type RequestView } from '../sigv4.ts'
import { xmlDocument, type Node } from '../xml.ts'

export const QUERY_SERVICES = {
  sts: { version: '2011-06-15', namespace: 'https://sts.amazonaws.com/doc/2011-06-15/' },
  iam: { version: '2010-05-08', namespace: 'https://iam.amazonaws.com/doc/2010-05-08/' },
} as const

export type QueryService = keyof typeof QUERY_SERVICES

/**
 * The largest request body read: a query request carries at most a few policy documents
 * (IAM's largest, a managed policy, is 6,144 characters before encoding).
 */
export const MAX_QUERY_BODY = 64 * 1024

/** A decoded query request: its parameters, and what SigV4 needs to verify it. */
export interface QueryRequest {
  readonly req: IncomingMessage
  readonly service: QueryService
  readonly action: string
  /** Every parameter but Action, Version and the presigning ones (X-Amz-*). */
  readonly params: ReadonlyMap<string, string>
  readonly view: RequestView
  /** The URL's query, as ordered pairs (SigV4 signs them). */
  readonly pairs: readonly [string, string][]
  /** Hex SHA-256 of the body, which SigV4 signs for these services. */
  readonly bodyHash: string
}

const FORM = /^application\/x-www-form-urlencoded\s*(?:;.*)?$/i

/** The request's service if it speaks the query protocol; undefined for S3 (and every other). */
export function queryServiceOf(
  view: RequestView,
  pairs: readonly [string, string][],
): QueryService | undefined {
  const scoped = scopeService(view, pairs)
  if (scoped !== undefined) return scoped === 'sts' || scoped === 'iam' ? scoped : undefined
  if (view.rawPath !== '/') return undefined
  const type = view.headers['content-type']
  if (view.method === 'POST' && typeof type === 'string' && FORM.test(type)) return 'sts'
  if (view.method === 'GET' && pairs.some(([k]) => k === 'Action')) return 'sts'
  return undefined
}

/** The request whose answer is in query form: its errors are too. */
const QUERY_REQUESTS = new WeakMap<IncomingMessage, QueryService>()

export function queryServiceOfRequest(req: IncomingMessage): QueryService | undefined {
  return QUERY_REQUESTS.get(req)
}

/** Reads the body (at most MAX_QUERY_BODY bytes) and the parameters; checks Action and Version. */
export async function decodeQuery(
  req: IncomingMessage,
  view: RequestView,
  pairs: readonly [string, string][],
  service: QueryService,
): Promise<QueryRequest> {
  QUERY_REQUESTS.set(req, service)
  if (view.method !== 'POST' && view.method !== 'GET')
    throw new StrongroomError(
      'INVALID_ACTION',
      `${service.toUpperCase()} takes POST (or GET) requests, not ${view.method.slice(0, 16)}`,
    )
  const body = await readBody(req)
  const type = view.headers['content-type']
  if (body.length > 0 && !(typeof type === 'string' && FORM.test(type)))
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      'a query request body must be application/x-www-form-urlencoded',
    )
  const params = new Map<string, string>()
  const given = [
    ...pairs.filter(([k]) => !k.startsWith('X-Amz-')),
    ...parseQuery(body.toString('utf8')),
  ]
  for (const [k, v] of given) {
    // One name, one value: which of two would count is not a question a security API answers.
    if (params.has(k))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `the parameter ${k.slice(0, 64)} is given more than once`,
      )
    params.set(k, v)
  }
  const action = params.get('Action')
  if (action === undefined || action === '')
    throw new StrongroomError('MISSING_PARAMETER', 'The request must contain the parameter Action')
  const version = params.get('Version')
  const expected = QUERY_SERVICES[service].version
  if (version !== expected)
    throw new StrongroomError(
      'INVALID_ACTION',
      `Could not find operation ${action.slice(0, 64)} for version ${version?.slice(0, 16) ?? '(none)'}: ${service.toUpperCase()} is version ${expected}`,
    )
  params.delete('Action')
  params.delete('Version')
  return {
    req,
    service,
    action,
    params,
    view,
    pairs,
    bodyHash: createHash('sha256').update(body).digest('hex'),
  }
}

/** The body, at most the limit (SigV4 checks its hash against the signature afterwards). */
const readBody = (req: IncomingMessage) => readSmallBody(req, MAX_QUERY_BODY, undefined, tooLarge)

const tooLarge = () =>
  new StrongroomError(
    'VALIDATION',
    `the request body is larger than ${MAX_QUERY_BODY / 1024} KiB, the most a query request may send`,
  )

/** The answer to a successful call: the action's result (none for actions without one). */
export function sendQueryResult(
  res: ServerResponse,
  requestId: string,
  q: Pick<QueryRequest, 'service' | 'action'>,
  result: Node,
): void {
  const body = xmlDocument(
    `${q.action}Response`,
    {
      ...(result === undefined ? {} : { [`${q.action}Result`]: result }),
      ResponseMetadata: { RequestId: requestId },
    },
    QUERY_SERVICES[q.service].namespace,
  )
  res.statusCode = 200
  res.setHeader('x-amzn-RequestId', requestId)
  res.setHeader('Content-Type', 'text/xml')
  res.setHeader('Content-Length', String(Buffer.byteLength(body)))
  res.end(body)
}

/** How each of our errors reads in IAM's and STS's words, where S3's differ. */
const QUERY_WIRE: Partial<Readonly<Record<ErrorCode, readonly [string, number]>>> = {
  ROLE_NOT_FOUND: ['NoSuchEntity', 404],
  USER_NOT_FOUND: ['NoSuchEntity', 404],
  NO_SUCH_ENTITY: ['NoSuchEntity', 404],
  ROLE_EXISTS: ['EntityAlreadyExists', 409],
  USER_EXISTS: ['EntityAlreadyExists', 409],
  ENTITY_EXISTS: ['EntityAlreadyExists', 409],
  DELETE_CONFLICT: ['DeleteConflict', 409],
  LIMIT_EXCEEDED: ['LimitExceeded', 409],
  MALFORMED_POLICY: ['MalformedPolicyDocument', 400],
  PACKED_POLICY_TOO_LARGE: ['PackedPolicyTooLarge', 400],
  NAME_INVALID: ['ValidationError', 400],
  CONFIG_INVALID: ['ValidationError', 400],
  VALIDATION: ['ValidationError', 400],
  INVALID_ACTION: ['InvalidAction', 400],
  NOT_IMPLEMENTED: ['InvalidAction', 400],
  MISSING_PARAMETER: ['MissingParameter', 400],
  INVALID_PARAMETER_VALUE: ['InvalidParameterValue', 400],
  INVALID_ARGUMENT: ['InvalidParameterValue', 400],
  USAGE: ['InvalidParameterValue', 400],
  INVALID_ACCESS_KEY_ID: ['InvalidClientTokenId', 403],
  INVALID_TOKEN: ['InvalidClientTokenId', 403],
  EXPIRED_TOKEN: ['ExpiredToken', 403],
  AUTHORIZATION_HEADER_MALFORMED: ['IncompleteSignature', 400],
  AUTHORIZATION_QUERY_PARAMETERS_ERROR: ['IncompleteSignature', 400],
  REQUEST_TIME_TOO_SKEWED: ['RequestExpired', 400],
  SLOW_DOWN: ['Throttling', 400],
  MISSING_AUTHENTICATION: ['MissingAuthenticationToken', 403],
  // https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html#API_AssumeRoleWithWebIdentity_Errors
  INVALID_IDENTITY_TOKEN: ['InvalidIdentityToken', 400],
  EXPIRED_IDENTITY_TOKEN: ['ExpiredTokenException', 400],
  IDP_REJECTED_CLAIM: ['IDPRejectedClaim', 403],
  IDP_COMMUNICATION_ERROR: ['IDPCommunicationError', 400],
}

/** The error as IAM and STS answer it. Internal failures say nothing more than S3's do. */
export function encodeQueryError(
  e: unknown,
  service: QueryService,
  requestId: string,
): { readonly code: string; readonly status: number; readonly body: string } {
  const s3 = toApiError(e)
  const mapped = e instanceof StrongroomError ? QUERY_WIRE[e.code] : undefined
  const [code, status] =
    mapped ?? (s3.code === 'InternalError' ? ['InternalFailure', 500] : [s3.code, s3.status])
  const body = xmlDocument(
    'ErrorResponse',
    {
      Error: { Type: status >= 500 ? 'Receiver' : 'Sender', Code: code, Message: s3.message },
      RequestId: requestId,
    },
    QUERY_SERVICES[service].namespace,
  )
  return { code, status, body }
}

// ---- parameters

/** A parameter's value; MissingParameter if it is required and absent. */
export function param(p: ReadonlyMap<string, string>, name: string): string {
  const v = p.get(name)
  if (v === undefined)
    throw new StrongroomError('MISSING_PARAMETER', `The request must contain the parameter ${name}`)
  return v
}

/**
 * Refuses a list whose members are not numbered 1, 2, 3… (`Tags.member.3` after `.1`): what
 * follows a gap would otherwise be dropped without a word (a tag, a session policy ARN).
 */
function contiguous(p: ReadonlyMap<string, string>, name: string, read: number): void {
  const prefix = `${name}.member.`
  for (const k of p.keys()) {
    if (!k.startsWith(prefix)) continue
    const n = /^(\d{1,9})(?:\.|$)/.exec(k.slice(prefix.length))?.[1]
    if (n === undefined || Number(n) < 1 || Number(n) > read)
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `${k.slice(0, 64)} is not in the list ${name.slice(0, 64)}.member.1 to .member.${String(read)}: members are numbered from 1 without gaps`,
      )
  }
}

/**
 * A list parameter (`Name.member.1`, `Name.member.2`…, or with `fields`, `Name.member.1.Key`):
 * members numbered from 1 without gaps, at most `max`.
 */
export function members(p: ReadonlyMap<string, string>, name: string, max: number): string[] {
  const out: string[] = []
  for (let i = 1; ; i++) {
    const v = p.get(`${name}.member.${i}`)
    if (v === undefined) break
    if (i > max)
      throw new StrongroomError(
        'VALIDATION',
        `1 validation error detected: Value at '${name.slice(0, 32)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      )
    out.push(v)
  }
  contiguous(p, name, out.length)
  return out
}

/** A list of structures: `Name.member.N.Field` for each of `fields`. */
export function memberStructs<F extends string>(
  p: ReadonlyMap<string, string>,
  name: string,
  fields: readonly F[],
  max: number,
): Record<F, string | undefined>[] {
  const out: Record<F, string | undefined>[] = []
  for (let i = 1; ; i++) {
    const entry = {} as Record<F, string | undefined>
    let any = false
    for (const f of fields) {
      const v = p.get(`${name}.member.${i}.${f}`)
      entry[f] = v
      any ||= v !== undefined
    }
    if (!any) break
    if (i > max)
      throw new StrongroomError(
        'VALIDATION',
        `1 validation error detected: Value at '${name.slice(0, 32)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      )
    out.push(entry)
  }
  contiguous(p, name, out.length)
  // A field the structure does not have (`Tags.member.1.key`) is refused, not dropped.
  const prefix = `${name}.member.`
  for (const k of p.keys())
    if (
      k.startsWith(prefix) &&
      !fields.some((f) => k.endsWith(`.${f}`) && /^\d+\.[^.]+$/.test(k.slice(prefix.length)))
    )
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `${k.slice(0, 64)} is not a field of ${name.slice(0, 64)}: its members take ${fields.join(', ')}`,
      )
  return out
}

/**
 * What may follow a list parameter's name: `member.N`, then a field (`member.N.Key`), which
 * may itself be a list (`ContextEntries.member.1.ContextKeyValues.member.2`); N from 1.
 */
const LIST_ITEM =
  /^member\.[1-9]\d{0,8}(?:\.[A-Za-z][A-Za-z0-9]{0,63}(?:\.member\.[1-9]\d{0,8})?)?$/

/**
 * Refuses a parameter the action does not take: a misspelt `Policy` silently ignored would
 * hand out a session wider than asked. `accepted` names parameters; one ending in `.` is a list
 * and takes the members under it in the query protocol's shape only (`Tags.member.1.Key`):
 * `PolicyArns.1.arn` or `PolicyArns.Member.1.arn` would otherwise be taken and then read as
 * no list at all, a session without the policies it asked for.
 */
export function onlyKnown(
  p: ReadonlyMap<string, string>,
  action: string,
  accepted: readonly string[],
): void {
  for (const k of p.keys()) {
    const known = accepted.some((a) =>
      a.endsWith('.') ? k.startsWith(a) && LIST_ITEM.test(k.slice(a.length)) : k === a,
    )
    if (!known)
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        `${action} does not take the parameter ${k.slice(0, 64)}`,
      )
  }
}
