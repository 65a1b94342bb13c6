/**
 * Records the conformance suites write: fixed values (no randomness), so that
 * every suite compares exact results. The ports of one adapter share one
 * database whose rows reference each other (a bucket names its tenant and
 * key), so a suite for one port sets up its rows through the neighbouring
 * ports of the same store.
 */
import { isStrongroomError } from '../../errors.ts'
import { ALL_BLOCKED, type BucketRecord } from '../buckets.ts'
import type { TenantRecord } from '../identity.ts'
import type { KeyRecord, KeyVersionRecord, WrappedDataKey } from '../keys.ts'
import type { ObjectRecord } from '../objects.ts'
import type { MetadataStore } from '../store.ts'

/** Makes a fresh, empty store of the adapter under test; the suite closes it. */
export type MakeStore = () => Promise<MetadataStore>

/** Runs `f` on a fresh store and closes it whatever happens. */
export async function using(
  make: MakeStore,
  f: (store: MetadataStore) => Promise<void>,
): Promise<void> {
  const store = await make()
  try {
    await f(store)
  } finally {
    await store.close()
  }
}

export function tenant(n: number, name = `tenant-${n}`): TenantRecord {
  return { id: String(100_000_000_000 + n), name, createdAt: 1_700_000_000_000 + n }
}

export function keyRecord(t: TenantRecord, n: number, alias: string | null = null): KeyRecord {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    tenantId: t.id,
    alias,
    description: `key ${n}`,
    state: 'Enabled',
    currentVersion: 1,
    createdAt: 1_700_000_000_000 + n,
    rotationPeriodDays: null,
    nextRotationAt: null,
    deletionAt: null,
    deletedAt: null,
    tags: [],
  }
}

export function keyVersion(k: KeyRecord, version: number): KeyVersionRecord {
  return {
    keyId: k.id,
    version,
    material: Buffer.from(`material of ${k.id} v${version}`),
    createdAt: k.createdAt + version,
  }
}

export function bucketRecord(t: TenantRecord, k: KeyRecord, name: string): BucketRecord {
  return {
    name,
    tenantId: t.id,
    keyId: k.id,
    policy: null,
    createdAt: 1_700_000_100_000,
    versioning: 'Unversioned',
    publicAccessBlock: ALL_BLOCKED,
    scanPolicy: 'report',
  }
}

export function wrapped(t: TenantRecord, k: KeyRecord): WrappedDataKey {
  return { keyId: k.id, keyVersion: 1, wrapped: Buffer.from('wrapped data key'), tenantId: t.id }
}

/** Version `n` of `key` in `bucket`: blob `blob-n`, data key `dk-n`. */
export function objectRecord(
  bucket: BucketRecord,
  key: string,
  versionId: string,
  n: number,
  marker = false,
): ObjectRecord {
  return {
    bucket: bucket.name,
    key,
    versionId,
    deleteMarker: marker,
    size: marker ? 0 : n,
    etag: marker ? '' : `"etag-${n}"`,
    contentType: marker ? null : 'application/octet-stream',
    metadata: marker ? {} : { n: String(n) },
    tags: [],
    checksums: marker ? {} : { 'x-amz-checksum-crc32': `crc-${n}` },
    blob: marker ? '' : `blob-${n}`,
    dataKeyId: marker ? '' : `dk-${n}`,
    ...(marker ? {} : { headerDigest: 'ab'.repeat(32) }),
    keyId: marker ? '' : bucket.keyId,
    createdAt: 1_700_000_200_000 + n,
    scan: null,
  }
}

/** A store with one tenant, its key and one bucket `b`. */
export async function withBucket(make: MakeStore) {
  const store = await make()
  const t = tenant(1)
  await store.createTenant(t)
  const k = keyRecord(t, 1, 'alias/one')
  await store.createKey(k, keyVersion(k, 1))
  const bucket = bucketRecord(t, k, 'b')
  await store.createBucket(bucket)
  /** Writes version `n` of `key` (a delete marker without a data key) under `versioning`. */
  const put = (
    key: string,
    versionId: string,
    n: number,
    versioning: 'Unversioned' | 'Enabled' | 'Suspended',
    marker = false,
  ) =>
    store.putObject(
      objectRecord(bucket, key, versionId, n, marker),
      marker ? undefined : wrapped(t, k),
      versioning,
    )
  return { store, tenant: t, key: k, bucket, put }
}

export const V1 = '1'.repeat(32)
export const V2 = '2'.repeat(32)
export const V3 = '3'.repeat(32)

/** What a store call came to: `written`, or the StrongroomError code it was refused with. */
export const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'written',
    (e: unknown) => (isStrongroomError(e) ? e.code : String(e)),
  )
