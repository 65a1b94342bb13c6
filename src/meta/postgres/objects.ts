/**
 * ObjectStore on PostgreSQL, as SQLite's: the current version of each key is a row of
 * `objects`; noncurrent versions and delete markers are rows of `versions` (the same columns),
 * ordered by `seq`. Small bodies live in `inline_bodies`. Keys sort in byte order (COLLATE "C"
 * columns), and listings are keyset pages over the indexes that serve them.
 *
 * Concurrency (several gateways, READ COMMITTED): a change of which version of a key is current
 * (a write, CompleteMultipartUpload, a delete and its promotion) holds, in this order, the
 * bucket's row FOR SHARE (its versioning cannot change until the write commits: ./buckets.ts),
 * a transaction-scoped advisory lock on (bucket, key) (writers of one key take turns, even when
 * the key has no row yet to lock), and the current row FOR UPDATE (against the in-place updates
 * of tags, Object Lock and verdicts). The current row is replaced or promoted in place, so that
 * a statement waiting on it follows it to its new version. Writers of different keys never wait
 * for each other.
 */
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
import { bytea, int, text, type PgDb, type Queryable } from './db.ts'
import { insertDataKey } from './keys.ts'
import { forgetParts, partsOf, PARTS_JSON, withParts, withPartsOf, type Row } from './parts.ts'

const rowsOf = async (c: Queryable, sql: string, params: unknown[]): Promise<Row[]> =>
  (await c.query(sql, params)).rows as Row[]

