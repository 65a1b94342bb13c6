/**
 * One audit event per request, shaped as a CloudTrail record so that the tools auditors already
 * have (Athena tables, SIEM parsers for CloudTrail) read it unchanged; our own fields sit under
 * `strongroom`. Field by field, docs/audit.md gives the mapping to CloudTrail and to OCSF API
 * Activity.
 *
 * Secrets never appear: not signatures, session tokens, secret keys, passwords or presigned
 * query strings. What must still be correlated (the session token that made a request) is
 * HMAC-SHA256'd under the deployment's audit key, so the same token gives the same value in
 * every record, across restarts, and never the token.
 */
import { createHmac, randomUUID } from 'node:crypto'
import type { Caller } from '../api/operation.ts'
import type { Trace } from '../iam/evaluate.ts'
import { MAX_ENTRY_BYTES } from './tlog/tiles.ts'

/** CloudTrail's record version these events follow (CloudTrail record contents, 2024). */
export const EVENT_VERSION = '1.11'

export type UserIdentity =
  /**
   * A request not authenticated: unsigned, or signed but refused (an unknown key, a wrong
   * signature), which names the access key it claimed, so that attempts with a key can be found.
   */
  | {
      readonly type: 'AWSAccount'
      readonly principalId: ''
      readonly accountId: 'anonymous'
      readonly accessKeyId?: string
    }
  /** Strongroom itself, for what it does on its own (a background scan): CloudTrail's service events. */
  | { readonly type: 'AWSService'; readonly invokedBy: string }
  | {
      readonly type: 'IAMUser' | 'AssumedRole' | 'FederatedUser' | 'WebIdentityUser' | 'Root'
      readonly principalId: string
      readonly arn: string
      readonly accountId: string
      readonly accessKeyId?: string
      readonly userName?: string
      readonly sessionContext?: {
        readonly sessionIssuer?: {
          readonly type: 'Role' | 'IAMUser'
          readonly principalId: string
          readonly arn: string
          readonly accountId: string
          readonly userName: string
        }
        readonly attributes: { readonly creationDate: string; readonly mfaAuthenticated: 'false' }
        readonly sourceIdentity?: string
      }
    }

/** One authorization decision a request needed, with the evaluation that made it. */
export interface Evaluation {
  readonly action: string
  readonly resource: string
  readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'
  /** Every policy and statement for a denial; only the statements that applied for an allow. */
  readonly trace?: Trace
}

export interface AuditEvent {
  readonly eventVersion: string
  readonly eventTime: string
  readonly eventSource: string
  readonly eventName: string
  readonly awsRegion: string
  readonly sourceIPAddress: string
  readonly userAgent: string
  readonly userIdentity: UserIdentity
  readonly requestParameters: Readonly<Record<string, unknown>> | null
  /** Omitted (null) for reads, as CloudTrail does. */
  readonly responseElements: Readonly<Record<string, unknown>> | null
  readonly requestID: string
  readonly eventID: string
  readonly readOnly: boolean
  readonly resources: readonly {
    readonly ARN: string
    readonly accountId: string
    readonly type: string
  }[]
  readonly eventType: 'AwsApiCall' | 'AwsServiceEvent'
  readonly recipientAccountId: string
  readonly vpcEndpointId?: string
  readonly tlsDetails?: {
    readonly tlsVersion: string
    readonly cipherSuite: string
    readonly clientProvidedHostHeader: string
  }
  readonly errorCode?: string
  readonly errorMessage?: string
  readonly strongroom: {
    /** The request's decision: Allow, or the deny that refused it (ExplicitDeny, ImplicitDeny). */
    readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' | 'None'
    /** The statements that decided, as `policy name#statement` (Sid or index). */
    readonly statements: readonly string[]
    readonly bytesIn: number
    readonly bytesOut: number
    readonly latencyMs: number
    readonly status: number
    /**
     * Set when a session credential was refused because its role's sessions were revoked
     * (AWSRevokeOlderSessions denied it): the revoked credential is still in someone's hands.
     */
    readonly sessionRevoked?: true
    /** HMAC-SHA256 of the session token that signed the request, hex: correlates, never reveals. */
    readonly sessionTokenHmac?: string
    /** Each decision with its trace (what `strongroom explain` shows). */
    readonly evaluations?: readonly Evaluation[]
    /** Set when the traces were left out to keep the record within a log entry's size. */
    readonly tracesOmitted?: true
  }
}

