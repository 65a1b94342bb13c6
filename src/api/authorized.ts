/**
 * The contexts a handler works with once the pipeline (pipeline.ts) has allowed its operation:
 * `Authorized` for S3's, `QueryAuthorized` for IAM's and STS's, `JsonAuthorized` for the JSON 1.1
 * services' (CloudTrail). Each is made with `MINT`, which
 * only pipeline.ts imports (test/structure.test.ts checks it): a handler cannot make its own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { App } from '../app.ts'
import { StrongroomError } from '../errors.ts'
import type { BucketRecord, ObjectRecord, UploadRecord } from '../meta/objects.ts'
import type { RoleRecord, TenantRecord } from '../meta/identity.ts'
import type { KeyRecord } from '../meta/keys.ts'
import type { ObjectService } from '../store/objects.ts'
import { noteParams } from './audit-stage.ts'
import { keepsPolicyAccess, type JsonDecided } from './json-decide.ts'
import { readSmallBody, streamingBody, type StreamingBody } from './body.ts'
import type { Caller, Conditions, S3Request } from './operation.ts'
import type { Pipeline } from './pipeline.ts'
import type { AuditStore } from '../meta/audit.ts'
import type { JsonRequest } from './protocols/json.ts'
import type { QueryRequest } from './protocols/query.ts'
import { send, sendXml } from './protocols/rest-xml.ts'
import { loaded, type RequestState } from './request-state.ts'
import { bucketOwnersKey, type CopySource } from './s3/common.ts'
import type { Node } from './xml.ts'

/** The pipeline's seal on a context: only pipeline.ts imports it. */
export const MINT = Symbol('pipeline')

/**
 * What a handler works with once the pipeline has allowed its operation: the request, the
 * records the decision read, the stores, and per-item decisions. Only the pipeline makes one.
 */
export class Authorized {
  readonly #p: Pipeline
  readonly #s: RequestState

  constructor(token: symbol, p: Pipeline, s: RequestState) {
    if (token !== MINT)
      throw new StrongroomError('INTERNAL', 'an authorized context is made by the pipeline only')
    this.#p = p
    this.#s = s
  }

