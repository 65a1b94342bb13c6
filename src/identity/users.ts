/**
 * IAM users of a tenant, their access keys and inline policies. A user's ARN
 * is arn:aws:iam::ACCOUNT:user/NAME; its unique id (AIDA…) is aws:userid.
 * Secret access keys are sealed under the root key: SigV4 verification needs
 * the secret itself, so it cannot be hashed as a password would be.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { loadStoredPolicy, type LoadedPolicy } from '../iam/load.ts'
import { parsePolicyText, type Issue } from '../iam/policy.ts'
import type { RootSealer } from '../kms/sealer.ts'
import type { IdentityStore, TenantRecord, UserRecord } from '../meta/identity.ts'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const USER_NAME = /^[\w+=,.@-]{1,64}$/
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/

function id(prefix: string): string {
  return prefix + Array.from({ length: 16 }, () => BASE32[randomInt(32)]).join('')
}

export function userArn(tenant: TenantRecord, name: string): string {
  return `arn:aws:iam::${tenant.id}:user/${name}`
}

export async function createUser(
  store: Pick<IdentityStore, 'createUser'>,
  tenant: TenantRecord,
  name: string,
  now: number = Date.now(),
): Promise<UserRecord> {
  if (!USER_NAME.test(name)) {
    throw new StrongroomError(
      'NAME_INVALID',
      `user name \`${name.slice(0, 80)}\` is not valid: 1 to 64 of letters, digits and + = , . @ _ -`,
    )
  }
  const user: UserRecord = { tenantId: tenant.id, name, id: id('AIDA'), createdAt: now }
  await store.createUser(user)
  return user
}

export async function getUser(
  store: Pick<IdentityStore, 'getUser'>,
  tenant: TenantRecord,
  name: string,
): Promise<UserRecord> {
  const u = await store.getUser(tenant.id, name)
  if (u === undefined) {
    throw new StrongroomError(
      'USER_NOT_FOUND',
      `tenant \`${tenant.name}\` has no user \`${name.slice(0, 80)}\`; create it with \`strongroom user create --tenant ${tenant.name} ${name.slice(0, 80)}\``,
    )
  }
  return u
}

/** The label a secret access key is sealed under (bound as AAD: one key's secret cannot pose as another's). */
export function accessKeySecretLabel(accessKeyId: string): string {
  return `access-key/${accessKeyId}`
}

export interface NewAccessKey {
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

/** Creates an access key; the secret is returned once and stored only sealed. */
export async function createAccessKey(
  store: Pick<IdentityStore, 'createAccessKey'>,
  sealer: RootSealer,
  user: UserRecord,
  given?: NewAccessKey,
  now: number = Date.now(),
): Promise<NewAccessKey> {
  const accessKeyId = given?.accessKeyId ?? id('AKIA')
  const secretAccessKey = given?.secretAccessKey ?? randomBytes(30).toString('base64')
  if (
    !/^[A-Z0-9]{16,128}$/.test(accessKeyId) ||
    secretAccessKey.length < 16 ||
    secretAccessKey.length > 128
  ) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      'an access key id is 16 to 128 upper-case letters and digits, and a secret 16 to 128 characters',
    )
  }
  await store.createAccessKey({
    id: accessKeyId,
    tenantId: user.tenantId,
    userName: user.name,
    secret: sealer.sealSystemSecret(
      accessKeySecretLabel(accessKeyId),
      Buffer.from(secretAccessKey),
    ),
    status: 'Active',
    createdAt: now,
  })
  return { accessKeyId, secretAccessKey }
}

/** Validates and stores an inline identity policy; returns its warnings. */
export async function putUserPolicy(
  store: Pick<IdentityStore, 'putUserPolicy'>,
  user: UserRecord,
  name: string,
  document: string,
): Promise<Issue[]> {
  if (!POLICY_NAME.test(name))
    throw new StrongroomError('NAME_INVALID', `policy name \`${name.slice(0, 80)}\` is not valid`)
  const r = parsePolicyText(document, 'identity', name)
  if (r.policy === undefined) {
    const e = r.errors[0]
    throw new StrongroomError(
      'CONFIG_INVALID',
      `policy \`${name}\` is not valid: ${e === undefined ? '' : `${e.line}:${e.column}: ${e.message} at ${e.path}`}${r.errors.length > 1 ? ` (and ${r.errors.length - 1} more)` : ''}`,
    )
  }
  await store.putUserPolicy({ tenantId: user.tenantId, userName: user.name, name, document })
  return [...r.warnings]
}

/**
 * A user's inline policies, compiled. One that no longer loads is kept as an
 * unloadable policy, which denies every request of the user: never dropped.
 */
export async function userPolicies(
  store: Pick<IdentityStore, 'listUserPolicies'>,
  user: UserRecord,
): Promise<LoadedPolicy[]> {
  const out: LoadedPolicy[] = []
  for (const p of await store.listUserPolicies(user.tenantId, user.name))
    out.push(loadStoredPolicy(p.document, 'identity', p.name))
  return out
}
