/**
 * CloudTrail's LookupEvents over the audit log, for one account's auditors: the events that
 * account may see (made by it, or on what it owns), that match every filter, newest first, a
 * page at a time (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).
 *
 * A page is the newest `max` matches before an event; its NextToken names the oldest event it
 * holds (by its random eventID), bound to the filters it was made for. The log only grows, so
 * a page never moves while records arrive. What an event shows another account is cut to what is that account's
 * to know (`forViewer`).
 */
import { createHash } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import type { Decision } from '../iam/evaluate.ts'
import type { AuditEvent } from './event.ts'
import { matches, type EventFilter } from './query.ts'

/** CloudTrail's lookup attributes, with the filters `strongroom audit query` has besides. */
export const LOOKUP_KEYS = [
  'EventId',
  'EventName',
  'ReadOnly',
  'Username',
  'ResourceType',
  'ResourceName',
  'EventSource',
  'AccessKeyId',
  // Strongroom's own (`strongroom audit query`'s filters):
  'PrincipalArn',
  'Action',
  'ResourcePrefix',
  'Decision',
  'ErrorCode',
  'Source',
] as const

export type LookupKey = (typeof LOOKUP_KEYS)[number]

export interface Lookup {
  /** The account whose auditor asks: only its events are seen. */
  readonly viewer: string
  readonly filter: EventFilter
  /** AttributeKey -> AttributeValue, every one of which must hold. */
  readonly attributes: ReadonlyMap<LookupKey, string>
  /** At most this many events (1 to 50). */
  readonly max: number
  /** The page's NextToken, from the previous page of the same lookup. */
  readonly nextToken?: string
}

export interface LookupPage {
  /** The events, newest first, each as its viewer may see it, with its record index. */
  readonly events: readonly AuditEvent[]
  readonly nextToken: string | undefined
}

/** The user name CloudTrail's LookupEvents shows: the user's, or the role session's. */
export function usernameOf(e: AuditEvent): string | undefined {
  const id = e.userIdentity
  if (!('arn' in id)) return undefined
  if (id.type === 'AssumedRole') return id.principalId.split(':')[1]
  return id.userName
}

/** A resource's name as LookupEvents shows it: an S3 bucket or object by name, else its ARN. */
export function resourceName(arn: string): string {
  return arn.startsWith('arn:aws:s3:::') ? arn.slice('arn:aws:s3:::'.length) : arn
}

function attributeHolds(e: AuditEvent, key: LookupKey, value: string): boolean {
  const id = e.userIdentity
  switch (key) {
    case 'EventId':
      return e.eventID === value
    case 'EventName':
      return e.eventName === value
    case 'ReadOnly':
      return String(e.readOnly) === value
    case 'Username':
      return usernameOf(e) === value
    case 'ResourceType':
      return e.resources.some((r) => r.type === value)
    case 'ResourceName':
      return e.resources.some((r) => r.ARN === value || resourceName(r.ARN) === value)
    case 'EventSource':
      return e.eventSource === value
    case 'AccessKeyId':
      return 'accessKeyId' in id && id.accessKeyId === value
    // The rest are EventFilter's, applied by `matches`.
    case 'PrincipalArn':
    case 'Action':
    case 'ResourcePrefix':
    case 'Decision':
    case 'ErrorCode':
    case 'Source':
      return true
  }
}

/** The filter a lookup's Strongroom attributes add to its time range. */
export function withAttributes(
  f: EventFilter,
  attributes: ReadonlyMap<LookupKey, string>,
): EventFilter {
  const fields: readonly [LookupKey, keyof EventFilter][] = [
    ['PrincipalArn', 'principal'],
    ['Action', 'action'],
    ['ResourcePrefix', 'resourcePrefix'],
    ['Decision', 'decision'],
    ['ErrorCode', 'errorCode'],
    ['Source', 'source'],
  ]
  const given = fields.flatMap(([key, field]) => {
    const v = attributes.get(key)
    return v === undefined ? [] : [[field, v] as const]
  })
  return { ...f, ...(Object.fromEntries(given) as Partial<EventFilter>) }
}

/**
 * The event as `viewer` may see it. Policy text never leaves through the API (an operator reads
 * it with `strongroom explain`): each decision keeps its action, resource and outcome. The rule
 * that decided, in words (which name the policy and statement), the deciding statements' names
 * and the condition keys the policies missed stay only for an event that concerns no account
 * but the viewer's (an anonymous caller is none); an event between two accounts shows neither
 * side the other's: the rule in general words, and another account's KMS key without its id.
 */
