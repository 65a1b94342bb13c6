/**
 * One request path (../shared/DESIGN.md): listener (server.ts) -> protocol codec
 * (protocols/rest-xml.ts) -> authenticate (authenticate.ts) -> request context (context.ts and
 * the operation's declaration) -> authorize (here) -> execute (the operation's handler) ->
 * decision records (audit.ts) -> response (the codec).
 *
 * This is the only module that calls the IAM engine's `authorize` for a request: the
 * identity and bucket policies, the bucket-owner rule, the KMS key policy of an object's key
 * and the quarantine permission are all decided here, from the operation's declaration,
 * before its handler runs. A handler reaches the services (never the metadata store) only
 * through the `Authorized` context this module makes (its constructor takes a module-private
 * token), and decides per-item actions (DeleteObjects' keys) through it. Everything one request reads (tenants, buckets,
 * keys, objects, key policies) is read once; every decision is computed and recorded once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { App } from '../app.ts'
import { StrongroomError } from '../errors.ts'
import { authorize, type AuthzRequest, type Trace } from '../iam/evaluate.ts'
import type { LoadedPolicy } from '../iam/load.ts'
import type { BucketRecord, ObjectRecord, UploadRecord } from '../meta/objects.ts'
import type { RoleRecord, TenantRecord } from '../meta/identity.ts'
import type { ObjectService } from '../store/objects.ts'
import { authenticate } from './authenticate.ts'
import { Authorized, JsonAuthorized, MINT, QueryAuthorized } from './authorized.ts'
import { EMPTY_SHA256, readSmallBody } from './body.ts'
import { ownerRule } from './bucket-owner.ts'
import { requestConditions, s3Conditions } from './context.ts'
import { iamTarget } from './iam-target.ts'
import {
  actionOf,
  callerPolicies,
  resourceOf,
  sessionMayCall,
  type Caller,
  type Conditions,
  type JsonOperation,
  type Operation,
  type QueryOperation,
} from './operation.ts'
import { PolicyCache } from './policies.ts'
import {
  decodeQuery,
  onlyKnown,
  queryServiceOf,
  sendQueryResult,
  type QueryRequest,
  type QueryService,
} from './protocols/query.ts'
import { decode, route, viewOf } from './protocols/rest-xml.ts'
import { decideJson, resourceTags } from './json-decide.ts'
import {
  decodeJson,
  jsonServiceOf,
  onlyMembers,
  sendJsonResult,
  type JsonService,
} from './protocols/json.ts'
import { quarantined, recordScan } from './quarantine.ts'
import { loaded, once, RequestState, type Decided } from './request-state.ts'
import { type RecordSink, type ScanEvent } from './audit.ts'
import { noteDecision, noteRoute } from './audit-stage.ts'
import {
  completedObject,
  writeKeyOf,
  copySource,
  existing,
  NO_SUCH_UPLOAD,
  noSuchBucket,
} from './s3/common.ts'
import { PAYLOAD_SHA256, type RequestView } from './sigv4.ts'
import { restrictedByPublicAccessBlock } from './public-access.ts'

export type { Authorized, JsonAuthorized, QueryAuthorized } from './authorized.ts'

/**
 * Every denial of an anonymous request reads the same, whether the bucket is missing, blocked
 * by its public access block, or not granted by its policy: an anonymous caller cannot tell a
 * bucket it may not see from one that does not exist.
 */
export const ANONYMOUS_DENIED =
  'Access Denied: anonymous requests are allowed only where a bucket policy grants them; sign requests with AWS Signature Version 4'

export type { ScanEvent } from './audit.ts'

export interface PipelineOptions {
  readonly app: App
  readonly objects: ObjectService
  /** The operations this endpoint serves (s3/table.ts). */
  readonly operations: readonly Operation[]
  /** The IAM and STS actions it serves (query protocol); none unless given. */
  readonly queryOperations?: readonly QueryOperation[]
  /** The JSON 1.1 operations it serves (CloudTrail's LookupEvents); none unless given. */
  readonly jsonOperations?: readonly JsonOperation[]
  readonly now?: () => number
  /** Receives every scan verdict on an upload (the audit log keeps them). */
  readonly scans?: RecordSink<ScanEvent>
  /** Receives operator alerts (a stored policy that cannot be loaded); default: JSON lines on stderr. */
  readonly onAlert?: (line: Record<string, unknown>) => void
}

