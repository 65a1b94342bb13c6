/** VerdictStore on SQLite: the scan record kept in the row of each object version. */
import type { ScanRecord, VerdictStore } from '../verdicts.ts'
import { settle, type SqliteDb } from './db.ts'

export class SqliteVerdictStore implements VerdictStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  setObjectScan(
    bucketName: string,
    key: string,
    versionId: string,
    scan: ScanRecord,
  ): Promise<boolean> {
    return settle(() => {
      const text = JSON.stringify(scan)
      return this.db.tx(() => {
        for (const table of ['objects', 'versions'])
          if (
            this.db
              .stmt(
                `UPDATE ${table} SET scan = ? WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0`,
              )
              .run(text, bucketName, key, versionId).changes > 0
          )
            return true
        return false
      })
    })
  }
}
