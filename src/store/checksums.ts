/**
 * The additional checksums of S3 uploads
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html):
 * computed over the plaintext as it streams, compared before the object is
 * committed, returned on reads. Values are base64 of the big-endian digest.
 */
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number]

export interface Checksum {
  update(data: Uint8Array): void
  /** base64 of the digest. */
  digest(): string
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/**
 * CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, initial value and
 * final xor all ones), as two 32-bit halves so that the loop stays in small
 * integers: each entry is the table value's high and low word.
 */
const CRC64_TABLE = (() => {
  const hi = new Uint32Array(256)
  const lo = new Uint32Array(256)
  const poly = 0x9a6c9329ac4bc9b5n
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n)
    for (let k = 0; k < 8; k++) c = c & 1n ? poly ^ (c >> 1n) : c >> 1n
    hi[n] = Number(c >> 32n)
    lo[n] = Number(c & 0xffffffffn)
  }
  return { hi, lo }
})()

function crc64nvme(): Checksum {
  let hi = 0xffffffff
  let lo = 0xffffffff
  const { hi: th, lo: tl } = CRC64_TABLE
  return {
    update: (d) => {
      for (const byte of d) {
        const i = (lo ^ byte) & 0xff
        lo = (((lo >>> 8) | (hi << 24)) ^ (tl[i] ?? 0)) >>> 0
        hi = ((hi >>> 8) ^ (th[i] ?? 0)) >>> 0
      }
    },
    digest: () => {
      const b = Buffer.alloc(8)
      b.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0)
      b.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4)
      return b.toString('base64')
    },
  }
}

function u32(v: number): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(v >>> 0)
  return b.toString('base64')
}

export function newChecksum(alg: ChecksumAlgorithm): Checksum {
  switch (alg) {
    case 'crc32': {
      let v = 0
      return { update: (d) => void (v = crc32(d, v)), digest: () => u32(v) }
    }
    case 'crc32c': {
      let v = 0xffffffff
      return {
        update: (d) => {
          for (const byte of d) v = (CRC32C_TABLE[(v ^ byte) & 0xff] ?? 0) ^ (v >>> 8)
        },
        digest: () => u32(v ^ 0xffffffff),
      }
    }
    case 'crc64nvme':
      return crc64nvme()
    case 'sha1':
    case 'sha256': {
      const h = createHash(alg)
      return { update: (d) => void h.update(d), digest: () => h.digest('base64') }
    }
  }
}

/** The algorithm named by an x-amz-checksum-* header or trailer name, if any. */
export function checksumAlgorithmOf(name: string): ChecksumAlgorithm | 'unsupported' | undefined {
  if (
    !name.startsWith('x-amz-checksum-') ||
    name === 'x-amz-checksum-type' ||
    name === 'x-amz-checksum-algorithm'
  )
    return undefined
  const alg = name.slice('x-amz-checksum-'.length)
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(alg)
    ? (alg as ChecksumAlgorithm)
    : 'unsupported'
}
