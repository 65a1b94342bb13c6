/**
 * The parts of multipart objects (schema migration 10). A completed upload's
 * parts keep the blobs and data keys UploadPart gave them: Complete moves the
 * chosen rows from `parts` to `object_parts` under the upload id, and the
 * object's row names that upload (`blob` = `multipart-<upload id>`). Every
 * function here runs inside a transaction of the store.
 */
import { StrongroomError } from '../../errors.ts'
import { multipartUploadId, type ObjectPart, type PartRecord } from '../objects.ts'
import { digestOf, num, str, type Row, type SqliteDb } from './db.ts'

function objectPart(r: Row): ObjectPart {
  return {
    number: num(r.number),
    size: num(r.size),
    etag: str(r.etag),
    blob: str(r.blob),
    dataKeyId: str(r.data_key_id),
    ...digestOf(r),
    ...checksumsOf(r),
  }
}

/** A part's verified checksums, left out when it has none. */
export function checksumsOf(r: Row): { checksums?: Record<string, string> } {
  return typeof r.checksums === 'string' && r.checksums !== '{}'
    ? { checksums: JSON.parse(r.checksums) as Record<string, string> }
    : {}
}

/** The parts of a completed upload's object, in order. */
export function partsOf(db: SqliteDb, uploadId: string): ObjectPart[] {
  return (
    db.stmt('SELECT * FROM object_parts WHERE upload_id = ? ORDER BY number').all(uploadId) as Row[]
  ).map(objectPart)
}

/** A record with its parts loaded, when its body is a multipart one. */
export function withParts<T extends { blob: string }>(db: SqliteDb, o: T): T {
  const id = multipartUploadId(o.blob)
  return id === undefined ? o : { ...o, parts: partsOf(db, id) }
}

/** Removes a multipart object's part rows and shreds their data keys (the blobs are the caller's). */
export function forgetParts(db: SqliteDb, blob: string): void {
  const id = multipartUploadId(blob)
  if (id === undefined) return
  db.stmt(
    'DELETE FROM object_keys WHERE data_key_id IN (SELECT data_key_id FROM object_parts WHERE upload_id = ?)',
  ).run(id)
  db.stmt('DELETE FROM object_parts WHERE upload_id = ?').run(id)
}

/**
 * Moves the chosen parts of the upload that `objectBlob` names to `object_parts` and removes the
 * upload with its other parts (their data keys shredded). Refuses, changing
 * nothing, when a chosen part is no longer the one validated (re-uploaded or
 * aborted meanwhile). Returns the parts left out.
 */
export function claimParts(
  db: SqliteDb,
  objectBlob: string,
  chosen: readonly PartRecord[],
): PartRecord[] {
  const uploadId = multipartUploadId(objectBlob)
  if (uploadId === undefined)
    throw new StrongroomError('INTERNAL', `\`${objectBlob}\` does not name a multipart upload`)
  const stored = new Map(
    (db.stmt('SELECT * FROM parts WHERE upload_id = ?').all(uploadId) as Row[]).map((r) => [
      num(r.number),
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
  const insert = db.stmt(
    `INSERT INTO object_parts (upload_id, number, size, etag, blob, data_key_id, header_sha256, checksums)
      SELECT upload_id, number, size, etag, blob, data_key_id, header_sha256, checksums FROM parts
      WHERE upload_id = ? AND number = ?`,
  )
  for (const p of chosen) {
    insert.run(uploadId, p.number)
    stored.delete(p.number)
  }
  const unused: PartRecord[] = []
  const dropKey = db.stmt('DELETE FROM object_keys WHERE data_key_id = ?')
  for (const r of stored.values()) {
    dropKey.run(str(r.data_key_id))
    unused.push({
      uploadId,
      number: num(r.number),
      size: num(r.size),
      etag: str(r.etag),
      blob: str(r.blob),
      dataKeyId: str(r.data_key_id),
      ...digestOf(r),
      ...checksumsOf(r),
      createdAt: num(r.created_at),
    })
  }
  db.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId)
  db.stmt('DELETE FROM uploads WHERE id = ?').run(uploadId)
  return unused
}
