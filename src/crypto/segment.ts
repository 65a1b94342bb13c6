/**
 * One segment: AES-256-GCM under the per-object key, nonce = prefix ‖ index ‖
 * final flag, AAD = SHA-256(header), 16-byte tag after the ciphertext.
 *
 * When a tag does not verify, `diagnose` tells the attacks apart without a key
 * search: GCM's tag is GHASH(H, AAD, C) xor E(K, J0) and only E(K, J0) depends
 * on the nonce. One pass recovers GHASH(H, AAD, C) for this ciphertext; then
 * every candidate (index, final flag) of this object costs one AES block. A
 * segment that verifies under another position was moved (reordering); one
 * that verifies under none came from another object or was altered.
 */
import { createCipheriv, createDecipheriv, type DecipherGCM } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { segmentNonce, TAG_BYTES } from './header.ts'
import { keyObject } from './key-object.ts'

const GCM = 'aes-256-gcm'

export function segmentDecipher(key: Buffer, aad: Buffer, nonce: Buffer): DecipherGCM {
  const d = createDecipheriv(GCM, keyObject(key), nonce, { authTagLength: TAG_BYTES })
  d.setAAD(aad)
  return d
}

export interface SegmentFailureInput {
  readonly key: Buffer
  readonly aad: Buffer
  readonly noncePrefix: Buffer
  /** The segment's ciphertext, without its tag, in pieces as read. */
  readonly ciphertext: readonly Uint8Array[]
  readonly tag: Buffer
  /** Position the segment was read at, and the final flag it was opened with. */
  readonly index: number
  readonly final: boolean
  /** Candidate indices to try: [0, candidates). */
  readonly candidates: number
}

const MAX_CANDIDATES = 1 << 20

/** Returns the error that names what happened to a segment whose tag failed. */
export function diagnose(input: SegmentFailureInput): StrongroomError {
  const { key, aad, noncePrefix, index, final } = input
  const probe = segmentNonce(noncePrefix, index, final)
  // Recover GHASH(H, AAD, C): decrypt to the keystream-xored bytes under `probe`,
  // re-encrypt them to get the tag C would carry under `probe`, remove E(K, J0).
  const d = createDecipheriv(GCM, key, probe, { authTagLength: TAG_BYTES })
  d.setAAD(aad)
  const c = createCipheriv(GCM, key, probe, { authTagLength: TAG_BYTES })
  c.setAAD(aad)
  for (const piece of input.ciphertext) c.update(d.update(piece))
  c.final()
  const ghash = xor16(c.getAuthTag(), j0Blocks(key, [probe]))

  const count = Math.min(Math.max(input.candidates, index + 1), MAX_CANDIDATES)
  const nonces: Buffer[] = []
  for (let i = 0; i < count; i++) {
    nonces.push(segmentNonce(noncePrefix, i, false), segmentNonce(noncePrefix, i, true))
  }
  const masks = j0Blocks(key, nonces)
  for (let n = 0; n < nonces.length; n++) {
    const expected = xor16(ghash, masks.subarray(n * 16, n * 16 + 16))
    if (!expected.equals(input.tag)) continue
    const was = n >> 1
    const wasFinal = (n & 1) === 1 ? ' (the final one)' : ''
    return new StrongroomError(
      'SEGMENT_REORDERED',
      `segments were reordered: segment ${was}${wasFinal} of this object was found at position ${index}`,
    )
  }
  return new StrongroomError(
    'SEGMENT_FORGED',
    `segment ${index} does not belong to this object: it was swapped in from another object or altered`,
  )
}

/** E(K, nonce ‖ 0x00000001) for each 12-byte nonce, as one buffer of 16-byte blocks. */
function j0Blocks(key: Buffer, nonces: readonly Buffer[]): Buffer {
  const blocks = Buffer.alloc(nonces.length * 16)
  nonces.forEach((nonce, i) => {
    nonce.copy(blocks, i * 16)
    blocks[i * 16 + 15] = 1
  })
  const ecb = createCipheriv('aes-256-ecb', key, null)
  ecb.setAutoPadding(false)
  return Buffer.concat([ecb.update(blocks), ecb.final()])
}

function xor16(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(16)
  for (let i = 0; i < 16; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0)
  return out
}
