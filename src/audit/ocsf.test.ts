/**
 * The OCSF mapping, checked three ways: known answers for four representative events; a
 * property over generated events (every field lands where WHERE says, so a field added to
 * AuditEvent fails here until it is mapped); docs/audit.md against the code (its field table
 * against WHERE, its OCSF example against toOcsf).
 *
 * OCSF API Activity (6003), 1.9.0: https://schema.ocsf.io/1.9.0/classes/api_activity, defined in
 * https://github.com/ocsf/ocsf-schema/blob/main/events/application/api_activity.json; 1.9.0 is
 * the latest release in https://github.com/ocsf/ocsf-schema/blob/main/CHANGELOG.md.
 * CloudTrail's record: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import type { Caller } from '../api/operation.ts'
import type { ParsedAuth } from '../api/sigv4.ts'
import { auditEvent, type AuditEvent, type RequestFacts } from './event.ts'
import { activityOf, toOcsf } from './ocsf.ts'

const KEY = Buffer.alloc(32, 7)
const ACCOUNT = '111122223333'

function auth(accessKeyId: string, securityToken?: string): ParsedAuth {
  return {
    kind: 'header',
    credential: { accessKeyId, date: '20261201', region: 'us-east-1', service: 's3' },
    signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'],
    signature: 'f'.repeat(64),
    amzDate: '20261201T120000Z',
    expires: undefined,
    payloadHash: 'UNSIGNED-PAYLOAD',
    securityToken,
  }
}

function iamUser(name: string, userId: string | undefined, accessKeyId: string): Caller {
  return {
    arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    account: ACCOUNT,
    tenant: undefined,
    userId,
    userName: name,
    policies: [],
    auth: auth(accessKeyId),
    signingKey: undefined,
  }
}

const TRAINER: Caller = {
  ...iamUser('unused', undefined, 'unused'),
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/trainer/job-42`,
  userName: undefined,
  auth: auth('ASIAEXAMPLETRAINER01', 'FwoGZXIvYXdzEXAMPLEsessiontoken'),
  session: {
    // prettier-ignore
    claims: {
      tenantId: ACCOUNT, kind: 'role', name: 'trainer', principalId: 'AROAEXAMPLETRAINER01',
      sessionName: 'job-42', issuedAt: Date.UTC(2026, 11, 1, 11), expiresAt: Date.UTC(2026, 11, 1, 12),
      sourceIdentity: 'alice',
    },
    principalArn: `arn:aws:iam::${ACCOUNT}:role/trainer`,
    policies: undefined,
  },
}

const CLI = 'aws-cli/2.22.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.8.0'
const BOTO = 'Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.8.0'

/** What the audit stage records of an S3 request on `models/<key>`. */
const onObject = (key: string, versionId?: string) => ({
  requestParameters: {
    bucketName: 'models',
    key,
    ...(versionId === undefined ? {} : { versionId }),
    Host: 'models.s3.strongroom.example',
  },
  resources: [
    { ARN: 'arn:aws:s3:::models', accountId: ACCOUNT, type: 'AWS::S3::Bucket' },
    { ARN: `arn:aws:s3:::models/${key}`, accountId: ACCOUNT, type: 'AWS::S3::Object' },
  ],
})

/** The request as the audit stage (src/api/audit-stage.ts) reports it; each test changes some. */
function facts(over: Partial<RequestFacts>): RequestFacts {
  return {
    time: Date.UTC(2026, 11, 1, 12, 0, 0, 250),
    requestId: '18C3A7F2E4B0D915',
    service: 's3',
    operation: 'GetObject',
    region: 'us-east-1',
    readOnly: true,
    caller: undefined,
    remote: '::ffff:203.0.113.7',
    userAgent: CLI,
    host: 'models.s3.strongroom.example',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    ...onObject('llama/weights.safetensors'),
    responseElements: null,
    recipientAccountId: ACCOUNT,
    decision: 'Allow',
    statements: ['ml-readers#ReadModels'],
    status: 200,
    errorCode: undefined,
    errorMessage: undefined,
    bytesIn: 612,
    bytesOut: 1_048_998,
    latencyMs: 41.27,
    ...over,
  }
}

