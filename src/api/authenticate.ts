/**
 * The authenticate stage: who sent the request. A SigV4 signature (header or presigned query)
 * is verified against the access key's secret; an unsigned request is the anonymous caller.
 * The caller's identity policies come compiled from the process-wide cache.
 */
import type { App } from '../app.ts'
import { StrongroomError } from '../errors.ts'
import type { Caller } from './operation.ts'
import type { PolicyCache } from './policies.ts'
import { parseAuth, verify, type RequestView } from './sigv4.ts'

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
  const secret = identity.secretOf(record)
  let signingKey: Buffer
  try {
    signingKey = verify(view, query, auth, secret.toString('utf8'), {
      region: app.config.region,
      now,
    })
  } finally {
    secret.fill(0)
  }
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
    signingKey,
  }
}