  /** Buckets and their configuration. */
  get buckets(): App['buckets'] {
    return this.#p.app.buckets
  }
  /** Object, version and multipart metadata: listings, reads, tags. */
  get objectMeta(): App['objectMeta'] {
    return this.#p.app.objectMeta
  }
  /** Object bodies. */
  get objects(): ObjectService {
    return this.#p.objects
  }
  /** The key catalogue (ARNs, key policies). */
  get keys(): App['keys'] {
    return this.#p.app.keys
  }
  /** Tenants, users, access keys. */
  get identity(): App['identity'] {
    return this.#p.app.identity
  }
  get config(): App['config'] {
    return this.#p.app.config
  }
  now(): number {
    return this.#p.now()
  }
  get request(): S3Request {
    return this.#s.r
  }
  get req(): IncomingMessage {
    return this.#s.r.req
  }
  get res(): ServerResponse {
    return this.#s.res
  }
  get requestId(): string {
    return this.#s.requestId
  }
  get query(): ReadonlyMap<string, string> {
    return this.#s.r.query
  }
  get bucketName(): string {
    return this.#s.r.bucketName ?? ''
  }
  get key(): string {
    return this.#s.r.key ?? ''
  }
  get versionId(): string | undefined {
    return this.#s.r.versionId
  }
  get caller(): Caller {
    return this.#s.caller
  }
  header(name: string): string | undefined {
    return this.#s.r.header(name)
  }
  /** The bucket the decision was on (operations whose target is a bucket, object or items). */
  get bucket(): BucketRecord {
    return loaded(this.#s.bucket, 'bucket')
  }
  /** The existing object version the decision was on (target `object`). */
  get object(): ObjectRecord {
    return loaded(this.#s.object, 'object')
  }
  /** The copy source, read and decided (declarations with `copySource`). */
  get source(): CopySource {
    return loaded(this.#s.source, 'copy source')
  }
  /** The key the body is sealed under, decided (declarations with `kms` on `write` or `upload`). */
  get keyId(): string {
    return loaded(this.#s.keyId, 'key')
  }
  /** The body read before the decision (declarations with `bodyBeforeAuth`). */
  get earlyBody(): Buffer {
    return loaded(this.#s.earlyBody, 'body')
  }
  /** The multipart upload the request names (NoSuchUpload unless it is this bucket and key's). */
  upload(): Promise<UploadRecord> {
    return this.#p.upload(this.#s)
  }
  tenantOf(bucket: BucketRecord): Promise<TenantRecord> {
    return this.#p.tenantOf(this.#s, bucket)
  }
  /** The bucket owner's enabled key that a request names (KMS.NotFoundException otherwise). */
  async ownersKey(bucket: BucketRecord, asked: string): Promise<KeyRecord> {
    return bucketOwnersKey(this.#p.app.keys, await this.tenantOf(bucket), asked)
  }
  /** Decides one item of a per-item operation; throws AccessDenied unless allowed. */
  authorizeItem(action: string, resource: string, extra: Conditions = {}): void {
    this.#p.check(this.#s, action, resource, this.bucket, extra)
  }
  /**
   * A small request document, read whole (at most `max` bytes) and its payload hash checked;
   * what the declaration says the audit event keeps of it goes into the event.
   */
  async readBody(max: number, tooLarge?: () => StrongroomError): Promise<Buffer> {
    const body = await readSmallBody(this.req, max, this.#s.caller.auth?.payloadHash, tooLarge)
    const keep = this.#s.recordsBody
    if (keep !== undefined) noteParams(this.#s.requestId, keep(body))
    return body
  }
  streamingBody(): StreamingBody {
    return streamingBody(this.req, this.#s.caller.auth, this.#s.caller.signingKey)
  }
  send(status: number, body?: string): void {
    send(this.res, this.requestId, status, body)
  }
  sendXml(status: number, root: string, body: Node): void {
    sendXml(this.res, this.requestId, status, root, body)
  }
  /** Runs a write that the model scanner judges, and records its verdict. */
  scanned(bucket: BucketRecord, key: string, write: () => Promise<ObjectRecord>) {
    return this.#p.scanned(this.#s, bucket, key, write)
  }
}

/**
 * What an IAM or STS handler works with once the pipeline has allowed its action: the caller,
 * the parameters, the role the decision was on (AssumeRole), and the services.
 */
export class QueryAuthorized {
  readonly #p: Pipeline
  readonly #q: QueryRequest
  readonly #caller: Caller
  readonly #requestId: string
  readonly #role: RoleRecord | undefined
  readonly #conditions: Conditions
  readonly #proof: Readonly<Record<string, string>> | undefined

  constructor(
    token: symbol,
    p: Pipeline,
    q: QueryRequest,
    caller: Caller,
    requestId: string,
    state: {
      readonly role: RoleRecord | undefined
      readonly conditions: Conditions
      readonly proof: Readonly<Record<string, string>> | undefined
    },
  ) {
    if (token !== MINT)
      throw new StrongroomError('INTERNAL', 'an authorized context is made by the pipeline only')
    this.#p = p
    this.#q = q
    this.#caller = caller
    this.#requestId = requestId
    this.#role = state.role
    this.#conditions = state.conditions
    this.#proof = state.proof
  }

  /** What an operation that identifies its own caller (`identify`) found in the request. */
  get proof(): Readonly<Record<string, string>> {
    return loaded(this.#proof, 'proof of identity')
  }

  get params(): ReadonlyMap<string, string> {
    return this.#q.params
  }
  get caller(): Caller {
    return this.#caller
  }
  /** The caller's account; a signed caller always has one. */
  get tenant(): TenantRecord {
    const t = this.#caller.tenant
    if (t === undefined) throw new StrongroomError('INTERNAL', 'the caller has no account')
    return t
  }
  get requestId(): string {
    return this.#requestId
  }
  /** The role the decision was on (operations that assume one). */
  get role(): RoleRecord {
    return loaded(this.#role, 'role')
  }
  /** The request's condition keys, as the decision saw them. */
  get conditions(): Conditions {
    return this.#conditions
  }
  get identity(): App['identity'] {
    return this.#p.app.identity
  }
  get sessions(): App['sessions'] {
    return this.#p.app.sessions
  }
  get config(): App['config'] {
    return this.#p.app.config
  }
  now(): number {
    return this.#p.now()
  }
}

/** What a JSON 1.1 handler works with once the pipeline has allowed its operation. */
export class JsonAuthorized {
  readonly #p: Pipeline
  readonly #j: JsonRequest
  readonly #caller: Caller
  readonly #requestId: string
  readonly #decided: JsonDecided

  constructor(
    token: symbol,
    p: Pipeline,
    j: JsonRequest,
    caller: Caller,
    requestId: string,
    decided: JsonDecided,
  ) {
    if (token !== MINT)
      throw new StrongroomError('INTERNAL', 'an authorized context is made by the pipeline only')
    this.#p = p
    this.#j = j
    this.#caller = caller
    this.#requestId = requestId
    this.#decided = decided
  }

  /** The KMS key the decision was on (operations that declare `key`, or an alias's). */
  get key(): KeyRecord {
    return loaded(this.#decided.key, 'key')
  }
  /** ReEncrypt's destination key, decided with kms:ReEncryptTo (operations that declare `to`). */
  get to(): KeyRecord {
    return loaded(this.#decided.to, 'destination key')
  }
  /** The caller's account; a signed caller always has one. */
  get tenant(): TenantRecord {
    const t = this.#caller.tenant
    if (t === undefined) throw new StrongroomError('INTERNAL', 'the caller has no account')
    return t
  }
  get keys(): App['keys'] {
    return this.#p.app.keys
  }
  get organization(): App['organization'] {
    return this.#p.app.organization
  }
  get identity(): App['identity'] {
    return this.#p.app.identity
  }
  get keyProvider(): App['keyProvider'] {
    return this.#p.app.keyProvider
  }
  get region(): string {
    return this.#p.app.config.region
  }
  /** KMS's lockout safety check: whether `policy` on `keyArn` still lets the caller change it. */
  keepsPolicyAccess(keyArn: string, policy: string): boolean {
    return keepsPolicyAccess(this.#p, this.#j.req, this.#caller, keyArn, policy)
  }

  get input(): Readonly<Record<string, unknown>> {
    return this.#j.input
  }
  get caller(): Caller {
    return this.#caller
  }
  get requestId(): string {
    return this.#requestId
  }
  /**
   * The audit log the gateway writes: the installation's shared log when gateways share a
   * metadata database, the machine's own log directory otherwise.
   */
  get auditSource(): string | AuditStore {
    const app = this.#p.app
    return app.shared ?? app.config.auditDir
  }
  now(): number {
    return this.#p.now()
  }
}
