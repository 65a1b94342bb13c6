/**
 * The audit stage: what the request path learns of each request, gathered as it goes, and one
 * audit event made from it when the response is done. The server opens a note when a request
 * arrives and closes it when the response closes, on every path (answered, refused, failed,
 * cut off), so every request gives exactly one event; the pipeline adds what only it knows
 * (the service and operation, the caller, the bucket's owner, each decision). Handlers add
 * nothing: an event never depends on a handler remembering to write one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { EVENT_VERSION, encodeEvent, eventTime } from '../audit/event.ts'
import type { TLSSocket } from 'node:tls'
import { StrongroomError } from '../errors.ts'
import {
  auditEvent,
  userIdentityOf,
  type AuditEvent,
  type Evaluation,
  type RequestFacts,
} from '../audit/event.ts'
import type { Trace } from '../iam/evaluate.ts'
import type { Caller } from './operation.ts'
import { REVOKE_POLICY_NAME } from '../sts/revoke.ts'
import { appliedOnly } from './audit.ts'

type Decision = RequestFacts['decision']

export interface RequestNote {
  readonly remote: string | undefined
  readonly tls: { readonly version: string; readonly cipher: string } | undefined
  service: string
  operation: string
  caller: Caller | undefined
  bucket: string | undefined
  key: string | undefined
  versionId: string | undefined
  /** The account that owns what the request is on (the bucket's tenant). */
  owner: string | undefined
  /**
   * Every S3 bucket or object a decision was on, with its owner: a copy's source is the
   * source owner's event too, allowed or not.
   */
  readonly decidedOn: Map<string, string>
  params: Readonly<Record<string, unknown>> | undefined
  decision: Decision
  statements: string[]
  /** Each authorization decision with its trace, for `strongroom explain`. */
  evaluations: Evaluation[]
  errorCode: string | undefined
  errorMessage: string | undefined
}

/** The audit log as the request path sees it (../audit/log.ts). */
export interface EventLog {
  /** Stores one record durably; rejects (SERVICE_UNAVAILABLE) when it cannot. */
  append(record: Uint8Array): Promise<number>
  /** Queues one record without waiting. */
  enqueue(record: Uint8Array): void
  /** Why requests that must be recorded are refused now, if they are. */
  problem(): string | undefined
  /** Resolves when a record can be taken now; rejects (SERVICE_UNAVAILABLE) when not. */
  ready(): Promise<void>
}

/** Where events go, the key that correlates secrets in them, and which requests wait for them. */
export interface EventSink {
  readonly log: EventLog
  readonly hmacKey: Uint8Array
  readonly region: string
  /**
   * `fail-closed` (the default): a request is refused while the log cannot record it, and its
   * answer goes out only once its event is durable. `best-effort` applies to reads only: they
   * proceed and their events are queued.
   */
  readonly reads?: 'fail-closed' | 'best-effort'
}

const notes = new Map<string, RequestNote>()

/** What the connection says of itself, read when the request arrives (a closed socket says nothing). */
export function connectionOf(req: IncomingMessage): Pick<RequestNote, 'remote' | 'tls'> {
  const socket = req.socket as TLSSocket | null
  const tls =
    socket !== null && typeof socket.getProtocol === 'function'
      ? {
          version: socket.getProtocol() ?? '',
          // Null once the socket is closed (the types say otherwise).
          cipher:
            (socket.getCipher() as ReturnType<TLSSocket['getCipher']> | null)?.standardName ?? '',
        }
      : undefined
  return { remote: socket?.remoteAddress, tls }
}

export function beginNote(
  requestId: string,
  connection: Pick<RequestNote, 'remote' | 'tls'> = { remote: undefined, tls: undefined },
): RequestNote {
  const n: RequestNote = {
    ...connection,
    service: 's3',
    operation: 'Unknown',
    caller: undefined,
    bucket: undefined,
    key: undefined,
    versionId: undefined,
    owner: undefined,
    decidedOn: new Map(),
    params: undefined,
    decision: 'None',
    statements: [],
    evaluations: [],
    errorCode: undefined,
    errorMessage: undefined,
  }
  notes.set(requestId, n)
  return n
}

/** Forgets a request that is not audited (the health check). */
export function dropNote(requestId: string): void {
  notes.delete(requestId)
}

/** The pipeline has routed the request: its service, operation and caller. */
export function noteRoute(
  requestId: string,
  service: string,
  operation: string,
  caller: Caller,
  target: Partial<Pick<RequestNote, 'bucket' | 'key' | 'versionId' | 'params'>>,
): void {
  const n = notes.get(requestId)
  if (n === undefined) return
  Object.assign(n, { service, operation, caller }, target)
}

