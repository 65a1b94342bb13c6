/**
 * The authenticate stage: who sent the request. A SigV4 signature (header or presigned query)
 * is verified against the access key's secret; an unsigned request is the anonymous caller.
 * The caller's identity policies come compiled from the process-wide cache.
 */
import type { KeyObject } from 'node:crypto'
import type { App } from '../app.ts'
import type { AccessKeyRecord } from '../meta/identity.ts'
import { StrongroomError } from '../errors.ts'
import type { Caller } from './operation.ts'
import type { PolicyCache } from './policies.ts'
import {
  EMPTY_SHA256,
  parseAuth,
  scopeOf,
  signingKey,
  verify,
  type Credential,
  type ParsedAuth,
  type RequestView,
} from './sigv4.ts'
import { roleArn } from '../identity/roles.ts'
import { policyArn } from '../identity/managed.ts'
import { policyDocuments } from '../identity/principal.ts'
import type { PrincipalState } from '../meta/principals.ts'

const NO_POLICIES: ReturnType<typeof policyDocuments> = { identity: [], boundary: undefined }

export const ANONYMOUS: Caller = {
  arn: '*',
  account: '',
  tenant: undefined,
  userId: undefined,
  userName: undefined,
  policies: [],
  auth: undefined,
  signingKey: undefined,
}

const UNKNOWN_KEY = 'The AWS Access Key Id you provided does not exist in our records.'
const INVALID_SESSION = 'The provided token is malformed or otherwise invalid.'

/**
 * Signing keys by access key id and scope (date, region, service), as SigV4 means them to be
 * reused: deriving one unseals the access key's secret and takes four HMACs, and a client signs
 * every request of a day with the same one. The key's record is read (and must be Active) on
 * every request, and an entry is used only for the very sealed secret it was derived from.
 * Bounded: past `MAX_SIGNING_KEYS` the oldest entry goes.
 */
const signingKeys = new Map<string, { readonly sealed: Buffer; readonly key: KeyObject }>()
const MAX_SIGNING_KEYS = 4096

function cachedKey(record: AccessKeyRecord, c: Credential, derive: () => KeyObject): KeyObject {
  const id = `${record.id}/${scopeOf(c)}`
  const hit = signingKeys.get(id)
  if (hit?.sealed.equals(record.secret) === true) return hit.key
  const key = derive()
  if (signingKeys.size >= MAX_SIGNING_KEYS) {
    const oldest = signingKeys.keys().next().value
    if (oldest !== undefined) signingKeys.delete(oldest)
  }
  signingKeys.set(id, { sealed: Buffer.from(record.secret), key })
  return key
}

/** What the signature must be for: the service (default s3) and, where SigV4 signs it, the body's hash. */
export interface Signed {
  readonly service?: string
  /** Hex SHA-256 of the body (the query-protocol services sign it; S3 sends x-amz-content-sha256). */
  readonly bodyHash?: string
}

export async function authenticate(
  app: App,
  policies: PolicyCache,
  now: number,
  view: RequestView,
  query: readonly [string, string][],
  signed: Signed = {},
): Promise<Caller> {
  const auth = parseAuth(view, query, signed.bodyHash)
  if (auth === undefined) return ANONYMOUS
  // A presigned query request (boto3's generate_presigned_url, EKS-style GetCallerIdentity
  // proofs) signs its parameters in the URL and UNSIGNED-PAYLOAD: only with no body at all.
  const presignedWithoutBody =
    auth.kind === 'presigned' &&
    auth.payloadHash === 'UNSIGNED-PAYLOAD' &&
    signed.bodyHash === EMPTY_SHA256
  if (
    signed.bodyHash !== undefined &&
    auth.payloadHash !== signed.bodyHash &&
    !presignedWithoutBody
  )
    throw new StrongroomError(
      'SIGNATURE_DOES_NOT_MATCH',
      'The request signature we calculated does not match the signature you provided: the payload hash is not the hash of the body.',
    )
  const expect = {
    region: app.config.region,
    now,
    service: signed.service ?? 's3',
    presignedWithoutBody,
  }
  if (auth.securityToken !== undefined)
    return sessionCaller(app, policies, expect, view, query, auth, auth.securityToken)
  const identity = app.identity
  // The key and its user's policies, boundary and tags at one instant, in one read.
  const found = await identity.accessKeyState(auth.credential.accessKeyId)
  const record = found?.key
  if (record?.status !== 'Active') throw new StrongroomError('INVALID_ACCESS_KEY_ID', UNKNOWN_KEY)
  const key = verifyRequest(
    view,
    query,
    auth,
    (c) =>
      cachedKey(record, c, () => {
        const secret = identity.secretOf(record)
        try {
          return signingKey(secret.toString('utf8'), c)
        } finally {
          secret.fill(0)
        }
      }),
    expect,
  )
  const tenant = await identity.tenantById(record.tenantId)
  const state = found?.user
  if (tenant === undefined || state === undefined)
    throw new StrongroomError('INVALID_ACCESS_KEY_ID', UNKNOWN_KEY)
  identity.keyUsed(record, expect.service, auth.credential.region)
  const user = state.record
  const owner = `${tenant.name}/${user.name}`
  const { identity: stored, boundary } = policyDocuments(state)
  return {
    arn: `arn:aws:iam::${tenant.id}:user/${user.name}`,
    account: tenant.id,
    tenant,
    userId: user.id,
    userName: user.name,
    policies: stored.map((p) => policies.load(p.document, 'identity', p.name, owner)),
    auth,
    signingKey: key,
    boundary: boundary && policies.load(boundary.document, 'boundary', boundary.name, owner),
    principalTags: state.tags.map((t) => [t.key, t.value] as const),
  }
}

