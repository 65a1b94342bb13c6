/**
 * Events for what Strongroom does besides answering a request: a scan verdict (on an upload,
 * in the background scan worker, by `strongroom rescan`). They take CloudTrail's service-event
 * shape (eventType AwsServiceEvent, userIdentity AWSService), eventSource
 * `strongroom.internal`, and the request that caused them, if any, as requestID.
 */
import { randomUUID } from 'node:crypto'
import type { RecordSink, ScanEvent } from '../api/audit.ts'
import type { EventLog } from '../api/audit-stage.ts'
import { StrongroomError } from '../errors.ts'
import { EVENT_VERSION, encodeEvent, eventTime, type AuditEvent } from './event.ts'

export const INTERNAL_SOURCE = 'strongroom.internal'

/** A service event: who/what did it is Strongroom; the parameters say what happened. */
export function serviceEvent(f: {
  readonly name: string
  readonly region: string
  readonly time: number
  readonly requestId?: string
  readonly account?: string
  readonly parameters: Readonly<Record<string, unknown>>
  readonly resources: AuditEvent['resources']
}): AuditEvent {
  return {
    eventVersion: EVENT_VERSION,
    eventTime: eventTime(f.time),
    eventSource: INTERNAL_SOURCE,
    eventName: f.name,
    awsRegion: f.region,
    sourceIPAddress: INTERNAL_SOURCE,
    userAgent: INTERNAL_SOURCE,
    userIdentity: { type: 'AWSService', invokedBy: INTERNAL_SOURCE },
    requestParameters: f.parameters,
    responseElements: null,
    requestID: f.requestId ?? '',
    eventID: randomUUID(),
    readOnly: false,
    resources: f.resources,
    eventType: 'AwsServiceEvent',
    recipientAccountId: f.account ?? '',
    strongroom: {
      decision: 'None',
      statements: [],
      bytesIn: 0,
      bytesOut: 0,
      latencyMs: 0,
      status: 0,
    },
  }
}

/** The scanner's verdict on an upload or a stored version, as a ScanVerdict event. */
export function scanVerdictEvent(e: ScanEvent, region: string, time = Date.now()): AuditEvent {
  const object = `arn:aws:s3:::${e.bucket}/${e.key}`
  return serviceEvent({
    name: 'ScanVerdict',
    region,
    time,
    requestId: e.requestId,
    parameters: {
      bucketName: e.bucket,
      key: e.key,
      ...(e.versionId === undefined ? {} : { versionId: e.versionId }),
      verdict: e.scan.verdict,
      outcome: e.outcome,
      scanPolicy: e.policy,
      format: e.scan.format,
      rules: e.scan.rules,
      findings: e.scan.findings,
      uploadedBy: e.principal,
    },
    resources: [{ ARN: object, accountId: '', type: 'AWS::S3::Object' }],
  })
}

/**
 * A RecordSink (the pipeline's port for scan verdicts) that appends each record to the audit
 * log as an event; `flush` resolves once all are durable, rejects if one could not be.
 */
export class LoggedRecords<T> implements RecordSink<T> {
  private pending = new Set<Promise<number>>()
  private failure: unknown
  private readonly log: EventLog
  private readonly toEvent: (r: T) => AuditEvent

  constructor(log: EventLog, toEvent: (r: T) => AuditEvent) {
    this.log = log
    this.toEvent = toEvent
  }

  get backlogged(): boolean {
    return this.pending.size >= 1000
  }

  write(record: T): void {
    const p = this.log.append(encodeEvent(this.toEvent(record)))
    this.pending.add(p)
    p.then(
      () => this.pending.delete(p),
      (e: unknown) => {
        this.pending.delete(p)
        this.failure = e
      },
    )
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending])
    const failure = this.failure
    this.failure = undefined
    if (failure !== undefined)
      throw new StrongroomError('SERVICE_UNAVAILABLE', 'an audit event could not be stored', {
        cause: failure,
      })
  }
}
