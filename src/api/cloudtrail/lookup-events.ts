/**
 * CloudTrail's LookupEvents (JSON 1.1) over the audit log, decided as `cloudtrail:LookupEvents`
 * on `*` (the action has no resource types) by the caller's own policies: an auditor's role
 * needs nothing else, and sees only its own account's events
 * (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).
 *
 * Beyond AWS: several lookup attributes at once (all must hold; AWS takes one), and the
 * filters of `strongroom audit query` as attributes of their own (PrincipalArn, Action,
 * ResourcePrefix, Decision, ErrorCode, Source). The whole installation's log is the operator's
 * to read on the host (`strongroom audit query`), never through this API.
 */
import { StrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../../audit/event.ts'
import {
  LOOKUP_KEYS,
  lookupPage,
  resourceName,
  usernameOf,
  type LookupKey,
} from '../../audit/lookup.ts'
import { checkFilter, type EventFilter } from '../../audit/query.ts'
import { records } from '../../audit/read.ts'
import { sharedRecords } from '../../audit/shared-log.ts'
import type { JsonAuthorized } from '../authorized.ts'
import type { JsonOperation } from '../operation.ts'

const MEMBERS = [
  'LookupAttributes',
  'StartTime',
  'EndTime',
  'EventCategory',
  'MaxResults',
  'NextToken',
] as const

/**
 * Lookups reading the log at once: per account, and in all, per gateway. Beyond them
 * ThrottlingException, as AWS rate-limits LookupEvents per account; the per-account bound keeps
 * one tenant's loop from starving every other tenant's auditors.
 */
export const MAX_LOOKUPS = { perAccount: 1, total: 4 } as const
const running = new Map<string, number>()
let total = 0

const DECISIONS = ['Allow', 'ExplicitDeny', 'ImplicitDeny', 'None']

const attributesError = (m: string) => new StrongroomError('INVALID_LOOKUP_ATTRIBUTES', m)

function attributesOf(given: unknown): Map<LookupKey, string> {
  const out = new Map<LookupKey, string>()
  if (given === undefined) return out
  if (!Array.isArray(given)) throw attributesError('LookupAttributes must be a list')
  if (given.length > LOOKUP_KEYS.length)
    throw attributesError(`LookupAttributes takes at most ${String(LOOKUP_KEYS.length)} items`)
  for (const item of given as unknown[]) {
    const {
      AttributeKey: key,
      AttributeValue: value,
      ...other
    } = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {}
    if (Object.keys(other).length > 0 || typeof key !== 'string' || typeof value !== 'string')
      throw attributesError(
        'each lookup attribute is {"AttributeKey": KEY, "AttributeValue": VALUE}',
      )
    if (!(LOOKUP_KEYS as readonly string[]).includes(key))
      throw attributesError(
        `\`${key.slice(0, 64)}\` is not a lookup attribute: one of ${LOOKUP_KEYS.join(', ')}`,
      )
    if (value.length < 1 || value.length > 2000)
      throw attributesError(`the value of ${key} must be 1 to 2000 characters`)
    if (out.has(key as LookupKey)) throw attributesError(`${key} is given more than once`)
    if (key === 'Decision' && !DECISIONS.includes(value))
      throw attributesError(`Decision is one of ${DECISIONS.join(', ')}`)
    if (key === 'ReadOnly' && value !== 'true' && value !== 'false')
      throw attributesError('ReadOnly is true or false')
    out.set(key as LookupKey, value)
  }
  return out
}

/** A timestamp as JSON 1.1 sends it: seconds since the epoch, perhaps fractional. */
function seconds(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 253402300799)
    throw new StrongroomError('VALIDATION', `${name} must be a time in seconds since the epoch`)
  return v
}

