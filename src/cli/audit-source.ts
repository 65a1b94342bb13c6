/**
 * Where `explain` and `audit query` read the audit log: the machine's own (AUDIT_DIR) or, when
 * gateways share a metadata database (`meta`), the installation's shared log in it. Neither
 * needs the root key: records are read, not opened.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.ts'
import { StrongroomError } from '../errors.ts'
import type { AuditStore } from '../meta/audit.ts'
import { PgMetadataStore } from '../meta/postgres/store.ts'

export async function withAuditSource<T>(
  config: Config,
  fn: (source: string | AuditStore) => Promise<T>,
): Promise<T> {
  if (config.meta === undefined) {
    const dir = config.auditDir
    if (!existsSync(join(dir, 'log', 'checkpoint')))
      throw new StrongroomError(
        'IO',
        `no audit log in \`${dir}\`; has this data directory served requests?`,
      )
    return fn(dir)
  }
  const store = await PgMetadataStore.open(config.meta, { maxConnections: 2 })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}
