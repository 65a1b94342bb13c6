/**
 * The S3 REST-XML API. Every request takes one path
 * (../shared/DESIGN.md): protocol -> authenticate (SigV4) -> request context
 * -> authorize (the IAM engine, then the KMS key policy for object bodies)
 * -> execute -> response. No handler authorizes on its own: each operation
 * declares its action and resource, and `handle` decides before calling it.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { App } from '../app.ts'
import { authorize, type AuthzRequest, type Trace } from '../iam/evaluate.ts'
import { isUnloadable, loadStoredPolicy, unloadableAlert, type LoadedPolicy } from '../iam/load.ts'
import { parsePolicyText } from '../iam/policy.ts'
import { userPolicies } from '../identity/users.ts'
import { bucketKey } from '../store/bucket-keys.ts'
import {
  ALL_BLOCKED,
  type BucketRecord,
  type ObjectRecord,
  type ScanPolicy,
  type ScanRecord,
  type Tags,
  type UploadRecord,
  type VersionRecord,
} from '../meta/objects.ts'
import type { KeyRecord, TenantRecord } from '../meta/store.ts'
import {
  isVersionId,
  ScanRejected,
  type BodyExpectation,
  type ObjectService,
} from '../store/objects.ts'
import { ownerRule } from './bucket-owner.ts'
import { checksumAlgorithmOf } from './checksums.ts'
import { decodeChunked } from './chunked.ts'
import { ApiError, toApiError } from './errors.ts'
import {
  chunkSignature,
  trailerSignature,
  PAYLOAD_SHA256,
  parseAuth,
  parseQuery,
  signaturesEqual,
  verify,
  type ParsedAuth,
  type RequestView,
} from './sigv4.ts'
import {
  encryptionXml,
  parseEncryption,
  parsePublicAccessBlock,
  parseTagging,
  parseTaggingHeader,
  parseVersioning,
  publicAccessBlockXml,
  publicStatement,
  tagConditions,
  taggingXml,
} from './s3-config.ts'
import { readXml, XML_BOUNDS, xmlDocument, type Node } from './xml.ts'

export const MAX_PUT_BYTES = 5 * 1024 * 1024 * 1024
export const MIN_PART_BYTES = 5 * 1024 * 1024
const MAX_PARTS = 10_000
const MAX_KEY_BYTES = 1024
const MAX_METADATA_BYTES = 2 * 1024
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
/** S3's limit on a bucket policy, after whitespace is removed (https://docs.aws.amazon.com/AmazonS3/latest/userguide/add-bucket-policy.html). */
const MAX_POLICY_BYTES = 20 * 1024
/**
 * Every denial of an anonymous request reads the same, whether the bucket is missing, blocked
 * by its public access block, or not granted by its policy: an anonymous caller cannot tell a
 * bucket it may not see from one that does not exist.
 */
const ANONYMOUS_DENIED =
  'Access Denied: anonymous requests are allowed only where a bucket policy grants them; sign requests with AWS Signature Version 4'
/** The x-amz-content-sha256 each signed request declared, for the small-body reader to verify. */
const signedPayloads = new WeakMap<IncomingMessage, string>()

export interface Caller {
  readonly arn: string
  readonly account: string
  readonly tenant: TenantRecord | undefined
  readonly userId: string | undefined
  readonly userName: string | undefined
  readonly policies: readonly LoadedPolicy[]
  readonly auth: ParsedAuth | undefined
  readonly signingKey: Buffer | undefined
}

export interface DecisionRecord {
  readonly requestId: string
  readonly operation: string
  readonly principal: string
  readonly action: string
  readonly resource: string
  readonly decision: string
  readonly trace: Trace | undefined
}

export interface GatewayOptions {
  readonly app: App
  readonly objects: ObjectService
  readonly now?: () => number
  /** Receives every authorization decision (the audit log and `strongroom explain` read these). */
  readonly onDecision?: (d: DecisionRecord) => void
  /** Receives every scan verdict on an upload (the audit log keeps them). */
  readonly onScan?: (e: ScanEvent) => void
  /** Receives operator alerts (a stored policy that cannot be loaded); default: JSON lines on stderr. */
  readonly onAlert?: (line: Record<string, unknown>) => void
}

/** One verdict of the model scanner on an upload, as the audit log records it. */
export interface ScanEvent {
  readonly requestId: string
  readonly principal: string
  readonly bucket: string
  readonly key: string
  readonly versionId: string | undefined
  readonly policy: ScanPolicy
  /** What became of the upload. */
  readonly outcome: 'stored' | 'quarantined' | 'rejected'
  readonly scan: ScanRecord
}

interface Ctx {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly requestId: string
  readonly view: RequestView
  readonly query: Map<string, string>
  readonly bucketName: string | undefined
  readonly key: string | undefined
  /** The versionId query parameter: `null` or one of our version ids. */
  readonly versionId: string | undefined
  readonly caller: Caller
  readonly conditions: Record<string, string | string[]>
}

export function validBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !/\.\.|^\d+\.\d+\.\d+\.\d+$|^xn--|-s3alias$|--ol-s3$/.test(name)
}

export class S3Gateway {
  private readonly app: App
  private readonly objects: ObjectService
  private readonly now: () => number
  private readonly onDecision: ((d: DecisionRecord) => void) | undefined
  private readonly onScan: ((e: ScanEvent) => void) | undefined
  private readonly bucketPolicies = new Map<string, { text: string; policy: LoadedPolicy }>()
  private readonly onAlert: (line: Record<string, unknown>) => void
  /** Alerts already given, by owner and digest of the policy text: one alert per text. */
  private readonly alerted = new Set<string>()

