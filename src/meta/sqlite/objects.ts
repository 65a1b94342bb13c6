/**
 * ObjectStore on SQLite. The current version of each key is a row of
 * `objects`; noncurrent versions and delete markers are rows of `versions`
 * (the same columns), ordered by `seq`. Small bodies live in `inline_bodies`.
 */
import type { SQLInputValue } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import type { WrappedDataKey } from '../keys.ts'
import {
  checkWriteCondition,
  lockedAt,
  type ListPage,
  type ObjectLock,
  type ObjectPart,
  type ObjectRecord,
  type ObjectStore,
  type Tags,
  type VersionRecord,
  type Versioning,
  type WriteCondition,
} from '../objects.ts'
import { OBJECT_COLUMNS, objectOf, objectValues as rowValues } from '../rows.ts'
import { bytes, insertDataKey, num, settle, str, type Row, type SqliteDb } from './db.ts'
import { forgetParts, partsOf, withParts } from './parts.ts'

export class SqliteObjectStore implements ObjectStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  putObject(
    o: ObjectRecord,
    wk: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
    condition?: WriteCondition,
  ): Promise<ObjectRecord[]> {
    return this.db.grouped(() => placeObject(this.db, o, wk, versioning, inlineBody, condition))
  }

  objectParts(uploadId: string): Promise<ObjectPart[]> {
    return Promise.resolve(partsOf(this.db, uploadId))
  }

  getInlineBody(blob: string): Promise<Uint8Array | undefined> {
    const r = this.db.stmt('SELECT data FROM inline_bodies WHERE id = ?').get(blob) as
      Row | undefined
    return Promise.resolve(r === undefined ? undefined : bytes(r.data))
  }

  getObject(
    bucketName: string,
    key: string,
    versionId?: string,
  ): Promise<ObjectRecord | undefined> {
    const r = this.db
      .stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?')
      .get(bucketName, key) as Row | undefined
    if (versionId === undefined || r === undefined || str(r.version_id) === versionId)
      return Promise.resolve(r && withParts(this.db, object(r)))
    const v = this.db
      .stmt('SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = ?')
      .get(bucketName, key, versionId) as Row | undefined
    return Promise.resolve(v && withParts(this.db, object(v)))
  }

  deleteObject(
    bucketName: string,
    key: string,
    versionId?: string,
    guard?: (o: ObjectRecord) => void,
  ): Promise<ObjectRecord | undefined> {
    return settle(() =>
      this.db.tx(() => {
        // Without a version id this is the unversioned delete: it removes the current version,
        // which only an unversioned bucket may do (a versioned one gets a delete marker).
        if (versionId === undefined) versioningIs(this.db, bucketName, 'Unversioned')
        const current = this.db
          .stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?')
          .get(bucketName, key) as Row | undefined
        if (current === undefined) return undefined
        let gone: Row | undefined
        if (versionId === undefined || str(current.version_id) === versionId) {
          gone = current
          guard?.(object(current))
          this.db.stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucketName, key)
          const newest = this.db
            .stmt(
              'SELECT version_id FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1',
            )
            .get(bucketName, key) as Row | undefined
          if (newest !== undefined) {
            this.db
              .stmt(
                `INSERT INTO objects SELECT ${COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?`,
              )
              .run(bucketName, key, str(newest.version_id))
            this.db
              .stmt('DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?')
              .run(bucketName, key, str(newest.version_id))
          }
        } else {
          gone = this.db
            .stmt('SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = ?')
            .get(bucketName, key, versionId)
          if (gone === undefined) return undefined
          guard?.(object(gone))
          this.db
            .stmt('DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?')
            .run(bucketName, key, versionId)
        }
        return forget(this.db, object(gone))
      }),
    )
  }

  setObjectTags(
    bucketName: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean> {
    const text = JSON.stringify(tags)
    return Promise.resolve(
      this.db.tx(() => {
        const current = this.db
          .stmt(
            'UPDATE objects SET tags = ? WHERE bucket = ? AND key = ? AND (? IS NULL OR version_id = ?) AND delete_marker = 0',
          )
          .run(text, bucketName, key, versionId ?? null, versionId ?? null)
        if (current.changes > 0 || versionId === undefined) return current.changes > 0
        return (
          this.db
            .stmt(
              'UPDATE versions SET tags = ? WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0',
            )
            .run(text, bucketName, key, versionId).changes > 0
        )
      }),
    )
  }

  updateObjectLock(
    bucketName: string,
    key: string,
    versionId: string,
    update: (current: ObjectLock | undefined) => ObjectLock | undefined,
  ): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        for (const table of ['objects', 'versions']) {
          const r = this.db
            .stmt(
              `SELECT lock FROM ${table} WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0`,
            )
            .get(bucketName, key, versionId) as Row | undefined
          if (r === undefined) continue
          const next = update(
            typeof r.lock === 'string' ? (JSON.parse(r.lock) as ObjectLock) : undefined,
          )
          this.db
            .stmt(`UPDATE ${table} SET lock = ? WHERE bucket = ? AND key = ? AND version_id = ?`)
            .run(next === undefined ? null : JSON.stringify(next), bucketName, key, versionId)
          return true
        }
        return false
      }),
    )
  }

  listObjects(bucketName: string, prefix: string, after: string, limit: number): Promise<ListPage> {
    const rows = this.db
      .stmt(
        `SELECT * FROM objects WHERE bucket = ? AND key > ? AND key >= ? AND substr(key, 1, length(?)) = ?
        AND delete_marker = 0 ORDER BY key LIMIT ?`,
      )
      .all(bucketName, after, prefix, prefix, prefix, limit + 1) as Row[]
    const objects = rows.slice(0, limit).map(object)
    return Promise.resolve({
      objects,
      truncatedAfter: rows.length > limit ? objects.at(-1)?.key : undefined,
    })
  }

  listVersions(
    bucketName: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]> {
    let afterSeq = -1
    if (afterVersionId !== undefined) {
      const at = this.db
        .stmt(
          `SELECT seq FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3
          UNION ALL SELECT seq FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3`,
        )
        .get(bucketName, afterKey, afterVersionId) as Row | undefined
      // A marker version deleted since it was listed (a list-and-delete loop): resume at the
      // key's newest version, repeating rather than skipping what is left of the key.
      afterSeq = at === undefined ? Number.MAX_SAFE_INTEGER : num(at.seq)
    }
    const where = `bucket = ?1 AND substr(key, 1, length(?2)) = ?2 AND key >= ?2
      AND (key > ?3 OR (key = ?3 AND seq < ?4))`
    const rows = this.db
      .stmt(
        `SELECT *, 1 AS is_latest FROM objects WHERE ${where}
        UNION ALL SELECT *, 0 AS is_latest FROM versions WHERE ${where}
        ORDER BY key, seq DESC LIMIT ?5`,
      )
      .all(bucketName, prefix, afterKey, afterSeq, limit) as Row[]
    return Promise.resolve(rows.map((r) => ({ ...object(r), isLatest: num(r.is_latest) === 1 })))
  }

  blobIds(): Promise<Set<string>> {
    const rows = this.db
      .stmt(
        `SELECT blob FROM objects WHERE blob IS NOT NULL UNION ALL SELECT blob FROM versions WHERE blob IS NOT NULL
        UNION ALL SELECT blob FROM parts UNION ALL SELECT blob FROM object_parts`,
      )
      .all() as Row[]
    return Promise.resolve(new Set(rows.map((r) => str(r.blob))))
  }
}