/** auditEvent() with the random eventID replaced, so that the expected output can be written. */
function fixed(f: RequestFacts, eventID: string, more?: Partial<AuditEvent>): AuditEvent {
  return { ...auditEvent(f, KEY), eventID, ...more }
}
function traffic(bytesIn: number, bytesOut: number, latencyMs: number) {
  return { bytesIn, bytesOut, latencyMs }
}

/** The four representative events; the first is also docs/audit.md's example. */
const EVENTS = {
  iamUserGet: fixed(
    facts({ caller: iamUser('alice', 'AIDAEXAMPLEALICE0001', 'AKIAEXAMPLEALICE0001') }),
    '5b0f7c2e-3c1d-4f7a-9a53-0d6f1e2b8c41',
  ),
  assumedRolePut: fixed(
    facts({
      requestId: '18C3A7F2E4B0D916',
      operation: 'PutObject',
      readOnly: false,
      caller: TRAINER,
      ...onObject('llama/adapter.safetensors'),
      statements: ['trainer-write#WriteAdapters'],
      ...traffic(2_098_000, 388, 230.5),
    }),
    'c7d1a0e4-8f2b-4b6e-a1d3-52e9f0c4b7a8',
  ),
  anonymousDenied: fixed(
    facts({
      requestId: '18C3A7F2E4B0D917',
      remote: '198.51.100.23',
      userAgent: 'curl/8.5.0',
      tls: undefined,
      decision: 'ImplicitDeny',
      statements: [],
      status: 403,
      errorCode: 'AccessDenied',
      errorMessage: 'Access Denied',
      ...traffic(141, 243, 1.4),
    }),
    '0e6b9a3f-2d4c-4e8b-b5f1-7a9c3d2e1f60',
  ),
  deleteViaVpcEndpoint: fixed(
    facts({
      requestId: '18C3A7F2E4B0D918',
      operation: 'DeleteObject',
      readOnly: false,
      caller: iamUser('bob', 'AIDAEXAMPLEBOB000001', 'AKIAEXAMPLEBOB000001'),
      remote: '10.0.3.17',
      userAgent: BOTO,
      ...onObject('llama/old.safetensors', '01JEXAMPLEVERSION00000001'),
      statements: ['ml-admins#DeleteOld'],
      status: 204,
      ...traffic(498, 301, 8.9),
    }),
    '9a4e2b71-6c0d-4f3e-8b5a-1d7c0e9f2a36',
    { vpcEndpointId: 'vpce-0a1b2c3d4e5f67890' },
  ),
} satisfies Record<string, AuditEvent>

const AWS_ACCOUNT = { uid: ACCOUNT, type_id: 10, type: 'AWS Account' } as const
const meta = (uid: string, requestId: string) => ({
  version: '1.9.0',
  product: { name: 'Strongroom', vendor_name: 'Strongroom' },
  profiles: ['cloud'],
  uid,
  correlation_uid: requestId,
  log_version: '1.11',
  event_code: 'AwsApiCall',
})
const TLS = {
  tlsVersion: 'TLSv1.3',
  cipherSuite: 'TLS_AES_256_GCM_SHA384',
  clientProvidedHostHeader: 'models.s3.strongroom.example',
}
const owned = (key: string) => [
  { uid: 'arn:aws:s3:::models', type: 'AWS::S3::Bucket', owner: { account: AWS_ACCOUNT } },
  { uid: `arn:aws:s3:::models/${key}`, type: 'AWS::S3::Object', owner: { account: AWS_ACCOUNT } },
]
const CLOUD = { provider: 'Strongroom', region: 'us-east-1', account: AWS_ACCOUNT }
const SUCCESS = { status_id: 1, status: 'Success' }
const COMMON = {
  time: Date.UTC(2026, 11, 1, 12, 0, 0),
  category_uid: 6,
  category_name: 'Application Activity',
  class_uid: 6003,
  class_name: 'API Activity',
  severity_id: 1,
  severity: 'Informational',
}

