/**
 * An API operation as data: how a request is matched to it, what it must be allowed to do,
 * and its handler. The pipeline (pipeline.ts) reads a table of these and decides before any
 * handler runs; a handler receives only an `Authorized` context, which only the pipeline can
 * make. A new operation is one declaration; test/api/operations.test.ts walks every one.
 */
import type { Guardrails } from '../org/organization.ts'
import type { KeyObject } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import type { App } from '../app.ts'
import type { IncomingMessage } from 'node:http'
import type { LoadedPolicy } from '../iam/load.ts'
import type { IdentityService } from '../identity/service.ts'
import type { SessionClaims } from '../sts/token.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { Authorized, JsonAuthorized, QueryAuthorized } from './authorized.ts'
import type { JsonService } from './protocols/json.ts'
import type { QueryService } from './protocols/query.ts'
import type { ParsedAuth, RequestView } from './sigv4.ts'
import type { Node } from './xml.ts'

export type Conditions = Record<string, string | string[]>

/** Who sent a request, once authenticated (an anonymous caller has no `auth`). */
export interface Caller {
  readonly arn: string
  readonly account: string
  readonly tenant: TenantRecord | undefined
  readonly userId: string | undefined
  readonly userName: string | undefined
  readonly policies: readonly LoadedPolicy[]
  readonly auth: ParsedAuth | undefined
  readonly signingKey: KeyObject | undefined
  /** A caller with session credentials: the session, its role's ARN, and its session policies. */
  readonly session?: CallerSession | undefined
  /**
   * The permissions boundary of the user or role the caller acts as (its default version): the
   * most its identity policies may allow.
   */
  readonly boundary?: LoadedPolicy | undefined
  /**
   * aws:PrincipalTag/*: a user's tags; a role session's role tags with its session tags over
   * them (a session tag wins over a role tag of the same key); a federated user's session tags.
   */
  readonly principalTags?: readonly (readonly [string, string])[] | undefined
  /** The organization's guardrails when the request was authenticated (the pipeline sets them). */
  readonly guardrails?: Guardrails | undefined
}

/**
 * The policies a request of `c` on a resource of `resourceAccount` is decided with, as the IAM
 * engine takes them: the caller's identity policies, its permissions boundary and a session's
 * policy; the SCPs of its account (a signed caller's, never the management account's); the RCPs
 * of the resource's account (whoever asks, anonymous callers too).
 */
export function callerPolicies(
  c: Caller,
  resourceAccount: string,
): {
  identity: readonly LoadedPolicy[]
  session: readonly LoadedPolicy[] | undefined
  boundary: LoadedPolicy | undefined
  scps: (readonly LoadedPolicy[])[] | undefined
  rcps: (readonly LoadedPolicy[])[] | undefined
} {
  const g = c.guardrails
  return {
    identity: c.policies,
    session: c.session?.policies,
    boundary: c.boundary,
    scps: c.tenant === undefined ? undefined : g?.scps(c.account),
    rcps: g?.rcps(resourceAccount),
  }
}

export interface CallerSession {
  readonly claims: SessionClaims
  /**
   * aws:PrincipalArn: the role's ARN (arn:aws:iam::ACCOUNT:role/PATH/NAME) for an assumed role,
   * the user's for a user's session, the federated user's for a federated one.
   */
  readonly principalArn: string
  /**
   * The session policies (inline, then managed by their default versions now): every request of
   * the session must also be allowed by one of them; undefined for a session given none.
   */
  readonly policies: readonly LoadedPolicy[] | undefined
}

/** A request as the S3 codec decoded it: what the declarations' functions may read. */
export interface S3Request {
  readonly req: IncomingMessage
  readonly view: RequestView
  /** The query as ordered pairs (SigV4 reads them so). */
  readonly pairs: readonly [string, string][]
  readonly query: ReadonlyMap<string, string>
  readonly bucketName: string | undefined
  readonly key: string | undefined
  /** The versionId query parameter: `null` or one of our version ids. */
  readonly versionId: string | undefined
  readonly header: (name: string) => string | undefined
}

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE'

export interface Match {
  readonly method: Method
  /** What the path names: the service (`/`), a bucket (`/b`) or an object (`/b/key`). */
  readonly on: 'service' | 'bucket' | 'object'
  /** The sub-resource query parameter that names the operation (`?policy`); none for plain ones. */
  readonly sub?: string
  /** Query parameters that must be present too (UploadPart: `partNumber`), or have this value. */
  readonly query?: Readonly<Record<string, string | true>>
  /** A header whose presence selects this operation (CopyObject: x-amz-copy-source). */
  readonly header?: string
  /** Plain operations only: the query parameters it reads; any other answers NotImplemented. */
  readonly reads?: readonly string[]
}

