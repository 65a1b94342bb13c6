/**
 * AuditStore on PostgreSQL. A writer takes its indexes from audit_head's one row and holds that
 * row's lock until it commits, so indexes are dense and in commit order: a reader that sees a
 * record sees every record before it. A checkpoint names the one it extends (prev_size is
 * unique): of two gateways sealing at once, one wins.
 */
import type { AuditCheckpointRecord, AuditStore, StoredAuditRecord } from '../audit.ts'
import { StrongroomError } from '../../errors.ts'
import { bytea, int, isUniqueViolation, text, type PgDb } from './db.ts'

export class PgAuditStore implements AuditStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  appendAuditRecords(
    records: readonly Uint8Array[],
    mac: (index: number, record: Uint8Array) => Uint8Array,
  ): Promise<number> {
    return this.db.tx(async (c) => {
      const { rows } = await c.query(
        'UPDATE audit_head SET next = next + $1 WHERE id = 1 RETURNING next - $1 AS first',
        [records.length],
      )
      if (rows.length !== 1) throw tampered('audit_head has no counter row to update')
      const first = int((rows[0] as { first: unknown }).first)
      const inserted = await c
        .query(
          'INSERT INTO audit_records (idx, record, mac) SELECT $1::bigint + n - 1, r, m FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(r, m, n)',
          [
            first,
            records.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)),
            records.map((r, i) => Buffer.from(mac(first + i, r))),
          ],
        )
        .catch((e: unknown) => {
          // The counter hands out only indexes no record holds: one taken means it was set back.
          throw isUniqueViolation(e)
            ? tampered(`audit_head handed out index ${first}, which a record already holds`, e)
            : e
        })
      // A trigger (or rule) that swallows the rows would lose the events without an error.
      if (inserted.rowCount !== records.length)
        throw tampered(`${records.length} records were written, but ${inserted.rowCount} stored`)
      return first
    })
  }

  async auditRecordCount(): Promise<number> {
    const [r] = await this.db.query('SELECT next FROM audit_head WHERE id = 1')
    return int(r?.next)
  }

  async auditRecords(from: number, limit: number): Promise<StoredAuditRecord[]> {
    const rows = await this.db.query(
      'SELECT idx, record, mac FROM audit_records WHERE idx >= $1 ORDER BY idx LIMIT $2',
      [from, limit],
    )
    return rows.map((r) => ({
      index: int(r.idx),
      record: Buffer.from(bytea(r.record)),
      mac: Buffer.from(bytea(r.mac)),
    }))
  }

  async latestAuditCheckpoint(): Promise<AuditCheckpointRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT size, note, frontier FROM audit_checkpoints ORDER BY size DESC LIMIT 1',
    )
    return r && { size: int(r.size), note: text(r.note), frontier: Buffer.from(bytea(r.frontier)) }
  }

  async auditCheckpointAtMost(size: number): Promise<AuditCheckpointRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT size, note, frontier FROM audit_checkpoints WHERE size <= $1 ORDER BY size DESC LIMIT 1',
      [size],
    )
    return r && { size: int(r.size), note: text(r.note), frontier: Buffer.from(bytea(r.frontier)) }
  }

  async addAuditCheckpoint(previous: number, next: AuditCheckpointRecord): Promise<boolean> {
    try {
      return await this.db.tx(async (c) => {
        // Only on top of the newest: a sealer that read an older one lost the race.
        // (Two that read the same newest both insert its size as prev_size: one fails, unique.)
        const { rows } = await c.query('SELECT max(size) AS size FROM audit_checkpoints')
        const newest = (rows[0] as { size: unknown } | undefined)?.size ?? null
        if ((newest === null ? -1 : int(newest)) !== previous) return false
        await c.query(
          'INSERT INTO audit_checkpoints (size, prev_size, note, frontier) VALUES ($1, $2, $3, $4)',
          [next.size, previous, next.note, Buffer.from(next.frontier)],
        )
        return true
      })
    } catch (e) {
      if (isUniqueViolation(e)) return false
      throw e
    }
  }
}

const tampered = (problem: string, cause?: unknown) =>
  new StrongroomError(
    'LOG_TAMPERED',
    `the shared audit log's tables do not behave as written: ${problem}`,
    cause === undefined ? undefined : { cause },
  )
