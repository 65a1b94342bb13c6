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
  parseAuth,
  scopeOf,
  signingKey,
  verify,
  type Credential,
  type RequestView,
} from './sigv4.ts'

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

export async function authenticate(
  app: App,
  policies: PolicyCache,
  now: number,
  view: RequestView,
  query: readonly [string, string][],
): Promise<Caller> {
  const auth = parseAuth(view, query)
  if (auth === undefined) return ANONYMOUS
  const identity = app.identity
  const record = await identity.accessKey(auth.credential.accessKeyId)
  if (record?.status !== 'Active') throw new StrongroomError('INVALID_ACCESS_KEY_ID', UNKNOWN_KEY)
  if (auth.securityToken !== undefined)
    throw new StrongroomError(
      'INVALID_ACCESS_KEY_ID',
      'session tokens are not issued by this endpoint yet; use an access key',
    )
  const key = verify(
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
    { region: app.config.region, now },
  )
  const [tenant, user, stored] = await Promise.all([
    identity.tenantById(record.tenantId),
    identity.findUser(record.tenantId, record.userName),
    identity.storedPolicies(record),
  ])
  if (tenant === undefined || user === undefined)
    throw new StrongroomError('INVALID_ACCESS_KEY_ID', UNKNOWN_KEY)
  const owner = `${tenant.name}/${user.name}`
  return {
    arn: `arn:aws:iam::${tenant.id}:user/${user.name}`,
    account: tenant.id,
    tenant,
    userId: user.id,
    userName: user.name,
    policies: stored.map((p) => policies.load(p.document, 'identity', p.name, owner)),
    auth,
    signingKey: key,
  }
}
