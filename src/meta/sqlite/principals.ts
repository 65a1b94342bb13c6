/** PrincipalStore on SQLite: the reads of the other modules, in one read transaction. */
import type { AccessKeyRecord, RoleRecord, UserRecord } from '../identity.ts'
import type { ManagedDocument, PrincipalState, PrincipalStore } from '../principals.ts'
import { type SqliteDb, settle } from './db.ts'
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

export class SqlitePrincipalStore implements PrincipalStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  userState(
    tenantId: string,
    name: string,
    sessionPolicies: readonly string[] = [],
  ): Promise<PrincipalState<UserRecord> | undefined> {
    return settle(() => this.db.read(() => this.user(tenantId, name, sessionPolicies)))
  }

  roleState(
    tenantId: string,
    name: string,
    sessionPolicies: readonly string[] = [],
  ): Promise<PrincipalState<RoleRecord> | undefined> {
    return settle(() =>
      this.db.read(() => {
        const record = readRole(this.db, tenantId, name)
        if (record === undefined) return undefined
        return {
          record,
          inline: readRolePolicies(this.db, tenantId, record.name),
          attached: readAttached(this.db, tenantId, 'role', record.name),
          groups: [],
          boundary: readBoundary(this.db, tenantId, 'role', record.name),
          tags: readTags(this.db, tenantId, 'role', record.name),
          sessionPolicies: this.managed(tenantId, sessionPolicies),
        }
      }),
    )
  }

  accessKeyState(
    id: string,
  ): Promise<{ key: AccessKeyRecord; user: PrincipalState<UserRecord> | undefined } | undefined> {
    return settle(() =>
      this.db.read(() => {
        const key = readAccessKey(this.db, id)
        return key && { key, user: this.user(key.tenantId, key.userName, []) }
      }),
    )
  }

  private user(
    tenantId: string,
    name: string,
    sessionPolicies: readonly string[],
  ): PrincipalState<UserRecord> | undefined {
    const record = readUser(this.db, tenantId, name)
    if (record === undefined) return undefined
    return {
      record,
      inline: readUserPolicies(this.db, tenantId, record.name),
      attached: readAttached(this.db, tenantId, 'user', record.name),
      groups: readGroupDocuments(this.db, tenantId, record.name),
      boundary: readBoundary(this.db, tenantId, 'user', record.name),
      tags: readTags(this.db, tenantId, 'user', record.name),
      sessionPolicies: this.managed(tenantId, sessionPolicies),
    }
  }

  private managed(tenantId: string, names: readonly string[]): ManagedDocument[] {
    const out: ManagedDocument[] = []
    for (const name of names) {
      const found = readManaged(this.db, tenantId, name)
      if (found !== undefined) out.push(found)
    }
    return out
  }
}
