/**
 * The OCSF shape of an audit event, for SIEMs and data lakes that read the Open Cybersecurity
 * Schema Framework rather than CloudTrail: API Activity (class_uid 6003, category 6 Application
 * Activity) of OCSF 1.9.0 (https://schema.ocsf.io/1.9.0/classes/api_activity). One AuditEvent
 * gives one OCSF event, and docs/audit.md gives the mapping field by field.
 *
 * Nothing is dropped. Each field of the event goes to the OCSF attribute that means the same
 * thing (the choices follow the OCSF project's CloudTrail mapping, ocsf/examples
 * mappings/markdown/AWS/v1.5.0/CloudTrail/API Activity, in 1.9.0's names); a field with no such attribute goes under `unmapped` at its own path
 * (`unmapped.tlsDetails.cipherSuite`, `unmapped.strongroom.decision`), which is how OCSF asks
 * for source fields it has no place for. An empty string, CloudTrail's "not known", becomes an
 * absent attribute rather than an empty one (an `ip` of "" is not an IP address).
 *
 * Pure: no I/O, no clock, no randomness; the same event always gives the same object.
 */
import { isIP } from 'node:net'
import type { AuditEvent, Evaluation } from './event.ts'

/** The OCSF schema version the output follows (its `metadata.version`). */
export const OCSF_VERSION = '1.9.0'

export const CATEGORY_UID = 6
export const CLASS_UID = 6003

/** API Activity's activity_id: 0 Unknown, 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
export type ActivityId = 0 | 1 | 2 | 3 | 4 | 99

const ACTIVITY_NAMES: Record<ActivityId, string> = {
  0: 'Unknown',
  1: 'Create',
  2: 'Read',
  3: 'Update',
  4: 'Delete',
  99: 'Other',
}

/**
 * activity_id from the operation's name, the first rule that matches deciding; docs/audit.md
 * has the same table. A name matches a verb when the verb is followed by an upper-case letter
 * or the end (`Tag` is `TagUser`, not `Tagging`). This only labels events for search; no
 * decision depends on it.
 *
 * | rule                                                                | activity   |
 * | ------------------------------------------------------------------- | ---------- |
 * | `Unknown` (a request no pipeline routed)                            | 0 Unknown  |
 * | `PutObject`: makes an object, or a new version of one               | 1 Create   |
 * | Get, Head, List, Describe, Select, Simulate                         | 2 Read     |
 * | Create, Upload, Copy, Complete, Initiate: each makes something new  | 1 Create   |
 * | Put, Update, Attach, Detach, Add, Remove, Set, Tag, Untag, Enable,  | 3 Update   |
 * |   Disable, Cancel: each changes something that exists               |            |
 * | Delete, Abort, Schedule…Deletion                                    | 4 Delete   |
 * | anything else (AssumeRole, ScanVerdict); activity_name is the name  | 99 Other   |
 */
const EXACT: ReadonlyMap<string, ActivityId> = new Map<string, ActivityId>([
  ['Unknown', 0],
  ['PutObject', 1],
])
const VERB = (verbs: string): RegExp => new RegExp(`^(?:${verbs})(?=[A-Z]|$)`)
const RULES: readonly (readonly [RegExp, ActivityId])[] = [
  [VERB('Get|Head|List|Describe|Select|Simulate'), 2],
  [VERB('Create|Upload|Copy|Complete|Initiate'), 1],
  [VERB('Put|Update|Attach|Detach|Add|Remove|Set|Tag|Untag|Enable|Disable|Cancel'), 3],
  [VERB('Delete|Abort'), 4],
  [/^Schedule[A-Za-z]*Deletion$/, 4],
]

export function activityOf(eventName: string): ActivityId {
  const exact = EXACT.get(eventName)
  if (exact !== undefined) return exact
  for (const [re, id] of RULES) if (re.test(eventName)) return id
  return 99
}

/** OCSF's account object for an AWS-style account id (type_id 10 is "AWS Account"). */
export interface OcsfAccount {
  readonly uid: string
  readonly type_id: 10
  readonly type: 'AWS Account'
}

/** OCSF's user; for Strongroom's own service events only `type` (AWSService) is known. */
export interface OcsfUser {
  readonly type: string
  readonly uid?: string
  readonly uid_alt?: string
  readonly name?: string
  readonly credential_uid?: string
  readonly account?: OcsfAccount
}

