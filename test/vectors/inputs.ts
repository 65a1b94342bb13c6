/**
 * Inputs of the encrypted-object known-answer vectors, shared by the generator
 * (scripts/gen-vectors.ts) and the test that checks the committed file.
 */
import { createCipheriv } from 'node:crypto'
import { encodeContext } from '../../src/crypto/context.ts'
import { encrypt } from '../../src/crypto/stream.ts'
import type { ErrorCode } from '../../src/errors.ts'

const CONTEXT = {
  tenant: 'vision',
  bucket: 'models',
  key: 'resnet/weights.pt',
  versionId: '3HL4kqtJlcpXroDTDmJ',
  keyId: '0f6a3c2e-8d41-4b7e-9a55-3f1e2d4c5b6a',
  keyVersion: '1',
}
const hex = (start: number, n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff)).toString('hex')

export interface VectorInput {
  readonly name: string
  readonly dataKeyHex: string
  readonly saltHex: string
  readonly noncePrefixHex: string
  readonly dataKeyId: string
  readonly context: Readonly<Record<string, string>>
  readonly segmentSize: number
  readonly length: number
  readonly wrappedKeyHex: string
  /** The tenant key's version material that wrapped the data key (standalone vector only). */
  readonly kekHex?: string
  /** The nonce of that wrap. */
  readonly wrapNonceHex?: string
}

/**
 * The local provider's wrap, written from docs/formats/encrypted-object.md ("Wrapped data
 * key"): wire form 01 ‖ n ‖ key id ‖ u32 version ‖ u16 c ‖ ciphertext, with ciphertext =
 * 01 ‖ nonce (12) ‖ AES-256-GCM(material, nonce, AAD, data key) ‖ tag (16) and
 * AAD = "strongroom/data-key/v1" 0x00 key id 0x00 version 0x00 encoded context.
 */
export function localWrap(
  kek: Buffer,
  nonce: Buffer,
  keyId: string,
  version: number,
  context: Readonly<Record<string, string>>,
  dataKey: Buffer,
): string {
  const c = createCipheriv('aes-256-gcm', kek, nonce)
  c.setAAD(
    Buffer.concat([
      Buffer.from(`strongroom/data-key/v1\0${keyId}\0${version}\0`),
      encodeContext(context),
    ]),
  )
  const sealed = Buffer.concat([
    Buffer.from([1]),
    nonce,
    c.update(dataKey),
    c.final(),
    c.getAuthTag(),
  ])
  const id = Buffer.from(keyId, 'ascii')
  const head = Buffer.alloc(8 + id.length)
  head[0] = 1
  head[1] = id.length
  id.copy(head, 2)
  head.writeUInt32BE(version, 2 + id.length)
  head.writeUInt16BE(sealed.length, 6 + id.length)
  return Buffer.concat([head, sealed]).toString('hex')
}

const base = {
  dataKeyHex: hex(0x00, 32),
  saltHex: hex(0x40, 32),
  noncePrefixHex: hex(0xa0, 7),
  dataKeyId: 'dk-5b2f1c7e-0a9d-4e3b-8c6f-1d2e3f4a5b6c',
  context: CONTEXT,
  segmentSize: 32,
  wrappedKeyHex: '',
}

export const VECTOR_INPUTS: readonly VectorInput[] = [
  { ...base, name: 'empty object: one empty final segment', length: 0 },
  { ...base, name: 'one byte', length: 1 },
  { ...base, name: 'one byte short of a segment', length: 31 },
  { ...base, name: 'exactly one segment', length: 32 },
  { ...base, name: 'one byte into a second segment', length: 33 },
  { ...base, name: 'several segments, partial last', length: 100 },
  {
    ...base,
    name: 'Unicode context, default segment size',
    length: 70,
    segmentSize: 1024 * 1024,
    context: { ...CONTEXT, key: 'données/модель-🤖.bin' },
  },
  {
    ...base,
    name: 'standalone file with an embedded wrapped key',
    length: 40,
    kekHex: hex(0xd0, 32),
    wrapNonceHex: hex(0xf0, 12),
    wrappedKeyHex: localWrap(
      Buffer.from(hex(0xd0, 32), 'hex'),
      Buffer.from(hex(0xf0, 12), 'hex'),
      CONTEXT.keyId,
      1,
      CONTEXT,
      Buffer.from(base.dataKeyHex, 'hex'),
    ),
  },
]