describe('toOcsf: known answers', () => {
  // The first event, an IAM user reading an object over TLS, has its known answer in
  // docs/audit.md: see the last test.
  it('an assumed role writing an object, with a source identity', () => {
    assert.deepStrictEqual(toOcsf(EVENTS.assumedRolePut), {
      activity_id: 1,
      activity_name: 'Create',
      ...COMMON,
      type_uid: 600301,
      type_name: 'API Activity: Create',
      ...SUCCESS,
      metadata: meta('c7d1a0e4-8f2b-4b6e-a1d3-52e9f0c4b7a8', '18C3A7F2E4B0D916'),
      actor: {
        user: {
          type: 'AssumedRole',
          uid: 'arn:aws:sts::111122223333:assumed-role/trainer/job-42',
          uid_alt: 'AROAEXAMPLETRAINER01:job-42',
          credential_uid: 'ASIAEXAMPLETRAINER01',
          account: AWS_ACCOUNT,
        },
        session: {
          // HMAC-SHA256 under KEY of "session-token\n" + the token: the token itself never appears.
          uid: '02e5fe420990f5a40a07d8e167759bb0ba549084e16788d26629b2a15c48eb2e',
          created_time: Date.UTC(2026, 11, 1, 11, 0, 0),
          is_mfa: false,
          issuer: 'arn:aws:iam::111122223333:role/trainer',
        },
      },
      api: {
        operation: 'PutObject',
        service: { name: 's3.amazonaws.com' },
        request: {
          uid: '18C3A7F2E4B0D916',
          data: onObject('llama/adapter.safetensors').requestParameters,
        },
      },
      src_endpoint: { ip: '203.0.113.7' },
      http_request: { user_agent: CLI, length: 2_098_000 },
      http_response: { code: 200, length: 388 },
      resources: owned('llama/adapter.safetensors'),
      cloud: CLOUD,
      unmapped: {
        readOnly: false,
        userIdentity: {
          sessionContext: {
            sessionIssuer: {
              type: 'Role',
              principalId: 'AROAEXAMPLETRAINER01',
              accountId: ACCOUNT,
              userName: 'trainer',
            },
            sourceIdentity: 'alice',
          },
        },
        tlsDetails: TLS,
        strongroom: {
          decision: 'Allow',
          statements: ['trainer-write#WriteAdapters'],
          latencyMs: 230.5,
        },
      },
    })
    assert.doesNotMatch(JSON.stringify(toOcsf(EVENTS.assumedRolePut)), /FwoGZXIv/)
  })

  it('an anonymous request refused with AccessDenied', () => {
    assert.deepStrictEqual(toOcsf(EVENTS.anonymousDenied), {
      activity_id: 2,
      activity_name: 'Read',
      ...COMMON,
      type_uid: 600302,
      type_name: 'API Activity: Read',
      status_id: 2,
      status: 'Failure',
      status_code: 'AccessDenied',
      status_detail: 'Access Denied',
      metadata: meta('0e6b9a3f-2d4c-4e8b-b5f1-7a9c3d2e1f60', '18C3A7F2E4B0D917'),
      // CloudTrail's anonymous principal: principalId "" is left out, the account is "anonymous".
      actor: {
        user: {
          type: 'AWSAccount',
          account: { uid: 'anonymous', type_id: 10, type: 'AWS Account' },
        },
      },
      api: {
        operation: 'GetObject',
        service: { name: 's3.amazonaws.com' },
        request: {
          uid: '18C3A7F2E4B0D917',
          data: onObject('llama/weights.safetensors').requestParameters,
        },
        response: { error: 'AccessDenied', error_message: 'Access Denied' },
      },
      src_endpoint: { ip: '198.51.100.23' },
      http_request: { user_agent: 'curl/8.5.0', length: 141 },
      http_response: { code: 403, length: 243 },
      resources: owned('llama/weights.safetensors'),
      cloud: CLOUD,
      unmapped: {
        readOnly: true,
        strongroom: { decision: 'ImplicitDeny', statements: [], latencyMs: 1.4 },
      },
    })
  })

  it('a delete that came through a VPC endpoint', () => {
    assert.deepStrictEqual(toOcsf(EVENTS.deleteViaVpcEndpoint), {
      activity_id: 4,
      activity_name: 'Delete',
      ...COMMON,
      type_uid: 600304,
      type_name: 'API Activity: Delete',
      ...SUCCESS,
      metadata: meta('9a4e2b71-6c0d-4f3e-8b5a-1d7c0e9f2a36', '18C3A7F2E4B0D918'),
      actor: {
        user: {
          type: 'IAMUser',
          uid: 'arn:aws:iam::111122223333:user/bob',
          uid_alt: 'AIDAEXAMPLEBOB000001',
          name: 'bob',
          credential_uid: 'AKIAEXAMPLEBOB000001',
          account: AWS_ACCOUNT,
        },
      },
      api: {
        operation: 'DeleteObject',
        service: { name: 's3.amazonaws.com' },
        request: {
          uid: '18C3A7F2E4B0D918',
          data: onObject('llama/old.safetensors', '01JEXAMPLEVERSION00000001').requestParameters,
        },
      },
      src_endpoint: { ip: '10.0.3.17', uid: 'vpce-0a1b2c3d4e5f67890' },
      http_request: { user_agent: BOTO, length: 498 },
      http_response: { code: 204, length: 301 },
      resources: owned('llama/old.safetensors'),
      cloud: CLOUD,
      unmapped: {
        readOnly: false,
        tlsDetails: TLS,
        strongroom: { decision: 'Allow', statements: ['ml-admins#DeleteOld'], latencyMs: 8.9 },
      },
    })
  })
})

