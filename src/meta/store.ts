/**
 * MetadataStore: everything Strongroom remembers besides object bodies. The
 * port is async so that the PostgreSQL adapter fits behind it unchanged;
 * SQLite (node:sqlite, WAL) is the embedded adapter. Secrets inside records
 * are already sealed by their owners: a store never sees plaintext keys.
 */

export type RootKeyMode = 'key' | 'passphrase' | 'dev'

export interface InstallationRecord {
  readonly id: string
  readonly createdAt: number
  readonly rootMode: RootKeyMode
  /** JSON parameters of the passphrase KDF, when rootMode is 'passphrase'. */
  readonly rootKdf: string | null
  /** HMAC that proves a root key belongs to this installation. */
  readonly rootCheck: Uint8Array
}

export interface TenantRecord {
  readonly id: string
  readonly name: string
  readonly createdAt: number
}

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Deleted'

export interface KeyRecord {
  readonly id: string
  readonly tenantId: string
  readonly alias: string | null
  readonly description: string
  readonly state: KeyState
  readonly currentVersion: number
  readonly createdAt: number
  readonly rotationPeriodDays: number | null
  readonly nextRotationAt: number | null
  readonly deletionAt: number | null
  readonly deletedAt: number | null
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

export interface MetadataStore {
  getInstallation(): Promise<InstallationRecord | undefined>
  putInstallation(record: InstallationRecord): Promise<void>
  /** Replaces the root key check value (upgrading its format). */
  setRootCheck(check: Uint8Array): Promise<void>

  /** Fails with TENANT_EXISTS when the name is taken. */
  createTenant(record: TenantRecord): Promise<void>
  getTenant(name: string): Promise<TenantRecord | undefined>
  getTenantById(id: string): Promise<TenantRecord | undefined>
  listTenants(): Promise<TenantRecord[]>

  /** Creates a key and its first version in one transaction; KEY_EXISTS when the alias is taken. */
  createKey(key: KeyRecord, first: KeyVersionRecord): Promise<void>
  getKey(keyId: string): Promise<KeyRecord | undefined>
  getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined>
  listKeys(tenantId: string): Promise<KeyRecord[]>
  updateKey(key: KeyRecord): Promise<void>
  /** Adds a version and makes it current, in one transaction. */
  addKeyVersion(key: KeyRecord, version: KeyVersionRecord): Promise<void>
  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>
  /** Replaces a version's sealed material (re-sealed under a newer root sealing format). */
  resealKeyVersion(keyId: string, version: number, material: Uint8Array): Promise<void>
  /**
   * Reserves up to `n` data-key wraps under a key version without taking the
   * version's count past `limit`; returns the slots reserved, [start, end)
   * (empty when the budget is spent). Atomic: two gateways never share a slot.
   */
  reserveWraps(
    keyId: string,
    version: number,
    n: number,
    limit: number,
  ): Promise<{ start: number; end: number }>
  /** Keys whose scheduled deletion or rotation is due at `now`. */
  dueKeys(now: number): Promise<KeyRecord[]>
  /** Marks the key Deleted and erases every version's material, in one transaction. */
  shredKey(key: KeyRecord): Promise<void>

  /** The key policy JSON as given (validated before it is stored); undefined: the default policy. */
  getKeyPolicy(keyId: string): Promise<string | undefined>
  putKeyPolicy(keyId: string, document: string): Promise<void>

  putObjectKey(record: ObjectKeyRecord): Promise<void>
  getObjectKey(dataKeyId: string): Promise<ObjectKeyRecord | undefined>
  deleteObjectKey(dataKeyId: string): Promise<boolean>

  close(): Promise<void>
}
