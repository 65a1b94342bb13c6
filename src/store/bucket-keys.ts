/**
 * Which tenant key seals a new bucket's objects: the tenant's `alias/s3-default`
 * key, created the first time the tenant creates a bucket (as AWS creates
 * aws/s3 on first use).
 */
import { StrongroomError } from '../errors.ts'
import type { LocalKms } from '../kms/local.ts'
import type { KeyRecord, MetadataStore, TenantRecord } from '../meta/store.ts'

export const DEFAULT_BUCKET_KEY_ALIAS = 'alias/s3-default'

export async function bucketKey(
  kms: LocalKms,
  store: MetadataStore,
  tenant: TenantRecord,
): Promise<KeyRecord> {
  const existing = await store.getKeyByAlias(tenant.id, DEFAULT_BUCKET_KEY_ALIAS)
  if (existing !== undefined) return existing
  try {
    return await kms.createKey(tenant, {
      alias: DEFAULT_BUCKET_KEY_ALIAS,
      description: "default key of the tenant's buckets",
    })
  } catch (e) {
    // Another request created it first.
    const now = await store.getKeyByAlias(tenant.id, DEFAULT_BUCKET_KEY_ALIAS)
    if (now !== undefined) return now
    throw e instanceof StrongroomError
      ? e
      : new StrongroomError('INTERNAL', 'could not create the bucket key')
  }
}
