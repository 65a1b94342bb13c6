/**
 * The request path's ports to the audit log: a RecordSink takes records (scan verdicts) and
 * says when they are stored; `stored` turns a sink that cannot store into a 503. The audit log
 * itself is ../audit/log.ts; each request's event is made by ./audit-stage.ts.
 */
import { StrongroomError } from '../errors.ts'
import type { Trace } from '../iam/evaluate.ts'
import type { ScanPolicy, ScanRecord } from '../meta/objects.ts'

/** One verdict of the model scanner on an upload, as the audit log records it. */
export interface ScanEvent {
  readonly requestId: string
  readonly principal: string
  readonly bucket: string
  readonly key: string
  readonly versionId: string | undefined
  readonly policy: ScanPolicy
  /** What became of the upload. */
  readonly outcome: 'stored' | 'quarantined' | 'rejected'
  readonly scan: ScanRecord
}

/** Where the pipeline sends records (scan verdicts): the audit log, or anything with this contract. */
export interface RecordSink<T> {
  /** Queues one record; never waits. */
  write(record: T): void
  /** Resolves once every record written so far is stored; rejects if that cannot be done. */
  flush(): Promise<void>
  /** Past its bound: the writer of the next record should await `flush` first. */
  readonly backlogged: boolean
}

/** Waits for a sink to store what it holds; one that cannot answers 503, never loses records. */
export async function stored(sink: RecordSink<unknown>): Promise<void> {
  try {
    await sink.flush()
  } catch (e) {
    throw new StrongroomError(
      'SERVICE_UNAVAILABLE',
      'The audit log cannot be written at the moment; please retry',
      { cause: e },
    )
  }
}

/** An allowed request's trace keeps only the statements that applied: what allowed it. */
export function appliedOnly(t: Trace): Trace {
  return {
    ...t,
    policies: t.policies
      .map((p) => ({ ...p, statements: p.statements.filter((x) => x.matched) }))
      .filter((p) => p.statements.length > 0),
  }
}
