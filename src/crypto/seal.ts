/**
 * Sealing of small secrets (key material under the root key, data keys under
 * a tenant key): AES-256-GCM with a random 96-bit nonce and caller-chosen AAD.
 *
 *   off  len  field
 *    0    1   version: 1, or 2 for secrets sealed under the root's derived
 *             sealing key (kms/root.ts); the layout is the same
 *    1   12   nonce
 *   13    n   ciphertext
 *  13+n  16   tag
 *
 * Random nonces are safe here: each key seals far fewer than 2^32 secrets.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { keyObject } from './key-object.ts'

const VERSION = 1
const NONCE = 12
const TAG = 16
export const SEAL_OVERHEAD = 1 + NONCE + TAG
export const MAX_SEALED_BYTES = 64 * 1024

export function sealSecret(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  version = VERSION,
): Buffer {
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('aes-256-gcm', keyObject(key), nonce, { authTagLength: TAG })
  c.setAAD(aad)
  const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plaintext.byteLength)
  out[0] = version
  nonce.copy(out, 1)
  c.update(plaintext).copy(out, 1 + NONCE)
  c.final()
  c.getAuthTag().copy(out, 1 + NONCE + plaintext.byteLength)
  return out
}

/** Opens a sealed secret; any failure (wrong key, wrong AAD, altered bytes) is `failure`. */
export function openSecret(
  key: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  failure: () => StrongroomError,
  version = VERSION,
): Buffer {
  if (
    sealed.byteLength < SEAL_OVERHEAD ||
    sealed.byteLength > MAX_SEALED_BYTES ||
    sealed[0] !== version
  ) {
    throw failure()
  }
  const ctEnd = sealed.byteLength - TAG
  const d = createDecipheriv('aes-256-gcm', keyObject(key), sealed.subarray(1, 1 + NONCE), {
    authTagLength: TAG,
  })
  d.setAAD(aad)
  d.setAuthTag(sealed.subarray(ctEnd))
  const plain = d.update(sealed.subarray(1 + NONCE, ctEnd))
  try {
    d.final()
  } catch {
    plain.fill(0)
    throw failure()
  }
  return plain
}
