/**
 * The one quarantine rule. Under an `enforce` scan policy, a version the model scanner has not
 * called clean (or has not scanned yet) is quarantined: reading its body needs
 * strongroom:GetQuarantinedObject besides the read itself. The gateway and the CLI's rescans
 * both ask this function.
 */
import type { BucketRecord, ObjectRecord, ScanRecord } from '../meta/objects.ts'
import { ScanRejected } from '../store/objects.ts'
import { stored, type RecordSink, type ScanEvent } from './audit.ts'
import type { RequestState } from './request-state.ts'

export function quarantined(
  bucket: Pick<BucketRecord, 'scanPolicy'>,
  o: Pick<ObjectRecord, 'scan'>,
): boolean {
  return bucket.scanPolicy === 'enforce' && o.scan?.verdict !== 'clean'
}

/**
 * Runs a write that the model scanner judges and records its verdict (stored, quarantined or
 * rejected) in the scan log; the answer says the verdict in x-strongroom-scan.
 */
export async function recordScan(
  scans: RecordSink<ScanEvent> | undefined,
  s: RequestState,
  bucket: BucketRecord,
  key: string,
  write: () => Promise<ObjectRecord>,
): Promise<ObjectRecord> {
  const event = (scan: ScanRecord, outcome: ScanEvent['outcome'], versionId?: string) =>
    scans?.write({
      requestId: s.requestId,
      principal: s.caller.arn,
      bucket: bucket.name,
      key,
      versionId,
      policy: bucket.scanPolicy,
      outcome,
      scan,
    })
  let o: ObjectRecord
  try {
    o = await write()
  } catch (e) {
    if (e instanceof ScanRejected) event(e.scan, 'rejected')
    throw e
  }
  if (o.scan !== null) {
    event(o.scan, quarantined(bucket, o) ? 'quarantined' : 'stored', o.versionId)
    s.res.setHeader('x-strongroom-scan', o.scan.verdict)
    if (scans?.backlogged === true) await stored(scans)
  }
  return o
}