describe('activityOf', () => {
  it('reads the verb of the operation, exact names first', () => {
    const names: Record<number, string> = {
      0: 'Unknown',
      1: 'PutObject CopyObject CreateMultipartUpload UploadPartCopy CompleteMultipartUpload',
      2: 'GetObject HeadBucket ListObjectsV2 SimulatePrincipalPolicy GetSessionToken',
      3: 'PutBucketPolicy PutObjectTagging AttachUserPolicy TagUser UpdateAccessKey',
      4: 'DeleteObjects AbortMultipartUpload ScheduleKeyDeletion',
      99: 'AssumeRole Tagging Getaway Deleted',
    }
    for (const [id, list] of Object.entries(names))
      for (const name of list.split(' ')) assert.equal(activityOf(name), Number(id), name)
  })
})

/**
 * Where each leaf of an event goes: its path in the event (`[]` for any array index) to the
 * OCSF paths that carry it, and how its value is carried when it is not copied as it is.
 * docs/audit.md's field table must say the same; an event leaf missing here fails the property.
 */
const ms = (v: unknown) => Date.parse(String(v))
const SC = 'userIdentity.sessionContext'
type Where = { to: readonly string[]; as?: (v: unknown) => unknown; either?: true }
const WHERE: Readonly<Record<string, Where>> = {
  eventVersion: { to: ['metadata.log_version'] },
  eventTime: { to: ['time'], as: ms },
  eventSource: { to: ['api.service.name'] },
  eventName: { to: ['api.operation'] },
  awsRegion: { to: ['cloud.region'] },
  sourceIPAddress: { to: ['src_endpoint.ip', 'src_endpoint.svc_name'], either: true },
  userAgent: { to: ['http_request.user_agent'] },
  'userIdentity.type': { to: ['actor.user.type'] },
  'userIdentity.principalId': { to: ['actor.user.uid_alt'] },
  'userIdentity.arn': { to: ['actor.user.uid'] },
  'userIdentity.accountId': { to: ['actor.user.account.uid'] },
  'userIdentity.accessKeyId': { to: ['actor.user.credential_uid'] },
  'userIdentity.userName': { to: ['actor.user.name'] },
  'userIdentity.invokedBy': { to: ['actor.application.name'] },
  [`${SC}.sessionIssuer.type`]: { to: [`unmapped.${SC}.sessionIssuer.type`] },
  [`${SC}.sessionIssuer.principalId`]: { to: [`unmapped.${SC}.sessionIssuer.principalId`] },
  [`${SC}.sessionIssuer.arn`]: { to: ['actor.session.issuer'] },
  [`${SC}.sessionIssuer.accountId`]: { to: [`unmapped.${SC}.sessionIssuer.accountId`] },
  [`${SC}.sessionIssuer.userName`]: { to: [`unmapped.${SC}.sessionIssuer.userName`] },
  [`${SC}.attributes.creationDate`]: { to: ['actor.session.created_time'], as: ms },
  [`${SC}.attributes.mfaAuthenticated`]: { to: ['actor.session.is_mfa'], as: (v) => v === 'true' },
  [`${SC}.sourceIdentity`]: { to: [`unmapped.${SC}.sourceIdentity`] },
  requestParameters: { to: ['api.request.data'] },
  responseElements: { to: ['api.response.data'] },
  requestID: { to: ['api.request.uid', 'metadata.correlation_uid'] },
  eventID: { to: ['metadata.uid'] },
  readOnly: { to: ['unmapped.readOnly'] },
  'resources[].ARN': { to: ['resources[].uid'] },
  'resources[].accountId': { to: ['resources[].owner.account.uid'] },
  'resources[].type': { to: ['resources[].type'] },
  eventType: { to: ['metadata.event_code'] },
  recipientAccountId: { to: ['cloud.account.uid'] },
  vpcEndpointId: { to: ['src_endpoint.uid'] },
  'tlsDetails.tlsVersion': { to: ['unmapped.tlsDetails.tlsVersion'] },
  'tlsDetails.cipherSuite': { to: ['unmapped.tlsDetails.cipherSuite'] },
  'tlsDetails.clientProvidedHostHeader': { to: ['unmapped.tlsDetails.clientProvidedHostHeader'] },
  errorCode: { to: ['api.response.error', 'status_code'] },
  errorMessage: { to: ['api.response.error_message', 'status_detail'] },
  'strongroom.decision': { to: ['unmapped.strongroom.decision'] },
  'strongroom.statements[]': { to: ['unmapped.strongroom.statements[]'] },
  'strongroom.bytesIn': { to: ['http_request.length'] },
  'strongroom.bytesOut': { to: ['http_response.length'] },
  'strongroom.latencyMs': { to: ['unmapped.strongroom.latencyMs'] },
  'strongroom.status': { to: ['http_response.code'] },
  'strongroom.sessionTokenHmac': { to: ['actor.session.uid'] },
  'strongroom.evaluations': { to: ['unmapped.strongroom.evaluations'] },
  'strongroom.tracesOmitted': { to: ['unmapped.strongroom.tracesOmitted'] },
}