export class Pipeline {
  readonly app: App
  readonly objects: ObjectService
  readonly now: () => number
  readonly operations: readonly Operation[]
  readonly queryOperations: readonly QueryOperation[]
  readonly jsonOperations: readonly JsonOperation[]
  private readonly scans: RecordSink<ScanEvent> | undefined
  readonly policies: PolicyCache

  constructor(o: PipelineOptions) {
    this.app = o.app
    this.objects = o.objects
    this.operations = o.operations
    this.queryOperations = o.queryOperations ?? []
    this.jsonOperations = o.jsonOperations ?? []
    this.now = o.now ?? Date.now
    this.scans = o.scans
    this.policies = new PolicyCache(
      o.onAlert ?? ((line) => process.stderr.write(JSON.stringify(line) + '\n')),
    )
  }

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const v = viewOf(req)
    // A request is routed by the service its credential scope names (an unsigned one by its shape).
    const service = queryServiceOf(v.view, v.pairs)
    if (service !== undefined) return this.handleQuery(req, res, requestId, v, service)
    const json = jsonServiceOf(v.view, v.pairs)
    if (json !== undefined) return this.handleJson(req, res, requestId, v, json)
    const r = decode(req, v)
    const now = this.now()
    const caller = await this.authenticate(now, r.view, r.pairs)
    if (caller.auth !== undefined) {
      // A request without a body signed the hash of the empty payload, or it was not this request.
      const m = r.view.method
      const bodiless =
        (m === 'GET' || m === 'HEAD' || m === 'DELETE') &&
        (req.headers['content-length'] ?? '0') === '0' &&
        req.headers['transfer-encoding'] === undefined
      const hash = caller.auth.payloadHash
      if (bodiless && PAYLOAD_SHA256.test(hash) && hash.toLowerCase() !== EMPTY_SHA256)
        throw new StrongroomError(
          'CONTENT_SHA256_MISMATCH',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    }
    const conditions = s3Conditions(req, caller, r.query, now, this.app.config.region)
    const op = route(this.operations, r)
    const s = new RequestState(r, res, requestId, caller, conditions, op.name)
    s.recordsBody = op.recordsBody
    noteRoute(requestId, 's3', op.name, caller, {
      bucket: r.bucketName,
      key: r.key,
      versionId: r.versionId,
    })
    if (op.answersRegion === true) res.setHeader('x-amz-bucket-region', this.app.config.region)
    // Each decision goes into the request's audit event (audit-stage.ts), which is durable
    // before the answer goes out.
    await this.decide(op, s)
    await op.handler(new Authorized(MINT, this, s))
  }

