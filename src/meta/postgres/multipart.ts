/**
 * MultipartStore on PostgreSQL: uploads and their parts, each part with its data key. Upload ids
 * and keys sort in byte order (COLLATE "C"); a listing is a keyset range of
 * (bucket, key, created_at, id). A part's write holds its upload's row FOR KEY SHARE and an
 * advisory lock on (upload, part number), so parts upload in parallel while two writes of one
 * number take turns; Complete and abort hold the upload's row FOR UPDATE, so they wait for the
 * parts in flight and later parts find the upload gone.
 */
import type { Versioning } from '../buckets.ts'
import type { WrappedDataKey } from '../keys.ts'
import type { MultipartStore, PartRecord, UploadCursor, UploadRecord } from '../multipart.ts'
import type { ObjectLock, ObjectRecord, Tags, WriteCondition } from '../objects.ts'
import type { ChecksumAlgorithm } from '../../store/checksums.ts'
import { int, text, type PgDb } from './db.ts'
import { insertDataKey } from './keys.ts'
import { placeObject, prefixEnd } from './objects.ts'
import { claimParts, part, systemOf, type Row } from './parts.ts'

export class PgMultipartStore implements MultipartStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createUpload(u: UploadRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO uploads (id, bucket, key, content_type, metadata, created_at, tags, key_id, system, checksum_algorithm, lock) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [
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
      ],
    )
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM uploads WHERE id = $1', [id])
    return r && upload(r)
  }

  async listUploads(
    bucketName: string,
    prefix: string,
    after: UploadCursor | undefined,
    limit: number,
  ): Promise<UploadRecord[]> {
    const end = prefixEnd(prefix)
    const params: unknown[] = [bucketName, prefix, limit]
    const param = (v: unknown) => `$${String(params.push(v))}`
    let where = `bucket = $1 AND key >= $2 AND starts_with(key, $2)${end === undefined ? '' : ` AND key < ${param(end)}`}`
    if (after !== undefined) {
      // Within after.key, resume past the marker upload's place in (created_at, id) order.
      const [marker] =
        after.uploadId === undefined
          ? []
          : await this.db.query(
              'SELECT created_at FROM uploads WHERE bucket = $1 AND key = $2 AND id = $3',
              [bucketName, after.key, after.uploadId],
            )
      if (after.uploadId === undefined) where += ` AND key > ${param(after.key)}`
      else if (marker === undefined)
        // The marker upload ended since it was listed (a list-and-abort loop): resume at the
        // key's oldest upload, repeating rather than skipping what is left of it.
        where += ` AND key >= ${param(after.key)}`
      else
        where += ` AND (key, created_at, id) > (${param(after.key)}, ${param(int(marker.created_at))}, ${param(after.uploadId)})`
    }
    const rows = await this.db.query(
      `SELECT * FROM uploads WHERE ${where} ORDER BY key, created_at, id LIMIT $3`,
      params,
    )
    return rows.map(upload)
  }

  putPart(p: PartRecord, wk: WrappedDataKey): Promise<PartRecord | undefined> {
    return this.db.tx(async (c) => {
      // A missing upload (aborted or completed) is refused by the part's foreign key below.
      await c.query('SELECT 1 FROM uploads WHERE id = $1 FOR KEY SHARE', [p.uploadId])
      await c.query("SELECT pg_advisory_xact_lock(hashtext('part ' || $1::text), $2)", [
        p.uploadId,
        p.number,
      ])
      const [old] = (
        await c.query('DELETE FROM parts WHERE upload_id = $1 AND number = $2 RETURNING *', [
          p.uploadId,
          p.number,
        ])
      ).rows as Row[]
      if (old !== undefined)
        await c.query('DELETE FROM object_keys WHERE data_key_id = $1', [text(old.data_key_id)])
      await insertDataKey(c, p.dataKeyId, wk, p.createdAt)
      await c.query(
        'INSERT INTO parts (upload_id, number, size, etag, blob, data_key_id, created_at, header_sha256, checksums) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [
          p.uploadId,
          p.number,
          p.size,
          p.etag,
          p.blob,
          p.dataKeyId,
          p.createdAt,
          p.headerDigest ?? null,
          JSON.stringify(p.checksums ?? {}),
        ],
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
    // One transaction across two concepts (the upload's rows, the object's): the upload's row
    // first, then the object's locks (./objects.ts).
    return this.db.tx(async (c) => {
      const unused = await claimParts(c, o.blob, parts)
      return {
        replaced: await placeObject(c, o, undefined, versioning, undefined, condition),
        unused,
      }
    })
  }

  async listParts(uploadId: string): Promise<PartRecord[]> {
    return (
      await this.db.query('SELECT * FROM parts WHERE upload_id = $1 ORDER BY number', [uploadId])
    ).map(part)
  }

  deleteUpload(uploadId: string): Promise<PartRecord[]> {
    return this.db.tx(async (c) => {
      await c.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', [uploadId])
      const parts = (
        (await c.query('SELECT * FROM parts WHERE upload_id = $1 ORDER BY number', [uploadId]))
          .rows as Row[]
      ).map(part)
      if (parts.length > 0)
        await c.query('DELETE FROM object_keys WHERE data_key_id = ANY($1::text[])', [
          parts.map((p) => p.dataKeyId),
        ])
      await c.query('DELETE FROM parts WHERE upload_id = $1', [uploadId])
      await c.query('DELETE FROM uploads WHERE id = $1', [uploadId])
      return parts
    })
  }
}

function upload(r: Row): UploadRecord {
  return {
    id: text(r.id),
    bucket: text(r.bucket),
    key: text(r.key),
    contentType: r.content_type === null ? null : text(r.content_type),
    metadata: JSON.parse(text(r.metadata)) as Record<string, string>,
    tags: JSON.parse(text(r.tags)) as Tags,
    keyId: text(r.key_id),
    createdAt: int(r.created_at),
    ...systemOf(r),
    ...(typeof r.checksum_algorithm === 'string'
      ? { checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm }
      : {}),
    ...(typeof r.lock === 'string' ? { lock: JSON.parse(r.lock) as ObjectLock } : {}),
  }
}
