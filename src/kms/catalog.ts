/**
 * KeyCatalog: the lifecycle of a tenant's customer-managed keys, as AWS KMS
 * manages them: create, describe and list, enable and disable, rotate (on
 * demand and on a schedule), schedule and cancel deletion, aliases, key
 * policies. Separate from the KeyProvider (wrap and unwrap) so that a
 * backend that only wraps (an HSM, Vault Transit) can sit behind the provider
 * while the catalogue stays Strongroom's.
 */
import type { Issue } from '../iam/policy.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyRecord, KeyRotation, KeyTag } from '../meta/keys.ts'
import type { KeyAliases } from './aliases.ts'

export interface MaintenanceReport {
  readonly deleted: KeyRecord[]
  readonly rotated: KeyRecord[]
}

export interface KeyCatalog {
  /** arn:aws:kms:REGION:ACCOUNT:key/ID */
  arn(tenant: TenantRecord, keyId: string): string
  /** KEY_EXISTS when the alias is taken in the tenant; NAME_INVALID for a malformed alias. */
  createKey(
    tenant: TenantRecord,
    options?: { alias?: string; description?: string; tags?: readonly KeyTag[] },
  ): Promise<KeyRecord>
  /** The tenant's aliases: several may point at one key. */
  readonly aliases: KeyAliases
  /** The key with this id, whatever its tenant and state (for records that name a key). */
  describe(keyId: string): Promise<KeyRecord | undefined>
  /** The tenant's key with this alias (`alias/NAME`), if any. */
  byAlias(tenant: TenantRecord, alias: string): Promise<KeyRecord | undefined>
  /**
   * The tenant's key that `ref` names (`alias/NAME`, a key id or either ARN), or undefined for
   * a key of another tenant exactly as for one that does not exist (./resolve.ts): the caller
   * words its own error, and no wording may tell the two apart.
   */
  find(tenant: TenantRecord, ref: string): Promise<KeyRecord | undefined>
  /**
   * The tenant's key that `ref` names: `alias/NAME`, a key id or a key ARN.
   * KEY_NOT_FOUND for a key of another tenant exactly as for one that does
   * not exist; USAGE when `ref` is none of the three forms.
   */
  resolve(tenant: TenantRecord, ref: string): Promise<KeyRecord>
  /** Oldest first. */
  list(tenant: TenantRecord): Promise<KeyRecord[]>
  enable(tenant: TenantRecord, ref: string): Promise<KeyRecord>
  disable(tenant: TenantRecord, ref: string): Promise<KeyRecord>
  /** Adds a version and makes it current (on demand); returns the new version number. */
  rotate(keyId: string): Promise<number>
  /** Every version after the first, oldest first, with how it came to be. */
  rotations(keyId: string): Promise<KeyRotation[]>
  /** Replaces the key's tags (a list the caller checked). */
  setTags(tenant: TenantRecord, ref: string, tags: readonly KeyTag[]): Promise<KeyRecord>
  /** Turns scheduled rotation on (a period in days) or off (null). */
  setRotation(tenant: TenantRecord, ref: string, periodDays: number | null): Promise<KeyRecord>
  scheduleDeletion(tenant: TenantRecord, ref: string, days?: number): Promise<KeyRecord>
  cancelDeletion(tenant: TenantRecord, ref: string): Promise<KeyRecord>
  /** GetKeyPolicy: the stored document, or the default that delegates to the key's account. */
  getKeyPolicy(
    tenant: TenantRecord,
    ref: string,
  ): Promise<{ key: KeyRecord; policy: string; isDefault: boolean }>
  /** The policy text requests on the key are decided on (the default when none is stored). */
  policyText(key: KeyRecord): Promise<string>
  /** Validates and stores a key policy (PutKeyPolicy); returns its warnings. */
  putKeyPolicy(
    tenant: TenantRecord,
    ref: string,
    document: string,
  ): Promise<{ key: KeyRecord; warnings: Issue[] }>
  /** Carries out due deletions (erasing material) and due scheduled rotations. */
  maintain(): Promise<MaintenanceReport>
}
