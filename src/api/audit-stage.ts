/**
 * The audit stage: what the request path learns of each request, gathered as it goes, and one
 * audit event made from it when the response is done. The server opens a note when a request
 * arrives and closes it when the response closes, on every path (answered, refused, failed,
 * cut off), so every request gives exactly one event; the pipeline adds what only it knows
 * (the service and operation, the caller, the bucket's owner, each decision). Handlers add
 * nothing: an event never depends on a handler remembering to write one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { auditEvent, type AuditEvent, type RequestFacts } from '../audit/event.ts'
import type { Trace } from '../iam/evaluate.ts'
import type { Caller } from './operation.ts'
import type { RecordSink } from './audit.ts'

type Decision = RequestFacts['decision']

export interface RequestNote {
  service: string
  operation: string
  caller: Caller | undefined
  bucket: string | undefined
  key: string | undefined
  versionId: string | undefined
  /** The account that owns what the request is on (the bucket's tenant). */
  owner: string | undefined
  params: Readonly<Record<string, unknown>> | undefined
  decision: Decision
  statements: string[]
  errorCode: string | undefined
  errorMessage: string | undefined
}

/** Where events go, and the key that correlates secrets in them. */
export interface EventSink {
  readonly sink: RecordSink<AuditEvent>
  readonly hmacKey: Uint8Array
  readonly region: string
}

const notes = new Map<string, RequestNote>()

export function beginNote(requestId: string): RequestNote {
  const n: RequestNote = {
    service: 's3',
    operation: 'Unknown',
    caller: undefined,
    bucket: undefined,
    key: undefined,
    versionId: undefined,
    owner: undefined,
    params: undefined,
    decision: 'None',
    statements: [],
    errorCode: undefined,
    errorMessage: undefined,
  }
  notes.set(requestId, n)
  return n
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
  if (owner !== undefined) n.owner = owner
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

export function noteError(requestId: string, code: string, message: string): void {
  const n = notes.get(requestId)
  if (n === undefined) return
  n.errorCode = code
  n.errorMessage = message
}

const READ_ONLY = /^(Get|Head|List|Describe|Select)/

/** Parameters that carry secrets: never in an event, even hashed. */
const SECRET_PARAMS = new Set(['WebIdentityToken', 'SAMLAssertion', 'SecretAccessKey', 'Password'])

/** Closes the note and writes its event (a request seen by no pipeline is still one event). */
export function endNote(
  requestId: string,
  events: EventSink | undefined,
  r: {
    readonly req: IncomingMessage
    readonly res: ServerResponse
    readonly started: number
    readonly latencyMs: number
    readonly bytesIn: number
    readonly bytesOut: number
  },
): void {
  const n = notes.get(requestId)
  notes.delete(requestId)
  if (n === undefined || events === undefined) return
  const socket = r.req.socket as TLSSocket | null
  const tls =
    socket !== null && typeof socket.getProtocol === 'function'
      ? { version: socket.getProtocol() ?? '', cipher: socket.getCipher().standardName }
      : undefined
  const account = n.owner ?? n.caller?.account
  const resources: AuditEvent['resources'] =
    n.bucket === undefined
      ? []
      : [
          { ARN: `arn:aws:s3:::${n.bucket}`, accountId: account ?? '', type: 'AWS::S3::Bucket' },
          ...(n.key === undefined
            ? []
            : [
                {
                  ARN: `arn:aws:s3:::${n.bucket}/${n.key}`,
                  accountId: account ?? '',
                  type: 'AWS::S3::Object',
                },
              ]),
        ]
  const params =
    n.service === 's3'
      ? n.bucket === undefined
        ? null
        : {
            bucketName: n.bucket,
            ...(n.key === undefined ? {} : { key: n.key }),
            ...(n.versionId === undefined ? {} : { versionId: n.versionId }),
            Host: r.req.headers.host ?? '',
          }
      : n.params === undefined
        ? null
        : Object.fromEntries(Object.entries(n.params).filter(([k]) => !SECRET_PARAMS.has(k)))
  events.sink.write(
    auditEvent(
      {
        time: r.started,
        requestId,
        service: n.service,
        operation: n.operation,
        region: events.region,
        readOnly: READ_ONLY.test(n.operation),
        caller: n.caller,
        remote: socket?.remoteAddress,
        userAgent: r.req.headers['user-agent'],
        host: r.req.headers.host,
        tls,
        requestParameters: params,
        responseElements: null,
        resources,
        recipientAccountId: account,
        decision: n.decision,
        statements: n.statements,
        status: r.res.statusCode,
        errorCode: n.errorCode,
        errorMessage: n.errorMessage,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        latencyMs: r.latencyMs,
      },
      events.hmacKey,
    ),
  )
}