/** Plaintext of a vector: bytes 0, 1, 2, … mod 251 (a prime, so it does not line up with segments). */
export function vectorPlaintext(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => i % 251))
}

/** The `random` option that yields the vector's salt, then its nonce prefix. */
export function vectorRandom(saltHex: string, prefixHex: string): (n: number) => Buffer {
  const queue = [Buffer.from(saltHex, 'hex'), Buffer.from(prefixHex, 'hex')]
  return (n) => {
    const next = queue.shift()
    if (next?.length !== n) throw new Error('vector randomness requested out of order')
    return next
  }
}

/** Edits applied to the 'several segments, partial last' vector, each with the error it must give. */
export interface NegativeEdit {
  readonly name: string
  readonly edit:
    | 'truncate'
    | 'append'
    | 'swap-segments'
    | 'flip-byte'
    | 'flip-segment-byte'
    | 'wrong-key'
    | 'other-context'
  /** Bytes to cut or add, the byte offset to flip, or the segment index whose first byte to flip. */
  readonly at?: number
  readonly expected: ErrorCode
}

export const NEGATIVE_EDITS: readonly NegativeEdit[] = [
  { name: 'truncated by one byte', edit: 'truncate', at: 1, expected: 'TRUNCATED' },
  {
    name: 'truncated at a segment boundary (the final segment removed)',
    edit: 'truncate',
    at: 20,
    expected: 'TRUNCATED',
  },
  { name: 'extended by one byte', edit: 'append', at: 1, expected: 'EXTENDED' },
  { name: 'segments 0 and 1 swapped', edit: 'swap-segments', expected: 'SEGMENT_REORDERED' },
  {
    name: 'a bit of the nonce prefix flipped',
    edit: 'flip-byte',
    at: 56,
    expected: 'HEADER_TAMPERED',
  },
  {
    name: 'a bit of the plaintext length flipped',
    edit: 'flip-byte',
    at: 23,
    expected: 'HEADER_TAMPERED',
  },
  { name: 'a bit of the commitment flipped', edit: 'flip-byte', at: 63, expected: 'WRONG_KEY' },
  {
    name: 'a bit of segment 1 flipped',
    edit: 'flip-segment-byte',
    at: 1,
    expected: 'SEGMENT_FORGED',
  },
  { name: 'the magic changed', edit: 'flip-byte', at: 1, expected: 'NOT_ENCRYPTED_OBJECT' },
  { name: 'the version changed', edit: 'flip-byte', at: 4, expected: 'UNSUPPORTED_FORMAT' },
  { name: 'opened with another data key', edit: 'wrong-key', expected: 'WRONG_KEY' },
  {
    name: 'opened expecting another object key',
    edit: 'other-context',
    expected: 'CONTEXT_MISMATCH',
  },
]

/** Seals a vector's plaintext with its fixed key, salt and nonce prefix. */
export async function sealVector(v: VectorInput, plain: Buffer): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of encrypt([plain], {
    dataKey: Buffer.from(v.dataKeyHex, 'hex'),
    dataKeyId: v.dataKeyId,
    context: v.context,
    segmentSize: v.segmentSize,
    plaintextLength: plain.length,
    wrappedKey: Buffer.from(v.wrappedKeyHex, 'hex'),
    random: vectorRandom(v.saltHex, v.noncePrefixHex),
  })) {
    parts.push(p)
  }
  return Buffer.concat(parts)
}
