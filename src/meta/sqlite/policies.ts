/**
 * PolicyStore on SQLite: customer-managed policies, their versions, attachments and use as
 * permissions boundaries. Every check AWS makes atomically (nothing attached to a deleted
 * policy, at most five versions) runs in the transaction of the write it guards.
 */
import type { SQLInputValue } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import {
  MAX_POLICY_VERSIONS,
  type AttachedKind,
  type ListedPolicy,
  type ManagedPolicyRecord,
  type PolicyEntity,
  type PolicyStore,
  type PolicyVersionRecord,
} from '../policies.ts'
import { isUniqueViolation, num, str, type Row, type SqliteDb, settle } from './db.ts'

const count = (db: SqliteDb, sql: string, ...args: SQLInputValue[]): number =>
  num((db.stmt(sql).get(...args) as Row).n)

/** How many managed policies are attached to the principal (inside the caller's transaction). */
export function attachmentCount(
  db: SqliteDb,
  tenantId: string,
  kind: AttachedKind,
  principal: string,
): number {
  return count(
    db,
    'SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = ? AND kind = ? AND principal = ?',
    tenantId,
    kind,
    principal,
  )
}

export class SqlitePolicyStore implements PolicyStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createPolicy(p: ManagedPolicyRecord, document: string): Promise<void> {
    return settle(() => {
      try {
        this.db.tx(() => {
          this.db
            .stmt(
              'INSERT INTO managed_policies (tenant_id, name, id, path, description, default_version, next_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 2, ?, ?)',
            )
            .run(p.tenantId, p.name, p.id, p.path, p.description, p.createdAt, p.updatedAt)
          this.db
            .stmt(
              'INSERT INTO policy_versions (tenant_id, policy_name, version, document, created_at) VALUES (?, ?, 1, ?, ?)',
            )
            .run(p.tenantId, p.name, document, p.createdAt)
        })
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError(
            'ENTITY_EXISTS',
            `A policy called ${p.name} already exists. Duplicate names are not allowed.`,
            { cause: e },
          )
        throw e
      }
    })
  }

  getPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt('SELECT * FROM managed_policies WHERE tenant_id = ? AND name = ?')
        .get(tenantId, name) as Row | undefined
      return r && policy(r)
    })
  }

  listPolicies(tenantId: string): Promise<ListedPolicy[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            `SELECT p.*, (SELECT count(*) FROM policy_attachments a
              WHERE a.tenant_id = p.tenant_id AND a.policy_name = p.name) AS attachments,
              ${BOUNDARY_USES} AS boundaries
            FROM managed_policies p WHERE p.tenant_id = ? ORDER BY p.name`,
          )
          .all(tenantId) as Row[]
      ).map((r) => ({
        ...policy(r),
        attachments: num(r.attachments),
        boundaries: num(r.boundaries),
      })),
    )
  }

  deletePolicy(tenantId: string, name: string): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.policyRow(tenantId, name)
        const attached = count(
          this.db,
          'SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = ? AND policy_name = ?',
          tenantId,
          name,
        )
        if (attached > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete a policy attached to entities.',
          )
        const bounding = count(
          this.db,
          `SELECT ${BOUNDARY_USES} AS n FROM managed_policies p WHERE p.tenant_id = ? AND p.name = ?`,
          tenantId,
          name,
        )
        if (bounding > 0)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete a policy used as a permissions boundary: remove it from its roles and users first.',
          )
        const versions = count(
          this.db,
          'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = ? AND policy_name = ?',
          tenantId,
          name,
        )
        if (versions > 1)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
          )
        this.db
          .stmt('DELETE FROM policy_versions WHERE tenant_id = ? AND policy_name = ?')
          .run(tenantId, name)
        this.db
          .stmt('DELETE FROM managed_policies WHERE tenant_id = ? AND name = ?')
          .run(tenantId, name)
        this.db
          .stmt("DELETE FROM iam_tags WHERE tenant_id = ? AND kind = 'policy' AND name = ?")
          .run(tenantId, str(p.name))
      }),
    )
  }

  addPolicyVersion(
    tenantId: string,
    name: string,
    document: string,
    at: number,
    setAsDefault: boolean,
  ): Promise<number> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.policyRow(tenantId, name)
        const versions = count(
          this.db,
          'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = ? AND policy_name = ?',
          tenantId,
          name,
        )
        if (versions >= MAX_POLICY_VERSIONS)
          throw new StrongroomError(
            'LIMIT_EXCEEDED',
            `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
          )
        const version = num(p.next_version)
        this.db
          .stmt(
            'INSERT INTO policy_versions (tenant_id, policy_name, version, document, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(tenantId, name, version, document, at)
        this.db
          .stmt(
            `UPDATE managed_policies SET next_version = next_version + 1, updated_at = ?,
            default_version = CASE WHEN ? THEN ? ELSE default_version END
            WHERE tenant_id = ? AND name = ?`,
          )
          .run(at, setAsDefault ? 1 : 0, version, tenantId, name)
        return version
      }),
    )
  }

  getPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
  ): Promise<PolicyVersionRecord | undefined> {
    return settle(() => {
      const r = this.db
        .stmt(
          'SELECT * FROM policy_versions WHERE tenant_id = ? AND policy_name = ? AND version = ?',
        )
        .get(tenantId, name, version) as Row | undefined
      return r && policyVersion(r)
    })
  }

  listPolicyVersions(tenantId: string, name: string): Promise<PolicyVersionRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            'SELECT * FROM policy_versions WHERE tenant_id = ? AND policy_name = ? ORDER BY version DESC',
          )
          .all(tenantId, name) as Row[]
      ).map(policyVersion),
    )
  }

  deletePolicyVersion(tenantId: string, name: string, version: number): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.policyRow(tenantId, name)
        if (num(p.default_version) === version)
          throw new StrongroomError(
            'DELETE_CONFLICT',
            'Cannot delete the default version of a policy.',
          )
        const gone = this.db
          .stmt(
            'DELETE FROM policy_versions WHERE tenant_id = ? AND policy_name = ? AND version = ?',
          )
          .run(tenantId, name, version)
        if (gone.changes === 0) throw noVersion(p, version)
      }),
    )
  }

  setDefaultPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
    at: number,
  ): Promise<void> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.policyRow(tenantId, name)
        const exists = count(
          this.db,
          'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = ? AND policy_name = ? AND version = ?',
          tenantId,
          name,
          version,
        )
        if (exists === 0) throw noVersion(p, version)
        this.db
          .stmt(
            'UPDATE managed_policies SET default_version = ?, updated_at = ? WHERE tenant_id = ? AND name = ?',
          )
          .run(version, at, tenantId, name)
      }),
    )
  }

  // ---- attachments

  attachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
    max: number,
  ): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        const table = PRINCIPALS[kind]
        const exists =
          count(
            this.db,
            `SELECT count(*) AS n FROM ${table} WHERE tenant_id = ? AND name = ?`,
            tenantId,
            principal,
          ) > 0 &&
          count(
            this.db,
            'SELECT count(*) AS n FROM managed_policies WHERE tenant_id = ? AND name = ?',
            tenantId,
            policyName,
          ) > 0
        if (!exists) return false
        this.db
          .stmt(
            `INSERT INTO policy_attachments (tenant_id, kind, principal, policy_name) VALUES (?, ?, ?, ?)
            ON CONFLICT DO NOTHING`,
          )
          .run(tenantId, kind, principal, policyName)
        if (attachmentCount(this.db, tenantId, kind, principal) > max)
          throw new StrongroomError(
            'LIMIT_EXCEEDED',
            `Cannot exceed quota for PoliciesPer${kind === 'role' ? 'Role' : kind === 'user' ? 'User' : 'Group'}: ${max}`,
          )
        return true
      }),
    )
  }

  detachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
  ): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt(
            'DELETE FROM policy_attachments WHERE tenant_id = ? AND kind = ? AND principal = ? AND policy_name = ?',
          )
          .run(tenantId, kind, principal, policyName).changes > 0,
    )
  }

  policyEntities(
    tenantId: string,
    name: string,
    usage: 'attached' | 'boundary',
  ): Promise<PolicyEntity[]> {
    const sql =
      usage === 'attached'
        ? `SELECT a.kind AS kind, x.name AS name, x.id AS id, x.path AS path
            FROM policy_attachments a
            JOIN (SELECT 'role' AS kind, tenant_id, name, id, path FROM roles
              UNION ALL SELECT 'user', tenant_id, name, id, '/' FROM users
              UNION ALL SELECT 'group', tenant_id, name, id, path FROM iam_groups) x
              ON x.kind = a.kind AND x.tenant_id = a.tenant_id AND x.name = a.principal COLLATE NOCASE
          WHERE a.tenant_id = ? AND a.policy_name = ? ORDER BY a.kind, x.name`
        : `SELECT 'role' AS kind, name, id, path FROM roles
            WHERE tenant_id = ?1 AND permissions_boundary = ?2 COLLATE NOCASE
          UNION ALL SELECT 'user', name, id, '/' FROM users
            WHERE tenant_id = ?1 AND permissions_boundary = ?2 COLLATE NOCASE
          ORDER BY 1, 2`
    return settle(() =>
      (this.db.stmt(sql).all(tenantId, name) as Row[]).map((r) => ({
        kind: str(r.kind) as AttachedKind,
        name: str(r.name),
        id: str(r.id),
        path: str(r.path),
      })),
    )
  }

  listAttachedPolicies(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<ManagedPolicyRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            `SELECT p.* FROM policy_attachments a JOIN managed_policies p
              ON p.tenant_id = a.tenant_id AND p.name = a.policy_name
            WHERE a.tenant_id = ? AND a.kind = ? AND a.principal = ? ORDER BY p.name`,
          )
          .all(tenantId, kind, principal) as Row[]
      ).map(policy),
    )
  }

  setPermissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
    policyName: string | null,
  ): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        let stored: string | null = null
        if (policyName !== null) {
          const p = this.db
            .stmt('SELECT name FROM managed_policies WHERE tenant_id = ? AND name = ?')
            .get(tenantId, policyName) as Row | undefined
          if (p === undefined) return false
          stored = str(p.name)
        }
        const table = kind === 'role' ? 'roles' : 'users'
        return (
          this.db
            .stmt(
              `UPDATE ${table} SET permissions_boundary = ? WHERE tenant_id = ? AND name = ? COLLATE NOCASE`,
            )
            .run(stored, tenantId, principal).changes > 0
        )
      }),
    )
  }

  permissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
  ): Promise<PolicyDocument | undefined> {
    return settle(() => readBoundary(this.db, tenantId, kind, principal))
  }

  attachedDocuments(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<PolicyDocument[]> {
    return settle(() => readAttached(this.db, tenantId, kind, principal))
  }

  private policyRow(tenantId: string, name: string): Row {
    const r = this.db
      .stmt('SELECT * FROM managed_policies WHERE tenant_id = ? AND name = ?')
      .get(tenantId, name) as Row | undefined
    if (r === undefined)
      throw new StrongroomError('NO_SUCH_ENTITY', `Policy ${name.slice(0, 128)} was not found.`)
    return r
  }
}

/** How many roles and users have the policy `p` (a managed_policies row) as their boundary. */
const BOUNDARY_USES = `((SELECT count(*) FROM roles r WHERE r.tenant_id = p.tenant_id
    AND r.permissions_boundary = p.name COLLATE NOCASE)
  + (SELECT count(*) FROM users u WHERE u.tenant_id = p.tenant_id
    AND u.permissions_boundary = p.name COLLATE NOCASE))`

/** The table of each kind of principal a policy attaches to. */
const PRINCIPALS: Record<AttachedKind, string> = {
  role: 'roles',
  user: 'users',
  group: 'iam_groups',
}

const noVersion = (p: Row, version: number) =>
  new StrongroomError(
    'NO_SUCH_ENTITY',
    `Policy arn:aws:iam::${str(p.tenant_id)}:policy${str(p.path)}${str(p.name)} version v${version} does not exist or is not attachable.`,
  )

type PolicyDocument = { readonly policy: ManagedPolicyRecord; readonly document: string }

/** The default version of the principal's permissions boundary, if it has one. */
export function readBoundary(
  db: SqliteDb,
  tenantId: string,
  kind: 'role' | 'user',
  principal: string,
): PolicyDocument | undefined {
  const table = kind === 'role' ? 'roles' : 'users'
  const r = db
    .stmt(
      `SELECT p.*, v.document FROM ${table} x
        JOIN managed_policies p ON p.tenant_id = x.tenant_id AND p.name = x.permissions_boundary
        JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
          AND v.version = p.default_version
      WHERE x.tenant_id = ? AND x.name = ? COLLATE NOCASE`,
    )
    .get(tenantId, principal) as Row | undefined
  return r && { policy: policy(r), document: str(r.document) }
}

/** The managed policy of this name with its default version's document, if there is one. */
export function readManaged(
  db: SqliteDb,
  tenantId: string,
  name: string,
): PolicyDocument | undefined {
  const r = db
    .stmt(
      `SELECT p.*, v.document FROM managed_policies p
        JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
          AND v.version = p.default_version
      WHERE p.tenant_id = ? AND p.name = ?`,
    )
    .get(tenantId, name) as Row | undefined
  return r && { policy: policy(r), document: str(r.document) }
}

/** The default version of each managed policy attached to the principal, by name. */
export function readAttached(
  db: SqliteDb,
  tenantId: string,
  kind: AttachedKind,
  principal: string,
): PolicyDocument[] {
  return (
    db
      .stmt(
        `SELECT p.*, v.document FROM policy_attachments a
          JOIN managed_policies p ON p.tenant_id = a.tenant_id AND p.name = a.policy_name
          JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
            AND v.version = p.default_version
        WHERE a.tenant_id = ? AND a.kind = ? AND a.principal = ? ORDER BY p.name`,
      )
      .all(tenantId, kind, principal) as Row[]
  ).map((r) => ({ policy: policy(r), document: str(r.document) }))
}

function policy(r: Row): ManagedPolicyRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    id: str(r.id),
    path: str(r.path),
    description: str(r.description),
    defaultVersion: num(r.default_version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }
}

function policyVersion(r: Row): PolicyVersionRecord {
  return { version: num(r.version), document: str(r.document), createdAt: num(r.created_at) }
}
