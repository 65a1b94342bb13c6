/**
 * An alert is an event itself, shaped as a CloudTrail service event (`eventType:
 * AwsServiceEvent`, the caller an `AWSService`), so that it can go down the same log and sinks
 * as the requests it is about, and a SIEM that reads CloudTrail reads it too. What the rule
 * found sits under `strongroom.alert`.
 *
 * Its shape differs from AuditEvent in `userIdentity` (no caller signed it: CloudTrail writes
 * `{type: AWSService, invokedBy}` for service events) and `eventType`; a sink that takes both
 * takes `AuditEvent | Alert`. Its ids are derived from the rule, group and triggering request,
 * so replaying a stream gives the same alerts, byte for byte.
 */
import { createHash } from 'node:crypto'
import { EVENT_VERSION, eventTime, type AuditEvent } from '../event.ts'
import type { Severity } from './rules.ts'

export interface AlertDetails {
  readonly ruleId: string
  readonly title: string
  readonly severity: Severity
  /** The group the rule counted in: the values of its `groupBy` fields, joined by `|`. */
  readonly group: string
  /** The requestID of the event that raised the alert. */
  readonly trigger: string
  /** requestIDs of the events that led to it, oldest first, the trigger last (at most 20). */
  readonly evidence: readonly string[]
  /** One line, for people: what was seen, with the values that matter. */
  readonly summary: string
}

export interface Alert extends Omit<AuditEvent, 'userIdentity' | 'eventType' | 'strongroom'> {
  readonly eventSource: 'strongroom.internal'
  readonly eventName: 'DetectionAlert'
  readonly eventType: 'AwsServiceEvent'
  readonly userIdentity: { readonly type: 'AWSService'; readonly invokedBy: 'strongroom.internal' }
  readonly strongroom: AuditEvent['strongroom'] & { readonly alert: AlertDetails }
}

export const MAX_EVIDENCE = 20
const MAX_TEXT = 300

/**
 * Text from an event made safe for one line: control and line-separator characters become
 * `?`, and it is cut at `max` characters. User agents, keys and policy text are the caller's.
 */
export function oneLine(s: string, max = MAX_TEXT): string {
  const clean = s.replace(/\p{Cc}|[\u2028\u2029]/gu, '?')
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

export interface AlertInput {
  readonly ruleId: string
  readonly title: string
  readonly severity: Severity
  readonly group: string
  /** Seconds since the epoch: the triggering event's time. */
  readonly time: number
  readonly trigger: {
    readonly requestID: string
    readonly awsRegion: string
    readonly recipientAccountId: string
    readonly resources: AuditEvent['resources']
  }
  readonly evidence: readonly string[]
  readonly summary: string
}

/** The alert event for what a rule found. */
export function alertEvent(a: AlertInput): Alert {
  const h = createHash('sha256')
    .update([a.ruleId, a.group, a.trigger.requestID, String(a.time)].join('\n'))
    .digest('hex')
  const evidence = a.evidence.slice(-MAX_EVIDENCE).map((id) => oneLine(id, 128))
  return {
    eventVersion: EVENT_VERSION,
    eventTime: eventTime(a.time * 1000),
    eventSource: 'strongroom.internal',
    eventName: 'DetectionAlert',
    awsRegion: a.trigger.awsRegion,
    sourceIPAddress: 'strongroom.internal',
    userAgent: 'strongroom.internal',
    userIdentity: { type: 'AWSService', invokedBy: 'strongroom.internal' },
    requestParameters: null,
    responseElements: null,
    requestID: h.slice(0, 16).toUpperCase(),
    eventID: `${h.slice(16, 24)}-${h.slice(24, 28)}-${h.slice(28, 32)}-${h.slice(32, 36)}-${h.slice(36, 48)}`,
    readOnly: true,
    resources: a.trigger.resources,
    eventType: 'AwsServiceEvent',
    recipientAccountId: a.trigger.recipientAccountId,
    strongroom: {
      decision: 'None',
      statements: [],
      bytesIn: 0,
      bytesOut: 0,
      latencyMs: 0,
      status: 0,
      alert: {
        ruleId: a.ruleId,
        title: oneLine(a.title),
        severity: a.severity,
        group: oneLine(a.group, 512),
        trigger: oneLine(a.trigger.requestID, 128),
        evidence,
        summary: oneLine(a.summary),
      },
    },
  }
}

/**
 * The alert as one line of text for a sink (syslog, chat, a pager):
 * `HIGH cross-tenant-access arn:…|111122223333: summary (2026-03-02T10:00:00Z, request R, 3 events)`.
 */
export function message(alert: Alert): string {
  const a = alert.strongroom.alert
  const n = a.evidence.length
  return oneLine(
    `${a.severity.toUpperCase()} ${a.ruleId} ${a.group}: ${a.summary} ` +
      `(${alert.eventTime}, request ${a.trigger}, ${n} event${n === 1 ? '' : 's'})`,
    2000,
  )
}
