/**
 * The parts of multipart objects (schema migration 10). A completed upload's
 * parts keep the blobs and data keys UploadPart gave them: Complete moves the
 * chosen rows from `parts` to `object_parts` under the upload id, and the
 * object's row names that upload (`blob` = `multipart-<upload id>`). Every
 * function here runs inside a transaction of the store.
 */
import type { SQLInputValue, StatementSync } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import { multipartUploadId, type ObjectPart, type PartRecord } from '../objects.ts'

type Row = Record<string, SQLInputValue>
type Sql = (sql: string) => StatementSync

const str = (v: SQLInputValue | undefined): string => (typeof v === 'string' ? v : '')

function objectPart(r: Row): ObjectPart {
  return {
    number: Number(r.number),
    size: Number(r.size),
    etag: str(r.etag),
    blob: str(r.blob),
    dataKeyId: str(r.data_key_id),
    ...(typeof r.header_sha256 === 'string' ? { headerDigest: r.header_sha256 } : {}),
  }
}

/** The parts of a completed upload's object, in order. */
export function partsOf(sql: Sql, uploadId: string): ObjectPart[] {
  return (
    sql('SELECT * FROM object_parts WHERE upload_id = ? ORDER BY number').all(uploadId) as Row[]
  ).map(objectPart)
}

/** A record with its parts loaded, when its body is a multipart one. */
export function withParts<T extends { blob: string }>(sql: Sql, o: T): T {
  const id = multipartUploadId(o.blob)
  return id === undefined ? o : { ...o, parts: partsOf(sql, id) }
}

/** Removes a multipart object's part rows and shreds their data keys (the blobs are the caller's). */
export function forgetParts(sql: Sql, blob: string): void {
  const id = multipartUploadId(blob)
  if (id === undefined) return
  sql(
    'DELETE FROM object_keys WHERE data_key_id IN (SELECT data_key_id FROM object_parts WHERE upload_id = ?)',
  ).run(id)
  sql('DELETE FROM object_parts WHERE upload_id = ?').run(id)
}

/**
 * Moves the chosen parts of the upload that `objectBlob` names to `object_parts` and removes the
 * upload with its other parts (their data keys shredded). Refuses, changing
 * nothing, when a chosen part is no longer the one validated (re-uploaded or
 * aborted meanwhile). Returns the parts left out.
 */
export function claimParts(
  sql: Sql,
  objectBlob: string,
  chosen: readonly PartRecord[],
): PartRecord[] {
  const uploadId = multipartUploadId(objectBlob)
  if (uploadId === undefined)
    throw new StrongroomError('INTERNAL', `\`${objectBlob}\` does not name a multipart upload`)
  const stored = new Map(
    (sql('SELECT * FROM parts WHERE upload_id = ?').all(uploadId) as Row[]).map((r) => [
      Number(r.number),
      r,
    ]),
  )
  for (const p of chosen) {
    if (p.uploadId !== uploadId || str(stored.get(p.number)?.blob) !== p.blob)
      throw new StrongroomError(
        'INTERNAL',
        `part ${p.number} of upload \`${uploadId}\` changed while the upload was being completed`,
      )
  }
  const insert = sql(
    `INSERT INTO object_parts (upload_id, number, size, etag, blob, data_key_id, header_sha256)
      SELECT upload_id, number, size, etag, blob, data_key_id, header_sha256 FROM parts
      WHERE upload_id = ? AND number = ?`,
  )
  for (const p of chosen) {
    insert.run(uploadId, p.number)
    stored.delete(p.number)
  }
  const unused: PartRecord[] = []
  const dropKey = sql('DELETE FROM object_keys WHERE data_key_id = ?')
  for (const r of stored.values()) {
    dropKey.run(str(r.data_key_id))
    unused.push({
      uploadId,
      number: Number(r.number),
      size: Number(r.size),
      etag: str(r.etag),
      blob: str(r.blob),
      dataKeyId: str(r.data_key_id),
      ...(typeof r.header_sha256 === 'string' ? { headerDigest: r.header_sha256 } : {}),
      createdAt: Number(r.created_at),
    })
  }
  sql('DELETE FROM parts WHERE upload_id = ?').run(uploadId)
  sql('DELETE FROM uploads WHERE id = ?').run(uploadId)
  return unused
}