export function forViewer(e: AuditEvent, viewer: string): AuditEvent {
  const id = e.userIdentity
  const involved = [
    'arn' in id ? id.accountId : '',
    e.recipientAccountId,
    ...e.resources.map((r) => r.accountId),
  ]
  // An anonymous caller or Strongroom itself is no other account.
  const within = involved.every((a) => a === viewer || a === '' || a === 'anonymous')
  const { evaluations, ...rest } = e.strongroom
  return {
    ...e,
    strongroom: {
      ...rest,
      statements: within ? e.strongroom.statements : [],
      ...(evaluations === undefined
        ? {}
        : {
            evaluations: evaluations.map((d) => ({
              action: d.action,
              resource: within ? d.resource : theirKeyHidden(d.resource, viewer),
              decision: d.decision,
              ...(d.trace === undefined
                ? {}
                : {
                    trace: {
                      decision: d.trace.decision,
                      // The rule's words name the policy and statement that decided.
                      decidedBy: within ? d.trace.decidedBy : GENERIC[d.trace.decision],
                      policies: [],
                      absentKeys: within ? d.trace.absentKeys : [],
                    },
                  }),
            })),
          }),
    },
  }
}

/** What decided, without naming whose policy: for an event between two accounts. */
const GENERIC: Readonly<Record<Decision, string>> = {
  Allow: 'allowed by the policies that apply',
  ExplicitDeny: 'an explicit Deny in a policy that applies',
  ImplicitDeny: 'no policy that applies allows the action',
}

/** Another account's KMS key, named by account only: its key id is that account's to know. */
function theirKeyHidden(resource: string, viewer: string): string {
  const m = /^(arn:aws:kms:[^:]*:(\d{12}):key\/).+$/.exec(resource)
  return m === null || m[2] === viewer ? resource : `${m[1] ?? ''}*`
}

/**
 * A NextToken: the eventID of the last (oldest) event the page answered, and what the lookup
 * was. An eventID is random, so the token says nothing of how many records other accounts
 * wrote between pages, as a record index would.
 */
interface Token {
  readonly eventId: string
}

/** What a NextToken is bound to: the filters and the viewer, never the page size. */
function binding(l: Lookup): string {
  const f = l.filter
  const text = JSON.stringify([l.viewer, f.since, f.until, [...l.attributes].sort()])
  return createHash('sha256').update(text).digest('base64url').slice(0, 22)
}

const invalidToken = () =>
  new StrongroomError(
    'INVALID_NEXT_TOKEN',
    'NextToken is not one this lookup returned: pass it with the same attributes, StartTime and EndTime as the call that returned it',
  )

function readToken(l: Lookup): Token | undefined {
  if (l.nextToken === undefined) return undefined
  const m = /^([A-Za-z0-9-]{1,64})\.([A-Za-z0-9_-]{22})$/.exec(
    Buffer.from(l.nextToken.slice(0, 128), 'base64url').toString('latin1'),
  )
  if (m?.[1] === undefined || m[2] !== binding(l)) throw invalidToken()
  return { eventId: m[1] }
}

function parseEvent(index: number, record: Buffer): AuditEvent {
  try {
    return JSON.parse(record.toString('utf8')) as AuditEvent
  } catch (err) {
    throw new StrongroomError('IO', `audit record ${String(index)} is not an event`, { cause: err })
  }
}

/**
 * One page of a lookup over `records` (every record of the log with its index, oldest first):
 * the newest matches before the event the NextToken names. A record that cannot concern the
 * viewer (its account id appears nowhere in it) is skipped before it is parsed.
 */
export async function lookupPage(
  records: AsyncIterable<readonly [number, Buffer]>,
  l: Lookup,
): Promise<LookupPage> {
  const token = readToken(l)
  let reached = token === undefined
  const filter: EventFilter = withAttributes({ ...l.filter, account: l.viewer }, l.attributes)
  const viewerBytes = Buffer.from(`"${l.viewer}"`)
  // The newest max + 1 matches so far: one more than a page says whether there is a next.
  const kept: AuditEvent[] = []
  for await (const [index, record] of records) {
    if (!record.includes(viewerBytes)) continue
    const e = parseEvent(index, record)
    if (token !== undefined && e.eventID === token.eventId) {
      reached = true
      break
    }
    if (!matches(e, filter)) continue
    let held = true
    for (const [k, v] of l.attributes) held &&= attributeHolds(e, k, v)
    if (!held) continue
    kept.push(e)
    if (kept.length > l.max + 1) kept.shift()
  }
  if (!reached) throw invalidToken()
  const more = kept.length > l.max
  const page = (more ? kept.slice(1) : kept).reverse()
  const last = page.at(-1)
  return {
    events: page.map((e) => forViewer(e, l.viewer)),
    nextToken:
      more && last !== undefined
        ? Buffer.from(`${last.eventID}.${binding(l)}`, 'latin1').toString('base64url')
        : undefined,
  }
}
