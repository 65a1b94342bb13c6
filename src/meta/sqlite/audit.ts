/** AuditStore on SQLite: records by index, checkpoints that each extend the one before. */
import { StrongroomError } from '../../errors.ts'
import type { AuditCheckpointRecord, AuditStore, StoredAuditRecord } from '../audit.ts'
import { bytes, isUniqueViolation, num, settle, str, type SqliteDb } from './db.ts'

export class SqliteAuditStore implements AuditStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  appendAuditRecords(
    records: readonly Uint8Array[],
    mac: (index: number, record: Uint8Array) => Uint8Array,
  ): Promise<number> {
    // BEGIN IMMEDIATE serializes writers: the count read is the first free index.
    return this.db.grouped(() => {
      const first = this.count()
      const insert = this.db.stmt('INSERT INTO audit_records (idx, record, mac) VALUES (?, ?, ?)')
      records.forEach((r, i) => {
        // A trigger that swallows the row (RAISE(IGNORE)) would lose the event without an error.
        if (insert.run(first + i, r, mac(first + i, r)).changes !== 1)
          throw new StrongroomError(
            'LOG_TAMPERED',
            `the shared audit log's tables do not behave as written: record ${first + i} was not stored`,
          )
      })
      return first
    })
  }

  auditRecordCount(): Promise<number> {
    return settle(() => this.count())
  }

  auditRecords(from: number, limit: number): Promise<StoredAuditRecord[]> {
    return settle(() =>
      this.db
        .stmt('SELECT idx, record, mac FROM audit_records WHERE idx >= ? ORDER BY idx LIMIT ?')
        .all(from, limit)
        .map((r) => ({
          index: num(r.idx),
          record: Buffer.from(bytes(r.record)),
          mac: Buffer.from(bytes(r.mac)),
        })),
    )
  }

  latestAuditCheckpoint(): Promise<AuditCheckpointRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt('SELECT size, note, frontier FROM audit_checkpoints ORDER BY size DESC LIMIT 1')
        .get()
      return r && { size: num(r.size), note: str(r.note), frontier: Buffer.from(bytes(r.frontier)) }
    })
  }

  auditCheckpointAtMost(size: number): Promise<AuditCheckpointRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt(
          'SELECT size, note, frontier FROM audit_checkpoints WHERE size <= ? ORDER BY size DESC LIMIT 1',
        )
        .get(size)
      return r && { size: num(r.size), note: str(r.note), frontier: Buffer.from(bytes(r.frontier)) }
    })
  }

  addAuditCheckpoint(previous: number, next: AuditCheckpointRecord): Promise<boolean> {
    return settle(() => {
      try {
        this.db.tx(() => {
          const newest = this.db.stmt('SELECT max(size) AS size FROM audit_checkpoints').get()
          if ((newest?.size ?? null) !== (previous < 0 ? null : previous))
            throw Object.assign(new Error('not the newest checkpoint'), { stale: true })
          this.db
            .stmt(
              'INSERT INTO audit_checkpoints (size, prev_size, note, frontier) VALUES (?, ?, ?, ?)',
            )
            .run(next.size, previous, next.note, next.frontier)
        })
        return true
      } catch (e) {
        if (isUniqueViolation(e) || (e as { stale?: boolean }).stale === true) return false
        throw e
      }
    })
  }

  private count(): number {
    const r = this.db.stmt('SELECT max(idx) AS idx FROM audit_records').get()
    return r?.idx === null || r?.idx === undefined ? 0 : num(r.idx) + 1
  }
}
