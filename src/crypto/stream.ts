/**
 * Streaming encryption and decryption of the encrypted-object format
 * (header.ts has the byte layout). Memory stays at about one segment whatever
 * the object's size. Sources must not reuse a chunk's memory after yielding
 * it (Node streams and FileSource never do).
 */
import { createCipheriv, randomBytes, timingSafeEqual, type CipherGCM } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { checkContext, type EncryptionContext } from './context.ts'
import {
  buildHeader,
  DEFAULT_SEGMENT_SIZE,
  headerLength,
  NONCE_PREFIX_BYTES,
  parseHeader,
  SALT_BYTES,
  segmentCount,
  segmentNonce,
  TAG_BYTES,
  verifyHeader,
  type Header,
} from './header.ts'
import { diagnose, segmentDecipher } from './segment.ts'
import { keyObject } from './key-object.ts'

/**
 * Bytes handed to the cipher per call. Each call allocates its output, and
 * the size of that output decides what it costs: `serve` has glibc map every
 * allocation of 64 KiB or more (bin/strongroom.js), so a 1 MiB output is an
 * mmap, 256 page faults and an munmap: AES-256-GCM went from about 0.5 to
 * 6 ms per MiB, and a 2 GiB GET from 0.8 to 0.2 of the plain server. 16 KiB
 * outputs (one TLS record, as the gateway writes them) come from the heap and
 * are reused, and keep the streaming RSS flat (bench/crypto.ts measures it).
 */
export const PIECE = 16 * 1024

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface SealOptions {
  /** 32-byte data key; the caller zeroes it when done. */
  readonly dataKey: Uint8Array
  readonly dataKeyId: string
  readonly context: EncryptionContext
  /** Embedded in the header for standalone files; omitted when kept in metadata. */
  readonly wrappedKey?: Uint8Array
  /** Exact plaintext length: it goes into the header, so it must be known before the first byte. */
  readonly plaintextLength: number
  readonly segmentSize?: number
  /** Randomness for salt and nonce prefix; only known-answer tests replace it. */
  readonly random?: (bytes: number) => Buffer
  /** Called with the header once it is built, before any byte is yielded (to record its digest). */
  readonly onHeader?: (header: Header) => void
}

/**
 * What a trusted record (a metadata row) says about the sealed object. The
 * blob itself is untrusted: a blob that disagrees is refused with
 * `BLOB_MISMATCH` before any key is touched.
 */
export interface ExpectedHeader {
  /** SHA-256 of the whole header as written (tag included). */
  readonly sha256?: Uint8Array
  /** The data-key id the record names; the header must name the same one. */
  readonly dataKeyId?: string
  /** The plaintext length the record holds. */
  readonly plaintextLength?: number
  /** Names the object in the error message. */
  readonly what?: string
}

export interface OpenOptions {
  /** Pairs the object must be bound to; checked before any key is touched. */
  readonly expectedContext?: EncryptionContext
  /** Facts from a trusted record the header must agree with; checked first. */
  readonly expectedHeader?: ExpectedHeader
  /** Returns the object's 32-byte data key, e.g. by unwrapping `header.wrappedKey`. */
  readonly dataKey: (header: Header) => Promise<Uint8Array> | Uint8Array
}

/** Seals `source` into the encrypted-object format, yielding ciphertext chunks. */
export async function* encrypt(source: ByteSource, options: SealOptions): AsyncGenerator<Buffer> {
  const random = options.random ?? randomBytes
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE
  const length = options.plaintextLength
  const { header, keys } = buildHeader(
    {
      segmentSize,
      plaintextLength: length,
      salt: random(SALT_BYTES),
      noncePrefix: random(NONCE_PREFIX_BYTES),
      dataKeyId: options.dataKeyId,
      context: options.context,
      wrappedKey: options.wrappedKey ?? new Uint8Array(0),
    },
    options.dataKey,
  )
  const key = keys.objectKey
  try {
    options.onHeader?.(header)
    yield header.bytes
    yield* sealSegments(source, key, header, length)
  } finally {
    keys.objectKey.fill(0)
    keys.headerKey.fill(0)
  }
}