/** Every leaf of an event: [path with `[]` for indexes, the path itself, the value]. */
function leaves(v: unknown, path = '', out: [string, string, unknown][] = []) {
  const opaque = /^(requestParameters|responseElements|strongroom\.evaluations)$/.test(path)
  if (opaque || v === null || typeof v !== 'object')
    out.push([path.replace(/\[\d+\]/g, '[]'), path, v])
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out))
  else for (const [k, x] of Object.entries(v)) leaves(x, path === '' ? k : `${path}.${k}`, out)
  return out
}

function at(o: unknown, path: string): unknown {
  let v = o
  for (const k of path.replace(/\[(\d+)\]/g, '.$1').split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined
  return v
}

const text = fc.string({ maxLength: 24 })
const id = fc.stringMatching(/^[A-Z0-9]{1,20}$/)
const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) })
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined })
const params = fc.option(
  fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,10}$/), fc.oneof(text, fc.integer(), fc.boolean())),
  { nil: null },
)
const sessionCaller: fc.Arbitrary<Caller> = fc
  .record({
    kind: fc.constantFrom<'role' | 'user' | 'federated'>('role', 'user', 'federated'),
    name: text,
    principalId: id,
    sessionName: text,
    issuedAt: instant,
    sourceIdentity: maybe(text),
    user: maybe(text),
    userId: maybe(id),
    token: fc.string({ minLength: 1 }),
    key: id,
    principalArn: text,
  })
  .map((s) => ({
    ...iamUser(s.name, s.userId, s.key),
    auth: auth(s.key, s.token),
    session: {
      claims: { ...s, tenantId: ACCOUNT, expiresAt: s.issuedAt + 3_600_000 },
      principalArn: s.principalArn,
      policies: undefined,
    },
  }))