  constructor(o: GatewayOptions) {
    this.app = o.app
    this.objects = o.objects
    this.now = o.now ?? Date.now
    this.onDecision = o.onDecision
    this.onScan = o.onScan
    this.onAlert = o.onAlert ?? ((line) => process.stderr.write(JSON.stringify(line) + '\n'))
  }

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const rawPath = qi < 0 ? url : url.slice(0, qi)
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1)
    const view: RequestView = {
      method: req.method ?? 'GET',
      rawPath,
      rawQuery,
      headers: req.headers,
    }
    const pairs = parseQuery(rawQuery)
    const query = new Map(pairs)
    const [bucketName, key] = splitPath(rawPath)
    const versionId = query.get('versionId')
    if (versionId !== undefined && !isVersionId(versionId))
      throw new ApiError('InvalidArgument', 'Invalid version id specified', {
        ArgumentName: 'versionId',
        ArgumentValue: versionId,
      })
    const caller = await this.authenticate(view, pairs)
    if (caller.auth !== undefined) {
      signedPayloads.set(req, caller.auth.payloadHash)
      // A request without a body signed the hash of the empty payload, or it was not this request.
      const bodiless =
        (view.method === 'GET' || view.method === 'HEAD' || view.method === 'DELETE') &&
        (req.headers['content-length'] ?? '0') === '0' &&
        req.headers['transfer-encoding'] === undefined
      if (
        bodiless &&
        PAYLOAD_SHA256.test(caller.auth.payloadHash) &&
        caller.auth.payloadHash.toLowerCase() !== EMPTY_SHA256
      )
        throw new ApiError(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    }
    const ctx: Ctx = {
      req,
      res,
      requestId,
      view,
      query,
      bucketName,
      key,
      versionId,
      caller,
      conditions: this.conditions(req, caller, query),
    }
    await this.dispatch(ctx)
  }

  // ---- authentication

  private async authenticate(
    view: RequestView,
    query: readonly [string, string][],
  ): Promise<Caller> {
    const auth = parseAuth(view, query)
    if (auth === undefined) {
      return {
        arn: '*',
        account: '',
        tenant: undefined,
        userId: undefined,
        userName: undefined,
        policies: [],
        auth: undefined,
        signingKey: undefined,
      }
    }
    const store = this.app.store
    const record = await store.getAccessKey(auth.credential.accessKeyId)
    if (record?.status !== 'Active')
      throw new ApiError(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      )
    if (auth.securityToken !== undefined)
      throw new ApiError(
        'InvalidAccessKeyId',
        'session tokens are not issued by this endpoint yet; use an access key',
      )
    const secret = this.app.kms.openSystemSecret(`access-key/${record.id}`, record.secret)
    let signingKey: Buffer
    try {
      signingKey = verify(view, query, auth, secret.toString('utf8'), {
        region: this.app.config.region,
        now: this.now(),
      })
    } finally {
      secret.fill(0)
    }
    const tenant = await store.getTenantById(record.tenantId)
    const user = await store.getUser(record.tenantId, record.userName)
    if (tenant === undefined || user === undefined)
      throw new ApiError(
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      )
    const policies = await userPolicies(store, user)
    for (const p of policies) this.alertUnloadable(p, `${tenant.name}/${user.name}`)
    return {
      arn: `arn:aws:iam::${tenant.id}:user/${user.name}`,
      account: tenant.id,
      tenant,
      userId: user.id,
      userName: user.name,
      policies,
      auth,
      signingKey,
    }
  }

  /** The condition keys AWS would set for this request. */
  private conditions(
    req: IncomingMessage,
    c: Caller,
    query: Map<string, string>,
  ): Record<string, string | string[]> {
    const now = this.now()
    const socket = req.socket as Partial<TLSSocket>
    const tls = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
    const out: Record<string, string | string[]> = {
      'aws:SecureTransport': tls === null ? 'false' : 'true',
      'aws:CurrentTime': new Date(now).toISOString(),
      'aws:EpochTime': String(Math.floor(now / 1000)),
      'aws:RequestedRegion': this.app.config.region,
    }
    if (ip !== '') out['aws:SourceIp'] = ip
    if (tls !== null) out['s3:TlsVersion'] = tls.replace(/^TLSv/, '')
    if (c.userName !== undefined && c.userId !== undefined) {
      out['aws:PrincipalType'] = 'User'
      out['aws:userid'] = c.userId
      out['aws:username'] = c.userName
    } else out['aws:PrincipalType'] = 'Anonymous'
    if (c.auth !== undefined) {
      out['s3:signatureversion'] = 'AWS4-HMAC-SHA256'
      out['s3:authType'] = c.auth.kind === 'header' ? 'REST-HEADER' : 'REST-QUERY-STRING'
      out['s3:signatureAge'] = String(
        Math.max(
          0,
          now -
            (Date.parse(
              c.auth.amzDate.replace(
                /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
                '$1-$2-$3T$4:$5:$6Z',
              ),
            ) || now),
        ),
      )
    }
    for (const [k, name] of [
      ['prefix', 's3:prefix'],
      ['delimiter', 's3:delimiter'],
      ['max-keys', 's3:max-keys'],
      ['versionId', 's3:VersionId'],
    ] as const) {
      const v = query.get(k)
      if (v !== undefined) out[name] = v
    }
    const sse = header(req, 'x-amz-server-side-encryption')
    if (sse !== undefined) out['s3:x-amz-server-side-encryption'] = sse
    const sseKey = header(req, 'x-amz-server-side-encryption-aws-kms-key-id')
    if (sseKey !== undefined) out['s3:x-amz-server-side-encryption-aws-kms-key-id'] = sseKey
    return out
  }

  // ---- authorization

  /** The bucket's policy; one that no longer loads denies every request on the bucket (and alerts once). */
  private bucketPolicy(b: BucketRecord | undefined): LoadedPolicy | undefined {
    if (b?.policy == null) return undefined
    const hit = this.bucketPolicies.get(b.name)
    if (hit?.text === b.policy) return hit.policy
    const policy = loadStoredPolicy(b.policy, 'resource', `bucket policy of ${b.name}`)
    this.alertUnloadable(policy, `bucket ${b.name}`)
    this.bucketPolicies.set(b.name, { text: b.policy, policy })
    return policy
  }

  /** Tells the operator, once per stored text, that a policy cannot be loaded and now denies. */
  private alertUnloadable(p: LoadedPolicy, owner: string): void {
    if (!isUnloadable(p)) return
    const key = `${owner}\0${p.digest}`
    if (this.alerted.has(key)) return
    if (this.alerted.size >= 4096) this.alerted.clear()
    this.alerted.add(key)
    this.onAlert({
      time: new Date().toISOString(),
      level: 'alert',
      alert: 'policy-unloadable',
      owner,
      policy: p.name,
      sha256: p.digest,
      message: unloadableAlert(p),
    })
  }

  /** Decides through the IAM engine; throws AccessDenied (keeping the trace for admins) unless allowed. */
  private check(
    ctx: Ctx,
    op: string,
    action: string,
    resource: string,
    bucket: BucketRecord | undefined,
    extra: Record<string, string | string[]> = {},
  ): void {
    const c = ctx.caller
    if (c.auth === undefined && (bucket?.publicAccessBlock.restrictPublicBuckets ?? true)) {
      this.record(ctx, op, action, resource, 'ImplicitDeny', undefined)
      throw new ApiError('AccessDenied', ANONYMOUS_DENIED)
    }
    const req: AuthzRequest = {
      principal: c.arn,
      principalAccount: c.account,
      action,
      resource,
      resourceAccount: bucket?.tenantId ?? c.account,
      context: { ...ctx.conditions, ...extra },
    }
    const set = { identity: c.policies, resource: this.bucketPolicy(bucket) }
    // Every decision keeps its trace, so that `strongroom explain` can say which statements allowed it.
    const r = authorize(req, set, { explain: true })
    // A bucket's configuration is its owner's, whatever its policy grants (bucket-owner.ts).
    const o = bucket === undefined ? r : ownerRule(req, set, r, c.auth !== undefined)
    this.record(ctx, op, action, resource, o.decision, o.trace)
    if ('outsider' in o && o.outsider)
      throw new ApiError(
        'MethodNotAllowed',
        `The specified method is not allowed against this resource: only principals of the bucket owner's account may use ${action}`,
        { Method: ctx.view.method, ResourceType: 'BUCKET' },
      )
    if (o.decision !== 'Allow')
      throw new ApiError('AccessDenied', c.auth === undefined ? ANONYMOUS_DENIED : 'Access Denied')
  }

  private readonly keyPolicies = new Map<string, { text: string; policy: LoadedPolicy }>()

  /** The key's policy (stored by `strongroom key put-policy`, or the default); one that cannot be loaded denies. */
  private async keyPolicy(key: KeyRecord): Promise<LoadedPolicy> {
    const text = await this.app.kms.policyText(key)
    const hit = this.keyPolicies.get(key.id)
    if (hit?.text === text) return hit.policy
    const name = `key policy of ${key.alias ?? key.id}`
    const policy = loadStoredPolicy(text, 'key', name)
    this.alertUnloadable(policy, name)
    if (this.keyPolicies.size >= 10_000) this.keyPolicies.clear()
    this.keyPolicies.set(key.id, { text, policy })
    return policy
  }

  /** Reading or writing an object body also needs the bucket key's permission, under its key policy. */
  private async checkKey(
    ctx: Ctx,
    op: string,
    action: 'kms:Decrypt' | 'kms:GenerateDataKey',
    bucket: BucketRecord,
    keyId: string = bucket.keyId,
  ): Promise<void> {
    const key = await this.app.store.getKey(keyId)
    const owner = await this.app.store.getTenantById(bucket.tenantId)
    if (key === undefined || owner === undefined)
      throw new ApiError('KMS.NotFoundException', 'the bucket key does not exist')
    const arn = this.app.kms.arn(owner, key.id)
    const keyPolicy = await this.keyPolicy(key)
    const c = ctx.caller
    const keyReq: AuthzRequest = {
      principal: c.arn,
      principalAccount: c.account,
      action,
      resource: arn,
      resourceAccount: owner.id,
      context: {
        ...ctx.conditions,
        'kms:ViaService': `s3.${this.app.config.region}.amazonaws.com`,
        'kms:EncryptionContext:bucket': bucket.name,
      },
    }
    const keySet = { identity: c.policies, resource: keyPolicy }
    const r = authorize(keyReq, keySet, { explain: true })
    this.record(ctx, op, action, arn, r.decision, r.trace)
    if (r.decision !== 'Allow')
      throw new ApiError(
        'AccessDenied',
        c.auth === undefined
          ? `Access Denied: objects sealed under a KMS key cannot be used anonymously (${action} needs a signed request)`
          : `Access Denied: ${action} on the object's key is not allowed`,
      )
  }

  /**
   * The tenant key a write names (x-amz-server-side-encryption-aws-kms-key-id:
   * a key id, alias/NAME or either ARN), or the bucket's default. Only the
   * bucket owner's own keys can seal its objects: another tenant's key is not
   * found, whatever the policies say.
   */
  private async writeKey(ctx: Ctx, bucket: BucketRecord, spec?: string): Promise<string> {
    const sse = header(ctx.req, 'x-amz-server-side-encryption')
    if (sse !== undefined && sse !== 'aws:kms' && sse !== 'AES256')
      throw new ApiError(
        'InvalidArgument',
        'x-amz-server-side-encryption must be aws:kms or AES256 (every object is sealed under a tenant key)',
      )
    const asked = spec ?? header(ctx.req, 'x-amz-server-side-encryption-aws-kms-key-id')
    if (asked === undefined || asked === '') return bucket.keyId
    if (sse === 'AES256')
      throw new ApiError(
        'InvalidArgument',
        'x-amz-server-side-encryption-aws-kms-key-id is only allowed with aws:kms',
      )
    return (await this.resolveKey(bucket, asked)).id
  }

  /**
   * The bucket owner's key that `asked` names. Another tenant's key, by id or by
   * ARN, answers exactly as a key that does not exist (the same code and message;
   * only the echoed id differs), as AWS KMS resolves a bare key id in the caller's
   * own account only: the answer must not tell whether another tenant has the key.
   */
  private async resolveKey(bucket: BucketRecord, asked: string): Promise<{ id: string }> {
    const arn = /^arn:aws:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/.exec(asked)
    const name =
      arn === null ? asked : arn[3] === 'alias' ? `alias/${arn[4] ?? ''}` : (arn[4] ?? '')
    const key =
      arn !== null && arn[2] !== bucket.tenantId
        ? undefined
        : name.startsWith('alias/')
          ? await this.app.store.getKeyByAlias(bucket.tenantId, name)
          : await this.app.store.getKey(name)
    if (key?.tenantId !== bucket.tenantId)
      throw new ApiError('KMS.NotFoundException', `Invalid keyId ${asked}: no such key`)
    if (key.state !== 'Enabled')
      throw new ApiError('KMS.DisabledException', `The key ${asked} is ${key.state}`)
    return key
  }

  private record(
    ctx: Ctx,
    operation: string,
    action: string,
    resource: string,
    decision: string,
    trace: Trace | undefined,
  ): void {
    this.onDecision?.({
      requestId: ctx.requestId,
      operation,
      principal: ctx.caller.arn,
      action,
      resource,
      decision,
      // An allowed request keeps only the statements that applied: what allowed it.
      trace: decision === 'Allow' && trace !== undefined ? appliedOnly(trace) : trace,
    })
  }

  // ---- dispatch

  private async dispatch(ctx: Ctx): Promise<void> {
    const { bucketName: b, key, view, query } = ctx
    const m = view.method
    if (b === undefined) {
      if (m === 'GET') return this.listBuckets(ctx)
      throw new ApiError(
        'MethodNotAllowed',
        `The specified method is not allowed against this resource: ${m} /`,
      )
    }
    const sub = [
      'policy',
      'location',
      'delete',
      'versioning',
      'uploads',
      'uploadId',
      'tagging',
      'acl',
      'encryption',
      'publicAccessBlock',
      'versions',
      'lifecycle',
      'cors',
      'website',
      'notification',
      'replication',
      'logging',
      'ownershipControls',
      'object-lock',
      'retention',
      'legal-hold',
      'attributes',
      'torrent',
      'restore',
      'select',
      'accelerate',
      'requestPayment',
      'analytics',
      'metrics',
      'inventory',
      'intelligent-tiering',
    ].find((s) => query.has(s))
    if (key === undefined) {
      if (sub === 'policy') {
        if (m === 'PUT') return this.putBucketPolicy(ctx, b)
        if (m === 'GET') return this.getBucketPolicy(ctx, b)
        if (m === 'DELETE') return this.deleteBucketPolicy(ctx, b)
      }
      if (sub === 'location' && m === 'GET') return this.getBucketLocation(ctx, b)
      if (sub === 'versioning') {
        if (m === 'PUT') return this.putBucketVersioning(ctx, b)
        if (m === 'GET') return this.getBucketVersioning(ctx, b)
      }
      if (sub === 'versions' && m === 'GET') return this.listVersions(ctx, b)
      if (sub === 'encryption') {
        if (m === 'PUT') return this.putBucketEncryption(ctx, b)
        if (m === 'GET') return this.getBucketEncryption(ctx, b)
        if (m === 'DELETE') return this.deleteBucketEncryption(ctx, b)
      }
      if (sub === 'publicAccessBlock') {
        if (m === 'PUT') return this.putPublicAccessBlock(ctx, b)
        if (m === 'GET') return this.getPublicAccessBlock(ctx, b)
        if (m === 'DELETE') return this.deletePublicAccessBlock(ctx, b)
      }
      if (sub === 'delete' && m === 'POST') return this.deleteObjects(ctx, b)
      if (sub === 'uploads' && m === 'GET') return this.listUploads(ctx, b)
      if (sub !== undefined)
        throw new ApiError(
          'NotImplemented',
          `Strongroom does not implement the bucket ?${sub} operation (${m}) yet`,
        )
      // The plain bucket operations take only their own parameters: an operation named by a
      // parameter this table does not know must never fall through to DeleteBucket,
      // CreateBucket or a listing.
      onlyParameters(query, PLAIN_PARAMETERS.bucket[m] ?? [], 'bucket', m)
      if (m === 'PUT') return this.createBucket(ctx, b)
      if (m === 'HEAD') return this.headBucket(ctx, b)
      if (m === 'GET') return this.listObjects(ctx, b)
      if (m === 'DELETE') return this.deleteBucket(ctx, b)
      throw new ApiError(
        'MethodNotAllowed',
        `The specified method is not allowed against this resource: ${m} bucket`,
      )
    }
    if (Buffer.byteLength(key) > MAX_KEY_BYTES)
      throw new ApiError('KeyTooLongError', 'Your key is too long: at most 1,024 bytes of UTF-8')
    if (sub === 'uploads' && m === 'POST') return this.createUpload(ctx, b, key)
    if (sub === 'uploadId') {
      if (m === 'PUT' && query.has('partNumber')) {
        if (header(ctx.req, 'x-amz-copy-source') !== undefined)
          return this.uploadPartCopy(ctx, b, key)
        return this.uploadPart(ctx, b, key)
      }
      if (m === 'POST') return this.completeUpload(ctx, b, key)
      if (m === 'DELETE') return this.abortUpload(ctx, b, key)
      if (m === 'GET') return this.listParts(ctx, b, key)
    }
    if (sub === 'tagging') {
      if (m === 'PUT') return this.putObjectTagging(ctx, b, key)
      if (m === 'GET') return this.getObjectTagging(ctx, b, key)
      if (m === 'DELETE') return this.deleteObjectTagging(ctx, b, key)
    }
    if (sub !== undefined)
      throw new ApiError(
        'NotImplemented',
        `Strongroom does not implement the object ?${sub} operation (${m}) yet`,
      )
    onlyParameters(query, PLAIN_PARAMETERS.object[m] ?? [], 'object', m)
    if (m === 'PUT') {
      if (header(ctx.req, 'x-amz-copy-source') !== undefined) return this.copyObject(ctx, b, key)
      return this.putObject(ctx, b, key)
    }
    if (m === 'GET' || m === 'HEAD') return this.getObject(ctx, b, key, m === 'HEAD')
    if (m === 'DELETE') return this.deleteObject(ctx, b, key)
    throw new ApiError(
      'MethodNotAllowed',
      `The specified method is not allowed against this resource: ${m} object`,
    )
  }

  private async bucket(name: string): Promise<BucketRecord | undefined> {
    return this.app.store.getBucket(name)
  }

  /**
   * For an operation whose decision needs its body (the keys of DeleteObjects, the tags of
   * PutObjectTagging): what can be decided before a byte of the body is read is decided
   * here. A missing bucket, and an anonymous caller the bucket's public access block refuses,
   * are answered from the headers alone; a signed caller's body is then read, bounded.
   */
  private async beforeBody(
    ctx: Ctx,
    op: string,
    action: string,
    resource: string,
    bucketName: string,
  ): Promise<BucketRecord> {
    const bucket = await this.bucket(bucketName)
    if (
      bucket === undefined ||
      (ctx.caller.auth === undefined && bucket.publicAccessBlock.restrictPublicBuckets)
    ) {
      this.check(ctx, op, action, resource, bucket)
      if (bucket === undefined)
        throw new ApiError('NoSuchBucket', 'The specified bucket does not exist', {
          BucketName: bucketName,
        })
    }
    return bucket
  }

  private async mustBucket(
    ctx: Ctx,
    name: string,
    op: string,
    action: string,
    resource: string,
    extra: Record<string, string | string[]> = {},
  ): Promise<BucketRecord> {
    const b = await this.bucket(name)
    this.check(ctx, op, action, resource, b, extra)
    if (b === undefined)
      throw new ApiError('NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: name,
      })
    return b
  }

  // ---- buckets

  private async listBuckets(ctx: Ctx): Promise<void> {
    this.check(ctx, 'ListBuckets', 's3:ListAllMyBuckets', '*', undefined)
    const tenant = ctx.caller.tenant
    const buckets = tenant === undefined ? [] : await this.app.store.listBuckets(tenant.id)
    sendXml(ctx, 200, 'ListAllMyBucketsResult', {
      Owner: owner(tenant),
      Buckets: {
        Bucket: buckets.map((b) => ({
          Name: b.name,
          CreationDate: new Date(b.createdAt).toISOString(),
        })),
      },
    })
  }

  private async createBucket(ctx: Ctx, name: string): Promise<void> {
    this.check(ctx, 'CreateBucket', 's3:CreateBucket', `arn:aws:s3:::${name}`, undefined)
    if (!validBucketName(name)) {
      throw new ApiError(
        'InvalidBucketName',
        'The specified bucket is not valid: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
        { BucketName: name },
      )
    }
    const body = await readSmallBody(ctx.req, XML_BOUNDS.CreateBucketConfiguration.bytes)
    if (body.length > 0) {
      const cfg = readXml('CreateBucketConfiguration', body)
      const loc = cfg.children.find((c) => c.name === 'LocationConstraint')?.text.trim()
      if (loc !== undefined && loc !== '' && loc !== this.app.config.region) {
        throw new ApiError(
          'InvalidArgument',
          `this endpoint serves region ${this.app.config.region}; the LocationConstraint ${loc} cannot be created here`,
        )
      }
    }
    const tenant = ctx.caller.tenant
    if (tenant === undefined) throw new ApiError('AccessDenied', 'Access Denied')
    const existing = await this.bucket(name)
    if (existing !== undefined) {
      if (existing.tenantId === tenant.id)
        throw new ApiError(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          { BucketName: name },
        )
      throw new ApiError(
        'BucketAlreadyExists',
        'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
        { BucketName: name },
      )
    }
    // A deleted bucket's name stays its tenant's for a while, so a deletion is never a takeover.
    const hold = await this.app.store.bucketHold(name)
    if (
      hold !== undefined &&
      hold.tenantId !== tenant.id &&
      this.now() - hold.deletedAt < this.app.config.bucketNameHold * 1000
    )
      throw new ApiError(
        'OperationAborted',
        'A conflicting conditional operation is currently in progress against this resource. Please try again.',
        { BucketName: name },
      )
    const key = await bucketKey(this.app.kms, this.app.store, tenant)
    try {
      await this.app.store.createBucket({
        name,
        tenantId: tenant.id,
        keyId: key.id,
        policy: null,
        createdAt: this.now(),
        versioning: 'Unversioned',
        publicAccessBlock: ALL_BLOCKED,
        scanPolicy: 'report',
      })
    } catch (e) {
      if (e instanceof Error && 'code' in e && e.code === 'BUCKET_EXISTS')
        throw new ApiError('BucketAlreadyExists', 'The requested bucket name is not available.', {
          BucketName: name,
        })
      throw e
    }
    ctx.res.setHeader('Location', `/${name}`)
    send(ctx, 200)
  }

  private async headBucket(ctx: Ctx, name: string): Promise<void> {
    await this.mustBucket(ctx, name, 'HeadBucket', 's3:ListBucket', `arn:aws:s3:::${name}`)
    ctx.res.setHeader('x-amz-bucket-region', this.app.config.region)
    send(ctx, 200)
  }

  private async getBucketLocation(ctx: Ctx, name: string): Promise<void> {
    await this.mustBucket(
      ctx,
      name,
      'GetBucketLocation',
      's3:GetBucketLocation',
      `arn:aws:s3:::${name}`,
    )
    const region = this.app.config.region
    // S3 answers an empty LocationConstraint for us-east-1.
    sendXml(ctx, 200, 'LocationConstraint', region === 'us-east-1' ? '' : region)
  }

  private async deleteBucket(ctx: Ctx, name: string): Promise<void> {
    await this.mustBucket(ctx, name, 'DeleteBucket', 's3:DeleteBucket', `arn:aws:s3:::${name}`)
    const left = await this.app.store.deleteBucket(name, this.now())
    if (left !== 'deleted')
      throw new ApiError(
        'BucketNotEmpty',
        left === 'uploads'
          ? 'The bucket you tried to delete is not empty: it has unfinished multipart uploads (ListMultipartUploads, then AbortMultipartUpload each)'
          : 'The bucket you tried to delete is not empty',
        { BucketName: name },
      )
    this.bucketPolicies.delete(name)
    send(ctx, 204)
  }

  private async putBucketPolicy(ctx: Ctx, name: string): Promise<void> {
    const bucket = await this.mustBucket(
      ctx,
      name,
      'PutBucketPolicy',
      's3:PutBucketPolicy',
      `arn:aws:s3:::${name}`,
    )
    const text = (await readSmallBody(ctx.req, 4 * MAX_POLICY_BYTES, policyTooLarge)).toString(
      'utf8',
    )
    if (Buffer.byteLength(text) > MAX_POLICY_BYTES && minifiedJsonBytes(text) > MAX_POLICY_BYTES)
      throw policyTooLarge()
    const r = parsePolicyText(text, 'resource', 'bucket policy')
    if (r.policy === undefined) {
      const e = r.errors[0]
      throw new ApiError(
        'MalformedPolicy',
        e === undefined
          ? 'Policies must be valid JSON'
          : `${e.message} (line ${e.line}, column ${e.column}, ${e.path})`,
      )
    }
    const outside = r.policy.statements
      .flatMap((s) => s.resource ?? s.notResource ?? [])
      .find((t) => t.source !== '*' && !t.source.startsWith(`arn:aws:s3:::${name}`))
    if (outside !== undefined)
      throw new ApiError(
        'MalformedPolicy',
        `Policy has a resource outside this bucket: ${outside.source}`,
      )
    const open = publicStatement(r.policy)
    if (open !== undefined && bucket.publicAccessBlock.blockPublicPolicy)
      throw new ApiError(
        'AccessDenied',
        `Access Denied: ${open} grants public access and the bucket's public access block (BlockPublicPolicy) is on`,
      )
    await this.app.store.setBucketPolicy(name, text)
    send(ctx, 204)
  }

  private async getBucketPolicy(ctx: Ctx, name: string): Promise<void> {
    const b = await this.mustBucket(
      ctx,
      name,
      'GetBucketPolicy',
      's3:GetBucketPolicy',
      `arn:aws:s3:::${name}`,
    )
    if (b.policy === null)
      throw new ApiError('NoSuchBucketPolicy', 'The bucket policy does not exist', {
        BucketName: name,
      })
    ctx.res.setHeader('Content-Type', 'application/json')
    send(ctx, 200, b.policy)
  }

  private async deleteBucketPolicy(ctx: Ctx, name: string): Promise<void> {
    await this.mustBucket(
      ctx,
      name,
      'DeleteBucketPolicy',
      's3:DeleteBucketPolicy',
      `arn:aws:s3:::${name}`,
    )
    await this.app.store.setBucketPolicy(name, null)
    send(ctx, 204)
  }

  // ---- versioning, default encryption, public access block

  private async putBucketVersioning(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    await this.mustBucket(ctx, name, 'PutBucketVersioning', 's3:PutBucketVersioning', arn)
    const status = parseVersioning(
      readXml(
        'VersioningConfiguration',
        await readSmallBody(ctx.req, XML_BOUNDS.VersioningConfiguration.bytes),
      ),
    )
    await this.app.store.setBucketVersioning(name, status)
    send(ctx, 200)
  }

  private async getBucketVersioning(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    const b = await this.mustBucket(ctx, name, 'GetBucketVersioning', 's3:GetBucketVersioning', arn)
    sendXml(ctx, 200, 'VersioningConfiguration', {
      Status: b.versioning === 'Unversioned' ? undefined : b.versioning,
    })
  }

  private async putBucketEncryption(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    const b = await this.mustBucket(
      ctx,
      name,
      'PutBucketEncryption',
      's3:PutEncryptionConfiguration',
      arn,
    )
    const { keyId } = parseEncryption(
      readXml(
        'ServerSideEncryptionConfiguration',
        await readSmallBody(ctx.req, XML_BOUNDS.ServerSideEncryptionConfiguration.bytes),
      ),
    )
    const key =
      keyId === undefined
        ? await bucketKey(this.app.kms, this.app.store, await this.tenantOf(b))
        : await this.resolveKey(b, keyId)
    await this.app.store.setBucketKey(name, key.id)
    send(ctx, 200)
  }

  private async getBucketEncryption(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    const b = await this.mustBucket(
      ctx,
      name,
      'GetBucketEncryption',
      's3:GetEncryptionConfiguration',
      arn,
    )
    sendXml(
      ctx,
      200,
      'ServerSideEncryptionConfiguration',
      encryptionXml(this.app.kms.arn(await this.tenantOf(b), b.keyId)),
    )
  }

  /** Back to the tenant's default bucket key: objects are never stored unencrypted. */
  private async deleteBucketEncryption(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    const b = await this.mustBucket(
      ctx,
      name,
      'DeleteBucketEncryption',
      's3:PutEncryptionConfiguration',
      arn,
    )
    const key = await bucketKey(this.app.kms, this.app.store, await this.tenantOf(b))
    await this.app.store.setBucketKey(name, key.id)
    send(ctx, 204)
  }

  private async putPublicAccessBlock(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    await this.mustBucket(ctx, name, 'PutPublicAccessBlock', 's3:PutBucketPublicAccessBlock', arn)
    const block = parsePublicAccessBlock(
      readXml(
        'PublicAccessBlockConfiguration',
        await readSmallBody(ctx.req, XML_BOUNDS.PublicAccessBlockConfiguration.bytes),
      ),
    )
    await this.app.store.setPublicAccessBlock(name, block)
    send(ctx, 200)
  }

  private async getPublicAccessBlock(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    const b = await this.mustBucket(
      ctx,
      name,
      'GetPublicAccessBlock',
      's3:GetBucketPublicAccessBlock',
      arn,
    )
    sendXml(ctx, 200, 'PublicAccessBlockConfiguration', publicAccessBlockXml(b.publicAccessBlock))
  }

  /** As in S3, deleting the configuration turns every switch off. */
  private async deletePublicAccessBlock(ctx: Ctx, name: string): Promise<void> {
    const arn = `arn:aws:s3:::${name}`
    await this.mustBucket(
      ctx,
      name,
      'DeletePublicAccessBlock',
      's3:PutBucketPublicAccessBlock',
      arn,
    )
    await this.app.store.setPublicAccessBlock(name, {
      blockPublicAcls: false,
      ignorePublicAcls: false,
      blockPublicPolicy: false,
      restrictPublicBuckets: false,
    })
    send(ctx, 204)
  }

  // ---- object tagging

  private async getObjectTagging(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const v = ctx.versionId !== undefined
    const { bucket, object } = await this.existingObject(
      ctx,
      'GetObjectTagging',
      v ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging',
      bucketName,
      key,
    )
    this.versionHeaders(ctx, bucket, object)
    sendXml(ctx, 200, 'Tagging', taggingXml(object.tags))
  }

  private async putObjectTagging(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const v0 = ctx.versionId !== undefined
    await this.beforeBody(
      ctx,
      'PutObjectTagging',
      v0 ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging',
      `arn:aws:s3:::${bucketName}/${key}`,
      bucketName,
    )
    const tags = parseTagging(
      readXml('Tagging', await readSmallBody(ctx.req, XML_BOUNDS.Tagging.bytes)),
    )
    const v = ctx.versionId !== undefined
    const { bucket, object } = await this.existingObject(
      ctx,
      'PutObjectTagging',
      v ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging',
      bucketName,
      key,
      ctx.versionId,
      tagConditions('s3:RequestObjectTag', tags),
    )
    await this.app.store.setObjectTags(bucketName, key, object.versionId, tags)
    this.versionHeaders(ctx, bucket, object)
    send(ctx, 200)
  }

  private async deleteObjectTagging(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const v = ctx.versionId !== undefined
    const { bucket, object } = await this.existingObject(
      ctx,
      'DeleteObjectTagging',
      v ? 's3:DeleteObjectVersionTagging' : 's3:DeleteObjectTagging',
      bucketName,
      key,
    )
    await this.app.store.setObjectTags(bucketName, key, object.versionId, [])
    this.versionHeaders(ctx, bucket, object)
    send(ctx, 204)
  }

  // ---- listing

  /** max-keys and encoding-type, as every listing reads them. */
  private listParams(ctx: Ctx): {
    maxKeys: number
    enc: (s: string) => string
    urlEncode: boolean
  } {
    const q = ctx.query
    const rawMax = q.get('max-keys') ?? '1000'
    if (!/^\d{1,9}$/.test(rawMax))
      throw new ApiError('InvalidArgument', 'max-keys must be a whole number from 0 to 1000')
    const urlEncode = q.get('encoding-type') === 'url'
    if (q.has('encoding-type') && !urlEncode)
      throw new ApiError(
        'InvalidArgument',
        'Invalid Encoding Method specified in Request: encoding-type must be url',
      )
    return {
      maxKeys: Math.min(Number(rawMax), 1000),
      urlEncode,
      enc: (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s),
    }
  }

  /** ListObjectVersions: every version and delete marker, by key, newest first. */
  private async listVersions(ctx: Ctx, name: string): Promise<void> {
    const q = ctx.query
    const bucket = await this.mustBucket(
      ctx,
      name,
      'ListObjectVersions',
      's3:ListBucketVersions',
      `arn:aws:s3:::${name}`,
    )
    const { maxKeys, enc, urlEncode } = this.listParams(ctx)
    const prefix = q.get('prefix') ?? ''
    const delimiter = q.get('delimiter') ?? ''
    const keyMarker = q.get('key-marker') ?? ''
    const vidMarker = q.get('version-id-marker')
    if (vidMarker !== undefined && vidMarker !== '' && keyMarker === '')
      throw new ApiError(
        'InvalidArgument',
        'A version-id marker cannot be specified without a key marker.',
      )
    const versions: VersionRecord[] = []
    const prefixes: string[] = []
    let afterKey = keyMarker
    let afterVid = vidMarker === '' ? undefined : vidMarker
    let truncated = false
    let next: { key: string; versionId: string | undefined } | undefined
    scan: for (;;) {
      const page = await this.app.store.listVersions(name, prefix, afterKey, afterVid, 1000)
      if (page.length === 0) break
      for (const v of page) {
        if (versions.length + prefixes.length >= maxKeys) {
          truncated = true
          break scan
        }
        const rest = v.key.slice(prefix.length)
        const d = delimiter === '' ? -1 : rest.indexOf(delimiter)
        if (d >= 0) {
          const cp = prefix + rest.slice(0, d + delimiter.length)
          // Skip every other version under this common prefix.
          afterKey = cp + '\u{10FFFF}'.repeat(4)
          afterVid = undefined
          if (cp !== keyMarker) {
            prefixes.push(cp)
            next = { key: cp, versionId: undefined }
          }
          continue scan
        }
        versions.push(v)
        next = { key: v.key, versionId: v.versionId }
        afterKey = v.key
        afterVid = v.versionId
      }
      if (page.length < 1000) break
    }
    const ownerNode = owner(await this.tenantOf(bucket))
    sendXml(ctx, 200, 'ListVersionsResult', {
      Name: name,
      Prefix: enc(prefix),
      KeyMarker: enc(keyMarker),
      VersionIdMarker: vidMarker ?? '',
      NextKeyMarker: truncated && next !== undefined ? enc(next.key) : undefined,
      NextVersionIdMarker: truncated ? next?.versionId : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : enc(delimiter),
      EncodingType: urlEncode ? 'url' : undefined,
      IsTruncated: truncated,
      Version: versions
        .filter((v) => !v.deleteMarker)
        .map((v) => ({
          Key: enc(v.key),
          VersionId: v.versionId,
          IsLatest: v.isLatest,
          LastModified: new Date(v.createdAt).toISOString(),
          ETag: v.etag,
          Size: v.size,
          Owner: ownerNode,
          StorageClass: 'STANDARD',
        })),
      DeleteMarker: versions
        .filter((v) => v.deleteMarker)
        .map((v) => ({
          Key: enc(v.key),
          VersionId: v.versionId,
          IsLatest: v.isLatest,
          LastModified: new Date(v.createdAt).toISOString(),
          Owner: ownerNode,
        })),
      CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
    })
  }

  private async listObjects(ctx: Ctx, name: string): Promise<void> {
    const q = ctx.query
    const v2 = q.get('list-type') === '2'
    const bucket = await this.mustBucket(
      ctx,
      name,
      v2 ? 'ListObjectsV2' : 'ListObjects',
      's3:ListBucket',
      `arn:aws:s3:::${name}`,
    )
    const prefix = q.get('prefix') ?? ''
    const delimiter = q.get('delimiter') ?? ''
    const { maxKeys, enc, urlEncode } = this.listParams(ctx)
    let after: string
    if (v2) {
      const token = q.get('continuation-token')
      if (token !== undefined) {
        const decoded = Buffer.from(token, 'base64url').toString('utf8')
        if (!decoded.startsWith('k:'))
          throw new ApiError('InvalidArgument', 'The continuation token provided is incorrect')
        after = decoded.slice(2)
      } else after = q.get('start-after') ?? ''
    } else after = q.get('marker') ?? ''

    const contents: ObjectRecord[] = []
    const prefixes: string[] = []
    let cursor = after
    let truncated = false
    let last = ''
    while (contents.length + prefixes.length < maxKeys) {
      const page = await this.app.store.listObjects(
        name,
        prefix,
        cursor,
        Math.min(1000, maxKeys - contents.length - prefixes.length + 1),
      )
      if (page.objects.length === 0) break
      for (const o of page.objects) {
        if (contents.length + prefixes.length >= maxKeys) {
          truncated = true
          break
        }
        const rest = o.key.slice(prefix.length)
        const d = delimiter === '' ? -1 : rest.indexOf(delimiter)
        if (d >= 0) {
          const cp = prefix + rest.slice(0, d + delimiter.length)
          // A marker that is itself a common prefix (a NextMarker) was listed on the page before.
          if (cp !== after && prefixes.at(-1) !== cp) prefixes.push(cp)
          last = cp
          // Skip every other key under this common prefix.
          cursor = cp + '\u{10FFFF}'.repeat(4)
        } else {
          contents.push(o)
          last = o.key
          cursor = o.key
        }
      }
      if (truncated) break
      if (page.truncatedAfter === undefined && cursor === page.objects.at(-1)?.key) break
      if (page.truncatedAfter === undefined && delimiter === '') break
    }
    if (!truncated && contents.length + prefixes.length >= maxKeys && maxKeys > 0) {
      truncated = (await this.app.store.listObjects(name, prefix, cursor, 1)).objects.length > 0
    }
    const fetchOwner = q.get('fetch-owner') === 'true' || !v2
    const ownerTenant = await this.app.store.getTenantById(bucket.tenantId)
    const body: Record<string, Node | Node[]> = {
      Name: name,
      Prefix: enc(prefix),
      ...(v2
        ? {
            StartAfter: q.has('start-after') ? enc(q.get('start-after') ?? '') : undefined,
            KeyCount: contents.length + prefixes.length,
          }
        : { Marker: enc(q.get('marker') ?? '') }),
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : enc(delimiter),
      EncodingType: urlEncode ? 'url' : undefined,
      IsTruncated: truncated,
      ...(v2 && q.has('continuation-token')
        ? { ContinuationToken: q.get('continuation-token') }
        : {}),
      ...(truncated && v2
        ? { NextContinuationToken: Buffer.from(`k:${last}`).toString('base64url') }
        : {}),
      ...(truncated && !v2 && delimiter !== '' ? { NextMarker: enc(last) } : {}),
      Contents: contents.map((o) => ({
        Key: enc(o.key),
        LastModified: new Date(o.createdAt).toISOString(),
        ETag: o.etag,
        Size: o.size,
        ...(fetchOwner ? { Owner: owner(ownerTenant) } : {}),
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
    }
    sendXml(ctx, 200, 'ListBucketResult', body)
  }

  // ---- objects

  private async putObject(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const resource = `arn:aws:s3:::${bucketName}/${key}`
    const tags = this.requestTags(ctx)
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'PutObject',
      's3:PutObject',
      resource,
      tags.conditions,
    )
    if (tags.tags.length > 0)
      this.check(ctx, 'PutObject', 's3:PutObjectTagging', resource, bucket, tags.conditions)
    const keyId = await this.writeKey(ctx, bucket)
    await this.checkKey(ctx, 'PutObject', 'kms:GenerateDataKey', bucket, keyId)
    const tenant = await this.app.store.getTenantById(bucket.tenantId)
    if (tenant === undefined) throw new ApiError('InternalError', 'the bucket owner is missing')
    const metadata = userMetadata(ctx.req)
    const { body, expect } = this.body(ctx)
    if (expect.length > MAX_PUT_BYTES)
      throw new ApiError(
        'EntityTooLarge',
        'Your proposed upload exceeds the maximum allowed object size of 5 GiB for a single PUT; use multipart upload',
      )
    const object = await this.scanned(ctx, bucket, key, () =>
      this.objects.put({
        bucket,
        tenant,
        key,
        body,
        expect,
        contentType: header(ctx.req, 'content-type') ?? null,
        metadata,
        tags: tags.tags,
        keyId,
      }),
    )
    ctx.res.setHeader('ETag', object.etag)
    this.versionHeaders(ctx, bucket, object)
    ctx.res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    ctx.res.setHeader(
      'x-amz-server-side-encryption-aws-kms-key-id',
      this.app.kms.arn(tenant, keyId),
    )
    for (const [k, v] of Object.entries(object.checksums)) ctx.res.setHeader(k, v)
    send(ctx, 200)
  }

  /** Runs a write that the model scanner judges, and puts its verdict in the audit log. */
  private async scanned(
    ctx: Ctx,
    bucket: BucketRecord,
    key: string,
    write: () => Promise<ObjectRecord>,
  ): Promise<ObjectRecord> {
    const event = (scan: ScanRecord, outcome: ScanEvent['outcome'], versionId?: string) =>
      this.onScan?.({
        requestId: ctx.requestId,
        principal: ctx.caller.arn,
        bucket: bucket.name,
        key,
        versionId,
        policy: bucket.scanPolicy,
        outcome,
        scan,
      })
    let o: ObjectRecord
    try {
      o = await write()
    } catch (e) {
      if (e instanceof ScanRejected) event(e.scan, 'rejected')
      throw e
    }
    if (o.scan !== null) {
      event(o.scan, quarantined(bucket, o) ? 'quarantined' : 'stored', o.versionId)
      ctx.res.setHeader('x-amz-meta-strongroom-scan', o.scan.verdict)
    }
    return o
  }

  /**
   * Under an `enforce` scan policy a version the scanner did not call clean
   * is quarantined: reading its body (GET, or as a copy source) also needs
   * strongroom:GetQuarantinedObject.
   */
  private quarantine(ctx: Ctx, op: string, bucket: BucketRecord, object: ObjectRecord): void {
    if (!quarantined(bucket, object)) return
    try {
      this.check(
        ctx,
        op,
        'strongroom:GetQuarantinedObject',
        `arn:aws:s3:::${bucket.name}/${object.key}`,
        bucket,
      )
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 'AccessDenied') throw e
      const first = object.scan?.findings[0]
      throw new ApiError(
        'AccessDenied',
        object.scan === null
          ? 'Access Denied: the object is quarantined: it awaits scanning (it was stored while the scan policy was off; `strongroom bucket scan-policy` or `strongroom rescan` scans it); reading it needs strongroom:GetQuarantinedObject'
          : `Access Denied: the object is quarantined: the model scanner found it ${object.scan.verdict}${first === undefined ? '' : ` (${first.rule}: ${first.reason})`}; reading it needs strongroom:GetQuarantinedObject`,
      )
    }
  }

  /** Tags a write asks for (x-amz-tagging), with the condition keys they set. */
  private requestTags(ctx: Ctx): { tags: Tags; conditions: Record<string, string | string[]> } {
    const h = header(ctx.req, 'x-amz-tagging')
    const tags = parseTaggingHeader(h)
    return { tags, conditions: h === undefined ? {} : tagConditions('s3:RequestObjectTag', tags) }
  }

  /** x-amz-version-id (and x-amz-delete-marker) once a bucket has had versioning turned on. */
  private versionHeaders(ctx: Ctx, bucket: BucketRecord, o: ObjectRecord): void {
    if (bucket.versioning !== 'Unversioned' || o.versionId !== 'null')
      ctx.res.setHeader('x-amz-version-id', o.versionId)
    if (o.deleteMarker) ctx.res.setHeader('x-amz-delete-marker', 'true')
  }

  /**
   * The request body as plaintext bytes, whatever its encoding (plain,
   * aws-chunked signed or unsigned with trailers), and what the request
   * declares about it (length, Content-MD5, payload hash, checksums), which the
   * object service checks before it commits (src/store/expect.ts).
   */
  private body(ctx: Ctx): { body: AsyncIterable<Uint8Array>; expect: BodyExpectation } {
    const req = ctx.req
    const auth = ctx.caller.auth
    const payload = auth?.payloadHash ?? 'UNSIGNED-PAYLOAD'
    const streaming = payload.startsWith('STREAMING-')
    const rawLength = header(req, streaming ? 'x-amz-decoded-content-length' : 'content-length')
    if (rawLength === undefined) {
      throw streaming
        ? new ApiError(
            'MissingContentLength',
            'x-amz-decoded-content-length is required for aws-chunked uploads',
          )
        : new ApiError('MissingContentLength', 'You must provide the Content-Length HTTP header.')
    }
    if (!/^\d{1,16}$/.test(rawLength))
      throw new ApiError('InvalidArgument', 'the content length is not a number')
    const length = Number(rawLength)
    const checksums = new Map<string, string | undefined>()
    const expectChecksum = (name: string, value: string | undefined) => {
      const alg = checksumAlgorithmOf(name)
      if (alg === undefined) return
      if (alg === 'unsupported')
        throw new ApiError(
          'InvalidRequest',
          `the checksum ${name} is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256`,
        )
      if (!checksums.has(name) || value !== undefined) checksums.set(name, value)
    }
    for (const [name, value] of Object.entries(req.headers))
      if (typeof value === 'string') expectChecksum(name, value)
    const trailerNames = (header(req, 'x-amz-trailer') ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '')
    for (const t of trailerNames) expectChecksum(t, undefined)
    const trailers = new Map<string, string>()

    let source: AsyncIterable<Uint8Array> = req
    if (streaming) {
      const signed = payload.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')
      let previous = auth?.signature ?? ''
      const key = ctx.caller.signingKey
      source = decodeChunked(req, {
        decodedLength: length,
        ...(signed && auth !== undefined && key !== undefined
          ? {
              verifyChunk: (sig: string, data: readonly Uint8Array[]) => {
                if (!signaturesEqual(chunkSignature(key, auth, previous, data), sig)) {
                  throw new ApiError(
                    'SignatureDoesNotMatch',
                    'The chunk signature we calculated does not match the signature you provided.',
                  )
                }
                previous = sig
              },
              ...(payload.endsWith('-TRAILER')
                ? {
                    verifyTrailer: (sig: string, canonical: string) => {
                      if (!signaturesEqual(trailerSignature(key, auth, previous, canonical), sig))
                        throw new ApiError(
                          'SignatureDoesNotMatch',
                          'The trailer signature we calculated does not match the signature you provided.',
                        )
                    },
                  }
                : {}),
            }
          : {}),
        onTrailers: (sent) => {
          for (const [k, v] of sent) if (checksums.has(k)) trailers.set(k, v)
        },
      })
    }
    const md5 = header(req, 'content-md5')
    return {
      body: source,
      expect: {
        length,
        ...(md5 === undefined ? {} : { md5: contentMd5(md5) }),
        ...(PAYLOAD_SHA256.test(payload) ? { sha256: payload.toLowerCase() } : {}),
        checksums,
        trailers: () => trailers,
      },
    }
  }

  private async getObject(ctx: Ctx, bucketName: string, key: string, head: boolean): Promise<void> {
    const op = head ? 'HeadObject' : 'GetObject'
    const { bucket, object } = await this.existingObject(
      ctx,
      op,
      ctx.versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion',
      bucketName,
      key,
    )
    await this.checkKey(ctx, op, 'kms:Decrypt', bucket, object.keyId)
    if (!head) this.quarantine(ctx, op, bucket, object)
    const res = ctx.res
    this.versionHeaders(ctx, bucket, object)
    if (object.scan !== null) {
      res.setHeader('x-amz-meta-strongroom-scan', object.scan.verdict)
      const first = object.scan.findings[0]
      if (first !== undefined)
        res.setHeader(
          'x-amz-meta-strongroom-scan-finding',
          `${first.rule} ${first.subject ?? ''}`.trim().replace(/[^\x20-\x7e]/g, '?'),
        )
    }
    if (quarantined(bucket, object)) res.setHeader('x-amz-meta-strongroom-quarantined', 'true')
    if (object.tags.length > 0) res.setHeader('x-amz-tagging-count', String(object.tags.length))
    // Whole-object checksums, when asked for and the whole object is read.
    if (
      header(ctx.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' &&
      header(ctx.req, 'range') === undefined
    )
      for (const [k, v] of Object.entries(object.checksums)) res.setHeader(k, v)
    const lastModified = new Date(Math.floor(object.createdAt / 1000) * 1000)
    // Preconditions (RFC 9110 order): If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since.
    const ifMatch = header(ctx.req, 'if-match')
    const ifNone = header(ctx.req, 'if-none-match')
    const since = header(ctx.req, 'if-modified-since')
    const unmodified = header(ctx.req, 'if-unmodified-since')
    const etagIn = (list: string) =>
      list
        .split(',')
        .some(
          (t) => t.trim() === '*' || t.trim() === object.etag || `"${t.trim()}"` === object.etag,
        )
    if (ifMatch !== undefined && !etagIn(ifMatch))
      throw new ApiError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        { Condition: 'If-Match' },
      )
    if (
      ifMatch === undefined &&
      unmodified !== undefined &&
      Date.parse(unmodified) < lastModified.getTime()
    ) {
      throw new ApiError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        { Condition: 'If-Unmodified-Since' },
      )
    }
    const notModified =
      ifNone !== undefined
        ? etagIn(ifNone)
        : since !== undefined &&
          !Number.isNaN(Date.parse(since)) &&
          lastModified.getTime() <= Date.parse(since)
    res.setHeader('ETag', object.etag)
    res.setHeader('Last-Modified', lastModified.toUTCString())
    if (notModified) {
      send(ctx, 304)
      return
    }
    res.setHeader('Accept-Ranges', 'bytes')
    res.setHeader('Content-Type', object.contentType ?? 'binary/octet-stream')
    for (const [k, v] of Object.entries(object.metadata)) res.setHeader(`x-amz-meta-${k}`, v)
    const owner = await this.app.store.getTenantById(bucket.tenantId)
    res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    if (owner !== undefined)
      res.setHeader(
        'x-amz-server-side-encryption-aws-kms-key-id',
        this.app.kms.arn(owner, object.keyId),
      )
    for (const [q, h] of [
      ['response-content-type', 'Content-Type'],
      ['response-content-language', 'Content-Language'],
      ['response-expires', 'Expires'],
      ['response-cache-control', 'Cache-Control'],
      ['response-content-disposition', 'Content-Disposition'],
      ['response-content-encoding', 'Content-Encoding'],
    ] as const) {
      const v = ctx.query.get(q)
      if (v !== undefined) res.setHeader(h, v)
    }
    const range = parseRange(header(ctx.req, 'range'), object.size)
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${object.size}`)
      throw new ApiError('InvalidRange', 'The requested range is not satisfiable', {
        RangeRequested: header(ctx.req, 'range') ?? '',
        ActualObjectSize: String(object.size),
      })
    }
    const [first, last] = range ?? [0, object.size - 1]
    const status = range === undefined ? 200 : 206
    if (range !== undefined) res.setHeader('Content-Range', `bytes ${first}-${last}/${object.size}`)
    res.setHeader('Content-Length', String(object.size === 0 ? 0 : last - first + 1))
    if (head) {
      send(ctx, status)
      return
    }
    // A body that fails to open or verify answers InternalError without the object's headers.
    const refused = (e: unknown): never => {
      for (const h of res.getHeaderNames()) res.removeHeader(h)
      throw e
    }
    // Opening verifies the body (an empty one's tag included) before the status line goes out.
    const opened = await this.objects.open(object).catch(refused)
    try {
      if (object.size === 0) {
        send(ctx, status)
        return
      }
      // The first segment is decrypted and verified before the status line goes out.
      const it = opened.object.range(first, last)[Symbol.asyncIterator]()
      const firstChunk = await it.next().catch(refused)
      res.statusCode = status
      res.setHeader('x-amz-request-id', ctx.requestId)
      await writeAll(res, firstChunk.done === true ? [] : [firstChunk.value], it)
    } finally {
      await opened.close()
    }
  }

  /**
   * An existing object version for an operation on it: the decision sees the
   * version's tags (s3:ExistingObjectTag/*), and only then does the caller
   * learn whether the bucket, key or version exists. A delete marker answers
   * as S3 does: 404 NoSuchKey when current, 405 when named by version id.
   */
  private async existingObject(
    ctx: Ctx,
    op: string,
    action: string,
    bucketName: string,
    key: string,
    versionId: string | undefined = ctx.versionId,
    extra: Record<string, string | string[]> = {},
  ): Promise<{ bucket: BucketRecord; object: ObjectRecord }> {
    const bucket = await this.bucket(bucketName)
    const found =
      bucket === undefined ? undefined : await this.app.store.getObject(bucketName, key, versionId)
    this.check(ctx, op, action, `arn:aws:s3:::${bucketName}/${key}`, bucket, {
      ...(found === undefined ? {} : tagConditions('s3:ExistingObjectTag', found.tags)),
      ...extra,
    })
    if (bucket === undefined)
      throw new ApiError('NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: bucketName,
      })
    if (found === undefined) {
      if (versionId !== undefined)
        throw new ApiError('NoSuchVersion', 'The specified version does not exist.', {
          Key: key,
          VersionId: versionId,
        })
      throw new ApiError('NoSuchKey', 'The specified key does not exist.', { Key: key })
    }
    if (found.deleteMarker) {
      this.versionHeaders(ctx, bucket, found)
      if (versionId !== undefined)
        throw new ApiError(
          'MethodNotAllowed',
          'The specified method is not allowed against this resource: the version is a delete marker',
          { Method: ctx.view.method, ResourceType: 'DeleteMarker' },
        )
      throw new ApiError('NoSuchKey', 'The specified key does not exist.', { Key: key })
    }
    return { bucket, object: found }
  }

  /**
   * CopyObject: read permission on the source (and its key), write permission
   * on the destination (and its key); the plaintext is re-sealed under the
   * destination bucket's key with a fresh data key.
   */
  private async copyObject(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const src = await this.copySource(ctx, 'CopyObject')
    const source = src.object
    const tagDirective = header(ctx.req, 'x-amz-tagging-directive') ?? 'COPY'
    if (tagDirective !== 'COPY' && tagDirective !== 'REPLACE')
      throw new ApiError('InvalidArgument', 'Unknown tagging directive: use COPY or REPLACE')
    const tags =
      tagDirective === 'REPLACE' ? this.requestTags(ctx) : { tags: source.tags, conditions: {} }
    const resource = `arn:aws:s3:::${bucketName}/${key}`
    const dest = await this.mustBucket(
      ctx,
      bucketName,
      'CopyObject',
      's3:PutObject',
      resource,
      tags.conditions,
    )
    if (tagDirective === 'REPLACE' && tags.tags.length > 0)
      this.check(ctx, 'CopyObject', 's3:PutObjectTagging', resource, dest, tags.conditions)
    const keyId = await this.writeKey(ctx, dest)
    await this.checkKey(ctx, 'CopyObject', 'kms:GenerateDataKey', dest, keyId)
    const directive = header(ctx.req, 'x-amz-metadata-directive') ?? 'COPY'
    if (directive !== 'COPY' && directive !== 'REPLACE')
      throw new ApiError('InvalidArgument', 'Unknown metadata directive: use COPY or REPLACE')
    if (
      directive === 'COPY' &&
      src.bucket.name === bucketName &&
      source.key === key &&
      src.versionId === undefined &&
      header(ctx.req, 'x-amz-server-side-encryption') === undefined &&
      keyId === source.keyId
    ) {
      throw new ApiError(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      )
    }
    const destTenant = await this.tenantOf(dest)
    const opened = await this.objects.open(source)
    let copied: ObjectRecord
    try {
      copied = await this.scanned(ctx, dest, key, () =>
        this.objects.put({
          bucket: dest,
          tenant: destTenant,
          key,
          body: source.size === 0 ? [] : opened.object.range(0, source.size - 1),
          expect: { length: source.size },
          contentType:
            directive === 'COPY' ? source.contentType : (header(ctx.req, 'content-type') ?? null),
          metadata: directive === 'COPY' ? source.metadata : userMetadata(ctx.req),
          tags: tags.tags,
          keyId,
        }),
      )
    } finally {
      await opened.close()
    }
    if (src.bucket.versioning !== 'Unversioned' || source.versionId !== 'null')
      ctx.res.setHeader('x-amz-copy-source-version-id', source.versionId)
    this.versionHeaders(ctx, dest, copied)
    ctx.res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    sendXml(ctx, 200, 'CopyObjectResult', {
      ETag: copied.etag,
      LastModified: new Date(copied.createdAt).toISOString(),
    })
  }

  /**
   * The object named by x-amz-copy-source (`bucket/key`, optionally
   * `?versionId=`), after the read decision on it and its key, and with the
   * x-amz-copy-source-if-* conditions checked.
   */
  private async copySource(
    ctx: Ctx,
    op: string,
  ): Promise<{ bucket: BucketRecord; object: ObjectRecord; versionId: string | undefined }> {
    const raw = header(ctx.req, 'x-amz-copy-source') ?? ''
    const q = raw.indexOf('?')
    const srcPath = q < 0 ? raw : raw.slice(0, q)
    const versionId =
      q < 0 ? undefined : (new URLSearchParams(raw.slice(q + 1)).get('versionId') ?? undefined)
    if (versionId !== undefined && !isVersionId(versionId))
      throw new ApiError('InvalidArgument', 'Invalid version id specified in x-amz-copy-source')
    const [srcBucketName, srcKey] = splitPath(srcPath.startsWith('/') ? srcPath : `/${srcPath}`)
    if (srcBucketName === undefined || srcKey === undefined)
      throw new ApiError(
        'InvalidArgument',
        'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      )
    const { bucket, object: source } = await this.existingObject(
      ctx,
      op,
      versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion',
      srcBucketName,
      srcKey,
      versionId,
    )
    await this.checkKey(ctx, op, 'kms:Decrypt', bucket, source.keyId)
    this.quarantine(ctx, op, bucket, source)
    const modified = Math.floor(source.createdAt / 1000) * 1000
    const ifMatch = header(ctx.req, 'x-amz-copy-source-if-match')
    const ifNone = header(ctx.req, 'x-amz-copy-source-if-none-match')
    const since = header(ctx.req, 'x-amz-copy-source-if-modified-since')
    const unmodified = header(ctx.req, 'x-amz-copy-source-if-unmodified-since')
    const etagIn = (list: string) =>
      list
        .split(',')
        .some(
          (t) => t.trim() === '*' || t.trim() === source.etag || `"${t.trim()}"` === source.etag,
        )
    if (
      (ifMatch !== undefined && !etagIn(ifMatch)) ||
      (ifNone !== undefined && etagIn(ifNone)) ||
      (unmodified !== undefined && Date.parse(unmodified) < modified) ||
      (since !== undefined && Date.parse(since) >= modified)
    ) {
      throw new ApiError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
      )
    }
    return { bucket, object: source, versionId }
  }

  // ---- multipart uploads

  private async tenantOf(bucket: BucketRecord): Promise<TenantRecord> {
    const t = await this.app.store.getTenantById(bucket.tenantId)
    if (t === undefined) throw new ApiError('InternalError', 'the bucket owner is missing')
    return t
  }

  private async upload(ctx: Ctx, bucketName: string, key: string): Promise<UploadRecord> {
    const id = ctx.query.get('uploadId') ?? ''
    const u = await this.app.store.getUpload(id)
    if (u?.bucket !== bucketName || u.key !== key) {
      throw new ApiError(
        'NoSuchUpload',
        'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.',
        { UploadId: id },
      )
    }
    return u
  }

  private async createUpload(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const resource = `arn:aws:s3:::${bucketName}/${key}`
    const tags = this.requestTags(ctx)
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'CreateMultipartUpload',
      's3:PutObject',
      resource,
      tags.conditions,
    )
    if (tags.tags.length > 0)
      this.check(
        ctx,
        'CreateMultipartUpload',
        's3:PutObjectTagging',
        resource,
        bucket,
        tags.conditions,
      )
    const keyId = await this.writeKey(ctx, bucket)
    await this.checkKey(ctx, 'CreateMultipartUpload', 'kms:GenerateDataKey', bucket, keyId)
    const id = randomBytes(24).toString('base64url')
    await this.app.store.createUpload({
      id,
      bucket: bucketName,
      key,
      contentType: header(ctx.req, 'content-type') ?? null,
      metadata: userMetadata(ctx.req),
      tags: tags.tags,
      keyId,
      createdAt: this.now(),
    })
    const owner = await this.tenantOf(bucket)
    ctx.res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    ctx.res.setHeader('x-amz-server-side-encryption-aws-kms-key-id', this.app.kms.arn(owner, keyId))
    sendXml(ctx, 200, 'InitiateMultipartUploadResult', {
      Bucket: bucketName,
      Key: key,
      UploadId: id,
    })
  }

  private partNumber(ctx: Ctx): number {
    const raw = ctx.query.get('partNumber') ?? ''
    const number = /^\d{1,5}$/.test(raw) ? Number(raw) : 0
    if (number < 1 || number > MAX_PARTS) {
      throw new ApiError(
        'InvalidArgument',
        'Part number must be an integer between 1 and 10000, inclusive',
        { ArgumentName: 'partNumber', ArgumentValue: raw },
      )
    }
    return number
  }

  private async uploadPart(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'UploadPart',
      's3:PutObject',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    const upload = await this.upload(ctx, bucketName, key)
    await this.checkKey(ctx, 'UploadPart', 'kms:GenerateDataKey', bucket, upload.keyId)
    const number = this.partNumber(ctx)
    const { body, expect } = this.body(ctx)
    if (expect.length > MAX_PUT_BYTES)
      throw new ApiError('EntityTooLarge', 'a part may be at most 5 GiB')
    const part = await this.objects.putPart(
      upload,
      await this.tenantOf(bucket),
      number,
      body,
      expect,
    )
    ctx.res.setHeader('ETag', part.etag)
    for (const [k, v] of Object.entries(part.checksums)) ctx.res.setHeader(k, v)
    send(ctx, 200)
  }

  /** UploadPartCopy: a part made of (a range of) an existing object, re-sealed under the upload's key. */
  private async uploadPartCopy(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const src = await this.copySource(ctx, 'UploadPartCopy')
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'UploadPartCopy',
      's3:PutObject',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    const upload = await this.upload(ctx, bucketName, key)
    await this.checkKey(ctx, 'UploadPartCopy', 'kms:GenerateDataKey', bucket, upload.keyId)
    const number = this.partNumber(ctx)
    const size = src.object.size
    const rangeHeader = header(ctx.req, 'x-amz-copy-source-range')
    let first = 0
    let last = size - 1
    if (rangeHeader !== undefined) {
      const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(rangeHeader.trim())
      if (m === null)
        throw new ApiError(
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        )
      first = Number(m[1])
      last = Number(m[2])
      if (first > last || last >= size)
        throw new ApiError(
          'InvalidRange',
          `The requested range ${rangeHeader} is not satisfiable for an object of ${size} bytes`,
          { RangeRequested: rangeHeader, ActualObjectSize: String(size) },
        )
    }
    const length = size === 0 ? 0 : last - first + 1
    if (length > MAX_PUT_BYTES) throw new ApiError('EntityTooLarge', 'a part may be at most 5 GiB')
    const opened = await this.objects.open(src.object)
    let part
    try {
      part = await this.objects.putPart(
        upload,
        await this.tenantOf(bucket),
        number,
        length === 0 ? [] : opened.object.range(first, last),
        { length },
      )
    } finally {
      await opened.close()
    }
    if (src.bucket.versioning !== 'Unversioned' || src.object.versionId !== 'null')
      ctx.res.setHeader('x-amz-copy-source-version-id', src.object.versionId)
    ctx.res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    sendXml(ctx, 200, 'CopyPartResult', {
      ETag: part.etag,
      LastModified: new Date(part.createdAt).toISOString(),
    })
  }

  private async completeUpload(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'CompleteMultipartUpload',
      's3:PutObject',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    const upload = await this.upload(ctx, bucketName, key)
    await this.checkKey(ctx, 'CompleteMultipartUpload', 'kms:GenerateDataKey', bucket, upload.keyId)
    const doc = readXml(
      'CompleteMultipartUpload',
      await readSmallBody(ctx.req, XML_BOUNDS.CompleteMultipartUpload.bytes),
    )
    const asked = doc.children
      .filter((c) => c.name === 'Part')
      .map((p) => ({
        number: partNumberOf(p.children.find((c) => c.name === 'PartNumber')?.text ?? ''),
        etag: (p.children.find((c) => c.name === 'ETag')?.text ?? '').trim(),
      }))
    if (asked.length === 0) throw new ApiError('MalformedXML', 'You must specify at least one part')
    const stored = new Map((await this.app.store.listParts(upload.id)).map((p) => [p.number, p]))
    const parts = asked.map((a, i) => {
      if (i > 0 && a.number <= (asked[i - 1]?.number ?? 0)) {
        throw new ApiError(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts must be ordered by part number.',
        )
      }
      const p = stored.get(a.number)
      const quoted = a.etag.startsWith('"') ? a.etag : `"${a.etag}"`
      if (p?.etag !== quoted) {
        throw new ApiError(
          'InvalidPart',
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          { PartNumber: String(a.number), ETag: a.etag },
        )
      }
      return p
    })
    for (const p of parts.slice(0, -1)) {
      if (p.size < MIN_PART_BYTES) {
        throw new ApiError(
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed object size: every part but the last must be at least 5 MiB',
          {
            PartNumber: String(p.number),
            ProposedSize: String(p.size),
            MinSizeAllowed: String(MIN_PART_BYTES),
          },
        )
      }
    }
    const tenant = await this.tenantOf(bucket)
    const object = await this.scanned(ctx, bucket, key, () =>
      this.objects.complete(upload, bucket, tenant, parts),
    )
    this.versionHeaders(ctx, bucket, object)
    ctx.res.setHeader('x-amz-server-side-encryption', 'aws:kms')
    sendXml(ctx, 200, 'CompleteMultipartUploadResult', {
      Location: `/${bucketName}/${key}`,
      Bucket: bucketName,
      Key: key,
      ETag: object.etag,
    })
  }

  private async abortUpload(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    await this.mustBucket(
      ctx,
      bucketName,
      'AbortMultipartUpload',
      's3:AbortMultipartUpload',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    await this.objects.abort(await this.upload(ctx, bucketName, key))
    send(ctx, 204)
  }

  private async listParts(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    await this.mustBucket(
      ctx,
      bucketName,
      'ListParts',
      's3:ListMultipartUploadParts',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    const upload = await this.upload(ctx, bucketName, key)
    const marker = Number(ctx.query.get('part-number-marker') ?? '0') || 0
    const max = Math.min(Number(ctx.query.get('max-parts') ?? '1000') || 1000, 1000)
    const all = (await this.app.store.listParts(upload.id)).filter((p) => p.number > marker)
    const page = all.slice(0, max)
    sendXml(ctx, 200, 'ListPartsResult', {
      Bucket: bucketName,
      Key: key,
      UploadId: upload.id,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.number,
      MaxParts: max,
      IsTruncated: all.length > page.length,
      Part: page.map((p) => ({
        PartNumber: p.number,
        LastModified: new Date(p.createdAt).toISOString(),
        ETag: p.etag,
        Size: p.size,
      })),
      StorageClass: 'STANDARD',
    })
  }

  private async listUploads(ctx: Ctx, bucketName: string): Promise<void> {
    await this.mustBucket(
      ctx,
      bucketName,
      'ListMultipartUploads',
      's3:ListBucketMultipartUploads',
      `arn:aws:s3:::${bucketName}`,
    )
    const prefix = ctx.query.get('prefix') ?? ''
    const max = Math.min(Number(ctx.query.get('max-uploads') ?? '1000') || 1000, 1000)
    const uploads = await this.app.store.listUploads(bucketName, prefix, max + 1)
    sendXml(ctx, 200, 'ListMultipartUploadsResult', {
      Bucket: bucketName,
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: uploads.length > max,
      Upload: uploads.slice(0, max).map((u) => ({
        Key: u.key,
        UploadId: u.id,
        Initiated: new Date(u.createdAt).toISOString(),
        StorageClass: 'STANDARD',
      })),
    })
  }

  private async deleteObject(ctx: Ctx, bucketName: string, key: string): Promise<void> {
    const bucket = await this.mustBucket(
      ctx,
      bucketName,
      'DeleteObject',
      ctx.versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion',
      `arn:aws:s3:::${bucketName}/${key}`,
    )
    const r = await this.objects.delete(bucket, key, ctx.versionId)
    if (r !== undefined) this.versionHeaders(ctx, bucket, r)
    else if (ctx.versionId !== undefined) ctx.res.setHeader('x-amz-version-id', ctx.versionId)
    send(ctx, 204)
  }

  private async deleteObjects(ctx: Ctx, bucketName: string): Promise<void> {
    // Each key is decided on its own once the body names it (s3:DeleteObject or
    // s3:DeleteObjectVersion), as S3 does; what can be decided without the body is decided first.
    const bucket = await this.beforeBody(
      ctx,
      'DeleteObjects',
      's3:DeleteObject',
      `arn:aws:s3:::${bucketName}/*`,
      bucketName,
    )
    // An anonymous caller learns nothing about a bucket it may not delete from: until one of
    // its keys is allowed, every answer is the one a missing bucket gets.
    const anonymous = ctx.caller.auth === undefined
    const { quiet, keys } = await (async () => {
      const body = await readSmallBody(ctx.req, XML_BOUNDS.Delete.bytes)
      const md5 = header(ctx.req, 'content-md5')
      if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5)
        throw new ApiError(
          'BadDigest',
          'The Content-MD5 you specified did not match what we received.',
        )
      const doc = readXml('Delete', body)
      const keys = doc.children
        .filter((c) => c.name === 'Object')
        .map((o) => ({
          key: o.children.find((c) => c.name === 'Key')?.text ?? '',
          versionId: o.children.find((c) => c.name === 'VersionId')?.text.trim(),
        }))
      if (keys.length === 0 || keys.length > 1000)
        throw new ApiError(
          'MalformedXML',
          'The XML you provided was not well-formed or did not validate against our published schema: 1 to 1000 objects',
        )
      const quiet = doc.children.find((c) => c.name === 'Quiet')?.text.trim() === 'true'
      return { quiet, keys }
    })().catch((e: unknown) => {
      throw anonymous ? new ApiError('AccessDenied', ANONYMOUS_DENIED) : e
    })
    let allowedAny = false
    const deleted: Node[] = []
    const errors: Node[] = []
    for (const { key, versionId } of keys) {
      try {
        if (versionId !== undefined && !isVersionId(versionId))
          throw new ApiError('NoSuchVersion', 'The specified version does not exist.')
        this.check(
          ctx,
          'DeleteObjects',
          versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion',
          `arn:aws:s3:::${bucketName}/${key}`,
          bucket,
          versionId === undefined ? {} : { 's3:VersionId': versionId },
        )
        allowedAny = true
        const r = await this.objects.delete(bucket, key, versionId)
        if (!quiet)
          deleted.push({
            Key: key,
            VersionId: versionId,
            ...(r?.deleteMarker === true
              ? {
                  DeleteMarker: true,
                  DeleteMarkerVersionId: versionId === undefined ? r.versionId : undefined,
                }
              : {}),
          })
      } catch (e) {
        const a = toApiError(e)
        errors.push({ Key: key, VersionId: versionId, Code: a.code, Message: a.message })
      }
    }
    if (anonymous && !allowedAny) throw new ApiError('AccessDenied', ANONYMOUS_DENIED)
    sendXml(ctx, 200, 'DeleteResult', { Deleted: deleted, Error: errors })
  }
}

// ---- helpers

const RESPONSE_OVERRIDES = [
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
]
/** The query parameters each plain bucket and object operation reads (besides x-id and X-Amz-*). */
const PLAIN_PARAMETERS: Record<'bucket' | 'object', Record<string, readonly string[]>> = {
  bucket: {
    PUT: [],
    HEAD: [],
    DELETE: [],
    GET: [
      'list-type',
      'prefix',
      'delimiter',
      'marker',
      'max-keys',
      'continuation-token',
      'start-after',
      'fetch-owner',
      'encoding-type',
    ],
  },
  object: {
    PUT: [],
    DELETE: ['versionId'],
    GET: ['versionId', 'partNumber', ...RESPONSE_OVERRIDES],
    HEAD: ['versionId', 'partNumber', ...RESPONSE_OVERRIDES],
  },
}

/**
 * Refuses a plain operation whose query names something else: S3 has many sub-resources
 * (`?metadataConfiguration`, `?policyStatus`, …) that Strongroom does not implement, and one of
 * them must answer NotImplemented, not be read as DeleteBucket or a listing.
 * `x-id` (the SDKs' operation hint) and `X-Amz-*` (presigned URLs) are always allowed.
 */
function onlyParameters(
  query: Map<string, string>,
  allowed: readonly string[],
  on: 'bucket' | 'object',
  method: string,
): void {
  for (const name of query.keys()) {
    if (allowed.includes(name) || name === 'x-id' || /^x-amz-/i.test(name)) continue
    throw new ApiError(
      'NotImplemented',
      `Strongroom does not implement the ${on} ?${name.slice(0, 64)} operation (${method}); a plain ${method} takes ${allowed.length === 0 ? 'no query parameters' : allowed.join(', ')}`,
    )
  }
}

function appliedOnly(t: Trace): Trace {
  return {
    ...t,
    policies: t.policies
      .map((p) => ({ ...p, statements: p.statements.filter((s) => s.matched) }))
      .filter((p) => p.statements.length > 0),
  }
}

/**
 * Whether the gateway refuses this version's body without strongroom:GetQuarantinedObject:
 * under `enforce`, what the scanner has not called clean, or has not scanned yet.
 */
export function quarantined(bucket: BucketRecord, o: Pick<ObjectRecord, 'scan'>): boolean {
  return bucket.scanPolicy === 'enforce' && o.scan?.verdict !== 'clean'
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

/** Path-style addressing: /bucket/key. Keys are data: any bytes, never a path on disk. */
export function splitPath(rawPath: string): [string | undefined, string | undefined] {
  const p = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath
  if (p === '') return [undefined, undefined]
  const slash = p.indexOf('/')
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch {
      throw new ApiError('InvalidArgument', 'the request path is not valid percent-encoding')
    }
  }
  if (slash < 0) return [dec(p), undefined]
  const key = p.slice(slash + 1)
  return [dec(p.slice(0, slash)), key === '' ? undefined : dec(key)]
}

/** The binary MD5 of a Content-MD5 header; a value that is not one is InvalidDigest. */
function contentMd5(given: string): Buffer {
  const want = Buffer.from(given, 'base64')
  if (want.length !== 16)
    throw new ApiError('InvalidDigest', 'The Content-MD5 you specified was invalid.')
  return want
}

function userMetadata(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  let size = 0
  for (const [k, v] of Object.entries(req.headers)) {
    if (!k.startsWith('x-amz-meta-') || v === undefined) continue
    const value = Array.isArray(v) ? v.join(',') : v
    const name = k.slice('x-amz-meta-'.length)
    // strongroom-* is Strongroom's own (scan verdicts): a client's copy is dropped, never stored,
    // so metadata that round-trips through a download and an upload cannot vouch for itself.
    if (name.startsWith('strongroom-')) continue
    size += name.length + value.length
    out[name] = value
  }
  if (size > MAX_METADATA_BYTES)
    throw new ApiError(
      'MetadataTooLarge',
      'Your metadata headers exceed the maximum allowed metadata size of 2 KB',
    )
  return out
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (several ranges, other units) is ignored, as S3 does. */
export function parseRange(
  h: string | undefined,
  size: number,
): [number, number] | 'unsatisfiable' | undefined {
  if (h === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const n = Number(m[2])
    if (n === 0) return 'unsatisfiable'
    return size === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1]
  }
  const first = Number(m[1])
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (first >= size || (m[2] !== '' && Number(m[2]) < first))
    return m[2] !== '' && Number(m[2]) < first ? undefined : 'unsatisfiable'
  return [first, last]
}

function owner(t: TenantRecord | undefined): Node {
  return t === undefined ? undefined : { ID: t.id, DisplayName: t.name }
}

/**
 * A small request body (an XML or JSON document), read whole, after authorization. A declared
 * Content-Length over `max` is refused before any byte is read; a body without one is cut off
 * once it passes `max`. The request is left paused, never destroyed, so the server can drain
 * it and the client reads the error (S3's MaxMessageLengthExceeded unless `tooLarge` says
 * otherwise). A signed payload hash (x-amz-content-sha256) is verified.
 */
async function readSmallBody(
  req: IncomingMessage,
  max: number,
  tooLarge: () => ApiError = () =>
    new ApiError(
      'MaxMessageLengthExceeded',
      `Your request was too big: this request's body may be at most ${max} bytes`,
    ),
): Promise<Buffer> {
  const declared = header(req, 'content-length')
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > max) throw tooLarge()
  const body =
    req.readableEnded || req.destroyed
      ? Buffer.alloc(0)
      : await new Promise<Buffer>((resolve, reject) => {
          const parts: Buffer[] = []
          let n = 0
          const stop = () => {
            req.off('data', data)
            req.off('end', end)
            req.off('error', closed)
            req.off('close', closed)
          }
          const data = (c: Buffer) => {
            n += c.length
            if (n > max) {
              stop()
              req.pause()
              reject(tooLarge())
            } else parts.push(c)
          }
          const end = () => {
            stop()
            resolve(Buffer.concat(parts))
          }
          const closed = () => {
            stop()
            reject(new ApiError('IncompleteBody', 'the request body ended before it was complete'))
          }
          req.on('data', data)
          req.once('end', end)
          req.once('error', closed)
          req.once('close', closed)
        })
  const payload = signedPayloads.get(req)
  if (
    payload !== undefined &&
    PAYLOAD_SHA256.test(payload) &&
    createHash('sha256').update(body).digest('hex') !== payload.toLowerCase()
  )
    throw new ApiError(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
  return body
}

/** A CompleteMultipartUpload part number: decimal digits only (no `0x1`, `1.0`, `+1`). */
function partNumberOf(text: string): number {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t))
    throw new ApiError(
      'MalformedXML',
      `The XML you provided was not well-formed or did not validate against our published schema: PartNumber \`${t.slice(0, 20)}\` is not an integer`,
    )
  return Number(t)
}

