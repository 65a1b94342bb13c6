/**
 * Events from a command-line process (a rescan's verdicts): gathered, then handed to the audit
 * log in batches of 100 and at the end: appended directly when no gateway holds the log, or
 * left durably in its inbox for the running gateway to take in (log.ts).
 */
import type { Config } from '../config.ts'
import { encodeEvent, type AuditEvent } from './event.ts'
import { auditKeys, logIdentity, type SystemSealer } from './keys.ts'
import { AuditLog } from './log.ts'

export class EventBatch {
  private readonly config: Config
  private readonly sealer: SystemSealer
  private pending: Buffer[] = []

  constructor(config: Config, sealer: SystemSealer) {
    this.config = config
    this.sealer = sealer
  }

  async add(e: AuditEvent): Promise<void> {
    this.pending.push(encodeEvent(e))
    if (this.pending.length >= 100) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    const keys = await auditKeys(this.config.dataDir, this.sealer)
    await AuditLog.submit(
      {
        dir: this.config.auditDir,
        ...logIdentity(keys),
      },
      batch,
    )
  }
}