/** The KMS key action an operation's object body needs, and where the key comes from. */
export interface KeyUse {
  readonly action: 'kms:Decrypt' | 'kms:GenerateDataKey'
  /**
   * `object`: the key the existing version is sealed under; `write`: the key the request names
   * (x-amz-server-side-encryption-aws-kms-key-id) or the bucket's; `upload`: the multipart
   * upload's key.
   */
  readonly key: 'object' | 'write' | 'upload'
}

export interface Operation {
  readonly name: string
  readonly match: Match
  /** The IAM action decided; a function where it depends on the request (…Version). */
  readonly action: string | ((r: S3Request) => string)
  /** The resource the decision is on: `*`, the bucket, the object, or every object of the bucket. */
  readonly resource: 'service' | 'bucket' | 'object' | 'objects'
  /**
   * What the pipeline loads before it decides, and checks after: `none` (no bucket policy
   * applies), `bucket` (NoSuchBucket after the decision), `object` (an existing version: its tags
   * are condition keys; NoSuchKey/NoSuchVersion after the decision), `items` (the handler decides
   * each item of the body through `Authorized.authorizeItem`; needs `bodyBeforeAuth`).
   */
  readonly target: 'none' | 'bucket' | 'object' | 'items'
  /** Condition keys the request adds (s3:RequestObjectTag/…); may refuse a malformed request first. */
  readonly conditions?: (r: S3Request) => Conditions
  /** More actions decided on the same resource, as the request asks (s3:PutObjectTagging). */
  readonly also?: (r: S3Request) => readonly string[]
  /** The KMS key-policy decision on the object's key. */
  readonly kms?: KeyUse
  /** The request names a source object (x-amz-copy-source) that must be readable first. */
  readonly copySource?: boolean
  /** Reading this body of a quarantined version needs strongroom:GetQuarantinedObject too. */
  readonly quarantine?: boolean
  /**
   * Only where S3 needs the body to decide: the body is read (at most `maxBytes`) once the
   * bucket is known to exist and an anonymous caller not refused by its public access block;
   * `read` returns the condition keys the body sets. Any error reading it answers an anonymous
   * caller AccessDenied, so that a body's errors never tell whether the bucket exists.
   */
  readonly bodyBeforeAuth?: {
    readonly maxBytes: number
    readonly read: (body: Buffer, r: S3Request) => Conditions
  }
  /**
   * x-amz-bucket-region goes on every answer, a refusal's included, as S3's HeadBucket does
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html): tools find the region
   * this way before they have access.
   */
  readonly answersRegion?: boolean
  /**
   * What the request's audit event keeps of its document (CloudTrail's requestParameters for
   * it: `bucketPolicy`, `PublicAccessBlockConfiguration`), taken when the context reads the
   * body; the detection rules read it. Never secrets; must not throw on any bytes.
   */
  readonly recordsBody?: (body: Buffer) => Readonly<Record<string, unknown>>
  readonly handler: (ctx: Authorized) => Promise<void>
}

/** The IAM action an operation decides for this request. */
export function actionOf(op: Operation, r: S3Request): string {
  return typeof op.action === 'string' ? op.action : op.action(r)
}

/** The ARN an operation's decision is on. */
export function resourceOf(op: Operation, r: S3Request): string {
  switch (op.resource) {
    case 'service':
      return '*'
    case 'bucket':
      return `arn:aws:s3:::${r.bucketName ?? ''}`
    case 'object':
      return `arn:aws:s3:::${r.bucketName ?? ''}/${r.key ?? ''}`
    case 'objects':
      return `arn:aws:s3:::${r.bucketName ?? ''}/*`
  }
}

/**
 * An IAM or STS action (query protocol) as data: the parameters it takes, the IAM action and
 * resource decided before its handler runs, and who may call it.
 */
/** What a query declaration's `resource` may read to name its ARN: the caller, and identities. */
export interface ResourceLookup {
  readonly identity: IdentityService
  readonly caller: Caller
}