const RANK: Record<Decision, number> = { None: 0, Allow: 1, ImplicitDeny: 2, ExplicitDeny: 3 }

/** One authorization decision of the request: the request's decision is the strongest. */
export function noteDecision(
  requestId: string,
  what: { readonly action: string; readonly resource: string },
  decision: string,
  trace: Trace | undefined,
  owner?: string,
): void {
  const n = notes.get(requestId)
  if (n === undefined) return
  const d: Decision =
    decision === 'Allow' || decision === 'ExplicitDeny' || decision === 'ImplicitDeny'
      ? decision
      : 'ImplicitDeny'
  if (owner !== undefined) {
    n.owner = owner
    if (what.resource.startsWith('arn:aws:s3:::') && !what.resource.includes('*'))
      n.decidedOn.set(what.resource, owner)
  }
  // An allowed request keeps only the statements that applied: what allowed it.
  const kept = trace === undefined ? undefined : d === 'Allow' ? appliedOnly(trace) : trace
  n.evaluations.push({
    action: what.action,
    resource: what.resource,
    decision: d,
    ...(kept === undefined ? {} : { trace: kept }),
  })
  if (RANK[d] > RANK[n.decision]) {
    n.decision = d
    n.statements = []
  }
  if (d !== n.decision || trace === undefined) return
  const effect = d === 'Allow' ? 'Allow' : 'Deny'
  for (const p of trace.policies)
    for (const s of p.statements)
      if (s.matched && s.effect === effect) {
        const id = `${p.name}#${s.sid ?? String(s.index)}`
        if (!n.statements.includes(id)) n.statements.push(id)
      }
}

/** Request parameters the request's document adds (an S3 bucket policy, a public access block). */
export function noteParams(requestId: string, params: Readonly<Record<string, unknown>>): void {
  const n = notes.get(requestId)
  if (n === undefined) return
  n.params = { ...n.params, ...params }
}

export function noteError(requestId: string, code: string, message: string): void {
  const n = notes.get(requestId)
  if (n === undefined) return
  n.errorCode = code
  n.errorMessage = message
}

const READ_ONLY = /^(Get|Head|List|Describe|Select|Lookup)/

/** Parameters that carry secrets: never in an event, even hashed. */
const SECRET_PARAMS = new Set(
  [
    'WebIdentityToken',
    'SAMLAssertion',
    'SecretAccessKey',
    'Password',
    // KMS: what is encrypted, and ciphertexts (not secret, but never needed to correlate)
    'Plaintext',
    'CiphertextBlob',
  ].map((k) => k.toLowerCase()),
)

/** Whether a request of this operation is a read (CloudTrail's readOnly). */
export function readOnlyOperation(requestId: string): boolean {
  return READ_ONLY.test(notes.get(requestId)?.operation ?? '')
}

/**
 * Closes the note and makes its event (a request seen by no pipeline is still one event);
 * undefined when the note was closed already.
 */
