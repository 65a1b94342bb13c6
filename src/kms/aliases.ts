/**
 * Aliases of a tenant's keys, as KMS keeps them: `alias/NAME`, unique in the account, each
 * pointing at one key, a key having any number up to a limit
 * (https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html). An alias points only at
 * a key of its own tenant that is not pending deletion or deleted; deleting a key drops its
 * aliases (KeyStore.shredKey).
 */
import { StrongroomError } from '../errors.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { AliasRecord, KeyRecord, KeyStore } from '../meta/keys.ts'

/** KMS's quota of aliases per key (https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html). */
export const MAX_ALIASES_PER_KEY = 50

const ALIAS = /^alias\/(?!aws\/)[a-zA-Z0-9/_-]{1,250}$/

/** `NAME` or `alias/NAME` as `alias/NAME`; NAME_INVALID when it is not a name an alias may have. */
export function normalizeAlias(alias: string): string {
  const a = alias.startsWith('alias/') ? alias : `alias/${alias}`
  if (!ALIAS.test(a)) {
    throw new StrongroomError(
      'NAME_INVALID',
      `alias \`${alias.slice(0, 300)}\` is not valid: use 1 to 250 of a-z A-Z 0-9 / _ - after \`alias/\` (and not \`alias/aws/\`)`,
    )
  }
  return a
}

export class KeyAliases {
  private readonly store: KeyStore
  private readonly now: () => number

  constructor(store: KeyStore, now: () => number) {
    this.store = store
    this.now = now
  }

  /** The tenant's aliases by name. */
  list(tenant: TenantRecord): Promise<AliasRecord[]> {
    return this.store.listAliases(tenant.id)
  }

  get(tenant: TenantRecord, name: string): Promise<AliasRecord | undefined> {
    return this.store.getAlias(tenant.id, normalizeAlias(name))
  }

  /** KEY_EXISTS when the tenant has the alias; LIMIT_EXCEEDED past the key's quota. */
  async create(tenant: TenantRecord, name: string, key: KeyRecord): Promise<AliasRecord> {
    const alias = normalizeAlias(name)
    await this.mayPointAt(tenant, key)
    const now = this.now()
    const record = {
      tenantId: tenant.id,
      name: alias,
      keyId: key.id,
      createdAt: now,
      updatedAt: now,
    }
    await this.store.createAlias(record)
    return record
  }

  /** Points the alias at `key`; KEY_NOT_FOUND when the tenant has no such alias. */
  async update(tenant: TenantRecord, name: string, key: KeyRecord): Promise<void> {
    const alias = normalizeAlias(name)
    await this.mayPointAt(tenant, key, alias)
    if (!(await this.store.updateAlias(tenant.id, alias, key.id, this.now()))) throw missing(alias)
  }

  /** KEY_NOT_FOUND when the tenant has no such alias. */
  async delete(tenant: TenantRecord, name: string): Promise<void> {
    const alias = normalizeAlias(name)
    if (!(await this.store.deleteAlias(tenant.id, alias))) throw missing(alias)
  }

  /** Whether an alias may point at `key` (besides `moving`, an alias that may point at it now). */
  private async mayPointAt(tenant: TenantRecord, key: KeyRecord, moving?: string): Promise<void> {
    if (key.tenantId !== tenant.id || key.state === 'Deleted')
      throw new StrongroomError('KEY_NOT_FOUND', `key \`${key.id}\` does not exist`)
    if (key.state === 'PendingDeletion')
      throw new StrongroomError(
        'KEY_PENDING_DELETION',
        `key \`${key.id}\` is pending deletion: an alias cannot point at it`,
      )
    const count = (await this.store.listAliases(tenant.id)).filter(
      (a) => a.keyId === key.id && a.name !== moving,
    ).length
    if (count >= MAX_ALIASES_PER_KEY)
      throw new StrongroomError(
        'LIMIT_EXCEEDED',
        `key \`${key.id}\` already has ${String(MAX_ALIASES_PER_KEY)} aliases, the most a key may have`,
      )
  }
}

function missing(alias: string): StrongroomError {
  return new StrongroomError('KEY_NOT_FOUND', `Alias ${alias} is not found.`)
}