export interface QueryOperation {
  readonly service: QueryService
  /** The `Action` parameter. */
  readonly name: string
  /**
   * The IAM action decided, or `none` for what AWS lets every signed caller do without a
   * permission (GetCallerIdentity: "No permissions are required to perform this operation").
   */
  readonly action: string
  /** The parameters it takes (besides Action and Version); one ending in `.` takes every one under it. */
  readonly params: readonly string[]
  /**
   * The ARN the decision is on, from the parameters and the caller's account (`*` where none);
   * IAM's read the path of the role or policy named (its ARN holds it) through `lookup`.
   */
  readonly resource: (
    p: ReadonlyMap<string, string>,
    account: string,
    lookup: ResourceLookup,
  ) => string | Promise<string>
  /**
   * The role named by `RoleArn` is read and its trust policy is the resource policy of the
   * decision (AssumeRole); a role that does not exist is refused as the trust policy would.
   */
  readonly assumesRole?: boolean
  /**
   * Who may call: `signed` (the default: any signed caller), `user` (an IAM user's long-term
   * access key only: GetSessionToken and GetFederationToken), `unsigned` (the request carries
   * its own proof: AssumeRoleWithWebIdentity).
   */
  readonly callers?: 'signed' | 'user' | 'unsigned'
  /** More actions decided on the same resource, as the request asks (sts:TagSession for Tags). */
  readonly also?: (p: ReadonlyMap<string, string>, caller: Caller) => readonly string[]
  /**
   * An unsigned operation that carries its own proof of who sent it (AssumeRoleWithWebIdentity's
   * token): the authenticate stage for it. Returns the caller the decision is for, the condition
   * keys the proof sets, and what the handler may report of it; throws if the proof fails.
   */
  readonly identify?: (
    p: ReadonlyMap<string, string>,
    app: App,
    now: number,
  ) => Promise<{
    readonly caller: Caller
    readonly conditions: Conditions
    readonly proof: Readonly<Record<string, string>>
  }>
  /** Condition keys the parameters set (sts:RoleSessionName, sts:ExternalId, aws:RequestTag/…). */
  readonly conditions?: (p: ReadonlyMap<string, string>) => Conditions
  /** The result element's content; undefined for actions that answer with metadata only. */
  readonly handler: (ctx: QueryAuthorized) => Promise<Node>
}

/**
 * An operation of a JSON 1.1 service (CloudTrail) as data: the members it takes, the IAM action
 * decided on its resource before the handler runs, and the handler, which answers the output.
 */
export interface JsonOperation {
  readonly service: JsonService
  /** The operation X-Amz-Target names. */
  readonly name: string
  /** The IAM action decided. */
  readonly action: string
  /** The top-level members of its input; any other is refused. */
  readonly members: readonly string[]
  /** The ARN the decision is on (`*` for actions without resource types) when `key` is not set. */
  readonly resource: (input: Readonly<Record<string, unknown>>, account: string) => string
  /**
   * KMS: the caller's key the operation acts on (`KeyId`, an alias or an ARN; Decrypt's from its
   * ciphertext). The pipeline finds it in the caller's account (NotFoundException otherwise) and
   * decides on its ARN with its key policy as the resource policy, as KMS does.
   */
  readonly key?: (input: Readonly<Record<string, unknown>>) => string
  /**
   * KMS: the alias the operation acts on (`alias/NAME`), decided on the alias's ARN with the
   * caller's identity policies (an alias has no policy); `current`: the key the alias points at
   * now is decided too, with its key policy (NotFoundException when there is no such alias), and
   * is the handler's key when `key` is not set
   * (https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html).
   */
  readonly alias?: {
    readonly name: (input: Readonly<Record<string, unknown>>) => string
    readonly current: boolean
  }
  /** Condition keys the input sets (kms:EncryptionContext:*, kms:EncryptionContextKeys). */
  readonly conditions?: (input: Readonly<Record<string, unknown>>) => Conditions
  /**
   * KMS's ReEncrypt: the second key the operation acts on, decided with its own action and
   * condition keys and that key's policy (kms:ReEncryptTo on the destination, `action` being
   * kms:ReEncryptFrom on the source); both decisions carry kms:ReEncryptOnSameKey.
   */
  readonly to?: {
    readonly action: string
    readonly key: (input: Readonly<Record<string, unknown>>) => string
    readonly conditions: (input: Readonly<Record<string, unknown>>) => Conditions
  }
  readonly handler: (ctx: JsonAuthorized) => Promise<Record<string, unknown>>
}

/**
 * What temporary credentials may not do, whatever their policies say: a user's session
 * (GetSessionToken) calls no IAM action and, of STS, only AssumeRole and GetCallerIdentity; a
 * federated user's calls no IAM action and, of STS, only GetCallerIdentity
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html).
 */
export function sessionMayCall(c: Caller, op: QueryOperation): void {
  const kind = c.session?.claims.kind
  if (op.callers === 'user' && (c.userName === undefined || kind !== undefined))
    throw new StrongroomError(
      'ACCESS_DENIED',
      `Cannot call ${op.name} with session credentials: it needs an IAM user's access key`,
    )
  if (kind === undefined || kind === 'role') return
  const stsAllowed = kind === 'user' ? ['AssumeRole', 'GetCallerIdentity'] : ['GetCallerIdentity']
  if (op.service === 'iam' || !stsAllowed.includes(op.name))
    throw new StrongroomError(
      'ACCESS_DENIED',
      `Cannot call ${op.name} with the credentials of ${kind === 'user' ? 'GetSessionToken' : 'GetFederationToken'}`,
    )
}
