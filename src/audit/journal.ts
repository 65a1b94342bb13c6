/**
 * The audit log's journal (DIR/journal) and inbox files: records framed as uint32 length,
 * uint64 index, uint32 CRC-32 (of index, length and bytes) and the bytes. Reading stops at a
 * torn last frame (a write a crash cut short, never acknowledged) and refuses anything else
 * that is wrong: a damaged frame with good ones after it, a gap in the indexes.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { StrongroomError } from '../errors.ts'
import { MAX_ENTRY_BYTES } from './tlog/tiles.ts'

const FRAME = 16

function frameCrc(head: Buffer, bytes: Uint8Array): number {
  return crc32(bytes, crc32(head.subarray(0, 12)))
}

export function encodeFrames(batch: readonly { readonly bytes: Buffer }[], first: number): Buffer {
  let total = 0
  for (const p of batch) total += FRAME + p.bytes.length
  const out = Buffer.allocUnsafe(total)
  let at = 0
  batch.forEach((p, i) => {
    const head = out.subarray(at, at + FRAME)
    head.writeUInt32BE(p.bytes.length, 0)
    head.writeBigUInt64BE(BigInt(first + i), 4)
    head.writeUInt32BE(frameCrc(head, p.bytes), 12)
    out.set(p.bytes, at + FRAME)
    at += FRAME + p.bytes.length
  })
  return out
}

/**
 * The journal's records from index `from` on. A torn last frame (a write the crash cut short,
 * never acknowledged) ends the journal; a bad frame with good ones after it, or a gap in the
 * indexes, is tampering or a failing disk: LOG_TAMPERED.
 */
export async function readJournal(path: string, from: number): Promise<Buffer[]> {
  if (!existsSync(path)) return []
  const data = await readFile(path)
  const out: Buffer[] = []
  let at = 0
  let expect = from
  while (at < data.length) {
    const len = at + FRAME <= data.length ? data.readUInt32BE(at) : -1
    const end = at + FRAME + len
    const good =
      len >= 0 &&
      len <= MAX_ENTRY_BYTES &&
      end <= data.length &&
      data.readUInt32BE(at + 12) ===
        frameCrc(data.subarray(at, at + FRAME), data.subarray(at + FRAME, end))
    if (!good) {
      if (!recordFollows(data, at + 1, expect)) break // the torn tail of an unacknowledged write
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the audit journal \`${path}\` is damaged at byte ${at}, with records after it: restore it from a copy or move it aside (its records are then lost)`,
      )
    }
    const index = Number(data.readBigUInt64BE(at + 4))
    if (index >= from) {
      if (index !== expect)
        throw new StrongroomError(
          'LOG_TAMPERED',
          `the audit journal \`${path}\` holds record ${index} where record ${expect} belongs: records are missing`,
        )
      out.push(Buffer.from(data.subarray(at + FRAME, end)))
      expect++
    }
    at = end
  }
  return out
}

/** Whether a well-formed frame for record `index` or later starts anywhere at or after `from`. */
function recordFollows(data: Buffer, from: number, index: number): boolean {
  for (let at = from; at + FRAME <= data.length; at++) {
    const len = data.readUInt32BE(at)
    const i = data.readBigUInt64BE(at + 4)
    if (len > MAX_ENTRY_BYTES || at + FRAME + len > data.length || i < BigInt(index)) continue
    if (
      data.readUInt32BE(at + 12) ===
      frameCrc(data.subarray(at, at + FRAME), data.subarray(at + FRAME, at + FRAME + len))
    )
      return true
  }
  return false
}
