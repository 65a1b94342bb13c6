/**
 * Header of the encrypted-object format, version 1. The full specification is
 * docs/formats/encrypted-object.md; this is the byte layout it implements
 * (all integers big-endian):
 *
 *   off  len  field
 *    0    4   magic 0x89 'S' 'R' 'O'
 *    4    1   format version = 1
 *    5    1   algorithm = 1 (AES-256-GCM, 16-byte tags)
 *    6    1   key derivation = 1 (HKDF-SHA256)
 *    7    1   flags = 0 (reserved; any other value is refused)
 *    8    4   header length H, including the tag (≤ 64 KiB)
 *   12    4   segment size S (16 B … 64 MiB)
 *   16    8   plaintext length L (≤ 2^53-1)
 *   24   32   salt (random)
 *   56    7   nonce prefix (random)
 *   63   32   key commitment
 *   95    1   data-key id length n (1…128)
 *   96    n   data-key id (printable ASCII)
 *    .    2   encryption context length c (≤ 16 KiB)
 *    .    c   encryption context, canonical encoding (context.ts)
 *    .    2   wrapped data key length w (0: kept in the object's metadata)
 *    .    w   wrapped data key (opaque to this module)
 *  H-32  32   header tag = HMAC-SHA256(header MAC key, bytes [0, H-32))
 *
 * Then ceil(L / S) segments (one empty segment when L = 0), each its
 * ciphertext followed by a 16-byte GCM tag.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { contextHash, decodeContext, encodeContext, type EncryptionContext } from './context.ts'
import { keyObject } from './key-object.ts'

export const MAGIC = Buffer.from([0x89, 0x53, 0x52, 0x4f])
export const FORMAT_VERSION = 1
export const ALG_AES256GCM = 1
export const KDF_HKDF_SHA256 = 1
export const TAG_BYTES = 16
export const SALT_BYTES = 32
export const NONCE_PREFIX_BYTES = 7
export const COMMITMENT_BYTES = 32
export const HEADER_TAG_BYTES = 32
export const DEFAULT_SEGMENT_SIZE = 1024 * 1024
export const MIN_SEGMENT_SIZE = 16
export const MAX_SEGMENT_SIZE = 64 * 1024 * 1024
export const MAX_HEADER_BYTES = 64 * 1024
export const MAX_DATA_KEY_ID_BYTES = 128
export const MAX_WRAPPED_KEY_BYTES = 4096
/** 2^53 - 1: a JavaScript number holds every length up to this exactly. */
export const MAX_PLAINTEXT_LENGTH = Number.MAX_SAFE_INTEGER
/** The fixed part before the data-key id, its length byte included. */
export const FIXED_BYTES = 96

const HKDF_INFO_LABEL = Buffer.from('strongroom/encrypted-object/v1', 'ascii')

export interface Header {
  readonly segmentSize: number
  readonly plaintextLength: number
  readonly salt: Buffer
  readonly noncePrefix: Buffer
  readonly commitment: Buffer
  readonly dataKeyId: string
  readonly context: EncryptionContext
  /** The context exactly as encoded in the header. */
  readonly encodedContext: Buffer
  /** Empty when the wrapped data key lives in the object's metadata. */
  readonly wrappedKey: Buffer
  /** The whole header as stored, tag included. */
  readonly bytes: Buffer
  /** SHA-256 of `bytes`: every segment's AAD. */
  readonly aad: Buffer
}

export interface DerivedKeys {
  readonly objectKey: Buffer
  readonly commitment: Buffer
  readonly headerKey: Buffer
}

/**
 * One HKDF-SHA256 call yields the per-object key, the key commitment and the
 * header MAC key: IKM = data key, salt = header salt, info = label ‖ SHA-256(context).
 */
export function deriveKeys(
  dataKey: Uint8Array,
  salt: Uint8Array,
  encodedContext: Uint8Array,
): DerivedKeys {
  if (dataKey.byteLength !== 32) {
    throw new StrongroomError('WRONG_KEY', `a data key must be 32 bytes, got ${dataKey.byteLength}`)
  }
  const info = Buffer.concat([HKDF_INFO_LABEL, contextHash(encodedContext)])
  const okm = Buffer.from(hkdfSync('sha256', keyObject(dataKey), salt, info, 96))
  return {
    objectKey: okm.subarray(0, 32),
    commitment: okm.subarray(32, 64),
    headerKey: okm.subarray(64, 96),
  }
}