function segmentCipher(key: Buffer, header: Header, index: number, final: boolean): CipherGCM {
  const c = createCipheriv(
    'aes-256-gcm',
    keyObject(key),
    segmentNonce(header.noncePrefix, index, final),
    {
      authTagLength: TAG_BYTES,
    },
  )
  c.setAAD(header.aad)
  return c
}

function inputLengthError(declared: number, got: string): StrongroomError {
  return new StrongroomError(
    'IO',
    `the input is ${got} its declared length of ${declared} bytes; it changed while being read`,
  )
}

/** Each segment's final flag is known at its start, so bytes stream straight through the cipher. */
async function* sealSegments(
  source: ByteSource,
  key: Buffer,
  header: Header,
  length: number,
): AsyncGenerator<Buffer> {
  const size = header.segmentSize
  const last = segmentCount(length, size) - 1
  let index = 0
  let filled = 0
  let total = 0
  let cipher = segmentCipher(key, header, 0, last === 0)
  for await (const chunk of source) {
    if (total + chunk.byteLength > length) throw inputLengthError(length, 'longer than')
    total += chunk.byteLength
    let off = 0
    while (off < chunk.byteLength) {
      const take = Math.min(size - filled, chunk.byteLength - off, PIECE)
      const out = cipher.update(chunk.subarray(off, off + take))
      if (out.length > 0) yield out
      off += take
      filled += take
      if (filled === size && index < last) {
        cipher.final()
        yield cipher.getAuthTag()
        index++
        filled = 0
        cipher = segmentCipher(key, header, index, index === last)
      }
    }
  }
  if (total !== length) throw inputLengthError(length, 'shorter than')
  cipher.final()
  yield cipher.getAuthTag()
}

/**
 * Pulls exact byte counts out of a chunked source. Holds at most one source
 * chunk beyond what was asked for.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>
  private pending: Uint8Array = new Uint8Array(0)
  private done = false

  constructor(source: ByteSource) {
    this.it =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  }

  /** Reads until `n` bytes are buffered or the source ends; returns what is buffered (maybe more than n). */
  async fill(n: number): Promise<Uint8Array> {
    while (this.pending.byteLength < n && !this.done) {
      const r = await this.it.next()
      if (r.done === true) {
        this.done = true
        break
      }
      if (r.value.byteLength === 0) continue
      this.pending =
        this.pending.byteLength === 0 ? r.value : Buffer.concat([this.pending, r.value])
    }
    return this.pending
  }

  /** Takes exactly `n` bytes, or fewer when the source ends first. */
  async take(n: number): Promise<Uint8Array> {
    const have = await this.fill(n)
    const out = have.subarray(0, Math.min(n, have.byteLength))
    this.pending = have.subarray(out.byteLength)
    return out
  }

  /** The next chunk as the source gave it (after anything already buffered), or undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    const have = await this.fill(1)
    if (have.byteLength === 0) return undefined
    this.pending = new Uint8Array(0)
    return have
  }

  /** Puts bytes back at the front (they must be the ones just returned). */
  unshift(bytes: Uint8Array): void {
    if (bytes.byteLength > 0)
      this.pending = this.pending.byteLength === 0 ? bytes : Buffer.concat([bytes, this.pending])
  }
}

/** Reads and parses the header at the front of a stream. */
export async function readHeader(reader: ChunkReader): Promise<Header> {
  const prefix = await reader.fill(12)
  if (prefix.byteLength === 0) {
    throw new StrongroomError('TRUNCATED', 'the input is empty: it is not an encrypted object')
  }
  const h = headerLength(prefix)
  const bytes = await reader.take(h)
  if (bytes.byteLength < h)
    throw new StrongroomError('TRUNCATED', 'the encrypted object ends inside its header')
  return parseHeader(bytes)
}

