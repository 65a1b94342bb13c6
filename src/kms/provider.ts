/**
 * KeyProvider: the port every key backend implements (local now; PKCS#11,
 * Vault/OpenBao Transit and AWS KMS later). Two methods; optional abilities
 * such as rotation and scheduled deletion are separate interfaces.
 */
import { StrongroomError } from '../errors.ts'
import type { EncryptionContext } from '../crypto/context.ts'

export interface WrappedKey {
  readonly keyId: string
  readonly keyVersion: number
  readonly ciphertext: Uint8Array
}

export interface KeyProvider {
  readonly kind: 'local' | 'pkcs11' | 'vault' | 'aws-kms'
  /** Wraps with the key's current version. `context` is bound as AAD; unwrap must present the same context. */
  wrap(keyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<WrappedKey>
  unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array>
}

export interface RotatingKeyProvider extends KeyProvider {
  rotate(keyId: string): Promise<number>
}

/*
 * Wire form of a wrapped key, as stored in a header or a metadata row:
 *
 *   off  len  field
 *    0    1   version = 1
 *    1    1   key id length n (1…64)
 *    2    n   key id (printable ASCII)
 *   2+n   4   key version (u32, big-endian)
 *   6+n   2   ciphertext length c (≤ 1024)
 *   8+n   c   ciphertext (provider-specific)
 */
const WRAPPED_VERSION = 1
const MAX_KEY_ID = 64
const MAX_CIPHERTEXT = 1024

export function encodeWrappedKey(w: WrappedKey): Buffer {
  const id = Buffer.from(w.keyId, 'ascii')
  if (id.length === 0 || id.length > MAX_KEY_ID || w.ciphertext.byteLength > MAX_CIPHERTEXT) {
    throw new StrongroomError('INTERNAL', 'wrapped key fields out of bounds')
  }
  const out = Buffer.alloc(8 + id.length + w.ciphertext.byteLength)
  out[0] = WRAPPED_VERSION
  out[1] = id.length
  id.copy(out, 2)
  out.writeUInt32BE(w.keyVersion, 2 + id.length)
  out.writeUInt16BE(w.ciphertext.byteLength, 6 + id.length)
  out.set(w.ciphertext, 8 + id.length)
  return out
}

export function decodeWrappedKey(bytes: Uint8Array): WrappedKey {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bad = (): never => {
    throw new StrongroomError('CORRUPT_HEADER', 'the wrapped data key is malformed')
  }
  if (b.length < 8 || b[0] !== WRAPPED_VERSION) bad()
  const n = b[1] ?? 0
  if (n === 0 || n > MAX_KEY_ID || b.length < 8 + n) bad()
  const keyId = b.toString('latin1', 2, 2 + n)
  if (!/^[\x21-\x7e]+$/.test(keyId)) bad()
  const c = b.readUInt16BE(6 + n)
  if (c > MAX_CIPHERTEXT || b.length !== 8 + n + c) bad()
  return { keyId, keyVersion: b.readUInt32BE(2 + n), ciphertext: Buffer.from(b.subarray(8 + n)) }
}