export interface OcsfSession {
  readonly uid?: string
  readonly created_time?: number
  readonly is_mfa?: boolean
  readonly issuer?: string
}

/** OCSF 1.9.0 API Activity as Strongroom fills it in (the attributes it never sets are left out). */
export interface OcsfApiActivity {
  readonly activity_id: ActivityId
  readonly activity_name: string
  readonly category_uid: typeof CATEGORY_UID
  readonly category_name: 'Application Activity'
  readonly class_uid: typeof CLASS_UID
  readonly class_name: 'API Activity'
  readonly type_uid: number
  readonly type_name: string
  readonly severity_id: 1
  readonly severity: 'Informational'
  readonly status_id: 1 | 2
  readonly status: 'Success' | 'Failure'
  readonly status_code?: string
  readonly status_detail?: string
  /** Epoch milliseconds. */
  readonly time: number
  readonly metadata: {
    readonly version: typeof OCSF_VERSION
    readonly product: {
      readonly name: string
      readonly vendor_name: string
      readonly version?: string
    }
    readonly profiles: readonly string[]
    readonly uid: string
    readonly correlation_uid?: string
    readonly log_version: string
    readonly event_code: string
  }
  readonly actor: {
    readonly user: OcsfUser
    readonly session?: OcsfSession
    /** Who acted for a service event (CloudTrail's invokedBy); 1.9.0's successor of `app_name`. */
    readonly application?: { readonly name: string }
  }
  readonly api: {
    readonly operation: string
    readonly service: { readonly name: string }
    readonly request: { readonly uid?: string; readonly data?: Readonly<Record<string, unknown>> }
    readonly response?: {
      readonly error?: string
      readonly error_message?: string
      readonly data?: Readonly<Record<string, unknown>>
    }
  }
  readonly src_endpoint: { readonly ip?: string; readonly svc_name?: string; readonly uid?: string }
  readonly http_request: { readonly user_agent?: string; readonly length: number }
  readonly http_response: { readonly code: number; readonly length: number }
  readonly resources?: readonly {
    readonly uid: string
    readonly type: string
    readonly owner?: { readonly account: OcsfAccount }
  }[]
  readonly cloud: {
    readonly provider: string
    readonly region: string
    readonly account?: OcsfAccount
  }
  readonly unmapped: Unmapped
}

/** What OCSF has no attribute for, at the path it has in the CloudTrail record. */
export interface Unmapped {
  readonly readOnly: boolean
  readonly userIdentity?: {
    readonly sessionContext: {
      readonly sessionIssuer?: {
        readonly type: string
        readonly principalId: string
        readonly accountId: string
        readonly userName: string
      }
      readonly sourceIdentity?: string
    }
  }
  readonly tlsDetails?: {
    readonly tlsVersion: string
    readonly cipherSuite: string
    readonly clientProvidedHostHeader: string
  }
  readonly strongroom: {
    readonly decision: string
    readonly statements: readonly string[]
    readonly latencyMs: number
    readonly evaluations?: readonly Evaluation[]
    readonly tracesOmitted?: true
  }
}

export interface OcsfOptions {
  /** Strongroom's version, for `metadata.product.version`; the event itself does not carry it. */
  readonly productVersion?: string
}

/** `{ [key]: value }`, or nothing when the value is absent or the empty string. */
function some<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: V }
}

const account = (uid: string): OcsfAccount => ({ uid, type_id: 10, type: 'AWS Account' })

function userOf(u: AuditEvent['userIdentity']): OcsfUser {
  if (u.type === 'AWSService') return { type: u.type }
  const signed = u.type === 'AWSAccount' ? undefined : u
  return {
    type: u.type,
    ...some('uid', signed?.arn),
    ...some('uid_alt', u.principalId),
    ...some('name', signed?.userName),
    ...some('credential_uid', u.accessKeyId),
    ...(u.accountId === '' ? {} : { account: account(u.accountId) }),
  }
}

