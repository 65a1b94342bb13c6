/**
 * The audit log a gateway writes, whichever it is: the installation's shared log when gateways
 * share the metadata database (./shared-log.ts), else the machine's own (./log.ts).
 */
import type { EventLog } from '../api/audit-stage.ts'
import type { App } from '../app.ts'
import type { AuditKeys } from './keys.ts'
import { logIdentity } from './keys.ts'
import { AuditLog } from './log.ts'
import { SharedAuditLog } from './shared-log.ts'

/** What `serve` and the stream (sinks, detection) need of either log. */
export interface AuditWriter extends EventLog {
  /** This gateway's own directory: sink spools and detector state live here. */
  readonly dir: string
  /** The next record's index, as far as this gateway knows. */
  readonly size: number
  /** The installation's shared log (other gateways write it too), not this machine's own. */
  readonly shared: boolean
  readonly droppedCount: number
  readonly checkpointNote: string
  /** Calls `fn` with each record this gateway wrote, once durable, in index order. */
  subscribe(fn: (index: number, record: Buffer) => void): () => void
  /** Every record of the log, oldest first, with its index. */
  records(): AsyncGenerator<[number, Buffer]>
  flush(): Promise<void>
  checkpoint(): Promise<string>
  close(): Promise<void>
}

export function openAuditLog(
  app: Pick<App, 'config' | 'shared'>,
  keys: AuditKeys,
  o: { readonly dir?: string; readonly onAlert?: (problem: string) => void } = {},
): Promise<AuditWriter> {
  const common = {
    dir: o.dir ?? app.config.auditDir,
    ...logIdentity(keys),
    ...(o.onAlert === undefined ? {} : { onAlert: o.onAlert }),
    witnesses: app.config.auditWitnesses,
  }
  return app.shared === undefined
    ? AuditLog.open(common)
    : SharedAuditLog.open({ ...common, store: app.shared, macKey: keys.recordMacKey })
}
