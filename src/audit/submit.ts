/**
 * Events from a command-line process (a rescan's verdicts): gathered, then handed to the audit
 * log in batches of 100 and at the end. Into the shared log (gateways sharing the metadata
 * database) they go directly, as a gateway's do; into a machine's own log directly when no
 * gateway holds it, else durably into its inbox for the running gateway to take in (log.ts).
 */
import type { App } from '../app.ts'
import { encodeEvent, type AuditEvent } from './event.ts'
import { auditKeys, logIdentity } from './keys.ts'
import { AuditLog } from './log.ts'
import { recordMac } from './record-mac.ts'

export class EventBatch {
  private readonly app: Pick<App, 'config' | 'sealer' | 'shared'>
  private pending: Buffer[] = []

  constructor(app: Pick<App, 'config' | 'sealer' | 'shared'>) {
    this.app = app
  }

  async add(e: AuditEvent): Promise<void> {
    this.pending.push(encodeEvent(e))
    if (this.pending.length >= 100) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    const { config, sealer, shared } = this.app
    const keys = await auditKeys(config.dataDir, sealer, shared)
    if (shared !== undefined) {
      await shared.appendAuditRecords(batch, (i, r) => recordMac(keys.recordMacKey, i, r))
      return
    }
    await AuditLog.submit({ dir: config.auditDir, ...logIdentity(keys) }, batch)
  }
}
