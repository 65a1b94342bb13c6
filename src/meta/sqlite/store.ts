/**
 * The SQLite adapter of every metadata port: one module per port (identity,
 * buckets, objects, multipart, keys, verdicts, installation) over one shared
 * database handle (./db.ts), composed here into the MetadataStore that
 * app.ts hands out. Transactions that span two concepts (an object row and
 * its data key) stay inside one module, on the shared handle.
 */
import { StrongroomError } from '../../errors.ts'
import type { MetadataStore } from '../store.ts'
import { SqliteBucketStore } from './buckets.ts'
import { SqliteDb } from './db.ts'
import { SqliteGroupStore } from './groups.ts'
import { SqliteIamStore } from './iam.ts'
import { SqliteOidcStore } from './oidc.ts'
import { SqlitePolicyStore } from './policies.ts'
import { SqlitePrincipalStore } from './principals.ts'
import { SqliteIdentityStore } from './identity.ts'
import { SqliteInstallationStore } from './installation.ts'
import { SqliteKeyStore } from './keys.ts'
import { SqliteMultipartStore } from './multipart.ts'
import { SqliteObjectStore } from './objects.ts'
import { SqliteVerdictStore } from './verdicts.ts'

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
      ],
      { close },
    ) as MetadataStore
  },
}

/**
 * One object with every method of `parts`, each bound to its module and never
 * throwing synchronously. Two
 * modules offering the same method name is a programming error, caught here
 * at start-up rather than by one silently shadowing the other.
 */
function compose(parts: readonly object[], extra: Record<string, unknown>): object {
  const out: Record<string, unknown> = { ...extra }
  for (const part of parts) {
    const proto = Object.getPrototypeOf(part) as object
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue
      const fn = (part as Record<string, unknown>)[name]
      if (typeof fn !== 'function') continue
      if (Object.hasOwn(out, name))
        throw new StrongroomError('INTERNAL', `two metadata modules both define \`${name}\``)
      const method = fn as (...a: unknown[]) => unknown
      // A port method answers with a promise: a synchronous SQLite failure becomes its rejection.
      out[name] = (...args: unknown[]) => {
        try {
          return method.apply(part, args)
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)))
        }
      }
    }
  }
  return out
}