export function finishNote(
  requestId: string,
  events: EventSink,
  r: {
    readonly req: IncomingMessage
    readonly res: ServerResponse
    readonly started: number
    readonly latencyMs: number
    readonly bytesIn: number
    readonly bytesOut: number
  },
): AuditEvent | undefined {
  const n = notes.get(requestId)
  notes.delete(requestId)
  if (n === undefined) return undefined
  const account = n.owner ?? n.caller?.account
  const bucketArn = `arn:aws:s3:::${n.bucket ?? ''}`
  const objectArn = `${bucketArn}/${n.key ?? ''}`
  // The request's own bucket is its owner's: as decided on it, else (no S3 decision on
  // anything else either) the request's owner; a copy refused at its source never read it.
  const own =
    n.decidedOn.get(objectArn) ??
    n.decidedOn.get(bucketArn) ??
    (n.decidedOn.size === 0 ? account : undefined) ??
    ''
  const resources: AuditEvent['resources'][number][] =
    n.bucket === undefined
      ? []
      : [
          { ARN: bucketArn, accountId: own, type: 'AWS::S3::Bucket' },
          ...(n.key === undefined
            ? []
            : [{ ARN: objectArn, accountId: own, type: 'AWS::S3::Object' }]),
        ]
  // A copy's source (or any other bucket or object decided on), with its own owner.
  for (const [arn, owner] of n.decidedOn)
    if (!resources.some((r) => r.ARN === arn))
      resources.push({
        ARN: arn,
        accountId: owner,
        type: arn.slice('arn:aws:s3:::'.length).includes('/')
          ? 'AWS::S3::Object'
          : 'AWS::S3::Bucket',
      })
  const params =
    n.service === 's3'
      ? n.bucket === undefined
        ? null
        : {
            bucketName: n.bucket,
            ...(n.key === undefined ? {} : { key: n.key }),
            ...(n.versionId === undefined ? {} : { versionId: n.versionId }),
            Host: r.req.headers.host ?? '',
            ...n.params,
          }
      : n.params === undefined
        ? null
        : Object.fromEntries(
            Object.entries(n.params)
              .filter(
                ([k]) => !SECRET_PARAMS.has(k.toLowerCase()) && k !== 'Action' && k !== 'Version',
              )
              // CloudTrail names a query API's parameters in lower camel case (userName, policyDocument).
              .map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), v]),
          )
  return auditEvent(
    {
      time: r.started,
      requestId,
      service: n.service,
      operation: n.operation,
      region: events.region,
      readOnly: READ_ONLY.test(n.operation),
      caller: n.caller,
      claimedKey: n.caller?.auth === undefined ? claimedKey(r.req) : undefined,
      remote: n.remote,
      userAgent: r.req.headers['user-agent'],
      host: r.req.headers.host,
      tls: n.tls,
      requestParameters: params,
      responseElements: null,
      resources,
      recipientAccountId: account,
      decision: n.decision,
      statements: n.statements,
      evaluations: n.evaluations,
      sessionRevoked:
        n.decision === 'ExplicitDeny' &&
        n.caller?.session !== undefined &&
        n.statements.some((id) => id.startsWith(`${REVOKE_POLICY_NAME}#`)),
      status: r.res.statusCode,
      errorCode: n.errorCode,
      errorMessage: n.errorMessage,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      latencyMs: r.latencyMs,
    },
    events.hmacKey,
  )
}

/**
 * The access key id a request's credential names (Authorization's `Credential=`, or a presigned
 * URL's X-Amz-Credential), when it looks like one: what a refused signature claimed to be.
 */
export function claimedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization
  const m =
    typeof auth === 'string'
      ? /\bCredential=([A-Z0-9]{16,128})\//.exec(auth)
      : /[?&]X-Amz-Credential=([A-Z0-9]{16,128})(?:%2[Ff]|\/)/.exec(req.url ?? '')
  return m?.[1]
}

type Facts = Parameters<typeof finishNote>[2]

const lengthOf = (chunk: unknown): number =>
  typeof chunk === 'string'
    ? Buffer.byteLength(chunk)
    : chunk instanceof Uint8Array
      ? chunk.byteLength
      : 0

/**
 * Holds the request's answer until its event is durable: the handler's last write (`end`) goes
 * out only once the log has the event, so a crash never loses the event of an answered request.
 * Bytes out are the body bytes the handler wrote. A read under `best-effort` is not held. When
 * the log cannot take the event, `refuse` answers in its place (503) if nothing has been sent;
 * otherwise the connection is cut, and the client, missing the end of its answer, retries.
 */
