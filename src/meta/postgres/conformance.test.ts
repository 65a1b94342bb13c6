/**
 * The PostgreSQL adapter against the metadata ports' conformance suites (the same as SQLite's),
 * on a throwaway server (test/pg/server.ts), each test on a fresh database. Skips with one line
 * naming the Debian package where PostgreSQL is not installed; CI installs it.
 */
import { after, before, it } from 'node:test'
import { groupsConformance } from '../conformance/groups.ts'
import { iamConformance } from '../conformance/iam.ts'
import { identityConformance } from '../conformance/identity.ts'
import { installationConformance } from '../conformance/installation.ts'
import { oidcConformance } from '../conformance/oidc.ts'
import { principalsConformance } from '../conformance/principals.ts'
import type { MetadataStore } from '../store.ts'
import { NEEDS_POSTGRES, startPostgres, type Postgres } from '../../../test/pg/server.ts'
import { PgMetadataStore } from './store.ts'

const server: Postgres | undefined = await startPostgres()
if (server === undefined) {
  it('PostgreSQL conformance', { skip: NEEDS_POSTGRES }, () => {})
} else {
  before(() => {})
  after(() => server.stop())
  let n = 0
  // The suites take a whole MetadataStore; they call only the ports they test, which this
  // adapter serves (the rest follow, each with its suite added here).
  const make = async () =>
    (await PgMetadataStore.open(
      await server.createDatabase(`c${String(++n)}`),
    )) as unknown as MetadataStore
  installationConformance(make)
  identityConformance(make)
  iamConformance(make)
  groupsConformance(make)
  principalsConformance(make)
  oidcConformance(make)
}