const v4mapped = fc.ipV4().map((ip) => `::ffff:${ip}`)
const resource = fc.record({ ARN: text, accountId: fc.oneof(fc.constant(''), id), type: text })
const VERDICTS = ['Allow', 'ExplicitDeny', 'ImplicitDeny'] as const
const evaluation = fc.record({
  action: text,
  resource: text,
  decision: fc.constantFrom(...VERDICTS),
})
const NAMES = ['GetObject', 'PutObject', 'PutBucketPolicy', 'DeleteObject', 'AssumeRole', 'Unknown']
const factsArb: fc.Arbitrary<RequestFacts> = fc
  .record({
    time: instant,
    requestId: id,
    operation: fc.oneof(fc.constantFrom(...NAMES), text),
    readOnly: fc.boolean(),
    caller: fc.oneof(
      fc.constant(undefined),
      fc.tuple(text, maybe(id), id).map(([n, u, k]) => iamUser(n, u, k)),
      sessionCaller,
    ),
    remote: maybe(fc.oneof(fc.ipV4(), fc.ipV6(), v4mapped)),
    userAgent: maybe(text),
    host: maybe(text),
    tls: maybe(fc.record({ version: fc.constantFrom('TLSv1.2', 'TLSv1.3'), cipher: text })),
    requestParameters: params,
    responseElements: params,
    resources: fc.array(resource, { maxLength: 3 }),
    recipientAccountId: maybe(id),
    decision: fc.constantFrom(...VERDICTS, 'None'),
    statements: fc.array(text, { maxLength: 3 }),
    evaluations: fc.array(evaluation, { maxLength: 2 }),
    status: fc.integer({ min: 100, max: 599 }),
    errorCode: maybe(text),
    errorMessage: maybe(text),
    bytesIn: fc.nat(),
    latencyMs: fc.nat().map((n) => n / 7),
  })
  .map(facts)
const TYPES = ['IAMUser', 'AssumedRole', 'FederatedUser', 'WebIdentityUser', 'Root'] as const
const vpce = maybe(fc.stringMatching(/^vpce-[0-9a-f]{17}$/))
const eventArb: fc.Arbitrary<AuditEvent> = fc
  .tuple(factsArb, vpce, maybe(fc.constantFrom(...TYPES)), maybe(text), fc.boolean())
  .map(([f, vpcEndpointId, type, service, omitted]) => {
    // structuredClone: fast-check's records have null prototypes, events never do.
    const e = structuredClone(auditEvent(f, KEY))
    const u = e.userIdentity
    const retyped = type !== undefined && u.type !== 'AWSAccount' && u.type !== 'AWSService'
    return {
      ...e,
      ...(vpcEndpointId === undefined ? {} : { vpcEndpointId }),
      ...(retyped ? { userIdentity: { ...u, type } } : {}),
      // Strongroom's own events (service-events.ts): a service, named where the IP would be.
      ...(service === undefined
        ? {}
        : {
            userIdentity: { type: 'AWSService', invokedBy: service },
            sourceIPAddress: 'strongroom.internal',
            eventType: 'AwsServiceEvent',
          }),
      ...(omitted ? { strongroom: { ...e.strongroom, tracesOmitted: true } } : {}),
    } satisfies AuditEvent
  })