  /**
   * IAM and STS (query protocol): the body is read (bounded) because SigV4 signs its hash, the
   * caller authenticated for that service, the action found and its parameters checked, then
   * decided (for AssumeRole, with the role's trust policy as the resource policy) before the
   * handler runs.
   */
  private async handleQuery(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    v: ReturnType<typeof viewOf>,
    service: QueryService,
  ): Promise<void> {
    const q = await decodeQuery(req, v.view, v.pairs, service)
    const now = this.now()
    const signed = { service, bodyHash: q.bodyHash }
    let caller = await this.authenticate(now, q.view, q.pairs, signed)
    const op = this.queryOperations.find((o) => o.service === service && o.name === q.action)
    if (op === undefined)
      throw new StrongroomError(
        'INVALID_ACTION',
        `Could not find operation ${q.action.slice(0, 64)} for version ${q.service === 'sts' ? '2011-06-15' : '2010-05-08'}`,
      )
    onlyKnown(q.params, op.name, op.params)
    noteRoute(requestId, service, op.name, caller, { params: Object.fromEntries(q.params) })
    if (caller.auth === undefined && op.callers !== 'unsigned')
      throw new StrongroomError('MISSING_AUTHENTICATION', 'Request is missing Authentication Token')
    sessionMayCall(caller, op)
    let proven: Awaited<ReturnType<NonNullable<QueryOperation['identify']>>> | undefined
    if (op.identify !== undefined)
      try {
        // The request carries its own proof of who sent it (a web identity token).
        proven = await op.identify(q.params, this.app, now)
        caller = { ...proven.caller, guardrails: caller.guardrails }
      } catch (e) {
        // A forged, expired or unknown token is a refused attempt, and recorded as one.
        const at = await op.resource(q.params, '', { identity: this.app.identity, caller })
        this.record(
          { requestId, operation: op.name, caller },
          op.action,
          at,
          'ImplicitDeny',
          undefined,
        )
        throw e
      }
    noteRoute(requestId, service, op.name, caller, {})
    const conditions = {
      ...requestConditions(req, caller, now, this.app.config.region),
      ...op.conditions?.(q.params),
      ...proven?.conditions,
    }
    let role: RoleRecord | undefined
    if (op.action !== 'none') role = await this.decideQuery(q, op, caller, conditions, requestId)
    const state = { role, conditions, proof: proven?.proof }
    const ctx = new QueryAuthorized(MINT, this, q, caller, requestId, state)
    sendQueryResult(res, requestId, q, await op.handler(ctx))
  }

  /**
   * The JSON 1.1 services (CloudTrail, KMS): the body read (bounded) because SigV4 signs its
   * hash, the caller authenticated for that service, the operation found and its members
   * checked, then its action decided on its resource (json-decide.ts: a KMS key with its key
   * policy) before it runs.
   */
  private async handleJson(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    v: ReturnType<typeof viewOf>,
    service: JsonService,
  ): Promise<void> {
    const j = await decodeJson(req, v.view, v.pairs, service)
    const now = this.now()
    const signed = { service, bodyHash: j.bodyHash }
    const caller = await this.authenticate(now, j.view, j.pairs, signed)
    const named = `${service}.${j.operation}`
    const op = this.jsonOperations.find((o) => `${o.service}.${o.name}` === named)
    if (op === undefined)
      throw new StrongroomError('INVALID_ACTION', `${service} has no operation ${j.operation}`)
    noteRoute(requestId, service, op.name, caller, {})
    if (caller.auth === undefined)
      throw new StrongroomError('MISSING_AUTHENTICATION', 'Missing Authentication Token')
    onlyMembers(j.input, op.name, op.members)
    // Only a signed caller's input, and only members the operation takes, go into its event.
    noteRoute(requestId, service, op.name, caller, { params: j.input })
    const decided = await decideJson(this, req, op, j.input, caller, requestId)
    const ctx = new JsonAuthorized(MINT, this, j, caller, requestId, decided)
    sendJsonResult(res, requestId, await op.handler(ctx))
  }

  /** The authenticate stage: who sent the request, with the organization's guardrails now. */
  private async authenticate(
    now: number,
    view: RequestView,
    pairs: readonly [string, string][],
    signed?: Parameters<typeof authenticate>[5],
  ): Promise<Caller> {
    const [caller, guardrails] = await Promise.all([
      authenticate(this.app, this.policies, now, view, pairs, signed),
      this.app.organization.guardrails(),
    ])
    return { ...caller, guardrails }
  }

