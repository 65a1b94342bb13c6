/**
 * VerdictStore: the model scanner's verdict on each object version, kept
 * with the version (a rescan replaces it).
 */
import type { Finding, Verdict } from '../scan/types.ts'

/** The scanner's verdict on one object version, kept with it. */
export interface ScanRecord {
  readonly verdict: Verdict
  readonly format: string
  /** Version of the scanner's rules that decided: a rescan redoes older ones. */
  readonly rules: string
  readonly at: number
  /** The first findings (at most 20). */
  readonly findings: readonly Finding[]
}

export interface VerdictStore {
  /**
   * Records a (re)scan of one version, current or noncurrent; false when the
   * version is gone or is a delete marker.
   */
  setObjectScan(bucket: string, key: string, versionId: string, scan: ScanRecord): Promise<boolean>
}
