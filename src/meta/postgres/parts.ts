/**
 * The parts of multipart objects, as SQLite's (src/meta/sqlite/parts.ts): Complete moves the
 * chosen rows from `parts` to `object_parts` under the upload id, and the object's row names
 * that upload (`blob` = `multipart-<upload id>`). Every function here runs inside a transaction
 * of the store; `claimParts` locks the upload's row first.
 */
import { StrongroomError } from '../../errors.ts'
import { multipartUploadId, type ObjectPart, type PartRecord } from '../objects.ts'
import { digestOf } from '../rows.ts'
import { int, text, type Queryable } from './db.ts'

export type Row = Record<string, unknown>

export { systemOf } from '../rows.ts'

/** A part's verified checksums, left out when it has none. */
export function checksumsOf(r: Row): { checksums?: Record<string, string> } {
  return typeof r.checksums === 'string' && r.checksums !== '{}'
    ? { checksums: JSON.parse(r.checksums) as Record<string, string> }
    : {}
}

/** A row of `object_parts` (or its JSON, as the object reads aggregate it) as the record keeps it. */
export function objectPart(r: Row): ObjectPart {
  return {
    number: int(r.number),
    size: int(r.size),
    etag: text(r.etag),
    blob: text(r.blob),
    dataKeyId: text(r.data_key_id),
    ...digestOf(r),
    ...checksumsOf(r),
  }
}

/** A row of `parts` as its record. */
export function part(r: Row): PartRecord {
  return {
    uploadId: text(r.upload_id),
    number: int(r.number),
    size: int(r.size),
    etag: text(r.etag),
    blob: text(r.blob),
    dataKeyId: text(r.data_key_id),
    ...digestOf(r),
    ...checksumsOf(r),
    createdAt: int(r.created_at),
  }
}

/**
 * A select-list entry that reads a multipart body's parts with its row, in the same statement
 * (one snapshot): `parts_json`, the rows of `object_parts` in number order (NULL for none).
 * `t` is the alias of the objects or versions table.
 */
export const PARTS_JSON = `CASE WHEN starts_with(t.blob, 'multipart-') THEN (SELECT json_agg(p ORDER BY p.number)
  FROM object_parts p WHERE p.upload_id = substr(t.blob, 11)) END AS parts_json`

/** A record read with PARTS_JSON, its parts attached when its body is a multipart one. */
export function withPartsOf<T extends { blob: string }>(o: T, r: Row): T {
  if (multipartUploadId(o.blob) === undefined) return o
  const parts = Array.isArray(r.parts_json) ? (r.parts_json as Row[]) : []
  return { ...o, parts: parts.map(objectPart) }
}

/** The parts of a completed upload's object, in order. */
export async function partsOf(c: Queryable, uploadId: string): Promise<ObjectPart[]> {
  const rows = (
    await c.query('SELECT * FROM object_parts WHERE upload_id = $1 ORDER BY number', [uploadId])
  ).rows as Row[]
  return rows.map(objectPart)
}

/** A record with its parts loaded, when its body is a multipart one. */
export async function withParts<T extends { blob: string }>(c: Queryable, o: T): Promise<T> {
  const id = multipartUploadId(o.blob)
  return id === undefined ? o : { ...o, parts: await partsOf(c, id) }
}

/** Removes a multipart object's part rows and shreds their data keys (the blobs are the caller's). */
export async function forgetParts(c: Queryable, blob: string): Promise<void> {
  const id = multipartUploadId(blob)
  if (id === undefined) return
  await c.query(
    'DELETE FROM object_keys WHERE data_key_id IN (SELECT data_key_id FROM object_parts WHERE upload_id = $1)',
    [id],
  )
  await c.query('DELETE FROM object_parts WHERE upload_id = $1', [id])
}

/**
 * Moves the chosen parts of the upload that `objectBlob` names to `object_parts` and removes the
 * upload with its other parts (their data keys shredded). The upload's row is locked FOR UPDATE
 * first: a part being uploaded, replaced or aborted meanwhile waits, or has finished and is seen.
 * Refuses, changing nothing, when a chosen part is no longer the one validated. Returns the
 * parts left out.
 */
export async function claimParts(
  c: Queryable,
  objectBlob: string,
  chosen: readonly PartRecord[],
): Promise<PartRecord[]> {
  const uploadId = multipartUploadId(objectBlob)
  if (uploadId === undefined)
    throw new StrongroomError('INTERNAL', `\`${objectBlob}\` does not name a multipart upload`)
  await c.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', [uploadId])
  const stored = new Map(
    (
      (await c.query('SELECT * FROM parts WHERE upload_id = $1 ORDER BY number', [uploadId]))
        .rows as Row[]
    ).map((r) => [int(r.number), r]),
  )
  for (const p of chosen) {
    if (p.uploadId !== uploadId || text(stored.get(p.number)?.blob) !== p.blob)
      throw new StrongroomError(
        'INTERNAL',
        `part ${p.number} of upload \`${uploadId}\` changed while the upload was being completed`,
      )
  }
  const numbers = chosen.map((p) => p.number)
  await c.query(
    `INSERT INTO object_parts (upload_id, number, size, etag, blob, data_key_id, header_sha256, checksums)
    SELECT upload_id, number, size, etag, blob, data_key_id, header_sha256, checksums FROM parts
    WHERE upload_id = $1 AND number = ANY($2::integer[])`,
    [uploadId, numbers],
  )
  for (const n of numbers) stored.delete(n)
  const unused = [...stored.values()].map(part)
  if (unused.length > 0)
    await c.query('DELETE FROM object_keys WHERE data_key_id = ANY($1::text[])', [
      unused.map((p) => p.dataKeyId),
    ])
  await c.query('DELETE FROM parts WHERE upload_id = $1', [uploadId])
  await c.query('DELETE FROM uploads WHERE id = $1', [uploadId])
  return unused
}
