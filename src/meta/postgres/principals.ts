/**
 * PrincipalStore on PostgreSQL: the reads of the other modules, in one REPEATABLE READ
 * transaction, so that they all see one snapshot (one instant), as SQLite's one read
 * transaction does.
 */
import type { AccessKeyRecord, RoleRecord, UserRecord } from '../identity.ts'
import type { ManagedDocument, PrincipalState, PrincipalStore } from '../principals.ts'
import type { PgDb, Queryable } from './db.ts'
import { readGroupDocuments } from './groups.ts'
import { readTags } from './iam.ts'
import {
  readAccessKey,
  readRole,
  readRolePolicies,
  readUser,
  readUserPolicies,
} from './identity.ts'
import { readAttached, readBoundary, readManaged } from './policies.ts'

export class PgPrincipalStore implements PrincipalStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  userState(
    tenantId: string,
    name: string,
    sessionPolicies: readonly string[] = [],
  ): Promise<PrincipalState<UserRecord> | undefined> {
    return this.db.tx((c) => userStateOn(c, tenantId, name, sessionPolicies), 'repeatable read')
  }

  roleState(
    tenantId: string,
    name: string,
    sessionPolicies: readonly string[] = [],
  ): Promise<PrincipalState<RoleRecord> | undefined> {
    return this.db.tx(async (c) => {
      const record = await readRole(c, tenantId, name)
      if (record === undefined) return undefined
      return {
        record,
        inline: await readRolePolicies(c, tenantId, record.name),
        attached: await readAttached(c, tenantId, 'role', record.name),
        groups: [],
        boundary: await readBoundary(c, tenantId, 'role', record.name),
        tags: await readTags(c, tenantId, 'role', record.name),
        sessionPolicies: await managed(c, tenantId, sessionPolicies),
      }
    }, 'repeatable read')
  }

  accessKeyState(
    id: string,
  ): Promise<{ key: AccessKeyRecord; user: PrincipalState<UserRecord> | undefined } | undefined> {
    return this.db.tx(async (c) => {
      const key = await readAccessKey(c, id)
      return key && { key, user: await userStateOn(c, key.tenantId, key.userName, []) }
    }, 'repeatable read')
  }
}

/** The user's state, read on `c` (inside the caller's transaction). */
async function userStateOn(
  c: Queryable,
  tenantId: string,
  name: string,
  sessionPolicies: readonly string[],
): Promise<PrincipalState<UserRecord> | undefined> {
  const record = await readUser(c, tenantId, name)
  if (record === undefined) return undefined
  // One statement after the other (a connection runs one at a time), all on one snapshot.
  return {
    record,
    inline: await readUserPolicies(c, tenantId, record.name),
    attached: await readAttached(c, tenantId, 'user', record.name),
    groups: await readGroupDocuments(c, tenantId, record.name),
    boundary: await readBoundary(c, tenantId, 'user', record.name),
    tags: await readTags(c, tenantId, 'user', record.name),
    sessionPolicies: await managed(c, tenantId, sessionPolicies),
  }
}

/** The managed policies of these names that exist, with their default documents, in that order. */
async function managed(
  c: Queryable,
  tenantId: string,
  names: readonly string[],
): Promise<ManagedDocument[]> {
  const out: ManagedDocument[] = []
  for (const name of names) {
    const found = await readManaged(c, tenantId, name)
    if (found !== undefined) out.push(found)
  }
  return out
}
