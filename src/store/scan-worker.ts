/**
 * The scan worker: runs the model scanner over bytes an upload streams into a
 * shared ring (src/scan/ring.ts), off the gateway's event loop. One job at a
 * time; the reply says the verdict, or that the format needs random access
 * (the caller then scans the stored body), or that the upload went away.
 */
import { parentPort } from 'node:worker_threads'
import { NeedsRandomAccess, RingSource, StreamAborted, type Ring } from '../scan/ring.ts'
import { scan } from '../scan/scan.ts'

export interface ScanJob {
  readonly id: number
  readonly ring: Ring
  readonly size: number
  readonly path: string
  readonly strict: boolean
}

parentPort?.on('message', (job: ScanJob) => {
  const src = new RingSource(job.ring, job.size)
  let reply: Record<string, unknown>
  try {
    const r = scan(src, job.path, { strict: job.strict })
    reply = { id: job.id, report: { verdict: r.verdict, format: r.format, findings: r.findings } }
  } catch (e) {
    reply =
      e instanceof NeedsRandomAccess
        ? { id: job.id, fallback: true }
        : e instanceof StreamAborted
          ? { id: job.id, aborted: true }
          : { id: job.id, error: e instanceof Error ? e.message : String(e) }
  } finally {
    src.done()
  }
  parentPort?.postMessage(reply)
})
