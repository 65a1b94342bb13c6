/**
 * Rows both SQL adapters write and read: the object row (`objects` and `versions` have one
 * shape), its values in column order and the record back from a row (the adapters differ only
 * in how a flag is stored, SQLite 0/1, PostgreSQL boolean, which each passes in), and the
 * identity records (tenants, users, roles, access keys).
 */
import type { AccessKeyRecord, RoleRecord, TenantRecord, UserRecord } from './identity.ts'
import type { ObjectLock, ObjectRecord, SystemMetadata, Tags } from './objects.ts'
import type { ScanRecord } from './verdicts.ts'

type Row = Readonly<Record<string, unknown>>

/** The columns of `objects` and `versions`, in their order. */
export const OBJECT_COLUMNS =
  'bucket, key, version_id, seq, delete_marker, size, etag, content_type, metadata, tags, checksums, blob, data_key_id, key_id, created_at, scan, header_sha256, system, lock'

const str = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : ''
const num = (v: unknown): number => Number(v)
const bytes = (v: unknown): Uint8Array =>
  v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array()

/** The row's values for OBJECT_COLUMNS; `flag` stores delete_marker as the backend does. */
export function objectValues<F>(
  o: ObjectRecord,
  seq: number,
  flag: (b: boolean) => F,
): (string | number | F | null)[] {
  const orNull = (v: string) => (v === '' ? null : v)
  return [
    o.bucket,
    o.key,
    o.versionId,
    seq,
    flag(o.deleteMarker),
    o.size,
    o.etag,
    o.contentType,
    JSON.stringify(o.metadata),
    JSON.stringify(o.tags),
    JSON.stringify(o.checksums),
    orNull(o.blob),
    orNull(o.dataKeyId),
    orNull(o.keyId),
    o.createdAt,
    o.scan === null ? null : JSON.stringify(o.scan),
    o.headerDigest ?? null,
    JSON.stringify(o.system ?? {}),
    o.lock === undefined ? null : JSON.stringify(o.lock),
  ]
}

/** The record of an object row; `flag` reads delete_marker as the backend stores it. */
export function objectOf(r: Row, flag: (v: unknown) => boolean): ObjectRecord {
  return {
    bucket: str(r.bucket),
    key: str(r.key),
    versionId: str(r.version_id),
    deleteMarker: flag(r.delete_marker),
    size: num(r.size),
    etag: str(r.etag),
    contentType: r.content_type === null ? null : str(r.content_type),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    tags: JSON.parse(str(r.tags)) as Tags,
    checksums: JSON.parse(str(r.checksums)) as Record<string, string>,
    blob: str(r.blob ?? ''),
    dataKeyId: str(r.data_key_id ?? ''),
    keyId: str(r.key_id ?? ''),
    createdAt: num(r.created_at),
    scan: r.scan === null || r.scan === undefined ? null : (JSON.parse(str(r.scan)) as ScanRecord),
    ...digestOf(r),
    ...systemOf(r),
    ...(typeof r.lock === 'string' ? { lock: JSON.parse(r.lock) as ObjectLock } : {}),
  }
}

/** The header digest of a row, when it has one (rows before migration 8 do not). */
export function digestOf(r: Row): { headerDigest?: string } {
  return typeof r.header_sha256 === 'string' ? { headerDigest: r.header_sha256 } : {}
}

/** An object's or upload's system metadata, left out when none was set (as records are written). */
export function systemOf(r: Row): { system?: SystemMetadata } {
  return typeof r.system === 'string' && r.system !== '{}'
    ? { system: JSON.parse(r.system) as SystemMetadata }
    : {}
}

export function tenantOf(r: Row): TenantRecord {
  return { id: str(r.id), name: str(r.name), createdAt: num(r.created_at) }
}

export function userOf(r: Row): UserRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    id: str(r.id),
    createdAt: num(r.created_at),
  }
}

export function roleOf(r: Row): RoleRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    id: str(r.id),
    path: str(r.path),
    description: str(r.description),
    trustPolicy: str(r.trust_policy),
    maxSessionSeconds: num(r.max_session_seconds),
    createdAt: num(r.created_at),
  }
}

export function accessKeyOf(r: Row): AccessKeyRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    userName: str(r.user_name),
    secret: bytes(r.secret),
    status: str(r.status) === 'Active' ? 'Active' : 'Inactive',
    createdAt: num(r.created_at),
  }
}
