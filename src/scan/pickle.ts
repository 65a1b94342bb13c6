/**
 * Pickle streams: where they start, how many there are, and what to do when
 * one is malformed. The machine that reads one pickle is pickle-vm.ts (its
 * argument readers pickle-reader.ts, its judgement pickle-judge.ts); this
 * file runs it over a stream, keeping going past STOP (several pickles in
 * one stream) and past a parse error, and reports what it found before
 * either.
 */
import { isStrongroomError } from '../errors.ts'
import type { PickleOptions } from './pickle-reader.ts'
import { Machine } from './pickle-vm.ts'
import { Cursor, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'

export type { PickleOptions } from './pickle-reader.ts'

const MAX_RESYNC = 16

export interface PickleResult {
  /** Pickles read to their STOP. */
  readonly pickles: number
  /** False when probing and the bytes are not a pickle. */
  readonly isPickle: boolean
  /** Where reading stopped: after the last STOP, or where an error ended the stream. */
  readonly end: number
  /** The last global the stream imported (module.name), for layouts that size data by type. */
  readonly lastGlobal: string | undefined
}

const LEGACY_TORCH_MAGIC = Uint8Array.of(
  0x80,
  0x02,
  0x8a,
  0x0a,
  0x6c,
  0xfc,
  0x9c,
  0x46,
  0xf9,
  0x20,
  0x6a,
  0xa8,
  0x50,
  0x19,
)

/** torch.save's format before 1.6: five pickles (magic, protocol, sys_info, object, storage keys), then raw storages. */
export function isLegacyTorch(head: Uint8Array): boolean {
  return LEGACY_TORCH_MAGIC.every((b, i) => head[i] === b)
}

/**
 * Scans the pickle stream in `src`, adding findings to `ctx`. A limit that
 * trips halts the scan (`ctx.halted`, with its finding) and ends the stream.
 */
export function scanPickle(src: ByteSource, ctx: ScanContext, o: PickleOptions): PickleResult {
  const cur = new Cursor(src, o.start ?? 0)
  const m = new Machine(cur, ctx, o)
  let pickles = 0
  let resyncs = 0
  const max = o.maxPickles ?? Number.MAX_SAFE_INTEGER
  while (cur.pos < cur.size && pickles < max && ctx.halted === undefined) {
    const start = cur.pos
    try {
      m.reset()
      if (!m.run()) {
        // A limit halted the scan: what was found so far still counts.
        m.flush()
        break
      }
      pickles++
    } catch (e) {
      if (!isStrongroomError(e, 'SCAN_MALFORMED')) throw e
      if (o.probe === true && pickles === 0)
        return { pickles: 0, isPickle: false, end: cur.pos, lastGlobal: undefined }
      m.flush()
      const offset = m.failedAt
      const truncated = offset >= cur.size
      ctx.add({
        path: o.path,
        offset,
        verdict: 'suspicious',
        severity: 'medium',
        rule: truncated ? 'pickle.truncated' : 'pickle.parse-error',
        reason: truncated
          ? `the pickle ends before its STOP opcode (${e.message}): corrupt or cut short`
          : `the pickle stream is malformed at byte ${offset} (${e.message}); what follows cannot be trusted`,
      })
      // Keep looking: a later pickle in the same stream may still be loaded by a record reader.
      const next = resyncs++ < MAX_RESYNC ? findPickleStart(cur, Math.max(offset, start) + 1) : -1
      if (next < 0) break
      cur.pos = next
      continue
    }
    m.flush()
  }
  return { pickles, isPickle: true, end: cur.pos, lastGlobal: m.lastGlobal }
}

/** The next offset where `\x80` and a protocol number 2..5 could start a pickle. */
function findPickleStart(cur: Cursor, from: number): number {
  const size = cur.size
  for (let p = from; p + 1 < size;) {
    cur.pos = p
    const i = cur.need(Math.min(1 << 20, size - p))
    if (i < 0) return -1
    const chunk = cur.buf.subarray(i, i + Math.min(1 << 20, size - p))
    let at = chunk.indexOf(0x80)
    while (at >= 0 && at + 1 < chunk.length) {
      const proto = chunk[at + 1] ?? 0
      if (proto >= 2 && proto <= 5) return p + at
      at = chunk.indexOf(0x80, at + 1)
    }
    p += Math.max(1, chunk.length - 1)
  }
  return -1
}
