/**
 * InstallationStore: the one record that identifies a data directory and
 * binds its root key (a check value, never the key).
 */

/** A local root key (given, from a passphrase, or --dev), or a root kept in an external key store. */
export type RootKeyMode = 'key' | 'passphrase' | 'dev' | 'pkcs11' | 'vault' | 'awskms'

export interface InstallationRecord {
  readonly id: string
  readonly createdAt: number
  readonly rootMode: RootKeyMode
  /** JSON parameters of the passphrase KDF, when rootMode is 'passphrase'. */
  readonly rootKdf: string | null
  /** HMAC that proves a root key belongs to this installation. */
  readonly rootCheck: Uint8Array
  /** The external key store's settings (canonical JSON, no secrets), for messages only. */
  readonly rootStore: string | null
  /** The installation's system root, wrapped by the external key store; null for a local root. */
  readonly rootWrapped: Uint8Array | null
}

/** What `strongroom root migrate` replaces, at once. */
export type RootRecord = Pick<
  InstallationRecord,
  'rootMode' | 'rootKdf' | 'rootCheck' | 'rootStore' | 'rootWrapped'
>

/** Values kept once for every gateway of an installation: what the audit keys and CA need. */
export type SystemValues = Pick<InstallationStore, 'getSystemValue' | 'keepSystemValue'>

export interface InstallationStore {
  getInstallation(): Promise<InstallationRecord | undefined>
  /** Written once, by `init`. */
  putInstallation(record: InstallationRecord): Promise<void>
  /** Replaces the root key check value (upgrading its format). */
  setRootCheck(check: Uint8Array): Promise<void>
  /** Replaces how the root is kept (a migration to another key provider), in one write. */
  setRoot(root: RootRecord): Promise<void>
  /**
   * A value made once for the whole installation and shared by every gateway (the sealed audit
   * keys, the CA), or undefined before it is made.
   */
  getSystemValue(name: string): Promise<Buffer | undefined>
  /** Keeps `value` under `name` unless a value is kept already; answers the one kept. */
  keepSystemValue(name: string, value: Uint8Array): Promise<Buffer>
}
