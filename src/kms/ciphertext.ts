/**
 * The ciphertext blob the KMS API's Encrypt and GenerateDataKey return, which carries the key
 * it was made under so that Decrypt needs no KeyId, as AWS KMS's does
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html). Its own magic and
 * version, so that it is never mistaken for an object's wrapped data key (provider.ts):
 *
 *   off  len  field
 *    0    4   magic "SRK1"
 *    4    1   key id length n (1…64)
 *    5    n   key id (printable ASCII)
 *   5+n   4   key version (u32, big-endian)
 *   9+n   …   ciphertext (the provider's: IV, sealed bytes, tag), at most 4,200 bytes
 */
import { StrongroomError } from '../errors.ts'
import type { WrappedKey } from './provider.ts'

const MAGIC = Buffer.from('SRK1', 'latin1')
const MAX_KEY_ID = 64
/** Encrypt takes at most 4,096 bytes; the provider adds its IV and tag. */
const MAX_CIPHERTEXT = 4200
/** The largest blob Decrypt reads (KMS's limit is 6,144 bytes). */
export const MAX_CIPHERTEXT_BLOB = 6144

export function encodeCiphertextBlob(w: WrappedKey): Buffer {
  const id = Buffer.from(w.keyId, 'latin1')
  if (id.length === 0 || id.length > MAX_KEY_ID || w.ciphertext.byteLength > MAX_CIPHERTEXT)
    throw new StrongroomError('INTERNAL', 'ciphertext blob fields out of bounds')
  const head = Buffer.alloc(9 + id.length)
  MAGIC.copy(head, 0)
  head[4] = id.length
  id.copy(head, 5)
  head.writeUInt32BE(w.keyVersion, 5 + id.length)
  return Buffer.concat([head, w.ciphertext])
}

/** INVALID_CIPHERTEXT for anything that is not a blob this API made. */
export function decodeCiphertextBlob(bytes: Uint8Array): WrappedKey {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const invalid = (): never => {
    throw new StrongroomError('INVALID_CIPHERTEXT', 'The ciphertext is not one this service made')
  }
  if (b.length < 10 || b.length > MAX_CIPHERTEXT_BLOB || !b.subarray(0, 4).equals(MAGIC)) invalid()
  const n = b[4] ?? 0
  if (n === 0 || n > MAX_KEY_ID || b.length <= 9 + n) invalid()
  const keyId = b.toString('latin1', 5, 5 + n)
  if (!/^[\x21-\x7e]+$/.test(keyId)) invalid()
  const version = b.readUInt32BE(5 + n)
  if (version === 0) invalid()
  return { keyId, keyVersion: version, ciphertext: Buffer.from(b.subarray(9 + n)) }
}