export function holdUntilRecorded(
  requestId: string,
  res: ServerResponse,
  events: EventSink,
  facts: (bytesOut: number) => Facts,
  refuse: (e: unknown) => void,
): void {
  let body = 0
  const write = res.write.bind(res)
  const end = res.end.bind(res)
  const writeHead = res.writeHead.bind(res)
  // Headers are kept as set headers, not written, so that a refusal can still replace them.
  res.writeHead = (status: number, reason?: unknown, headers?: unknown) => {
    const h = typeof reason === 'string' ? headers : reason
    res.statusCode = status
    if (typeof reason === 'string') res.statusMessage = reason
    if (Array.isArray(h))
      for (let i = 0; i + 1 < h.length; i += 2) res.appendHeader(String(h[i]), String(h[i + 1]))
    else if (typeof h === 'object' && h !== null)
      for (const [k, v] of Object.entries(h))
        if (v !== undefined) res.setHeader(k, v as string | number | readonly string[])
    return res
  }
  /** The body's last chunk, kept back until the event is durable: the answer is not complete without it. */
  let last: [unknown, never[]] | undefined
  res.write = ((chunk: unknown, ...rest: never[]) => {
    // The body has begun, so the head goes out with it (Node writes it through writeHead).
    res.writeHead = writeHead
    body += lengthOf(chunk)
    const declared = Number(res.getHeader('content-length'))
    if (last === undefined && body >= declared && lengthOf(chunk) > 0) {
      // A writer waiting for this chunk's callback before it ends is told it went.
      const args: unknown[] = rest
      const done = args.find((r): r is () => void => typeof r === 'function')
      last = [chunk, rest.filter((r: unknown) => typeof r !== 'function')]
      if (done !== undefined) process.nextTick(done)
      return true
    }
    return write(chunk, ...rest)
  }) as typeof res.write
  res.end = ((...args: never[]) => {
    res.write = write
    res.end = end
    res.writeHead = writeHead
    const first: unknown = args[0]
    if (!notes.has(requestId)) {
      if (last !== undefined) write(last[0], ...last[1])
      return end(...args)
    }
    const readOnly = readOnlyOperation(requestId)
    const bytes = recordOf(requestId, events, facts(body + lengthOf(first)))
    const finish = () => {
      if (last !== undefined) write(last[0], ...last[1])
      end(...args)
    }
    if (events.reads === 'best-effort' && readOnly) {
      events.log.enqueue(bytes)
      finish()
      return res
    }
    events.log.append(bytes).then(finish, (e: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy()
        return
      }
      for (const h of res.getHeaderNames()) res.removeHeader(h)
      // The handler may have run: the answer says so, and the event is kept for the log.
      refuse(
        new StrongroomError(
          'SERVICE_UNAVAILABLE',
          `${(e as Error).message}. If this request changed anything, its event is stored once the audit log recovers: check the outcome before retrying.`,
          { cause: e },
        ),
      )
    })
    return res
  }) as typeof res.end
}

/** Closes a note whose answer never ended (a client gone, a refusal): its event, queued. */
export function recordUnanswered(requestId: string, events: EventSink, facts: Facts): void {
  if (!notes.has(requestId)) return
  // An answer that never finished: the client went away, or the connection was cut.
  if (!facts.res.writableFinished)
    noteError(requestId, 'ConnectionClosed', 'the connection closed before the answer was complete')
  events.log.enqueue(recordOf(requestId, events, facts))
}

/**
 * The request's event as a log record; never throws and never answers nothing: should making
 * the event fail (a bug), a minimal event still says that the request happened.
 */
function recordOf(requestId: string, events: EventSink, facts: Facts): Buffer {
  const n = notes.get(requestId)
  try {
    const event = finishNote(requestId, events, facts)
    if (event !== undefined) return encodeEvent(event)
  } catch {
    // fall through to the minimal event
  }
  notes.delete(requestId)
  return minimalRecord(requestId, events.region, n, facts.res.statusCode)
}

/** A request refused before it was a request (not HTTP, headers too large or too slow). */
export function recordRefused(
  events: EventSink,
  requestId: string,
  remote: string | undefined,
  code: string,
  message: string,
  status: number,
): void {
  const n = beginNote(requestId, { remote, tls: undefined })
  n.errorCode = code
  n.errorMessage = message
  notes.delete(requestId)
  const record = JSON.parse(
    minimalRecord(requestId, events.region, n, status).toString(),
  ) as Record<string, unknown>
  events.log.enqueue(
    Buffer.from(JSON.stringify({ ...record, errorCode: code, errorMessage: message })),
  )
}

/** The least an event says: that the request happened, when, from where, how it ended. */
function minimalRecord(
  requestId: string,
  region: string,
  n: RequestNote | undefined,
  status: number,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      eventVersion: EVENT_VERSION,
      eventTime: eventTime(Date.now()),
      eventSource: `${n?.service ?? 's3'}.amazonaws.com`,
      eventName: (n?.operation ?? 'Unknown').slice(0, 64),
      awsRegion: region,
      sourceIPAddress: (n?.remote ?? '').slice(0, 64),
      userAgent: '',
      // Who asked survives whatever else could not be recorded.
      userIdentity: userIdentityOf(n?.caller),
      requestParameters: null,
      responseElements: null,
      requestID: requestId,
      eventID: randomUUID(),
      readOnly: READ_ONLY.test(n?.operation ?? ''),
      resources: [],
      eventType: 'AwsApiCall',
      recipientAccountId: n?.owner ?? n?.caller?.account ?? '',
      ...(n?.errorCode === undefined
        ? {}
        : { errorCode: n.errorCode, errorMessage: (n.errorMessage ?? '').slice(0, 1024) }),
      strongroom: {
        decision: n?.decision ?? 'None',
        statements: [],
        bytesIn: 0,
        bytesOut: 0,
        latencyMs: 0,
        status,
        incomplete: true,
      },
    }),
  )
}
