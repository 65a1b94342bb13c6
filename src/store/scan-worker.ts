/**
 * The scan worker: runs the model scanner off the gateway's event loop, one
 * job at a time, over bytes that an upload streams into a shared ring
 * (src/scan/ring.ts), bytes copied in, or a stored body read through a
 * channel (src/scan/channel.ts). The reply is the report, or why there is
 * none: the format needs random access (the caller scans the stored body),
 * the upload went away, a read-back read failed (the caller has the error),
 * or the scanner itself failed.
 */
import { parentPort } from 'node:worker_threads'
import { ChannelSource, type Channel } from '../scan/channel.ts'
import { RingSource, type Ring } from '../scan/ring.ts'
import { scan } from '../scan/scan.ts'
import { bufferSource, type ByteSource } from '../scan/source.ts'
import { DEFAULT_LIMITS, type Finding, type Verdict } from '../scan/types.ts'

interface JobBase {
  readonly id: number
  readonly path: string
  readonly strict: boolean
  /** The memory budget of the scan, in bytes. */
  readonly memory: number
}

export type ScanJob =
  | (JobBase & { readonly kind: 'stream'; readonly ring: Ring; readonly size: number })
  | (JobBase & { readonly kind: 'buffer'; readonly bytes: Uint8Array })
  | (JobBase & { readonly kind: 'read-back'; readonly channel: Channel; readonly size: number })

export type ScanReply =
  | {
      readonly kind: 'report'
      readonly id: number
      readonly report: { verdict: Verdict; format: string; findings: Finding[] }
    }
  | { readonly kind: NoReport | 'read'; readonly id: number }
  | {
      readonly kind: 'failed'
      readonly id: number
      readonly message: string
      readonly stack: string
    }

/** Why a scan has no report: see the header. */
type NoReport = 'fallback' | 'aborted' | 'read-failed'

function run(job: ScanJob): ScanReply {
  const id = job.id
  const limits = { ...DEFAULT_LIMITS, maxMemory: job.memory }
  let src: ByteSource
  let failure: () => NoReport | undefined
  switch (job.kind) {
    case 'stream': {
      const ring = new RingSource(job.ring, job.size)
      src = ring
      failure = () =>
        ring.failure === 'needs-random-access'
          ? 'fallback'
          : ring.failure === 'aborted'
            ? 'aborted'
            : undefined
      try {
        return reply(scan(src, job.path, { strict: job.strict, limits }), failure(), id)
      } finally {
        ring.done()
      }
    }
    case 'buffer':
      src = bufferSource(job.bytes)
      failure = () => undefined
      break
    case 'read-back': {
      const channel = new ChannelSource(job.channel, job.size, () =>
        parentPort?.postMessage({ kind: 'read', id } satisfies ScanReply),
      )
      src = channel
      failure = () => (channel.failure === undefined ? undefined : 'read-failed')
      break
    }
  }
  return reply(scan(src, job.path, { strict: job.strict, limits }), failure(), id)
}

function reply(
  r: { verdict: Verdict; format: string; findings: readonly Finding[] },
  failure: NoReport | undefined,
  id: number,
): ScanReply {
  // A report over bytes the source could not deliver says nothing: the reason replaces it.
  if (failure !== undefined) return { kind: failure, id }
  return {
    kind: 'report',
    id,
    report: { verdict: r.verdict, format: r.format, findings: [...r.findings] },
  }
}

parentPort?.on('message', (job: ScanJob) => {
  let out: ScanReply
  try {
    out = run(job)
  } catch (e) {
    // A bug in the scanner, not a verdict: the caller turns it into a StrongroomError.
    const err = e instanceof Error ? e : new Error(String(e))
    out = { kind: 'failed', id: job.id, message: err.message, stack: err.stack ?? '' }
  }
  parentPort?.postMessage(out)
})