export interface HeaderFields {
  readonly segmentSize: number
  readonly plaintextLength: number
  readonly salt: Uint8Array
  readonly noncePrefix: Uint8Array
  readonly dataKeyId: string
  readonly context: EncryptionContext
  readonly wrappedKey: Uint8Array
}

export function checkSegmentSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_SEGMENT_SIZE || size > MAX_SEGMENT_SIZE) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `segment size must be a whole number of bytes from ${MIN_SEGMENT_SIZE} to ${MAX_SEGMENT_SIZE}, got ${size}`,
    )
  }
}

function checkDataKeyId(id: string): void {
  if (id.length === 0 || id.length > MAX_DATA_KEY_ID_BYTES || !/^[\x21-\x7e]+$/.test(id)) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      'a data-key id is 1 to 128 printable ASCII characters',
    )
  }
}

/** Builds and MACs a header. Returns the header and the derived keys for the writer. */
export function buildHeader(
  fields: HeaderFields,
  dataKey: Uint8Array,
): { header: Header; keys: DerivedKeys } {
  checkSegmentSize(fields.segmentSize)
  checkDataKeyId(fields.dataKeyId)
  const len = fields.plaintextLength
  if (!Number.isSafeInteger(len) || len < 0) {
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `plaintext length must be 0 to 2^53-1 bytes, got ${len}`,
    )
  }
  if (
    fields.salt.byteLength !== SALT_BYTES ||
    fields.noncePrefix.byteLength !== NONCE_PREFIX_BYTES
  ) {
    throw new StrongroomError('INTERNAL', 'salt or nonce prefix has the wrong length')
  }
  if (fields.wrappedKey.byteLength > MAX_WRAPPED_KEY_BYTES) {
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `a wrapped data key may be at most ${MAX_WRAPPED_KEY_BYTES} bytes`,
    )
  }
  const ctx = encodeContext(fields.context)
  const keys = deriveKeys(dataKey, fields.salt, ctx)
  const id = Buffer.from(fields.dataKeyId, 'ascii')
  const total =
    FIXED_BYTES + id.length + 2 + ctx.length + 2 + fields.wrappedKey.byteLength + HEADER_TAG_BYTES
  const b = Buffer.alloc(total)
  MAGIC.copy(b, 0)
  b[4] = FORMAT_VERSION
  b[5] = ALG_AES256GCM
  b[6] = KDF_HKDF_SHA256
  b[7] = 0
  b.writeUInt32BE(total, 8)
  b.writeUInt32BE(fields.segmentSize, 12)
  b.writeBigUInt64BE(BigInt(len), 16)
  b.set(fields.salt, 24)
  b.set(fields.noncePrefix, 56)
  keys.commitment.copy(b, 63)
  let off = FIXED_BYTES - 1
  b[off++] = id.length
  off += id.copy(b, off)
  off = b.writeUInt16BE(ctx.length, off)
  off += ctx.copy(b, off)
  off = b.writeUInt16BE(fields.wrappedKey.byteLength, off)
  b.set(fields.wrappedKey, off)
  off += fields.wrappedKey.byteLength
  createHmac('sha256', keyObject(keys.headerKey)).update(b.subarray(0, off)).digest().copy(b, off)
  return { header: parseHeader(b), keys }
}

/**
 * Reads the header length from the first 12 bytes, so a streaming reader knows
 * how much to buffer. Checks magic and version first: a file that is not ours
 * is told apart from a corrupt one.
 */
export function headerLength(prefix: Uint8Array): number {
  const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength)
  if (b.length < 4 || !b.subarray(0, 4).equals(MAGIC)) {
    throw new StrongroomError(
      'NOT_ENCRYPTED_OBJECT',
      'this is not a Strongroom encrypted object (its first bytes are not the format magic)',
    )
  }
  if (b.length < 12)
    throw new StrongroomError('TRUNCATED', 'the encrypted object ends inside its header')
  if (b[4] !== FORMAT_VERSION) {
    throw new StrongroomError(
      'UNSUPPORTED_FORMAT',
      `encrypted-object format version ${b[4]} is not supported by this build (it reads version ${FORMAT_VERSION}); upgrade Strongroom`,
    )
  }
  const h = b.readUInt32BE(8) // attacker-controlled: bounded before anyone allocates for it
  if (h < FIXED_BYTES + 1 + 2 + 2 + 2 + HEADER_TAG_BYTES || h > MAX_HEADER_BYTES) {
    throw new StrongroomError(
      'CORRUPT_HEADER',
      `the header claims ${h} bytes, outside the format's bounds`,
    )
  }
  return h
}

