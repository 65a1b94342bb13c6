/**
 * The SQLite adapter of every metadata port: one module per port (identity,
 * buckets, objects, multipart, keys, verdicts, installation) over one shared
 * database handle (./db.ts), composed here into the MetadataStore that
 * app.ts hands out. Transactions that span two concepts (an object row and
 * its data key) stay inside one module, on the shared handle.
 */
import { compose } from '../compose.ts'
import type { MetadataStore } from '../store.ts'
import { SqliteBucketStore } from './buckets.ts'
import { SqliteDb } from './db.ts'
import { SqliteGroupStore } from './groups.ts'
import { SqliteIamStore } from './iam.ts'
import { SqliteOidcStore } from './oidc.ts'
import { SqliteOrgStore } from './org.ts'
import { SqliteCertStore } from './certs.ts'
import { SqlitePolicyStore } from './policies.ts'
import { SqlitePrincipalStore } from './principals.ts'
import { SqliteIdentityStore } from './identity.ts'
import { SqliteInstallationStore } from './installation.ts'
import { SqliteKeyStore } from './keys.ts'
import { SqliteMultipartStore } from './multipart.ts'
import { SqliteObjectStore } from './objects.ts'
import { SqliteVerdictStore } from './verdicts.ts'
import { SqliteAuditStore } from './audit.ts'

export { APPLICATION_ID } from './db.ts'

export type SqliteMetadataStore = MetadataStore

export const SqliteMetadataStore = {
  /** Opens (and with `create`, creates) the database at `path`, applying pending migrations. */
  open(path: string, options: { create?: boolean } = {}): MetadataStore {
    const db = SqliteDb.open(path, options)
    const close = (): Promise<void> => {
      db.close()
      return Promise.resolve()
    }
    return compose(
      [
        new SqliteInstallationStore(db),
        new SqliteIdentityStore(db),
        new SqliteIamStore(db),
        new SqlitePolicyStore(db),
        new SqliteGroupStore(db),
        new SqlitePrincipalStore(db),
        new SqliteOidcStore(db),
        new SqliteBucketStore(db),
        new SqliteObjectStore(db),
        new SqliteMultipartStore(db),
        new SqliteKeyStore(db),
        new SqliteVerdictStore(db),
        new SqliteAuditStore(db),
        new SqliteOrgStore(db),
        new SqliteCertStore(db),
      ],
      { close },
    ) as MetadataStore
  },
}