/**
 * putObject inside the caller's transaction (CompleteMultipartUpload shares
 * it: src/meta/sqlite/multipart.ts). Returns the versions removed, a
 * multipart body's with its parts.
 */
export function placeObject(
  db: SqliteDb,
  o: ObjectRecord,
  wk: WrappedDataKey | undefined,
  versioning: Versioning,
  inlineBody?: Uint8Array,
  condition?: WriteCondition,
): ObjectRecord[] {
  const removed: ObjectRecord[] = []
  // The caller chose the version id, and which versions the write replaces, by the versioning
  // it read when the request began. If that changed while the body arrived, the write would
  // archive or remove the wrong versions: refused, nothing changed, for the client to retry.
  versioningIs(db, o.bucket, versioning)
  const current = db
    .stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?')
    .get(o.bucket, o.key) as Row | undefined
  if (condition !== undefined)
    checkWriteCondition(
      current === undefined || num(current.delete_marker) === 1 ? undefined : str(current.etag),
      condition,
    )
  const keep =
    versioning === 'Enabled' || (versioning === 'Suspended' && str(current?.version_id) !== 'null')
  if (current !== undefined) {
    if (keep)
      db.stmt(
        `INSERT INTO versions SELECT ${COLUMNS} FROM objects WHERE bucket = ? AND key = ?`,
      ).run(o.bucket, o.key)
    else removed.push(object(current))
  }
  if (versioning === 'Suspended') {
    const old = db
      .stmt("SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = 'null'")
      .get(o.bucket, o.key) as Row | undefined
    if (old !== undefined) {
      db.stmt("DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = 'null'").run(
        o.bucket,
        o.key,
      )
      removed.push(object(old))
    }
  }
  // Object Lock, checked in the transaction that would remove a version (a `null` version
  // retained or on legal hold since the request began): the write is refused, nothing changes.
  for (const r of removed) {
    const why = lockedAt(r.lock, o.createdAt, false)
    if (why !== undefined)
      throw new StrongroomError(
        'ACCESS_DENIED',
        `Access Denied: the write would replace version null of ${o.key}, which Object Lock protects: ${why}`,
      )
  }
  const forgotten = removed.map((r) => forget(db, r))
  if (inlineBody !== undefined)
    db.stmt('INSERT INTO inline_bodies (id, data) VALUES (?, ?)').run(o.blob, inlineBody)
  if (wk !== undefined) insertDataKey(db, o.dataKeyId, wk, o.createdAt)
  db.stmt(
    `INSERT OR REPLACE INTO objects (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, '?')})`,
  ).run(...objectValues(o, num(current?.seq ?? 0) + 1))
  return forgotten
}