/** What the request path knows of one request when its response is done. */
export interface RequestFacts {
  readonly time: number
  readonly requestId: string
  readonly service: string
  readonly operation: string
  readonly region: string
  readonly readOnly: boolean
  readonly caller: Caller | undefined
  /** The access key a request that failed authentication claimed (its credential's id). */
  readonly claimedKey?: string | undefined
  readonly remote: string | undefined
  readonly userAgent: string | undefined
  readonly host: string | undefined
  readonly tls: { readonly version: string; readonly cipher: string } | undefined
  readonly requestParameters: Readonly<Record<string, unknown>> | null
  readonly responseElements: Readonly<Record<string, unknown>> | null
  readonly resources: AuditEvent['resources']
  readonly recipientAccountId: string | undefined
  readonly decision: AuditEvent['strongroom']['decision']
  readonly statements: readonly string[]
  readonly evaluations?: readonly Evaluation[]
  /** A session refused by its role's revocation (strongroom.sessionRevoked). */
  readonly sessionRevoked?: boolean
  readonly status: number
  readonly errorCode: string | undefined
  readonly errorMessage: string | undefined
  readonly bytesIn: number
  readonly bytesOut: number
  readonly latencyMs: number
}

/** CloudTrail's time: whole seconds, UTC, `Z`. */
export function eventTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/**
 * The CloudTrail userIdentity of a caller: anonymous when the request was not authenticated,
 * with the access key it claimed if it named one.
 */
export function userIdentityOf(c: Caller | undefined, claimedKey?: string): UserIdentity {
  if (c?.auth === undefined)
    return {
      type: 'AWSAccount',
      principalId: '',
      accountId: 'anonymous',
      ...(claimedKey === undefined ? {} : { accessKeyId: claimedKey }),
    }
  const accessKeyId = c.auth.credential.accessKeyId
  const s = c.session?.claims
  if (s === undefined)
    return {
      type: 'IAMUser',
      principalId: c.userId ?? '',
      arn: c.arn,
      accountId: c.account,
      accessKeyId,
      ...(c.userName === undefined ? {} : { userName: c.userName }),
    }
  const attributes = { creationDate: eventTime(s.issuedAt), mfaAuthenticated: 'false' as const }
  const source = s.sourceIdentity === undefined ? {} : { sourceIdentity: s.sourceIdentity }
  if (s.kind === 'role') {
    const issuerArn = c.session?.principalArn ?? ''
    return {
      type: 'AssumedRole',
      principalId: `${s.principalId}:${s.sessionName}`,
      arn: c.arn,
      accountId: c.account,
      accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: s.principalId,
          arn: issuerArn,
          accountId: c.account,
          userName: s.name,
        },
        attributes,
        ...source,
      },
    }
  }
  if (s.kind === 'federated')
    return {
      type: 'FederatedUser',
      principalId: s.principalId,
      arn: c.arn,
      accountId: c.account,
      accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'IAMUser',
          principalId: s.userId ?? '',
          arn: `arn:aws:iam::${c.account}:user/${s.user ?? ''}`,
          accountId: c.account,
          userName: s.user ?? '',
        },
        attributes,
        ...source,
      },
    }
  // A user's own session (GetSessionToken): CloudTrail names the user, with session attributes.
  return {
    type: 'IAMUser',
    principalId: s.principalId,
    arn: c.arn,
    accountId: c.account,
    accessKeyId,
    userName: s.name,
    sessionContext: { attributes, ...source },
  }
}