  /** Decides a query action; returns the role it assumes, if it does. Throws AccessDenied. */
  private async decideQuery(
    q: QueryRequest,
    op: QueryOperation,
    c: Caller,
    context: Conditions,
    requestId: string,
  ): Promise<RoleRecord | undefined> {
    const lookup = { identity: this.app.identity, caller: c }
    const resource = await op.resource(q.params, c.account, lookup)
    const assumes = op.assumesRole === true
    const target = await iamTarget(this.app.identity, op.action, resource, c.account, assumes)
    const role = target.role
    const name = `trust policy of ${role?.name ?? ''}`
    const trust = role && this.policies.load(role.trustPolicy, 'trust', name, name)
    const set = { ...callerPolicies(c, target.account), resource: trust }
    // What the request itself names (a boundary it sets) wins over what the target has.
    const conditions = { ...target.conditions, ...context }
    for (const action of [op.action, ...(op.also?.(q.params, c) ?? [])]) {
      const req: AuthzRequest = {
        principal: c.arn,
        principalAccount: c.account,
        action,
        resource,
        resourceAccount: target.account,
        context: conditions,
      }
      const r = authorize(req, set, { explain: true })
      this.record(
        { requestId, operation: op.name, caller: c },
        action,
        resource,
        r.decision,
        r.trace,
      )
      if (r.decision !== 'Allow' || (op.assumesRole === true && role === undefined))
        throw new StrongroomError(
          'ACCESS_DENIED',
          op.identify === undefined
            ? `User: ${c.arn} is not authorized to perform: ${action} on resource: ${resource.slice(0, 300)}`
            : `Not authorized to perform ${action}`,
        )
    }
    return role
  }

  /** Every decision the declaration asks for, in S3's order; throws on the first refusal. */
  private async decide(op: Operation, s: RequestState): Promise<void> {
    const r = s.r
    const action = actionOf(op, r)
    const resource = resourceOf(op, r)
    const name = r.bucketName ?? ''
    if (op.copySource === true) s.source = await copySource(this, s, op.quarantine === true)
    let extra: Conditions = {}
    if (op.bodyBeforeAuth !== undefined) {
      // What can be decided before a byte of the body is read is decided first: a missing
      // bucket, and an anonymous caller the bucket's public access block refuses.
      const b = await this.bucket(s, name)
      if (
        b === undefined ||
        (s.caller.auth === undefined && b.publicAccessBlock.restrictPublicBuckets)
      ) {
        this.check(s, action, resource, b)
        if (b === undefined) throw noSuchBucket(name)
      }
      s.bucket = b
      const rule = op.bodyBeforeAuth
      try {
        const body = await readSmallBody(r.req, rule.maxBytes, s.caller.auth?.payloadHash)
        extra = rule.read(body, r)
        s.earlyBody = body
      } catch (e) {
        // An anonymous caller learns nothing about a bucket it may not use from its body's errors.
        if (s.caller.auth === undefined)
          throw new StrongroomError('ACCESS_DENIED', ANONYMOUS_DENIED, { cause: e })
        throw e
      }
    }
    extra = { ...extra, ...op.conditions?.(r) }
    let bucket: BucketRecord | undefined
    switch (op.target) {
      case 'none':
        this.check(s, action, resource, undefined, extra)
        break
      case 'bucket':
        bucket = await this.bucket(s, name)
        this.check(s, action, resource, bucket, extra)
        if (bucket === undefined) throw noSuchBucket(name)
        break
      case 'object': {
        const found = await existing(this, s, action, name, r.key ?? '', r.versionId, extra)
        bucket = found.bucket
        s.object = found.object
        break
      }
      case 'items':
        if (s.bucket === undefined)
          throw new StrongroomError(
            'INTERNAL',
            `${op.name}: per-item operations read their body first`,
          )
        bucket = s.bucket
    }
    s.bucket = bucket
    for (const also of op.also?.(r) ?? []) this.check(s, also, resource, bucket, extra)
    if (op.kms !== undefined && bucket !== undefined) {
      let keyId: string
      if (op.kms.key === 'object') keyId = loaded(s.object, 'object').keyId
      else if (op.kms.key === 'write') keyId = s.keyId = await this.writeKey(s, bucket)
      else keyId = s.keyId = await this.uploadKey(s, op)
      await this.checkKey(s, op.kms.action, bucket, keyId)
    }
    if (op.quarantine === true && op.copySource !== true && bucket !== undefined)
      this.quarantine(s, bucket, loaded(s.object, 'object'))
  }

  // ---- reads, once per request

  bucket(s: RequestState, name: string): Promise<BucketRecord | undefined> {
    return once(s.buckets, name, () => this.app.buckets.get(name))
  }

