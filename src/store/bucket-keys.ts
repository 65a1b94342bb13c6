/**
 * Which tenant key seals a new bucket's objects: the tenant's `alias/s3-default`
 * key, created the first time the tenant creates a bucket (as AWS creates
 * aws/s3 on first use).
 */
import { isStrongroomError } from '../errors.ts'
import type { KeyCatalog } from '../kms/catalog.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyRecord } from '../meta/keys.ts'

export const DEFAULT_BUCKET_KEY_ALIAS = 'alias/s3-default'

export async function defaultBucketKey(
  keys: Pick<KeyCatalog, 'byAlias' | 'createKey'>,
  tenant: TenantRecord,
): Promise<KeyRecord> {
  const existing = await keys.byAlias(tenant, DEFAULT_BUCKET_KEY_ALIAS)
  if (existing !== undefined) return existing
  try {
    return await keys.createKey(tenant, {
      alias: DEFAULT_BUCKET_KEY_ALIAS,
      description: "default key of the tenant's buckets",
    })
  } catch (e) {
    // Another request created it first: the alias is taken now, by the key to use.
    if (!isStrongroomError(e, 'KEY_EXISTS')) throw e
    const now = await keys.byAlias(tenant, DEFAULT_BUCKET_KEY_ALIAS)
    if (now !== undefined) return now
    throw e
  }
}
