/**
 * The PostgreSQL adapter of the metadata ports: one module per port over one pooled handle
 * (./db.ts), composed as SQLite's are. `open` migrates (under an advisory lock) before it
 * answers. Ports implemented so far: installation, identity, IAM, policies, groups, principals
 * and OIDC providers; the rest follow (issue 14).
 */
import { compose } from '../compose.ts'
import type { GroupStore } from '../groups.ts'
import type { IamStore } from '../iam.ts'
import type { IdentityStore } from '../identity.ts'
import type { InstallationStore } from '../installation.ts'
import type { OidcStore } from '../oidc.ts'
import type { PolicyStore } from '../policies.ts'
import type { PrincipalStore } from '../principals.ts'
import { PgDb, type PgOptions } from './db.ts'
import { PgGroupStore } from './groups.ts'
import { PgIamStore } from './iam.ts'
import { PgIdentityStore } from './identity.ts'
import { PgInstallationStore } from './installation.ts'
import { migrate } from './migrations.ts'
import { PgOidcStore } from './oidc.ts'
import { PgPolicyStore } from './policies.ts'
import { PgPrincipalStore } from './principals.ts'

/** The ports this adapter serves so far. */
export type PgMetadataStore = InstallationStore &
  IdentityStore &
  IamStore &
  PolicyStore &
  GroupStore &
  PrincipalStore &
  OidcStore & { close(): Promise<void> }

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
    return compose(
      [
        new PgInstallationStore(db),
        new PgIdentityStore(db),
        new PgIamStore(db),
        new PgPolicyStore(db),
        new PgGroupStore(db),
        new PgPrincipalStore(db),
        new PgOidcStore(db),
      ],
      { close: () => db.close() },
    ) as PgMetadataStore
  },
}
