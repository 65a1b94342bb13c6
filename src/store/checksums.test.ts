/**
 * The check values of each checksum over "123456789", from the CRC catalogue
 * (https://reveng.sourceforge.io/crc-catalogue/all.htm: CRC-32/ISO-HDLC,
 * CRC-32/ISCSI, CRC-64/NVME), and agreement of streamed and one-shot digests.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CHECKSUM_ALGORITHMS, checksumAlgorithmOf, newChecksum } from './checksums.ts'

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex')

function sum(alg: (typeof CHECKSUM_ALGORITHMS)[number], ...chunks: Uint8Array[]): string {
  const c = newChecksum(alg)
  for (const x of chunks) c.update(x)
  return c.digest()
}

describe('checksums', () => {
  const check = Buffer.from('123456789')
  it('CRC32 of 123456789 is cbf43926', () => {
    assert.equal(hex(sum('crc32', check)), 'cbf43926')
  })
  it('CRC32C of 123456789 is e3069283', () => {
    assert.equal(hex(sum('crc32c', check)), 'e3069283')
  })
  it('CRC64NVME of 123456789 is ae8b14860a799888', () => {
    assert.equal(hex(sum('crc64nvme', check)), 'ae8b14860a799888')
  })
  it('CRC64NVME of nothing is 0 and of one zero byte matches the bit-serial definition', () => {
    assert.equal(hex(sum('crc64nvme')), '0000000000000000')
    // Bit-serial reference, independent of the table.
    let c = 0xffffffffffffffffn
    for (let k = 0; k < 8; k++) c = c & 1n ? 0x9a6c9329ac4bc9b5n ^ (c >> 1n) : c >> 1n
    assert.equal(
      hex(sum('crc64nvme', Buffer.of(0))),
      (c ^ 0xffffffffffffffffn).toString(16).padStart(16, '0'),
    )
  })
  it('SHA-256 is the base64 digest', () => {
    assert.equal(sum('sha256', check), createHash('sha256').update(check).digest('base64'))
  })
  it('gives the same digest however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(300),
        fc.constantFrom(...CHECKSUM_ALGORITHMS),
        (data, cut, alg) => {
          const at = Math.min(cut, data.length)
          assert.equal(sum(alg, data.subarray(0, at), data.subarray(at)), sum(alg, data))
        },
      ),
      { numRuns: 500 },
    )
  })
  it('names algorithms by header, and refuses ones it does not know', () => {
    assert.equal(checksumAlgorithmOf('x-amz-checksum-crc64nvme'), 'crc64nvme')
    assert.equal(checksumAlgorithmOf('x-amz-checksum-xxhash3'), 'unsupported')
    assert.equal(checksumAlgorithmOf('x-amz-checksum-type'), undefined)
    assert.equal(checksumAlgorithmOf('content-md5'), undefined)
  })
})
