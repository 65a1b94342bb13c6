/**
 * Every S3 operation Strongroom serves, as declarations (../operation.ts). Order matters
 * where two share a method and path: the more specific (a header, a query value) comes first.
 */
import type { Operation } from '../operation.ts'
import { ATTRIBUTE_OPERATIONS } from './attributes.ts'
import { BUCKET_SETTING_OPERATIONS } from './bucket-settings.ts'
import { BUCKET_OPERATIONS } from './buckets.ts'
import { CONFIG_OPERATIONS } from './config.ts'
import { LISTING_OPERATIONS } from './listing.ts'
import { MULTIPART_OPERATIONS } from './multipart.ts'
import { LIFECYCLE_OPERATIONS } from './lifecycle.ts'
import { OBJECT_LOCK_OPERATIONS } from './object-lock.ts'
import { OBJECT_OPERATIONS } from './objects.ts'
import { TAGGING_OPERATIONS } from './tagging.ts'
import { VERSIONING_OPERATIONS } from './versioning.ts'

export const S3_OPERATIONS: readonly Operation[] = [
  ...BUCKET_OPERATIONS,
  ...CONFIG_OPERATIONS,
  ...BUCKET_SETTING_OPERATIONS,
  ...VERSIONING_OPERATIONS,
  ...LISTING_OPERATIONS,
  ...TAGGING_OPERATIONS,
  ...ATTRIBUTE_OPERATIONS,
  ...OBJECT_LOCK_OPERATIONS,
  ...LIFECYCLE_OPERATIONS,
  ...MULTIPART_OPERATIONS,
  ...OBJECT_OPERATIONS,
]
