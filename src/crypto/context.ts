/**
 * Encryption context: the non-secret facts an object is bound to (tenant,
 * bucket, object key, version id, key id and key version, plus any caller
 * pairs). It is bound as AAD when a data key is wrapped and hashed into the
 * per-object key derivation, so a blob moved to another name does not open.
 *
 * Canonical encoding (all integers big-endian):
 *
 *   u16 count
 *   count × { u16 keyLen, key (UTF-8), u16 valueLen, value (UTF-8) }
 *
 * Entries are sorted by the key's UTF-8 bytes; keys are unique and non-empty.
 * The same map always encodes to the same bytes, whatever order it was built in.
 */
import { createHash } from 'node:crypto'
import { StrongroomError } from '../errors.ts'

export type EncryptionContext = Readonly<Record<string, string>>

export const CONTEXT_LIMITS = {
  entries: 64,
  keyBytes: 128,
  valueBytes: 2048,
  totalBytes: 16 * 1024,
} as const

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

export function encodeContext(context: EncryptionContext): Buffer {
  const entries = Object.entries(context).map(([k, v]) => {
    if (typeof v !== 'string') {
      throw new StrongroomError(
        'CONTEXT_MISMATCH',
        `encryption context value for \`${k}\` is not a string`,
      )
    }
    return [Buffer.from(utf8.encode(k)), Buffer.from(utf8.encode(v))] as const
  })
  if (entries.length > CONTEXT_LIMITS.entries) {
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `encryption context has ${entries.length} entries; at most ${CONTEXT_LIMITS.entries} are allowed`,
    )
  }
  entries.sort((a, b) => Buffer.compare(a[0], b[0]))
  let size = 2
  for (const [k, v] of entries) {
    if (k.length === 0)
      throw new StrongroomError('LIMIT_EXCEEDED', 'encryption context keys must not be empty')
    if (k.length > CONTEXT_LIMITS.keyBytes || v.length > CONTEXT_LIMITS.valueBytes) {
      throw new StrongroomError(
        'LIMIT_EXCEEDED',
        `encryption context entry \`${k.toString('utf8').slice(0, 64)}\` is too long (keys up to ${CONTEXT_LIMITS.keyBytes} bytes, values up to ${CONTEXT_LIMITS.valueBytes})`,
      )
    }
    size += 4 + k.length + v.length
  }
  if (size > CONTEXT_LIMITS.totalBytes) {
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `encryption context is ${size} bytes; the limit is ${CONTEXT_LIMITS.totalBytes}`,
    )
  }
  const out = Buffer.allocUnsafe(size)
  let off = out.writeUInt16BE(entries.length, 0)
  for (const [k, v] of entries) {
    off = out.writeUInt16BE(k.length, off)
    off += k.copy(out, off)
    off = out.writeUInt16BE(v.length, off)
    off += v.copy(out, off)
  }
  return out
}

/** Parses a canonical encoding; anything non-canonical (unsorted, duplicate, trailing bytes) is refused. */
export function decodeContext(bytes: Uint8Array): EncryptionContext {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bad = (why: string): never => {
    throw new StrongroomError('CORRUPT_HEADER', `encryption context is malformed: ${why}`)
  }
  if (buf.length < 2) bad('shorter than its count')
  if (buf.length > CONTEXT_LIMITS.totalBytes) bad('longer than the limit')
  const count = buf.readUInt16BE(0)
  if (count > CONTEXT_LIMITS.entries) bad(`${count} entries`)
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  let off = 2
  let prev: Buffer | undefined
  const field = (max: number): Buffer => {
    if (off + 2 > buf.length) bad('a length runs past the end')
    const len = buf.readUInt16BE(off) // attacker-controlled: checked against what remains
    off += 2
    if (len > max || off + len > buf.length) bad('a field runs past the end or its limit')
    const v = buf.subarray(off, off + len)
    off += len
    return v
  }
  for (let i = 0; i < count; i++) {
    const k = field(CONTEXT_LIMITS.keyBytes)
    const v = field(CONTEXT_LIMITS.valueBytes)
    if (k.length === 0) bad('an empty key')
    if (prev !== undefined && Buffer.compare(prev, k) >= 0) bad('keys not in canonical order')
    prev = k
    try {
      out[utf8Strict.decode(k)] = utf8Strict.decode(v)
    } catch {
      bad('invalid UTF-8')
    }
  }
  if (off !== buf.length) bad('trailing bytes')
  return out
}

export function contextHash(encoded: Uint8Array): Buffer {
  return createHash('sha256').update(encoded).digest()
}

/**
 * Checks that every pair the caller expects is present with the same value.
 * The object may carry more pairs than the caller names.
 */
export function checkContext(actual: EncryptionContext, expected: EncryptionContext): void {
  for (const [k, v] of Object.entries(expected)) {
    const got = Object.hasOwn(actual, k) ? actual[k] : undefined
    if (got !== v) {
      throw new StrongroomError(
        'CONTEXT_MISMATCH',
        got === undefined
          ? `the object is not bound to \`${k}\`; expected \`${k}=${v}\``
          : `the object is bound to \`${k}=${got}\`, not \`${k}=${v}\`: it was sealed for another name`,
      )
    }
  }
}