/** Parses a whole header. Structure only: the tag is checked by `verifyHeader` once the data key is known. */
export function parseHeader(bytes: Uint8Array): Header {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const h = headerLength(b)
  if (b.length < h)
    throw new StrongroomError('TRUNCATED', 'the encrypted object ends inside its header')
  const bad = (why: string): never => {
    throw new StrongroomError('CORRUPT_HEADER', `the header is corrupt: ${why}`)
  }
  if (b[5] !== ALG_AES256GCM) bad(`unknown algorithm ${b[5]}`)
  if (b[6] !== KDF_HKDF_SHA256) bad(`unknown key derivation ${b[6]}`)
  if (b[7] !== 0) bad(`unknown flags 0x${b[7]?.toString(16)}`)
  const segmentSize = b.readUInt32BE(12)
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE)
    bad(`segment size ${segmentSize}`)
  const rawLen = b.readBigUInt64BE(16)
  if (rawLen > BigInt(MAX_PLAINTEXT_LENGTH)) bad('plaintext length beyond 2^53-1')
  const plaintextLength = Number(rawLen)
  const body = b.subarray(0, h - HEADER_TAG_BYTES)
  let off = FIXED_BYTES - 1
  const idLen = body[off++] ?? 0
  if (idLen === 0 || idLen > MAX_DATA_KEY_ID_BYTES || off + idLen > body.length)
    bad('data-key id length')
  const dataKeyId = body.toString('latin1', off, off + idLen)
  if (!/^[\x21-\x7e]+$/.test(dataKeyId)) bad('data-key id is not printable ASCII')
  off += idLen
  if (off + 2 > body.length) bad('context length runs past the header')
  const ctxLen = body.readUInt16BE(off)
  off += 2
  if (off + ctxLen > body.length) bad('context runs past the header')
  const encodedContext = Buffer.from(body.subarray(off, off + ctxLen))
  const context = decodeContext(encodedContext)
  off += ctxLen
  if (off + 2 > body.length) bad('wrapped-key length runs past the header')
  const wLen = body.readUInt16BE(off)
  off += 2
  if (wLen > MAX_WRAPPED_KEY_BYTES || off + wLen !== body.length)
    bad('wrapped-key length does not match the header length')
  const header = b.subarray(0, h)
  return {
    segmentSize,
    plaintextLength,
    salt: Buffer.from(b.subarray(24, 56)),
    noncePrefix: Buffer.from(b.subarray(56, 63)),
    commitment: Buffer.from(b.subarray(63, 95)),
    dataKeyId,
    context,
    encodedContext,
    wrappedKey: Buffer.from(body.subarray(off, off + wLen)),
    bytes: Buffer.from(header),
    aad: createHash('sha256').update(header).digest(),
  }
}

/**
 * Proves the data key is the one the object was sealed with (commitment,
 * constant time) and that no header byte changed (tag, constant time), in that
 * order, before any segment is decrypted. Returns the per-object key.
 */
export function verifyHeader(header: Header, dataKey: Uint8Array): Buffer {
  const keys = deriveKeys(dataKey, header.salt, header.encodedContext)
  if (!timingSafeEqual(keys.commitment, header.commitment)) {
    throw new StrongroomError(
      'WRONG_KEY',
      "the data key does not match this object's key commitment: it was sealed under another key (or its salt was altered)",
    )
  }
  const end = header.bytes.length - HEADER_TAG_BYTES
  const tag = createHmac('sha256', keyObject(keys.headerKey))
    .update(header.bytes.subarray(0, end))
    .digest()
  if (!timingSafeEqual(tag, header.bytes.subarray(end))) {
    throw new StrongroomError(
      'HEADER_TAMPERED',
      'the header was altered after sealing (its tag does not verify)',
    )
  }
  return keys.objectKey
}

/** Segment count for a known plaintext length: one empty segment when L = 0. */
export function segmentCount(plaintextLength: number, segmentSize: number): number {
  return plaintextLength === 0 ? 1 : Math.ceil(plaintextLength / segmentSize)
}

/** nonce = prefix (7) ‖ segment index (u32) ‖ final flag (1). */
export function segmentNonce(
  prefix: Buffer,
  index: number,
  final: boolean,
  out: Buffer = Buffer.allocUnsafe(12),
): Buffer {
  if (index > 0xffff_ffff)
    throw new StrongroomError('LIMIT_EXCEEDED', 'an object may have at most 2^32 segments')
  prefix.copy(out, 0, 0, NONCE_PREFIX_BYTES)
  out.writeUInt32BE(index, NONCE_PREFIX_BYTES)
  out[11] = final ? 1 : 0
  return out
}
