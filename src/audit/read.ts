/**
 * Reading the audit log back on the machine that writes it: every record in index order, the
 * ones under the last checkpoint from the tiles and the newer ones from the journal, for
 * `strongroom explain`, `strongroom audit query` and tests. Nothing here checks signatures:
 * that is `strongroom audit verify`, which trusts only the public key.
 */
import { join } from 'node:path'
import { isStrongroomError, StrongroomError } from '../errors.ts'
import type { Trace } from '../iam/evaluate.ts'
import type { AuditEvent } from './event.ts'
import { readJournal } from './journal.ts'
import type { AuditStore } from '../meta/audit.ts'
import { sharedRecords } from './shared-log.ts'
import { parseCheckpoint } from './tlog/checkpoint.ts'
import { readLogFile } from './tlog/files.ts'
import { parseNote } from './tlog/note.ts'
import { TILE_WIDTH, TileReader } from './tlog/tiles.ts'

/**
 * Every record of the log in `auditDir`, oldest first, with its index. A writer may seal the
 * journal into the tiles while this reads: the checkpoint and the journal are read as a pair
 * that agree (the journal continuing where the checkpoint ends), read again when a seal came
 * between them; the tiles under that checkpoint stay readable whatever is sealed after it.
 */
export async function* records(auditDir: string): AsyncGenerator<[number, Buffer]> {
  const logDir = join(auditDir, 'log')
  const checkpointSize = async () => {
    const note = await readLogFile(logDir, 'checkpoint')
    return note === undefined ? 0 : parseCheckpoint(parseNote(note).text).size
  }
  let agreed: { size: number; newer: Buffer[] } | undefined
  for (let attempt = 0; agreed === undefined; attempt++) {
    const size = await checkpointSize()
    try {
      // A torn last record is one not yet acknowledged.
      const newer = await readJournal(join(auditDir, 'journal'), size)
      // A seal between the two reads moved records from the journal into the tiles: again.
      if ((await checkpointSize()) === size) agreed = { size, newer }
    } catch (e) {
      if (!isStrongroomError(e, 'LOG_TAMPERED')) throw e
      if (attempt >= 5) throw e
    }
    if (agreed === undefined && attempt >= 5)
      throw new StrongroomError(
        'IO',
        `the audit log in \`${auditDir}\` kept changing while it was read`,
      )
  }
  const reader = new TileReader(logDir, agreed.size)
  let index = 0
  for (let b = 0; b * TILE_WIDTH < agreed.size; b++)
    for (const r of await reader.readBundle(b)) yield [index++, r]
  for (const r of agreed.newer) yield [index++, r]
}

/**
 * Every event of the log, oldest first (a record that is not JSON is an error naming it): the
 * machine's own log in `source` (a directory), or the installation's shared log in the store.
 */
export async function* events(source: string | AuditStore): AsyncGenerator<AuditEvent> {
  const where = typeof source === 'string' ? `\`${source}\`` : 'the shared audit log'
  for await (const [i, r] of typeof source === 'string' ? records(source) : sharedRecords(source)) {
    try {
      yield JSON.parse(r.toString('utf8')) as AuditEvent
    } catch (e) {
      throw new StrongroomError('IO', `audit record ${i} in ${where} is not an event`, {
        cause: e,
      })
    }
  }
}

/** One authorization decision, flattened out of its event (what `strongroom explain` shows). */
export interface DecisionView {
  readonly time: string
  readonly requestId: string
  readonly operation: string
  readonly principal: string
  readonly action: string
  readonly resource: string
  readonly decision: string
  readonly trace: Trace | undefined
}

/** The decisions in an event, with who asked: `*` for an anonymous caller. */
export function decisionsOf(e: AuditEvent): DecisionView[] {
  const principal = 'arn' in e.userIdentity ? e.userIdentity.arn : '*'
  return (e.strongroom.evaluations ?? []).map((d) => ({
    time: e.eventTime,
    requestId: e.requestID,
    operation: e.eventName,
    principal,
    action: d.action,
    resource: d.resource,
    decision: d.decision,
    trace: d.trace,
  }))
}

/** Every decision in the log, oldest first. */
export async function decisions(source: string | AuditStore): Promise<DecisionView[]> {
  const out: DecisionView[] = []
  for await (const e of events(source)) out.push(...decisionsOf(e))
  return out
}
