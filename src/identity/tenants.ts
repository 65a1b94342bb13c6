/**
 * Tenants (teams). A tenant behaves as an AWS account: a 12-digit id that
 * appears in its ARNs, and a unique name.
 */
import { randomInt } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import type { IdentityStore, TenantRecord } from '../meta/identity.ts'

const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

export function checkTenantName(name: string): string {
  if (!NAME.test(name)) {
    throw new StrongroomError(
      'NAME_INVALID',
      `tenant name \`${name.slice(0, 80)}\` is not valid: use 1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit`,
    )
  }
  return name
}

/** A 12-digit account id that does not start with 0. */
export function newAccountId(): string {
  return (
    String(randomInt(1, 10)) + Array.from({ length: 11 }, () => String(randomInt(0, 10))).join('')
  )
}

export async function createTenant(
  store: Pick<IdentityStore, 'createTenant'>,
  name: string,
  now: number = Date.now(),
): Promise<TenantRecord> {
  const t: TenantRecord = { id: newAccountId(), name: checkTenantName(name), createdAt: now }
  await store.createTenant(t)
  return t
}

export async function getTenant(
  store: Pick<IdentityStore, 'getTenant'>,
  name: string,
): Promise<TenantRecord> {
  const t = await store.getTenant(name)
  if (t === undefined) {
    throw new StrongroomError(
      'TENANT_NOT_FOUND',
      `no tenant \`${name.slice(0, 80)}\`; create it with \`strongroom tenant create ${name.slice(0, 80)}\` or list tenants with \`strongroom tenant list\``,
    )
  }
  return t
}
