/** MultipartStore on SQLite: uploads and their parts, each part with its data key. */
import type { Versioning } from '../buckets.ts'
import type { PartRecord, MultipartStore, UploadCursor, UploadRecord } from '../multipart.ts'
import type { WrappedDataKey } from '../keys.ts'
import type { ObjectLock, ObjectRecord, Tags, WriteCondition } from '../objects.ts'
import { digestOf, systemOf, insertDataKey, num, str, type Row, type SqliteDb } from './db.ts'
import { placeObject } from './objects.ts'
import { checksumsOf, claimParts } from './parts.ts'
import type { ChecksumAlgorithm } from '../../store/checksums.ts'

export class SqliteMultipartStore implements MultipartStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createUpload(u: UploadRecord): Promise<void> {
    this.db
      .stmt(
        'INSERT INTO uploads (id, bucket, key, content_type, metadata, created_at, tags, key_id, system, checksum_algorithm, lock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        u.id,
        u.bucket,
        u.key,
        u.contentType,
        JSON.stringify(u.metadata),
        u.createdAt,
        JSON.stringify(u.tags),
        u.keyId,
        JSON.stringify(u.system ?? {}),
        u.checksumAlgorithm ?? null,
        u.lock === undefined ? null : JSON.stringify(u.lock),
      )
    return Promise.resolve()
  }

  getUpload(id: string): Promise<UploadRecord | undefined> {
    const r = this.db.stmt('SELECT * FROM uploads WHERE id = ?').get(id) as Row | undefined
    return Promise.resolve(r && upload(r))
  }

  listUploads(
    bucketName: string,
    prefix: string,
    after: UploadCursor | undefined,
    limit: number,
  ): Promise<UploadRecord[]> {
    const select = 'SELECT * FROM uploads WHERE bucket = ? AND substr(key, 1, length(?)) = ?'
    const order = 'ORDER BY key, created_at, id LIMIT ?'
    const scope = [bucketName, prefix, prefix] as const
    if (after === undefined)
      return Promise.resolve(
        (this.db.stmt(`${select} ${order}`).all(...scope, limit) as Row[]).map(upload),
      )
    // Within after.key, resume past the marker upload's place in (created_at, id) order.
    const marker =
      after.uploadId === undefined
        ? undefined
        : (this.db
            .stmt('SELECT created_at FROM uploads WHERE bucket = ? AND key = ? AND id = ?')
            .get(bucketName, after.key, after.uploadId) as Row | undefined)
    const rows =
      after.uploadId === undefined
        ? this.db.stmt(`${select} AND key > ? ${order}`).all(...scope, after.key, limit)
        : marker === undefined
          ? // The marker upload ended since it was listed (a list-and-abort loop): resume at
            // the key's oldest upload, repeating rather than skipping what is left of it.
            this.db.stmt(`${select} AND key >= ? ${order}`).all(...scope, after.key, limit)
          : this.db
              .stmt(
                `${select} AND (key > ? OR (key = ? AND (created_at > ? OR (created_at = ? AND id > ?)))) ${order}`,
              )
              .all(
                ...scope,
                after.key,
                after.key,
                num(marker.created_at),
                num(marker.created_at),
                after.uploadId,
                limit,
              )
    return Promise.resolve((rows as Row[]).map(upload))
  }

  putPart(p: PartRecord, wk: WrappedDataKey): Promise<PartRecord | undefined> {
    // Group-committed like putObject: parts uploaded in parallel share a commit (one fsync).
    return this.db.grouped(() => {
      const old = this.db
        .stmt('SELECT * FROM parts WHERE upload_id = ? AND number = ?')
        .get(p.uploadId, p.number) as Row | undefined
      if (old !== undefined) {
        this.db.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(str(old.data_key_id))
        this.db
          .stmt('DELETE FROM parts WHERE upload_id = ? AND number = ?')
          .run(p.uploadId, p.number)
      }
      insertDataKey(this.db, p.dataKeyId, wk, p.createdAt)
      this.db
        .stmt(
          'INSERT INTO parts (upload_id, number, size, etag, blob, data_key_id, created_at, header_sha256, checksums) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          p.uploadId,
          p.number,
          p.size,
          p.etag,
          p.blob,
          p.dataKeyId,
          p.createdAt,
          p.headerDigest ?? null,
          JSON.stringify(p.checksums ?? {}),
        )
      return old && part(old)
    })
  }

  completeUpload(
    o: ObjectRecord,
    parts: readonly PartRecord[],
    versioning: Versioning,
    condition?: WriteCondition,
  ): Promise<{ replaced: ObjectRecord[]; unused: PartRecord[] }> {
    // One transaction across two concepts (the upload's rows, the object's), on the shared handle.
    return this.db.grouped(() => {
      const unused = claimParts(this.db, o.blob, parts)
      return {
        replaced: placeObject(this.db, o, undefined, versioning, undefined, condition),
        unused,
      }
    })
  }

  listParts(uploadId: string): Promise<PartRecord[]> {
    const rows = this.db
      .stmt('SELECT * FROM parts WHERE upload_id = ? ORDER BY number')
      .all(uploadId) as Row[]
    return Promise.resolve(rows.map(part))
  }

  deleteUpload(uploadId: string): Promise<PartRecord[]> {
    return Promise.resolve(
      this.db.tx(() => {
        const parts = (
          this.db
            .stmt('SELECT * FROM parts WHERE upload_id = ? ORDER BY number')
            .all(uploadId) as Row[]
        ).map(part)
        for (const p of parts)
          this.db.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(p.dataKeyId)
        this.db.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId)
        this.db.stmt('DELETE FROM uploads WHERE id = ?').run(uploadId)
        return parts
      }),
    )
  }
}

function upload(r: Row): UploadRecord {
  return {
    id: str(r.id),
    bucket: str(r.bucket),
    key: str(r.key),
    contentType: r.content_type === null ? null : str(r.content_type),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    tags: JSON.parse(str(r.tags)) as Tags,
    keyId: str(r.key_id),
    createdAt: num(r.created_at),
    ...systemOf(r),
    ...(typeof r.checksum_algorithm === 'string'
      ? { checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm }
      : {}),
    ...(typeof r.lock === 'string' ? { lock: JSON.parse(r.lock) as ObjectLock } : {}),
  }
}

function part(r: Row): PartRecord {
  return {
    uploadId: str(r.upload_id),
    number: num(r.number),
    size: num(r.size),
    etag: str(r.etag),
    blob: str(r.blob),
    dataKeyId: str(r.data_key_id),
    ...digestOf(r),
    ...checksumsOf(r),
    createdAt: num(r.created_at),
  }
}