export class PgObjectStore implements ObjectStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  putObject(
    o: ObjectRecord,
    wk: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
    condition?: WriteCondition,
  ): Promise<ObjectRecord[]> {
    return this.db.tx((c) => placeObject(c, o, wk, versioning, inlineBody, condition))
  }

  objectParts(uploadId: string): Promise<ObjectPart[]> {
    return partsOf(this.db.any, uploadId)
  }

  async getInlineBody(blob: string): Promise<Uint8Array | undefined> {
    const [r] = await this.db.query('SELECT data FROM inline_bodies WHERE id = $1', [blob])
    return r === undefined ? undefined : bytea(r.data)
  }

  async getObject(
    bucketName: string,
    key: string,
    versionId?: string,
  ): Promise<ObjectRecord | undefined> {
    // One statement, so one snapshot: the row and its parts agree.
    const select = (table: string) =>
      `SELECT t.*, ${PARTS_JSON} FROM ${table} t WHERE t.bucket = $1 AND t.key = $2`
    const [r] =
      versionId === undefined
        ? await this.db.query(select('objects'), [bucketName, key])
        : await this.db.query(
            `(${select('objects')} AND t.version_id = $3)
            UNION ALL (${select('versions')} AND t.version_id = $3) LIMIT 1`,
            [bucketName, key, versionId],
          )
    return r && withPartsOf(object(r), r)
  }

  deleteObject(
    bucketName: string,
    key: string,
    versionId?: string,
    guard?: (o: ObjectRecord) => void,
  ): Promise<ObjectRecord | undefined> {
    return this.db.tx(async (c) => {
      // Without a version id this is the unversioned delete: it removes the current version,
      // which only an unversioned bucket may do (a versioned one gets a delete marker).
      if (versionId === undefined) await versioningIs(c, bucketName, 'Unversioned')
      await lockKey(c, bucketName, key)
      const [current] = await rowsOf(
        c,
        'SELECT * FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE',
        [bucketName, key],
      )
      if (current === undefined) return undefined
      let gone: Row | undefined
      if (versionId === undefined || text(current.version_id) === versionId) {
        gone = current
        guard?.(object(current))
        const [newest] = await rowsOf(
          c,
          'SELECT version_id FROM versions WHERE bucket = $1 AND key = $2 ORDER BY seq DESC LIMIT 1 FOR UPDATE',
          [bucketName, key],
        )
        if (newest === undefined)
          await c.query('DELETE FROM objects WHERE bucket = $1 AND key = $2', [bucketName, key])
        else {
          // Promoted in place: the key's row stays, now holding the newest older version.
          await c.query(
            `UPDATE objects SET (${REST}) = (SELECT ${REST} FROM versions
            WHERE bucket = $1 AND key = $2 AND version_id = $3) WHERE bucket = $1 AND key = $2`,
            [bucketName, key, text(newest.version_id)],
          )
          await c.query('DELETE FROM versions WHERE bucket = $1 AND key = $2 AND version_id = $3', [
            bucketName,
            key,
            text(newest.version_id),
          ])
        }
      } else {
        ;[gone] = await rowsOf(
          c,
          'SELECT * FROM versions WHERE bucket = $1 AND key = $2 AND version_id = $3 FOR UPDATE',
          [bucketName, key, versionId],
        )
        if (gone === undefined) return undefined
        guard?.(object(gone))
        await c.query('DELETE FROM versions WHERE bucket = $1 AND key = $2 AND version_id = $3', [
          bucketName,
          key,
          versionId,
        ])
      }
      return forget(c, object(gone))
    })
  }

  setObjectTags(
    bucketName: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean> {
    const tagText = JSON.stringify(tags)
    return this.db.tx(async (c) => {
      const current = await c.query(
        versionId === undefined
          ? 'UPDATE objects SET tags = $1 WHERE bucket = $2 AND key = $3 AND NOT delete_marker'
          : 'UPDATE objects SET tags = $1 WHERE bucket = $2 AND key = $3 AND version_id = $4 AND NOT delete_marker',
        versionId === undefined
          ? [tagText, bucketName, key]
          : [tagText, bucketName, key, versionId],
      )
      const changed = (current.rowCount ?? 0) > 0
      if (changed || versionId === undefined) return changed
      const old = await c.query(
        'UPDATE versions SET tags = $1 WHERE bucket = $2 AND key = $3 AND version_id = $4 AND NOT delete_marker',
        [tagText, bucketName, key, versionId],
      )
      return (old.rowCount ?? 0) > 0
    })
  }

  updateObjectLock(
    bucketName: string,
    key: string,
    versionId: string,
    update: (current: ObjectLock | undefined) => ObjectLock | undefined,
  ): Promise<boolean> {
    return this.db.tx(async (c) => {
      for (const table of ['objects', 'versions']) {
        const [r] = await rowsOf(
          c,
          `SELECT lock FROM ${table} WHERE bucket = $1 AND key = $2 AND version_id = $3
          AND NOT delete_marker FOR UPDATE`,
          [bucketName, key, versionId],
        )
        if (r === undefined) continue
        const next = update(
          typeof r.lock === 'string' ? (JSON.parse(r.lock) as ObjectLock) : undefined,
        )
        await c.query(
          `UPDATE ${table} SET lock = $1 WHERE bucket = $2 AND key = $3 AND version_id = $4`,
          [next === undefined ? null : JSON.stringify(next), bucketName, key, versionId],
        )
        return true
      }
      return false
    })
  }

  async listObjects(
    bucketName: string,
    prefix: string,
    after: string,
    limit: number,
  ): Promise<ListPage> {
    const end = prefixEnd(prefix)
    const rows = await this.db.query(
      `SELECT * FROM objects WHERE bucket = $1 AND key > $2 AND key >= $3 AND starts_with(key, $3)
      ${end === undefined ? '' : 'AND key < $5'} AND NOT delete_marker ORDER BY key LIMIT $4`,
      [bucketName, after, prefix, limit + 1, ...(end === undefined ? [] : [end])],
    )
    const objects = rows.slice(0, limit).map(object)
    return { objects, truncatedAfter: rows.length > limit ? objects.at(-1)?.key : undefined }
  }

  async listVersions(
    bucketName: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]> {
    let afterSeq = -1
    if (afterVersionId !== undefined) {
      const [at] = await this.db.query(
        `SELECT seq FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3
        UNION ALL SELECT seq FROM versions WHERE bucket = $1 AND key = $2 AND version_id = $3`,
        [bucketName, afterKey, afterVersionId],
      )
      // A marker version deleted since it was listed (a list-and-delete loop): resume at the
      // key's newest version, repeating rather than skipping what is left of the key.
      afterSeq = at === undefined ? Number.MAX_SAFE_INTEGER : int(at.seq)
    }
    // Each table's page is a keyset range of its index, (bucket, key) and (bucket, key, seq
    // DESC); the two pages merge into one.
    const end = prefixEnd(prefix)
    const where = `bucket = $1 AND starts_with(key, $2) AND key >= $2 ${end === undefined ? '' : 'AND key < $6'}
      AND key >= $3 AND (key > $3 OR seq < $4)`
    const rows = await this.db.query(
      `(SELECT *, true AS is_latest FROM objects WHERE ${where} ORDER BY key LIMIT $5)
      UNION ALL (SELECT *, false AS is_latest FROM versions WHERE ${where} ORDER BY key, seq DESC LIMIT $5)
      ORDER BY key, seq DESC LIMIT $5`,
      [bucketName, prefix, afterKey, afterSeq, limit, ...(end === undefined ? [] : [end])],
    )
    return rows.map((r) => ({ ...object(r), isLatest: r.is_latest === true }))
  }

  async blobIds(): Promise<Set<string>> {
    const rows = await this.db.query(
      `SELECT blob FROM objects WHERE blob IS NOT NULL UNION ALL SELECT blob FROM versions WHERE blob IS NOT NULL
      UNION ALL SELECT blob FROM parts UNION ALL SELECT blob FROM object_parts`,
    )
    return new Set(rows.map((r) => text(r.blob)))
  }
}

/**
 * putObject inside the caller's transaction (CompleteMultipartUpload shares it:
 * ./multipart.ts), taking the locks described above. Returns the versions removed, a
 * multipart body's with its parts.
 */
