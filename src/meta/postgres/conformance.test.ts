/**
 * The PostgreSQL adapter against the metadata ports' conformance suites (the same as SQLite's),
 * on a throwaway server (test/pg/server.ts), each test on a fresh database. Skips with one line
 * naming the Debian package where PostgreSQL is not installed; CI installs it.
 */
import { after, before, it } from 'node:test'
import { bucketsConformance } from '../conformance/buckets.ts'
import { groupsConformance } from '../conformance/groups.ts'
import { iamConformance } from '../conformance/iam.ts'
import { identityConformance } from '../conformance/identity.ts'
import { installationConformance } from '../conformance/installation.ts'
import { keysConformance } from '../conformance/keys.ts'
import { multipartConformance } from '../conformance/multipart.ts'
import { objectsConformance } from '../conformance/objects.ts'
import { oidcConformance } from '../conformance/oidc.ts'
import { principalsConformance } from '../conformance/principals.ts'
import { verdictsConformance } from '../conformance/verdicts.ts'
import { auditConformance } from '../conformance/audit.ts'
import { orgConformance } from '../conformance/org.ts'
import { certConformance } from '../conformance/certs.ts'
import { NEEDS_POSTGRES, startPostgres, type Postgres } from '../../../test/pg/server.ts'
import { PgMetadataStore } from './store.ts'

const server: Postgres | undefined = await startPostgres()
if (server === undefined) {
  it('PostgreSQL conformance', { skip: NEEDS_POSTGRES }, () => {})
} else {
  before(() => {})
  after(() => server.stop())
  let n = 0
  const make = async () => PgMetadataStore.open(await server.createDatabase(`c${String(++n)}`))
  installationConformance(make)
  identityConformance(make)
  iamConformance(make)
  groupsConformance(make)
  principalsConformance(make)
  oidcConformance(make)
  bucketsConformance(make)
  objectsConformance(make)
  multipartConformance(make)
  keysConformance(make)
  verdictsConformance(make)
  auditConformance(make)
  orgConformance(make)
  certConformance(make)
}