/** Signing keys of sessions by access key id and scope; the id is derived from (so binds) the token. */
const sessionKeys = new Map<string, KeyObject>()

/**
 * A caller with session credentials (STS): the token opens without a database read
 * (src/sts/token.ts), the signature is checked with the secret derived from it, and the
 * session acts as its principal with that principal's policies as they are now, and its
 * session policy:
 * - an assumed role: the role's policies; a role deleted (or deleted and created again:
 *   another unique id) since the session began leaves the session no permissions, as on AWS;
 * - a user's session (GetSessionToken): the user's policies;
 * - a federated user (GetFederationToken): the issuing user's policies, within the session
 *   policy; without one it may do nothing (the engine treats an absent session policy as no
 *   limit, so a federated session always carries one: see `FEDERATED_NO_POLICY`).
 */
async function sessionCaller(
  app: App,
  policies: PolicyCache,
  expect: { region: string; now: number; service: string; presignedWithoutBody: boolean },
  view: RequestView,
  query: readonly [string, string][],
  auth: ParsedAuth,
  token: string,
): Promise<Caller> {
  const { claims, secret } = app.sessions.open(auth.credential.accessKeyId, token, expect.now)
  const key = verifyRequest(
    view,
    query,
    auth,
    (c) => {
      const id = `${auth.credential.accessKeyId}/${scopeOf(c)}`
      let k = sessionKeys.get(id)
      if (k === undefined) {
        k = signingKey(secret, c)
        if (sessionKeys.size >= MAX_SIGNING_KEYS) {
          const oldest = sessionKeys.keys().next().value
          if (oldest !== undefined) sessionKeys.delete(oldest)
        }
        sessionKeys.set(id, k)
      }
      return k
    },
    expect,
  )
  const tenant = await app.identity.tenantById(claims.tenantId)
  if (tenant === undefined) throw new StrongroomError('INVALID_TOKEN', INVALID_SESSION)
  // The managed session policies by name (the session was given their ARNs in its account).
  const managed = (claims.policyArns ?? []).map(([arn]) => arn.slice(arn.lastIndexOf('/') + 1))
  /**
   * Inline, then managed by their default versions now: each the very policy the session was
   * given (its ARN, path and name as given, and its unique id); one deleted since, or another
   * made under the name, allows nothing. A managed policy is held to a managed policy's limits
   * (6,144 characters), not an inline session policy's.
   */
  const sessionPolicies = (owner: string, state: PrincipalState | undefined) =>
    claims.policy === undefined && claims.policyArns === undefined
      ? undefined
      : [
          ...(claims.policy === undefined
            ? []
            : [policies.load(claims.policy, 'session', 'session policy', owner)]),
          ...(state?.sessionPolicies ?? [])
            .filter((m) =>
              (claims.policyArns ?? []).some(
                ([arn, id]) => id === m.policy.id && arn === policyArn(tenant.id, m.policy),
              ),
            )
            .map((m) =>
              policies.load(m.document, 'identity', policyArn(tenant.id, m.policy), owner),
            ),
        ]
  if (claims.kind === 'role') {
    const state = await app.identity.roleState(claims.tenantId, claims.name, managed)
    const current = state?.record.id === claims.principalId ? state : undefined
    const owner = `${tenant.name}/role/${claims.name}`
    const { identity: stored, boundary } = current ? policyDocuments(current) : NO_POLICIES
    const sessionTags = claims.tags ?? []
    const overridden = new Set(sessionTags.map(([k]) => k.toLowerCase()))
    return {
      arn: `arn:aws:sts::${tenant.id}:assumed-role/${claims.name}/${claims.sessionName}`,
      account: tenant.id,
      tenant,
      userId: `${claims.principalId}:${claims.sessionName}`,
      userName: undefined,
      policies: stored.map((p) => policies.load(p.document, 'identity', p.name, owner)),
      auth,
      signingKey: key,
      boundary: boundary && policies.load(boundary.document, 'boundary', boundary.name, owner),
      principalTags: [
        ...(current?.tags ?? [])
          .filter((t) => !overridden.has(t.key.toLowerCase()))
          .map((t) => [t.key, t.value] as const),
        ...sessionTags,
      ],
      session: {
        claims,
        principalArn: roleArn(tenant.id, current?.record ?? { path: '/', name: claims.name }),
        policies: sessionPolicies(owner, current),
      },
    }
  }
  const userName = claims.kind === 'user' ? claims.name : (claims.user ?? '')
  const state = await app.identity.userState(tenant.id, userName, managed)
  // The very user the session was issued by (its unique id): not another made since under the name.
  const current =
    state?.record.id === (claims.kind === 'user' ? claims.principalId : claims.userId)
      ? state
      : undefined
  const owner = `${tenant.name}/${userName}`
  const docs = current ? policyDocuments(current) : NO_POLICIES
  const loaded = docs.identity.map((p) => policies.load(p.document, 'identity', p.name, owner))
  const bound = docs.boundary
  const boundary = bound && policies.load(bound.document, 'boundary', bound.name, owner)
  const userArn = `arn:aws:iam::${tenant.id}:user/${userName}`
  if (claims.kind === 'user')
    return {
      arn: userArn,
      account: tenant.id,
      tenant,
      userId: claims.principalId,
      userName,
      policies: loaded,
      auth,
      signingKey: key,
      boundary,
      principalTags: (current?.tags ?? []).map((t) => [t.key, t.value] as const),
      session: { claims, principalArn: userArn, policies: sessionPolicies(owner, current) },
    }
  const arn = `arn:aws:sts::${tenant.id}:federated-user/${claims.name}`
  return {
    arn,
    account: tenant.id,
    tenant,
    userId: claims.principalId,
    userName: undefined,
    policies: loaded,
    auth,
    signingKey: key,
    boundary,
    principalTags: claims.tags ?? [],
    session: {
      claims,
      principalArn: arn,
      policies: sessionPolicies(owner, current) ?? [
        policies.load(FEDERATED_NO_POLICY, 'session', 'session policy', owner),
      ],
    },
  }
}

