/**
 * IAM roles of a tenant: a trust policy saying who may assume the role, the role's inline
 * policies saying what its sessions may do, and the longest session it allows. A role's ARN
 * is arn:aws:iam::ACCOUNT:role/PATH/NAME; its unique id (AROA…) starts its sessions' aws:userid
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
 */
import { randomInt } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { loadStoredPolicy, type LoadedPolicy } from '../iam/load.ts'
import { parsePolicyText, type Issue, type PolicyKind } from '../iam/policy.ts'
import type { IdentityStore, RoleRecord, TenantRecord } from '../meta/identity.ts'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
/** https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/
const ROLE_PATH = /^\/(?:[\x21-\x7e]{0,510}\/)?$/
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/

export interface NewRole {
  readonly name: string
  /** The trust policy JSON. */
  readonly trustPolicy: string
  /** 3,600 (the default) to 43,200. */
  readonly maxSessionSeconds?: number | undefined
  readonly path?: string | undefined
  readonly description?: string | undefined
}

export function roleArn(tenantId: string, role: Pick<RoleRecord, 'path' | 'name'>): string {
  return `arn:aws:iam::${tenantId}:role${role.path}${role.name}`
}

/** Parses a policy of `kind`, or throws MALFORMED_POLICY with the first error's place. */
export function validPolicy(document: string, kind: PolicyKind, name: string): Issue[] {
  const r = parsePolicyText(document, kind, name)
  if (r.policy === undefined) {
    const e = r.errors[0]
    throw new StrongroomError(
      'MALFORMED_POLICY',
      `${kind} policy \`${name}\` is not valid: ${e === undefined ? '' : `${e.line}:${e.column}: ${e.message} at ${e.path}`}${r.errors.length > 1 ? ` (and ${r.errors.length - 1} more)` : ''}`,
    )
  }
  return [...r.warnings]
}

/** CONFIG_INVALID for a session limit outside 1 to 12 hours or a description over 1,000 characters. */
export function checkRoleSettings(maxSessionSeconds: number, description: string): void {
  if (
    !Number.isInteger(maxSessionSeconds) ||
    maxSessionSeconds < 3600 ||
    maxSessionSeconds > 43_200
  )
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the maximum session duration is ${String(maxSessionSeconds)} seconds: it must be 3,600 (1 hour) to 43,200 (12 hours)`,
    )
  if (description.length > 1000)
    throw new StrongroomError('CONFIG_INVALID', 'a role description is at most 1,000 characters')
}

export async function createRole(
  store: Pick<IdentityStore, 'createRole'>,
  tenant: TenantRecord,
  r: NewRole,
  now: number,
): Promise<{ role: RoleRecord; warnings: Issue[] }> {
  if (!ROLE_NAME.test(r.name))
    throw new StrongroomError(
      'NAME_INVALID',
      `role name \`${r.name.slice(0, 80)}\` is not valid: 1 to 64 of letters, digits and + = , . @ _ -`,
    )
  const path = r.path ?? '/'
  if (!ROLE_PATH.test(path))
    throw new StrongroomError(
      'NAME_INVALID',
      `path \`${path.slice(0, 80)}\` is not valid: \`/\`, or 1 to 512 printable characters that start and end with \`/\``,
    )
  const maxSessionSeconds = r.maxSessionSeconds ?? 3600
  const description = r.description ?? ''
  checkRoleSettings(maxSessionSeconds, description)
  const warnings = validPolicy(r.trustPolicy, 'trust', `${r.name} trust policy`)
  const role: RoleRecord = {
    tenantId: tenant.id,
    name: r.name,
    id: 'AROA' + Array.from({ length: 17 }, () => BASE32[randomInt(32)]).join(''),
    path,
    description,
    trustPolicy: r.trustPolicy,
    maxSessionSeconds,
    createdAt: now,
  }
  await store.createRole(role)
  return { role, warnings }
}

export async function getRole(
  store: Pick<IdentityStore, 'getRole'>,
  tenant: TenantRecord,
  name: string,
): Promise<RoleRecord> {
  const r = await store.getRole(tenant.id, name)
  if (r === undefined)
    throw new StrongroomError(
      'ROLE_NOT_FOUND',
      `tenant \`${tenant.name}\` has no role \`${name.slice(0, 80)}\`; create it with \`strongroom role create ${name.slice(0, 80)} --tenant ${tenant.name} --trust FILE\``,
    )
  return r
}

/** Validates and stores (or replaces) an inline role policy; returns its warnings. */
export async function putRolePolicy(
  store: Pick<IdentityStore, 'putRolePolicy'>,
  role: RoleRecord,
  name: string,
  document: string,
): Promise<Issue[]> {
  if (!POLICY_NAME.test(name))
    throw new StrongroomError('NAME_INVALID', `policy name \`${name.slice(0, 80)}\` is not valid`)
  const warnings = validPolicy(document, 'identity', name)
  await store.putRolePolicy({ tenantId: role.tenantId, roleName: role.name, name, document })
  return warnings
}

/** A role's inline policies, compiled; one that no longer loads denies every request of its sessions. */
export async function rolePolicies(
  store: Pick<IdentityStore, 'listRolePolicies'>,
  role: RoleRecord,
): Promise<LoadedPolicy[]> {
  return (await store.listRolePolicies(role.tenantId, role.name)).map((p) =>
    loadStoredPolicy(p.document, 'identity', p.name),
  )
}