describe('toOcsf: every event', () => {
  it('is API Activity whose type and status follow from the event, and loses no field', () => {
    fc.assert(
      fc.property(eventArb, (e) => {
        const before = structuredClone(e)
        const o = toOcsf(e)
        assert.equal(o.activity_id, activityOf(e.eventName))
        const type = [o.class_uid, o.category_uid, o.type_uid]
        assert.deepStrictEqual(type, [6003, 6, 600300 + o.activity_id])
        assert.equal(o.status_id, e.errorCode === undefined ? 1 : 2)
        // Plain JSON: no undefined left in, nothing JSON would change.
        assert.deepStrictEqual(JSON.parse(JSON.stringify(o)), o)
        assert.equal(toOcsf(e, { productVersion: '0.1.0' }).metadata.product.version, '0.1.0')
        assert.deepStrictEqual(e, before, 'toOcsf changed the event')
        for (const [pattern, path, value] of leaves(e)) {
          const where = WHERE[pattern]
          assert.ok(where, `${pattern} has no place in the OCSF event`)
          const index = /\[\d+\]/.exec(path)?.[0] ?? '[]'
          const want = where.as ? where.as(value) : value
          // CloudTrail's "" (not known) and null (none) may be left out.
          const ok = (got: unknown) =>
            isDeepStrictEqual(got, want) || ((value === '' || value === null) && got === undefined)
          const found = where.to.map((t) => at(o, t.replace('[]', index)))
          const hit = where.either ? found.some(ok) : found.every(ok)
          assert.ok(hit, `${pattern} → ${JSON.stringify(found)}`)
        }
      }),
      { numRuns: 400 },
    )
  })
})

describe('docs/audit.md', () => {
  const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8')
  const section = (title: string) => {
    const start = doc.indexOf(`\n## ${title}\n`)
    assert.notEqual(start, -1, `docs/audit.md has no "## ${title}"`)
    const end = doc.indexOf('\n## ', start + 1)
    return doc.slice(start, end === -1 ? undefined : end)
  }

  it('maps each field in its table where the code does', () => {
    const ticks = (cell = '') => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '')
    const table: Record<string, string[]> = {}
    for (const row of section('Event fields').split('\n')) {
      const cells = row.split('|')
      if (row.startsWith('| `')) table[ticks(cells[1])[0] ?? ''] = ticks(cells.at(-2)).sort()
    }
    const code = Object.fromEntries(Object.entries(WHERE).map(([k, v]) => [k, [...v.to].sort()]))
    assert.deepStrictEqual(table, code)
  })

  it('shows the first event (an IAM user reading over TLS) and exactly what toOcsf makes of it', () => {
    const blocks = [...section('OCSF').matchAll(/```json\n([\s\S]*?)\n```/g)].map(
      (m) => JSON.parse(m[1] ?? 'null') as unknown,
    )
    assert.equal(blocks.length, 2)
    const [cloudTrail, ocsf] = blocks
    assert.deepStrictEqual(cloudTrail, JSON.parse(JSON.stringify(EVENTS.iamUserGet)))
    assert.deepStrictEqual(ocsf, JSON.parse(JSON.stringify(toOcsf(cloudTrail as AuditEvent))))
  })
})