export async function placeObject(
  c: Queryable,
  o: ObjectRecord,
  wk: WrappedDataKey | undefined,
  versioning: Versioning,
  inlineBody?: Uint8Array,
  condition?: WriteCondition,
): Promise<ObjectRecord[]> {
  const removed: ObjectRecord[] = []
  // The caller chose the version id, and which versions the write replaces, by the versioning
  // it read when the request began. If that changed while the body arrived, the write would
  // archive or remove the wrong versions: refused, nothing changed, for the client to retry.
  await versioningIs(c, o.bucket, versioning)
  await lockKey(c, o.bucket, o.key)
  const [current] = await rowsOf(
    c,
    'SELECT * FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE',
    [o.bucket, o.key],
  )
  if (condition !== undefined)
    checkWriteCondition(
      current === undefined || current.delete_marker === true ? undefined : text(current.etag),
      condition,
    )
  const keep =
    versioning === 'Enabled' || (versioning === 'Suspended' && text(current?.version_id) !== 'null')
  if (current !== undefined) {
    if (keep)
      await c.query(
        `INSERT INTO versions (${COLUMNS}) SELECT ${COLUMNS} FROM objects WHERE bucket = $1 AND key = $2`,
        [o.bucket, o.key],
      )
    else removed.push(object(current))
  }
  if (versioning === 'Suspended') {
    const [old] = await rowsOf(
      c,
      "DELETE FROM versions WHERE bucket = $1 AND key = $2 AND version_id = 'null' RETURNING *",
      [o.bucket, o.key],
    )
    if (old !== undefined) removed.push(object(old))
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
  const forgotten: ObjectRecord[] = []
  for (const r of removed) forgotten.push(await forget(c, r))
  if (inlineBody !== undefined)
    await c.query('INSERT INTO inline_bodies (id, data) VALUES ($1, $2)', [
      o.blob,
      Buffer.from(inlineBody),
    ])
  if (wk !== undefined) await insertDataKey(c, o.dataKeyId, wk, o.createdAt)
  // In place when the key has a row (see above), else a new one.
  await c.query(
    `INSERT INTO objects (${COLUMNS}) VALUES (${PLACEHOLDERS})
    ON CONFLICT (bucket, key) DO UPDATE SET (${REST}) = (${EXCLUDED})`,
    objectValues(o, int(current?.seq ?? 0) + 1),
  )
  return forgotten
}

/** How much of a key's history each versioning state keeps. */
const KEEPS: Readonly<Record<Versioning, number>> = { Unversioned: 0, Suspended: 1, Enabled: 2 }

/**
 * OPERATION_ABORTED when the bucket's versioning, read in this transaction, keeps more history
 * than `assumed` (what the caller read when its request began): acting on `assumed` would
 * remove a version the bucket now keeps. Holds the bucket's row FOR SHARE until the
 * transaction ends, so the versioning read stays the bucket's.
 */
async function versioningIs(c: Queryable, bucketName: string, assumed: Versioning): Promise<void> {
  const [b] = await rowsOf(c, 'SELECT versioning FROM buckets WHERE name = $1 FOR SHARE', [
    bucketName,
  ])
  const now = b === undefined ? assumed : (text(b.versioning) as Versioning)
  if (KEEPS[now] > KEEPS[assumed])
    throw new StrongroomError(
      'OPERATION_ABORTED',
      `A conflicting conditional operation is currently in progress against this resource: the bucket's versioning changed to ${now} during the request. Please try again.`,
    )
}

/**
 * The lock a change of a key's current version holds until its transaction ends (the two-key
 * advisory lock space, apart from the migrations' one-key lock). A hash collision between two
 * keys only makes their writers take turns.
 */
async function lockKey(c: Queryable, bucketName: string, key: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [bucketName, key])
}

/**
 * Shreds a removed version: its data key, and its body when inline; a multipart body's part
 * rows and their data keys. Returns it with its parts, whose blobs the caller removes.
 */
async function forget(c: Queryable, removed: ObjectRecord): Promise<ObjectRecord> {
  const o = await withParts(c, removed)
  await forgetParts(c, o.blob)
  if (o.dataKeyId !== '')
    await c.query('DELETE FROM object_keys WHERE data_key_id = $1', [o.dataKeyId])
  if (o.blob.startsWith('inline-'))
    await c.query('DELETE FROM inline_bodies WHERE id = $1', [o.blob])
  return o
}

/**
 * The first string in byte order past every string that starts with `prefix` (its last code
 * point incremented), bounding a prefix's keyset range; undefined for none (an empty prefix).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix) // code points, not UTF-16 units
  while (points.length > 0) {
    const last = points.pop()?.codePointAt(0) ?? 0x10ffff
    if (last < 0x10ffff)
      return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1)
  }
  return undefined
}

/** The columns of `objects` and `versions`, in their order (the two tables have the same shape). */
const COLUMNS = OBJECT_COLUMNS
/** Every column but the key's (bucket, key): what a replacement or a promotion rewrites. */
const REST = COLUMNS.split(', ').slice(2).join(', ')
const PLACEHOLDERS = COLUMNS.split(', ')
  .map((_, i) => `$${String(i + 1)}`)
  .join(', ')
const EXCLUDED = REST.split(', ')
  .map((col) => `excluded.${col}`)
  .join(', ')

const objectValues = (o: ObjectRecord, seq: number): unknown[] => rowValues(o, seq, (b) => b)
const object = (r: Row): ObjectRecord => objectOf(r, (v) => v === true)
