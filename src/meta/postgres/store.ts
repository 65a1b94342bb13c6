/**
 * The PostgreSQL adapter of the metadata ports: one module per port over one pooled handle
 * (./db.ts), composed as SQLite's are. `open` migrates (under an advisory lock) before it
 * answers. Every port is served: the whole MetadataStore, held to the same conformance suites
 * as SQLite's.
 */
import { compose } from '../compose.ts'
import type { MetadataStore } from '../store.ts'
import { PgBucketStore } from './buckets.ts'
import { PgDb, type PgOptions } from './db.ts'
import { PgGroupStore } from './groups.ts'
import { PgIamStore } from './iam.ts'
import { PgIdentityStore } from './identity.ts'
import { PgInstallationStore } from './installation.ts'
import { PgKeyStore } from './keys.ts'
import { migrate } from './migrations.ts'
import { PgMultipartStore } from './multipart.ts'
import { PgObjectStore } from './objects.ts'
import { PgOidcStore } from './oidc.ts'
import { PgOrgStore } from './org.ts'
import { PgCertStore } from './certs.ts'
import { PgPolicyStore } from './policies.ts'
import { PgPrincipalStore } from './principals.ts'
import { PgVerdictStore } from './verdicts.ts'
import { PgAuditStore } from './audit.ts'

/** Every metadata port, over one PostgreSQL database; `close` ends the pool. */
export type PgMetadataStore = MetadataStore

export const PgMetadataStore = {
  /** Connects to `url` (postgres://…), brings the schema up to date, and answers the store. */
  async open(url: string, options: PgOptions = {}): Promise<PgMetadataStore> {
    // Migrations run on a connection of their own without a statement timeout: an index built
    // over a big table, or a wait for another gateway's migration, takes as long as it takes.
    const migrating = new PgDb(url, { ...options, maxConnections: 1, statementTimeoutMs: 0 })
    try {
      await migrate(migrating)
    } finally {
      await migrating.close()
    }
    const db = new PgDb(url, options)
    return compose(
      [
        new PgInstallationStore(db),
        new PgIdentityStore(db),
        new PgIamStore(db),
        new PgPolicyStore(db),
        new PgGroupStore(db),
        new PgPrincipalStore(db),
        new PgOidcStore(db),
        new PgBucketStore(db),
        new PgObjectStore(db),
        new PgMultipartStore(db),
        new PgKeyStore(db),
        new PgVerdictStore(db),
        new PgAuditStore(db),
        new PgOrgStore(db),
        new PgCertStore(db),
      ],
      { close: () => db.close() },
    ) as PgMetadataStore
  },
}