const EMPTY_SHA256 = createHash('sha256').digest('hex')

function policyTooLarge(): ApiError {
  return new ApiError(
    'MalformedPolicy',
    `Policies must be less than 20 KB: a bucket policy may be at most ${MAX_POLICY_BYTES} bytes once whitespace is removed`,
  )
}

/** The size of a JSON document without its whitespace, as S3 measures a policy; the text's own size when it does not parse (the policy parser then says why). */
function minifiedJsonBytes(text: string): number {
  try {
    return Buffer.byteLength(JSON.stringify(JSON.parse(text)))
  } catch {
    return Buffer.byteLength(text)
  }
}

function send(ctx: Ctx, status: number, body?: string): void {
  ctx.res.statusCode = status
  ctx.res.setHeader('x-amz-request-id', ctx.requestId)
  if (body === undefined) {
    if (!ctx.res.hasHeader('Content-Length') && status !== 304)
      ctx.res.setHeader('Content-Length', '0')
    ctx.res.end()
  } else {
    ctx.res.setHeader('Content-Length', String(Buffer.byteLength(body)))
    ctx.res.end(body)
  }
}

function sendXml(ctx: Ctx, status: number, root: string, body: Node): void {
  ctx.res.setHeader('Content-Type', 'application/xml')
  send(ctx, status, xmlDocument(root, body))
}

async function writeAll(
  res: ServerResponse,
  head: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): Promise<void> {
  const write = (c: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (res.write(c)) resolve()
      else {
        res.once('drain', resolve)
        res.once('close', () => reject(new Error('client closed the connection')))
      }
    })
  for (const c of head) await write(c)
  for (let r = await rest.next(); r.done !== true; r = await rest.next()) await write(r.value)
  res.end()
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase()
}

export function errorXml(e: ApiError, resource: string, requestId: string): string {
  return xmlDocument('Error', {
    Code: e.code,
    Message: e.message,
    ...e.extra,
    Resource: resource,
    RequestId: requestId,
  }).replace(' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', '')
}
