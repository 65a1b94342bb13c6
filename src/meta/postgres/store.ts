/**
 * The PostgreSQL adapter of the metadata ports: one module per port over one pooled handle
 * (./db.ts), composed as SQLite's are. `open` migrates (under an advisory lock) before it
 * answers. Ports implemented so far: installation, identity; the rest follow (issue 14).
 */
import { compose } from '../compose.ts'
import type { InstallationStore } from '../installation.ts'
import type { IdentityStore } from '../identity.ts'
import { PgDb, type PgOptions } from './db.ts'
import { PgIdentityStore } from './identity.ts'
import { PgInstallationStore } from './installation.ts'
import { migrate } from './migrations.ts'

/** The ports this adapter serves so far. */
export type PgMetadataStore = InstallationStore & IdentityStore & { close(): Promise<void> }

export const PgMetadataStore = {
  /** Connects to `url` (postgres://…), brings the schema up to date, and answers the store. */
  async open(url: string, options: PgOptions = {}): Promise<PgMetadataStore> {
    const db = new PgDb(url, options)
    try {
      await migrate(db)
    } catch (e) {
      await db.close()
      throw e
    }
    return compose([new PgInstallationStore(db), new PgIdentityStore(db)], {
      close: () => db.close(),
    }) as PgMetadataStore
  },
}
