/**
 * The shared audit log written out as a C2SP tlog-tiles directory (`strongroom audit export`):
 * the database keeps the records and the signed checkpoints, not the tiles, which are a function
 * of the records. Writing them out recomputes the tree from the records themselves and checks
 * it against the newest signed checkpoint, so a record changed, removed or added in the
 * database since it was signed fails the export; what is written is then what any tlog-tiles
 * verifier, `strongroom audit verify` included, checks offline.
 *
 * An export into a directory that holds an earlier export continues it: only the newer records
 * are written, and the newer checkpoint is adopted only when the earlier tree extended by them
 * hashes to it, which proves the signed log still extends what the earlier export saw (no
 * rollback, no second history). It does not read the older records again: a fresh export does.
 */
import { StrongroomError } from '../errors.ts'
import type { AuditStore } from '../meta/audit.ts'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { openCheckpoint, parseCheckpoint } from './tlog/checkpoint.ts'
import { readLogFile } from './tlog/files.ts'
import { checkRecordMac } from './record-mac.ts'
import { parseNote } from './tlog/note.ts'
import { TileWriter } from './tlog/tiles.ts'

/** Records read per query, and appended to the tiles per durable batch. */
const PAGE = 2048
const CHUNK = 16_384

export async function exportSharedLog(
  store: AuditStore,
  dir: string,
  o: {
    readonly verifierKey: string
    readonly origin: string
    /** Each record's MAC is checked with it (./record-mac.ts). */
    readonly macKey: Buffer
    readonly progress?: (written: number, total: number) => void
  },
): Promise<{ size: number; from: number; note: string }> {
  const last = await store.latestAuditCheckpoint()
  if (last === undefined)
    throw new StrongroomError(
      'IO',
      'the shared audit log has no checkpoint yet: a gateway writes the first when it starts',
    )
  let size: number
  try {
    size = openCheckpoint(last.note, o.verifierKey, o.origin).size
  } catch (e) {
    throw new StrongroomError(
      'LOG_TAMPERED',
      `the newest checkpoint in the database is not signed by this deployment's audit key: ${(e as Error).message}`,
      { cause: e },
    )
  }
  const there = await stat(dir).catch(() => undefined)
  if (there !== undefined && !there.isDirectory())
    throw new StrongroomError(
      'USAGE',
      `\`${dir}\` is not a directory: name a new directory, or an earlier export`,
    )
  const earlier = there === undefined ? undefined : await readLogFile(dir, 'checkpoint')
  if (earlier !== undefined) {
    let origin: string
    try {
      origin = parseCheckpoint(parseNote(earlier).text).origin
    } catch (e) {
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `\`${join(dir, 'checkpoint')}\` is not a checkpoint: name a new directory, or an earlier export`,
        { cause: e },
      )
    }
    if (origin !== o.origin)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `\`${dir}\` holds an export of another log (\`${origin.slice(0, 80)}\`, not \`${o.origin}\`): name a new directory, or an earlier export of this one`,
      )
  }
  const writer = await TileWriter.open(dir)
  const from = writer.size
  if (from > size)
    throw new StrongroomError(
      'LOG_TAMPERED',
      `\`${dir}\` holds ${from} records, more than the ${size} the database's newest checkpoint covers: the database's log was rolled back or replaced`,
    )
  let chunk: Buffer[] = []
  for (let at = from; at < size;) {
    const page = await store.auditRecords(at, Math.min(PAGE, size - at))
    if (page[0]?.index !== at)
      throw new StrongroomError(
        'LOG_TAMPERED',
        `audit record ${at} is missing from the database, whose checkpoint covers ${size}`,
      )
    for (const r of page) {
      if (r.index !== at) break
      checkRecordMac(o.macKey, r)
      chunk.push(r.record)
      at++
    }
    if (chunk.length >= CHUNK || at === size) {
      await writer.append(chunk)
      chunk = []
      o.progress?.(at, size)
    }
  }
  await writer.adopt(last.note)
  return { size, from, note: last.note }
}
