/**
 * ExternalRoot: a root of trust kept outside Strongroom, in an HSM (PKCS#11), in
 * HashiCorp Vault / OpenBao Transit or in AWS KMS. Its key-encryption key never
 * leaves it: Strongroom hands it the material of each tenant key version (and the
 * installation's system root) to wrap, keeps only the wrapped bytes, and asks it to
 * unwrap them again when a key version is first used in a process.
 *
 * Errors: ROOT_KEY_WRONG when a blob does not open under this key with this AAD
 * (another key, another installation, tampered bytes); ROOT_KEY_MISSING when the
 * credential (PIN, token, AWS credentials) is absent or refused; CONFIG_INVALID for
 * settings that name nothing usable; IO (with the cause) when the key store cannot
 * be reached or answers something unexpected. Never a secret in a message.
 */

export type ExternalKind = 'pkcs11' | 'vault' | 'awskms'

export interface ExternalRoot {
  readonly kind: ExternalKind
  /** One line naming the key for messages and `doctor` (no secrets): `vault transit/keys/strongroom at https://…`. */
  readonly describe: string
  /** Wraps `plaintext` (≤ 64 bytes) under the external key; `aad` is bound and must be presented to unwrap. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer>
  /** Opens what `wrap` made; ROOT_KEY_WRONG when the bytes or the AAD differ. */
  unwrap(blob: Uint8Array, aad: Uint8Array): Promise<Buffer>
  /** Ends the session (logs out of the token, closes connections). */
  close(): Promise<void>
}

/** PKCS#11: a token's AES-256 key found by label (made at init when absent: sensitive, never extractable). */
export interface Pkcs11Settings {
  readonly kind: 'pkcs11'
  /** Path of the PKCS#11 module (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string
  /** Label of the token holding the key. */
  readonly token: string
  /** Label of the AES key on the token. */
  readonly key: string
}

/** Vault / OpenBao Transit: an aes256-gcm96 key under a mount. */
export interface VaultSettings {
  readonly kind: 'vault'
  /** https://vault.example:8200 (http only for loopback). */
  readonly address: string
  /** The Transit mount path (default `transit`). */
  readonly mount: string
  /** The Transit key name. */
  readonly key: string
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
  readonly namespace?: string
}

/** AWS KMS (or any endpoint speaking its JSON 1.1 protocol): a symmetric key by id, ARN or alias. */
export interface AwsKmsSettings {
  readonly kind: 'awskms'
  readonly keyId: string
  readonly region: string
  /** Default https://kms.REGION.amazonaws.com. */
  readonly endpoint?: string
}

export type ExternalSettings = Pkcs11Settings | VaultSettings | AwsKmsSettings

/** Secrets to reach the key store: given at each start, never stored. */
export interface ExternalSecrets {
  /** PKCS#11 user PIN. */
  readonly pin?: string
  /** Vault token. */
  readonly vaultToken?: string
  /** AWS credentials. */
  readonly aws?: {
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken?: string
  }
  /** PEM CA bundle trusted for the key store's HTTPS (added to the system's). */
  readonly ca?: string
}

/**
 * A key store setting as it may appear in a message. The setting names no secret, but a
 * mistaken one may hold one, in any spelling: it is percent-decoded first, then user
 * information (`scheme:…@`), the value of any `pin…` attribute, a URL's query values and
 * fragment are replaced, and the rest is cut at 200 characters.
 */
export function shownSpec(spec: string): string {
  let s = spec
  try {
    s = decodeURIComponent(spec)
  } catch {
    // Shown as given, redacted all the same.
  }
  s = s
    .replace(/^([a-z][a-z0-9+.-]*:)[^@]*@/i, '$1<redacted>@')
    .replace(/(pin[^=;&?#]*=)[^;&?#]*/gi, '$1<redacted>')
    .replace(/#.*$/s, '#<redacted>')
  if (!/^pkcs11:/i.test(s)) s = s.replace(/([?&][^=&#]*=)[^&#]*/g, '$1<redacted>')
  return s.slice(0, 200)
}