/**
 * Context check, data key, commitment and header tag: everything that must
 * hold before a single segment is decrypted. Returns the per-object key.
 */
export async function unlock(header: Header, options: OpenOptions): Promise<Buffer> {
  if (options.expectedHeader !== undefined) checkExpected(header, options.expectedHeader)
  if (options.expectedContext !== undefined) checkContext(header.context, options.expectedContext)
  const dataKey = await options.dataKey(header)
  try {
    return verifyHeader(header, dataKey)
  } finally {
    dataKey.fill(0)
  }
}

/** Compares the header with what a trusted record says about it; any difference is `BLOB_MISMATCH`. */
export function checkExpected(header: Header, expected: ExpectedHeader): void {
  const what = expected.what === undefined ? 'the object' : `\`${expected.what}\``
  const refuse = (why: string): never => {
    throw new StrongroomError(
      'BLOB_MISMATCH',
      `the stored body of ${what} is not the one its metadata names (${why}): it was replaced or rolled back`,
    )
  }
  if (expected.sha256 !== undefined) {
    // header.aad is SHA-256 of the header bytes, tag included.
    if (
      expected.sha256.byteLength !== header.aad.length ||
      !timingSafeEqual(header.aad, expected.sha256)
    )
      refuse('header digest differs')
  }
  if (expected.dataKeyId !== undefined && header.dataKeyId !== expected.dataKeyId)
    refuse('data-key id differs')
  if (expected.plaintextLength !== undefined && header.plaintextLength !== expected.plaintextLength)
    refuse('plaintext length differs')
}

/** Decrypts a whole object, releasing each segment's plaintext only after its tag verifies. */
export async function* decrypt(
  source: ByteSource,
  options: OpenOptions,
): AsyncGenerator<Buffer, Header> {
  const reader = new ChunkReader(source)
  const header = await readHeader(reader)
  const key = await unlock(header, options)
  try {
    yield* openSegments(reader, key, header)
  } finally {
    key.fill(0)
  }
  return header
}

async function* openSegments(
  reader: ChunkReader,
  key: Buffer,
  header: Header,
): AsyncGenerator<Buffer> {
  const size = header.segmentSize
  const length = header.plaintextLength
  const count = segmentCount(length, size)
  for (let index = 0; index < count; index++) {
    const final = index === count - 1
    const want = final ? length - index * size : size
    const decipher = segmentDecipher(
      key,
      header.aad,
      segmentNonce(header.noncePrefix, index, final),
    )
    const plain: Buffer[] = []
    const pieces: Uint8Array[] = []
    let got = 0
    while (got < want) {
      const chunk = await reader.next()
      if (chunk === undefined) throw truncated(index)
      const piece = chunk.subarray(0, Math.min(want - got, PIECE))
      reader.unshift(chunk.subarray(piece.byteLength))
      pieces.push(piece)
      plain.push(decipher.update(piece))
      got += piece.byteLength
    }
    const tag = Buffer.from(await reader.take(TAG_BYTES))
    if (tag.byteLength < TAG_BYTES) throw truncated(index)
    decipher.setAuthTag(tag)
    try {
      decipher.final()
    } catch {
      throw diagnose({
        key,
        aad: header.aad,
        noncePrefix: header.noncePrefix,
        ciphertext: pieces,
        tag,
        index,
        final,
        candidates: count,
      })
    }
    yield* plain
  }
  if ((await reader.fill(1)).byteLength > 0) {
    throw new StrongroomError('EXTENDED', 'the object was extended: bytes follow its final segment')
  }
}

function truncated(index: number): StrongroomError {
  return new StrongroomError(
    'TRUNCATED',
    `the object was truncated: it ends inside segment ${index}`,
  )
}
