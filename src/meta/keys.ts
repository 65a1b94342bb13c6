/**
 * KeyStore: customer-managed keys, their versions (material sealed under the
 * root key by the key service: a store never sees plaintext keys), aliases,
 * key policies, and the wrapped data key of every stored object.
 */

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Deleted'

export interface KeyRecord {
  readonly id: string
  readonly tenantId: string
  /**
   * The key's oldest alias (`alias/NAME`), for display; null when none points at it. Read only:
   * aliases are AliasRecords (a key may have several), written by createKey and the alias methods.
   */
  readonly alias: string | null
  readonly description: string
  readonly state: KeyState
  readonly currentVersion: number
  readonly createdAt: number
  readonly rotationPeriodDays: number | null
  readonly nextRotationAt: number | null
  readonly deletionAt: number | null
  readonly deletedAt: number | null
  /** KMS resource tags, in the order they were first set; keys are case-sensitive and unique. */
  readonly tags: readonly KeyTag[]
}

export interface KeyTag {
  readonly TagKey: string
  readonly TagValue: string
}

/** An alias of a tenant's key: `alias/NAME`, unique in the tenant. */
export interface AliasRecord {
  readonly tenantId: string
  readonly name: string
  readonly keyId: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** How a key version after the first came to be (ListKeyRotations' RotationType). */
export type RotationType = 'AUTOMATIC' | 'ON_DEMAND'

export interface KeyRotation {
  readonly version: number
  readonly rotatedAt: number
  readonly type: RotationType
}

export interface KeyVersionRecord {
  readonly keyId: string
  readonly version: number
  /** Key material sealed under the root key. */
  readonly material: Uint8Array
  readonly createdAt: number
}

/** The wrapped data key of one stored object: deleting the row shreds the object. */
export interface ObjectKeyRecord {
  readonly dataKeyId: string
  readonly tenantId: string
  readonly keyId: string
  readonly keyVersion: number
  readonly wrapped: Uint8Array
  readonly createdAt: number
}

export interface KeyStore {
  /**
   * Creates a key, its first version and (when `key.alias` is set) that alias in one
   * transaction; KEY_EXISTS when the alias is taken.
   */
  createKey(key: KeyRecord, first: KeyVersionRecord): Promise<void>
  getKey(keyId: string): Promise<KeyRecord | undefined>
  getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined>
  /** Oldest first. */
  listKeys(tenantId: string): Promise<KeyRecord[]>
  /** Writes the key's fields (never its aliases: `alias` is read only). */
  updateKey(key: KeyRecord): Promise<void>
  /** Adds a version and makes it current, in one transaction. */
  addKeyVersion(key: KeyRecord, version: KeyVersionRecord, type: RotationType): Promise<void>
  /** The rotations of a key: every version after the first, oldest first. */
  listKeyRotations(keyId: string): Promise<KeyRotation[]>

  /** KEY_EXISTS when the tenant already has an alias of this name. */
  createAlias(alias: AliasRecord): Promise<void>
  getAlias(tenantId: string, name: string): Promise<AliasRecord | undefined>
  /** Points an alias at another key; false when the tenant has no alias of this name. */
  updateAlias(tenantId: string, name: string, keyId: string, at: number): Promise<boolean>
  /** False when the tenant has no alias of this name. */
  deleteAlias(tenantId: string, name: string): Promise<boolean>
  /** The tenant's aliases by name. */
  listAliases(tenantId: string): Promise<AliasRecord[]>
  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>
  /** Replaces a version's sealed material (re-sealed under a newer root sealing format). */
  resealKeyVersion(keyId: string, version: number, material: Uint8Array): Promise<void>
  /**
   * Reserves up to `n` data-key wraps under a key version without taking the
   * version's count past `limit`; returns the slots reserved, [start, end)
   * (empty when the budget is spent). Atomic: two gateways never share a slot.
   * KEY_DELETED when the version does not exist.
   */
  reserveWraps(
    keyId: string,
    version: number,
    n: number,
    limit: number,
  ): Promise<{ start: number; end: number }>
  /** Keys whose scheduled deletion or rotation is due at `now`, by id. */
  dueKeys(now: number): Promise<KeyRecord[]>
  /** Marks the key Deleted, erases every version's material and drops its aliases, in one transaction. */
  shredKey(key: KeyRecord): Promise<void>

  /** The key policy JSON as given (validated before it is stored); undefined: the default policy. */
  getKeyPolicy(keyId: string): Promise<string | undefined>
  /** Creates or replaces the key's policy. */
  putKeyPolicy(keyId: string, document: string): Promise<void>

  putObjectKey(record: ObjectKeyRecord): Promise<void>
  getObjectKey(dataKeyId: string): Promise<ObjectKeyRecord | undefined>
  /** False when there was no such data key. */
  deleteObjectKey(dataKeyId: string): Promise<boolean>
}

/** A data key handed to a write of objects or parts, stored as an ObjectKeyRecord in the same transaction. */
export interface WrappedDataKey {
  readonly keyId: string
  readonly keyVersion: number
  readonly wrapped: Uint8Array
  readonly tenantId: string
}