/** How much of a key's history each versioning state keeps. */
const KEEPS: Readonly<Record<Versioning, number>> = { Unversioned: 0, Suspended: 1, Enabled: 2 }

/**
 * OPERATION_ABORTED when the bucket's versioning, read in this transaction, keeps more history
 * than `assumed` (what the caller read when its request began): acting on `assumed` would
 * remove a version the bucket now keeps.
 */
function versioningIs(db: SqliteDb, bucketName: string, assumed: Versioning): void {
  const b = db.stmt('SELECT versioning FROM buckets WHERE name = ?').get(bucketName) as
    Row | undefined
  const now = b === undefined ? assumed : (str(b.versioning) as Versioning)
  if (KEEPS[now] > KEEPS[assumed])
    throw new StrongroomError(
      'OPERATION_ABORTED',
      `A conflicting conditional operation is currently in progress against this resource: the bucket's versioning changed to ${now} during the request. Please try again.`,
    )
}

/**
 * Shreds a removed version: its data key, and its body when inline; a
 * multipart body's part rows and their data keys. Returns it with its parts,
 * whose blobs the caller removes.
 */
function forget(db: SqliteDb, removed: ObjectRecord): ObjectRecord {
  const o = withParts(db, removed)
  forgetParts(db, o.blob)
  if (o.dataKeyId !== '') db.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(o.dataKeyId)
  if (o.blob.startsWith('inline-')) db.stmt('DELETE FROM inline_bodies WHERE id = ?').run(o.blob)
  return o
}

const COLUMNS = OBJECT_COLUMNS
const objectValues = (o: ObjectRecord, seq: number): SQLInputValue[] =>
  rowValues(o, seq, (b) => Number(b))
const object = (r: Row): ObjectRecord => objectOf(r, (v) => Number(v) === 1)