/** Builds the event; `hmacKey` is the deployment's audit key (never the root key itself). */
export function auditEvent(f: RequestFacts, hmacKey: Uint8Array): AuditEvent {
  const token = f.caller?.auth?.securityToken
  const error =
    f.errorCode === undefined
      ? {}
      : { errorCode: f.errorCode, errorMessage: (f.errorMessage ?? '').slice(0, 1024) }
  return {
    eventVersion: EVENT_VERSION,
    eventTime: eventTime(f.time),
    eventSource: `${f.service}.amazonaws.com`,
    eventName: f.operation,
    awsRegion: f.region,
    sourceIPAddress: (f.remote ?? '').replace(/^::ffff:(?=\d+\.)/, ''),
    userAgent: (f.userAgent ?? '').slice(0, 1024),
    userIdentity: userIdentityOf(f.caller, f.claimedKey),
    requestParameters: f.requestParameters,
    responseElements: f.readOnly ? null : f.responseElements,
    requestID: f.requestId,
    eventID: randomUUID(),
    readOnly: f.readOnly,
    resources: f.resources,
    eventType: 'AwsApiCall',
    recipientAccountId: f.recipientAccountId ?? f.caller?.account ?? '',
    ...(f.tls === undefined
      ? {}
      : {
          tlsDetails: {
            tlsVersion: f.tls.version.replace(/^TLSv/, 'TLSv'),
            cipherSuite: f.tls.cipher,
            clientProvidedHostHeader: (f.host ?? '').slice(0, 255),
          },
        }),
    ...error,
    strongroom: {
      decision: f.decision,
      statements: f.statements,
      bytesIn: f.bytesIn,
      bytesOut: f.bytesOut,
      latencyMs: Math.round(f.latencyMs * 10) / 10,
      status: f.status,
      ...(f.evaluations === undefined || f.evaluations.length === 0
        ? {}
        : { evaluations: f.evaluations }),
      ...(f.sessionRevoked === true ? { sessionRevoked: true as const } : {}),
      ...(token === undefined
        ? {}
        : { sessionTokenHmac: correlate(hmacKey, 'session-token', token) }),
    },
  }
}

/** HMAC-SHA256 of a secret under the audit key, domain-separated by what it is: hex. */
export function correlate(key: Uint8Array, what: string, secret: string): string {
  return createHmac('sha256', key).update(`${what}\n${secret}`).digest('hex')
}

/**
 * The event as a log record: JSON, at most a log entry's size. A record that would be larger
 * (a denial traced through many large policies) keeps its decisions without their traces,
 * marked `tracesOmitted`; one larger still (enormous request parameters) keeps its parameters'
 * names only.
 */
export function encodeEvent(e: AuditEvent): Buffer {
  let bytes = Buffer.from(JSON.stringify(e))
  if (bytes.length <= MAX_ENTRY_BYTES) return bytes
  const lean: AuditEvent = {
    ...e,
    strongroom: {
      ...e.strongroom,
      ...(e.strongroom.evaluations === undefined
        ? {}
        : {
            evaluations: e.strongroom.evaluations.map(({ action, resource, decision }) => ({
              action,
              resource,
              decision,
            })),
          }),
      tracesOmitted: true,
    },
  }
  bytes = Buffer.from(JSON.stringify(lean))
  if (bytes.length <= MAX_ENTRY_BYTES) return bytes
  // Larger still (many long ARNs): every string clipped, lists cut, and as a last resort the
  // event's core alone, so that no request is ever without its record.
  const clipped = Buffer.from(
    JSON.stringify(
      clip(
        {
          ...lean,
          requestParameters:
            e.requestParameters === null ? null : clip(e.requestParameters, 256, 20),
          resources: e.resources.slice(0, 5),
          strongroom: {
            ...lean.strongroom,
            statements: e.strongroom.statements.slice(0, 20),
            ...(lean.strongroom.evaluations === undefined
              ? {}
              : { evaluations: lean.strongroom.evaluations.slice(0, 10) }),
          },
        },
        1024,
        50,
      ),
    ),
  )
  if (clipped.length <= MAX_ENTRY_BYTES) return clipped
  return Buffer.from(
    JSON.stringify({
      ...clip(
        {
          ...e,
          requestParameters: null,
          resources: [],
          strongroom: { ...e.strongroom, statements: [], evaluations: [] },
        },
        128,
        10,
      ),
      strongroom: { ...clip(e.strongroom, 64, 0), tracesOmitted: true },
    }),
  )
}

/** `v` with every string cut to `chars` and every list to `items`, to any depth. */
function clip<T>(v: T, chars: number, items: number): T {
  if (typeof v === 'string') return v.slice(0, chars) as T
  if (Array.isArray(v)) return v.slice(0, items).map((x: unknown) => clip(x, chars, items)) as T
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(
      Object.entries(v)
        .slice(0, 64)
        .map(([k, x]) => [k.slice(0, 128), clip(x, chars, items)]),
    ) as T
  return v
}