/**
 * The session policy of a federated user given none: allows nothing. "If you do not pass a
 * policy to this operation, then the resulting federated user session has no permissions"
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html).
 */
export const FEDERATED_NO_POLICY = JSON.stringify({
  Version: '2012-10-17',
  // GetCallerIdentity needs no permission: this allows nothing, while a resource policy that
  // names the federated user still grants, as AWS documents.
  Statement: [
    {
      Sid: 'NoSessionPolicyGiven',
      Effect: 'Allow',
      Action: 'sts:GetCallerIdentity',
      Resource: '*',
    },
  ],
})

/**
 * Verifies the signature; a presigned query request without a body is taken as the SDKs sign
 * it, with UNSIGNED-PAYLOAD (botocore) or with the empty body's hash (the AWS SDK for
 * JavaScript).
 */
function verifyRequest(
  view: RequestView,
  query: readonly [string, string][],
  auth: ParsedAuth,
  keyOf: (c: Credential) => KeyObject,
  expect: { region: string; now: number; service: string; presignedWithoutBody: boolean },
): KeyObject {
  try {
    return verify(view, query, auth, keyOf, expect)
  } catch (e) {
    if (
      !expect.presignedWithoutBody ||
      !(e instanceof StrongroomError) ||
      e.code !== 'SIGNATURE_DOES_NOT_MATCH'
    )
      throw e
    return verify(view, query, { ...auth, payloadHash: EMPTY_SHA256 }, keyOf, expect)
  }
}