  async tenantOf(s: RequestState, bucket: BucketRecord): Promise<TenantRecord> {
    const t = await once(s.tenants, bucket.tenantId, () =>
      this.app.identity.tenantById(bucket.tenantId),
    )
    if (t === undefined) throw new StrongroomError('INTERNAL', 'the bucket owner is missing')
    return t
  }

  async upload(s: RequestState): Promise<UploadRecord> {
    if (s.upload !== undefined) return s.upload
    const id = s.r.query.get('uploadId') ?? ''
    const u = await this.app.objectMeta.getUpload(id)
    if (u === undefined || u.bucket !== s.r.bucketName || u.key !== s.r.key)
      throw new StrongroomError('NO_SUCH_UPLOAD', NO_SUCH_UPLOAD, { details: { UploadId: id } })
    s.upload = u
    return u
  }

  /** The upload's key; a repeated CompleteMultipartUpload's, the key of the object it made. */
  private async uploadKey(s: RequestState, op: Operation): Promise<string> {
    try {
      return (await this.upload(s)).keyId
    } catch (e) {
      const done =
        op.name === 'CompleteMultipartUpload'
          ? await completedObject(this.app.objectMeta, s.r)
          : undefined
      if (done === undefined) throw e
      return done.keyId
    }
  }

  // ---- decisions

  /** The bucket's policy, compiled once per text; one that no longer loads denies (and alerts once). */
  private bucketPolicy(b: BucketRecord | undefined): LoadedPolicy | undefined {
    if (b?.policy == null) return undefined
    return this.policies.load(
      b.policy,
      'resource',
      `bucket policy of ${b.name}`,
      `bucket ${b.name}`,
    )
  }

  /** Decides through the IAM engine; throws AccessDenied (keeping the trace for admins) unless allowed. */
  check(
    s: RequestState,
    action: string,
    resource: string,
    bucket: BucketRecord | undefined,
    extra: Conditions = {},
  ): void {
    const c = s.caller
    const id = `${action}\0${resource}\0${bucket?.name ?? ''}\0${JSON.stringify(extra)}`
    let d = s.decisions.get(id)
    if (d === undefined) {
      d = this.decideOnce(s, action, resource, bucket, extra)
      s.decisions.set(id, d)
    }
    if (d.outsider)
      throw new StrongroomError(
        'METHOD_NOT_ALLOWED',
        `The specified method is not allowed against this resource: only principals of the bucket owner's account may use ${action}`,
        { details: { Method: s.r.view.method, ResourceType: 'BUCKET' } },
      )
    if (d.decision !== 'Allow')
      throw new StrongroomError(
        'ACCESS_DENIED',
        c.auth === undefined ? ANONYMOUS_DENIED : 'Access Denied',
      )
  }

  private decideOnce(
    s: RequestState,
    action: string,
    resource: string,
    bucket: BucketRecord | undefined,
    extra: Conditions,
  ): Decided {
    const c = s.caller
    if (restrictedByPublicAccessBlock(bucket, c, () => this.bucketPolicy(bucket))) {
      this.record(s, action, resource, 'ImplicitDeny', undefined, bucket?.tenantId)
      return { decision: 'ImplicitDeny', outsider: false }
    }
    const req: AuthzRequest = {
      principal: c.arn,
      principalAccount: c.account,
      action,
      resource,
      resourceAccount: bucket?.tenantId ?? c.account,
      context: { ...s.conditions, ...extra },
    }
    const set = { ...callerPolicies(c, req.resourceAccount), resource: this.bucketPolicy(bucket) }
    // Every decision keeps its trace, so that `strongroom explain` can say which statements allowed it.
    const r = authorize(req, set, { explain: true })
    // A bucket's configuration is its owner's, whatever its policy grants (bucket-owner.ts).
    const o = bucket === undefined ? r : ownerRule(req, set, r, c.auth !== undefined, authorize)
    this.record(s, action, resource, o.decision, o.trace, bucket?.tenantId)
    return { decision: o.decision, outsider: 'outsider' in o && o.outsider }
  }