function actorOf(e: AuditEvent): OcsfApiActivity['actor'] {
  const u = e.userIdentity
  const context = u.type === 'AWSAccount' || u.type === 'AWSService' ? undefined : u.sessionContext
  const token = e.strongroom.sessionTokenHmac
  // The field's type says CloudTrail's "false" (no MFA yet); a "true" must still read as true.
  const mfa: string | undefined = context?.attributes.mfaAuthenticated
  const session: OcsfSession = {
    // The HMAC of the session token: the same session gives the same uid, and never the token.
    ...some('uid', token),
    ...(context === undefined
      ? {}
      : {
          created_time: Date.parse(context.attributes.creationDate),
          is_mfa: mfa === 'true',
          ...some('issuer', context.sessionIssuer?.arn),
        }),
  }
  return {
    user: userOf(u),
    ...(Object.keys(session).length === 0 ? {} : { session }),
    ...(u.type === 'AWSService' ? { application: { name: u.invokedBy } } : {}),
  }
}

function unmappedOf(e: AuditEvent): Unmapped {
  const u = e.userIdentity
  const context = u.type === 'AWSAccount' || u.type === 'AWSService' ? undefined : u.sessionContext
  const issuer = context?.sessionIssuer
  const sessionContext = {
    ...(issuer === undefined
      ? {}
      : {
          sessionIssuer: {
            type: issuer.type,
            principalId: issuer.principalId,
            accountId: issuer.accountId,
            userName: issuer.userName,
          },
        }),
    ...(context?.sourceIdentity === undefined ? {} : { sourceIdentity: context.sourceIdentity }),
  }
  const s = e.strongroom
  return {
    readOnly: e.readOnly,
    ...(Object.keys(sessionContext).length === 0 ? {} : { userIdentity: { sessionContext } }),
    ...(e.tlsDetails === undefined ? {} : { tlsDetails: { ...e.tlsDetails } }),
    strongroom: {
      decision: s.decision,
      statements: [...s.statements],
      latencyMs: s.latencyMs,
      ...(s.evaluations === undefined ? {} : { evaluations: s.evaluations }),
      ...(s.tracesOmitted === undefined ? {} : { tracesOmitted: s.tracesOmitted }),
    },
  }
}

/** The event as OCSF 1.9.0 API Activity. */
export function toOcsf(e: AuditEvent, options: OcsfOptions = {}): OcsfApiActivity {
  const activity = activityOf(e.eventName)
  // For Other, OCSF wants the source's own label as the activity name.
  const activityName = activity === 99 ? e.eventName : ACTIVITY_NAMES[activity]
  const failed = e.errorCode !== undefined
  const response = {
    ...some('error', e.errorCode),
    ...some('error_message', e.errorMessage),
    ...(e.responseElements === null ? {} : { data: e.responseElements }),
  }
  return {
    activity_id: activity,
    activity_name: activityName,
    category_uid: CATEGORY_UID,
    category_name: 'Application Activity',
    class_uid: CLASS_UID,
    class_name: 'API Activity',
    type_uid: CLASS_UID * 100 + activity,
    type_name: `API Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    ...some('status_code', e.errorCode),
    ...some('status_detail', e.errorMessage),
    time: Date.parse(e.eventTime),
    metadata: {
      version: OCSF_VERSION,
      product: {
        name: 'Strongroom',
        vendor_name: 'Strongroom',
        ...some('version', options.productVersion),
      },
      profiles: ['cloud'],
      uid: e.eventID,
      ...some('correlation_uid', e.requestID),
      log_version: e.eventVersion,
      event_code: e.eventType,
    },
    actor: actorOf(e),
    api: {
      operation: e.eventName,
      service: { name: e.eventSource },
      request: {
        ...some('uid', e.requestID),
        ...(e.requestParameters === null ? {} : { data: e.requestParameters }),
      },
      ...(Object.keys(response).length === 0 ? {} : { response }),
    },
    // A service event's "source IP address" is the service's name, as on CloudTrail.
    src_endpoint: {
      ...some(isIP(e.sourceIPAddress) === 0 ? 'svc_name' : 'ip', e.sourceIPAddress),
      ...some('uid', e.vpcEndpointId),
    },
    http_request: { ...some('user_agent', e.userAgent), length: e.strongroom.bytesIn },
    http_response: { code: e.strongroom.status, length: e.strongroom.bytesOut },
    ...(e.resources.length === 0
      ? {}
      : {
          resources: e.resources.map((r) => ({
            uid: r.ARN,
            type: r.type,
            ...(r.accountId === '' ? {} : { owner: { account: account(r.accountId) } }),
          })),
        }),
    cloud: {
      provider: 'Strongroom',
      region: e.awsRegion,
      ...(e.recipientAccountId === '' ? {} : { account: account(e.recipientAccountId) }),
    },
    unmapped: unmappedOf(e),
  }
}
