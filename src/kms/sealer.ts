/**
 * RootSealer: secrets of the system itself (secret access keys, the CA's
 * private key) sealed under the installation's root key, each bound to a
 * label so that one sealed secret cannot stand in for another.
 */
export interface RootSealer {
  /** Seals `plaintext` under the root key; `label` is bound as AAD. */
  sealSystemSecret(label: string, plaintext: Uint8Array): Buffer
  /** Opens a sealed system secret; ROOT_KEY_WRONG when it does not open under this root key and label. */
  openSystemSecret(label: string, sealed: Uint8Array): Buffer
  /**
   * A 32-byte key of the system derived from the root key for `label` (HKDF-SHA256): the same
   * on every replica that holds the root key, so nothing needs storing. The caller zeroes it.
   */
  systemKey(label: string): Buffer
}
