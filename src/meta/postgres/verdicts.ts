/**
 * VerdictStore on PostgreSQL: the scan record kept in the row of each object version. The
 * update locks the row it changes; if a write moved the version from `objects` to `versions`
 * meanwhile, the second statement (a fresh snapshot) finds it there.
 */
import type { ScanRecord, VerdictStore } from '../verdicts.ts'
import type { PgDb } from './db.ts'

export class PgVerdictStore implements VerdictStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  setObjectScan(
    bucketName: string,
    key: string,
    versionId: string,
    scan: ScanRecord,
  ): Promise<boolean> {
    const record = JSON.stringify(scan)
    return this.db.tx(async (c) => {
      for (const table of ['objects', 'versions']) {
        const r = await c.query(
          `UPDATE ${table} SET scan = $1 WHERE bucket = $2 AND key = $3 AND version_id = $4 AND NOT delete_marker`,
          [record, bucketName, key, versionId],
        )
        if ((r.rowCount ?? 0) > 0) return true
      }
      return false
    })
  }
}
