/**
 * InstallationStore: the one record that identifies a data directory and
 * binds its root key (a check value, never the key).
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

export interface InstallationStore {
  getInstallation(): Promise<InstallationRecord | undefined>
  /** Written once, by `init`. */
  putInstallation(record: InstallationRecord): Promise<void>
  /** Replaces the root key check value (upgrading its format). */
  setRootCheck(check: Uint8Array): Promise<void>
}