  /** Reading or writing an object body also needs the key's permission, under its key policy. */
  async checkKey(
    s: RequestState,
    action: 'kms:Decrypt' | 'kms:GenerateDataKey',
    bucket: BucketRecord,
    keyId: string,
  ): Promise<void> {
    const [key, owner] = await Promise.all([
      once(s.keys, keyId, () => this.app.keys.describe(keyId)),
      once(s.tenants, bucket.tenantId, () => this.app.identity.tenantById(bucket.tenantId)),
    ])
    if (key === undefined || owner === undefined)
      throw new StrongroomError('KEY_NOT_FOUND', 'the bucket key does not exist')
    const arn = this.app.keys.arn(owner, key.id)
    const c = s.caller
    const id = `${action}\0${arn}\0${bucket.name}`
    let d = s.decisions.get(id)
    if (d === undefined) {
      const text = await once(s.keyPolicies, key.id, () => this.app.keys.policyText(key))
      const name = `key policy of ${key.alias ?? key.id}`
      const keyReq: AuthzRequest = {
        principal: c.arn,
        principalAccount: c.account,
        action,
        resource: arn,
        resourceAccount: owner.id,
        context: {
          ...s.conditions,
          'kms:ViaService': `s3.${this.app.config.region}.amazonaws.com`,
          'kms:EncryptionContext:bucket': bucket.name,
          ...resourceTags(key),
        },
      }
      const keySet = {
        ...callerPolicies(c, owner.id),
        resource: this.policies.load(text, 'key', name, name),
      }
      const r = authorize(keyReq, keySet, { explain: true })
      this.record(s, action, arn, r.decision, r.trace, owner.id)
      d = { decision: r.decision, outsider: false }
      s.decisions.set(id, d)
    }
    if (d.decision !== 'Allow')
      throw new StrongroomError(
        'ACCESS_DENIED',
        c.auth === undefined
          ? `Access Denied: objects sealed under a KMS key cannot be used anonymously (${action} needs a signed request)`
          : `Access Denied: ${action} on the object's key is not allowed`,
      )
  }

  /** The tenant key a write seals under (writeKeyOf in s3/common.ts). */
  writeKey(s: RequestState, bucket: BucketRecord): Promise<string> {
    return writeKeyOf(this.app.keys, () => this.tenantOf(s, bucket), bucket, s.r)
  }

  /** Under `enforce`, reading a version the scanner has not called clean needs strongroom:GetQuarantinedObject. */
  quarantine(s: RequestState, bucket: BucketRecord, object: ObjectRecord): void {
    if (!quarantined(bucket, object)) return
    try {
      this.check(
        s,
        'strongroom:GetQuarantinedObject',
        `arn:aws:s3:::${bucket.name}/${object.key}`,
        bucket,
      )
    } catch (e) {
      if (!(e instanceof StrongroomError) || e.code !== 'ACCESS_DENIED') throw e
      const first = object.scan?.findings[0]
      throw new StrongroomError(
        'ACCESS_DENIED',
        object.scan === null
          ? 'Access Denied: the object is quarantined: it awaits scanning (it was stored while the scan policy was off; `strongroom bucket scan-policy` or `strongroom rescan` scans it); reading it needs strongroom:GetQuarantinedObject'
          : `Access Denied: the object is quarantined: the model scanner found it ${object.scan.verdict}${first === undefined ? '' : ` (${first.rule}: ${first.reason})`}; reading it needs strongroom:GetQuarantinedObject`,
        { cause: e },
      )
    }
  }

  private record(
    s: Pick<RequestState, 'requestId' | 'operation' | 'caller'>,
    action: string,
    resource: string,
    decision: string,
    trace: Trace | undefined,
    owner?: string,
  ): void {
    noteDecision(s.requestId, { action, resource }, decision, trace, owner)
  }

  /** Runs a write that the model scanner judges, and records its verdict (quarantine.ts). */
  scanned(s: RequestState, bucket: BucketRecord, key: string, write: () => Promise<ObjectRecord>) {
    return recordScan(this.scans, s, bucket, key, write)
  }
}
