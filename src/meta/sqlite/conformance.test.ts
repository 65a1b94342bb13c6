/** The SQLite adapter against every metadata port's conformance suite, each test on a fresh database. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { bucketsConformance } from '../conformance/buckets.ts'
import { groupsConformance } from '../conformance/groups.ts'
import { iamConformance } from '../conformance/iam.ts'
import { identityConformance } from '../conformance/identity.ts'
import { installationConformance } from '../conformance/installation.ts'
import { oidcConformance } from '../conformance/oidc.ts'
import { principalsConformance } from '../conformance/principals.ts'
import { keysConformance } from '../conformance/keys.ts'
import { multipartConformance } from '../conformance/multipart.ts'
import { objectsConformance } from '../conformance/objects.ts'
import { verdictsConformance } from '../conformance/verdicts.ts'
import { auditConformance } from '../conformance/audit.ts'
import { orgConformance } from '../conformance/org.ts'
import { certConformance } from '../conformance/certs.ts'
import { SqliteMetadataStore } from './store.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-conformance-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const make = () =>
  Promise.resolve(SqliteMetadataStore.open(join(dir, `${++n}.sqlite`), { create: true }))

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
