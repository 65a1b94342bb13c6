/**
 * The one quarantine rule. Under an `enforce` scan policy, a version the model scanner has not
 * called clean (or has not scanned yet) is quarantined: reading its body needs
 * strongroom:GetQuarantinedObject besides the read itself. The gateway and the CLI's rescans
 * both ask this function.
 */
import type { BucketRecord, ObjectRecord } from '../meta/objects.ts'

export function quarantined(
  bucket: Pick<BucketRecord, 'scanPolicy'>,
  o: Pick<ObjectRecord, 'scan'>,
): boolean {
  return bucket.scanPolicy === 'enforce' && o.scan?.verdict !== 'clean'
}