function filterOf(input: Readonly<Record<string, unknown>>): EventFilter {
  const start = seconds('StartTime', input.StartTime)
  const end = seconds('EndTime', input.EndTime)
  if (start !== undefined && end !== undefined && start > end)
    throw new StrongroomError('INVALID_TIME_RANGE', 'StartTime must not be after EndTime')
  return {
    ...(start === undefined ? {} : { since: start * 1000 }),
    // At or before EndTime: events carry whole seconds.
    ...(end === undefined ? {} : { until: (Math.floor(end) + 1) * 1000 }),
  }
}

function maxOf(v: unknown): number {
  if (v === undefined) return 50
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 50)
    throw new StrongroomError('INVALID_MAX_RESULTS', 'MaxResults must be 1 to 50')
  return v
}

/** One event as LookupEvents returns it, the record itself in CloudTrailEvent. */
function shown(e: AuditEvent): Record<string, unknown> {
  const id = e.userIdentity
  const user = usernameOf(e)
  return {
    EventId: e.eventID,
    EventName: e.eventName,
    ReadOnly: String(e.readOnly),
    ...('accessKeyId' in id ? { AccessKeyId: id.accessKeyId } : {}),
    EventTime: Date.parse(e.eventTime) / 1000,
    EventSource: e.eventSource,
    ...(user === undefined ? {} : { Username: user }),
    Resources: e.resources.map((r) => ({
      ResourceType: r.type,
      ResourceName: resourceName(r.ARN),
    })),
    CloudTrailEvent: JSON.stringify(e),
  }
}

async function lookupEvents(ctx: JsonAuthorized): Promise<Record<string, unknown>> {
  const input = ctx.input
  const attributes = attributesOf(input.LookupAttributes)
  const filter = withSource(filterOf(input), attributes)
  const max = maxOf(input.MaxResults)
  const next = input.NextToken
  if (next !== undefined && typeof next !== 'string')
    throw new StrongroomError('INVALID_NEXT_TOKEN', 'NextToken must be a string')
  const category = input.EventCategory
  if (category !== undefined && category !== 'insight')
    throw new StrongroomError('INVALID_EVENT_CATEGORY', 'EventCategory is insight')
  // Insights events: Strongroom makes none (its detections are alerts in the log itself).
  if (category === 'insight') return { Events: [] }
  const account = ctx.caller.account
  const mine = running.get(account) ?? 0
  if (mine >= MAX_LOOKUPS.perAccount || total >= MAX_LOOKUPS.total)
    throw new StrongroomError('SLOW_DOWN', 'Rate exceeded: too many LookupEvents calls at once')
  running.set(account, mine + 1)
  total++
  try {
    const source = ctx.auditSource
    const page = await lookupPage(
      typeof source === 'string' ? records(source) : sharedRecords(source),
      {
        viewer: account,
        filter,
        attributes,
        max,
        ...(next === undefined ? {} : { nextToken: next }),
      },
    )
    return {
      Events: page.events.map(shown),
      ...(page.nextToken === undefined ? {} : { NextToken: page.nextToken }),
    }
  } finally {
    total--
    const left = (running.get(account) ?? 1) - 1
    if (left === 0) running.delete(account)
    else running.set(account, left)
  }
}

/** The Source attribute is checked as `audit query --source` is (an IPv4 CIDR block, say). */
function withSource(f: EventFilter, attributes: ReadonlyMap<LookupKey, string>): EventFilter {
  const source = attributes.get('Source')
  if (source === undefined) return f
  try {
    checkFilter({ source })
  } catch (e) {
    throw new StrongroomError('INVALID_LOOKUP_ATTRIBUTES', `Source: ${(e as Error).message}`, {
      cause: e,
    })
  }
  return f
}

export const LOOKUP_EVENTS: JsonOperation = {
  service: 'cloudtrail',
  name: 'LookupEvents',
  action: 'cloudtrail:LookupEvents',
  members: MEMBERS,
  resource: () => '*',
  handler: lookupEvents,
}

export const CLOUDTRAIL_OPERATIONS: readonly JsonOperation[] = [LOOKUP_EVENTS]
