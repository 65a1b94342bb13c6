/**
 * PolicyStore on PostgreSQL: customer-managed policies, their versions, attachments and use as
 * permissions boundaries. Every check AWS makes atomically runs in the transaction of the write
 * it guards, after locking the rows it depends on, so that it holds with several gateways at
 * READ COMMITTED: a policy's row (FOR UPDATE) while its versions are counted or it is deleted;
 * the principal's row while its attachments are counted (attachment quota), and the policy's
 * (FOR KEY SHARE) while it is attached or made a boundary (nothing uses a deleted policy).
 * Names compare and sort as SQLite's do: policies, roles and groups regardless of case, a user's
 * name as stored where SQLite's byte-wise users.name decides.
 */
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
import { int, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

const rows = async (c: Queryable, sql: string, params: unknown[]): Promise<Row[]> =>
  (await c.query(sql, params)).rows as Row[]

const count = async (c: Queryable, sql: string, params: unknown[]): Promise<number> =>
  int((await rows(c, sql, params))[0]?.n)

/** How many managed policies are attached to the principal (inside the caller's transaction). */
export function attachmentCount(
  c: Queryable,
  tenantId: string,
  kind: AttachedKind,
  principal: string,
): Promise<number> {
  return count(
    c,
    'SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = $1 AND kind = $2 AND principal = $3',
    [tenantId, kind, principal],
  )
}

export class PgPolicyStore implements PolicyStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createPolicy(p: ManagedPolicyRecord, document: string): Promise<void> {
    try {
      await this.db.tx(async (c) => {
        await c.query(
          'INSERT INTO managed_policies (tenant_id, name, id, path, description, default_version, next_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, 2, $6, $7)',
          [p.tenantId, p.name, p.id, p.path, p.description, p.createdAt, p.updatedAt],
        )
        await c.query(
          'INSERT INTO policy_versions (tenant_id, policy_name, version, document, created_at) VALUES ($1, $2, 1, $3, $4)',
          [p.tenantId, p.name, document, p.createdAt],
        )
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
  }

  async getPolicy(tenantId: string, name: string): Promise<ManagedPolicyRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT * FROM managed_policies WHERE tenant_id = $1 AND name = $2',
      [tenantId, name],
    )
    return r && policy(r)
  }

  async listPolicies(tenantId: string): Promise<ListedPolicy[]> {
    return (
      await this.db.query(
        `SELECT p.*, (SELECT count(*) FROM policy_attachments a
          WHERE a.tenant_id = p.tenant_id AND a.policy_name = p.name) AS attachments,
          ${BOUNDARY_USES} AS boundaries
        FROM managed_policies p WHERE p.tenant_id = $1 ORDER BY lower(p.name::text) COLLATE "C"`,
        [tenantId],
      )
    ).map((r) => ({ ...policy(r), attachments: int(r.attachments), boundaries: int(r.boundaries) }))
  }

  deletePolicy(tenantId: string, name: string): Promise<void> {
    return this.db.tx(async (c) => {
      // Locked: an attachment, a boundary or a version added meanwhile waits for this
      // transaction, then finds the policy gone; one committed before is counted below.
      const p = await lockPolicy(c, tenantId, name)
      const stored = text(p.name)
      const attached = await count(
        c,
        'SELECT count(*) AS n FROM policy_attachments WHERE tenant_id = $1 AND policy_name = $2',
        [tenantId, stored],
      )
      if (attached > 0)
        throw new StrongroomError('DELETE_CONFLICT', 'Cannot delete a policy attached to entities.')
      const bounding = await count(
        c,
        `SELECT ${BOUNDARY_USES} AS n FROM managed_policies p WHERE p.tenant_id = $1 AND p.name = $2`,
        [tenantId, stored],
      )
      if (bounding > 0)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete a policy used as a permissions boundary: remove it from its roles and users first.',
        )
      const versions = await count(
        c,
        'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2',
        [tenantId, stored],
      )
      if (versions > 1)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        )
      await c.query('DELETE FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2', [
        tenantId,
        stored,
      ])
      await c.query('DELETE FROM managed_policies WHERE tenant_id = $1 AND name = $2', [
        tenantId,
        stored,
      ])
      await c.query("DELETE FROM iam_tags WHERE tenant_id = $1 AND kind = 'policy' AND name = $2", [
        tenantId,
        stored,
      ])
    })
  }

  addPolicyVersion(
    tenantId: string,
    name: string,
    document: string,
    at: number,
    setAsDefault: boolean,
  ): Promise<number> {
    return this.db.tx(async (c) => {
      // Locked: two versions added at once are counted one after the other (at most five).
      const p = await lockPolicy(c, tenantId, name)
      const stored = text(p.name)
      const versions = await count(
        c,
        'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2',
        [tenantId, stored],
      )
      if (versions >= MAX_POLICY_VERSIONS)
        throw new StrongroomError(
          'LIMIT_EXCEEDED',
          `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
        )
      const version = int(p.next_version)
      await c.query(
        'INSERT INTO policy_versions (tenant_id, policy_name, version, document, created_at) VALUES ($1, $2, $3, $4, $5)',
        [tenantId, stored, version, document, at],
      )
      await c.query(
        `UPDATE managed_policies SET next_version = next_version + 1, updated_at = $1,
        default_version = CASE WHEN $2::boolean THEN $3::integer ELSE default_version END
        WHERE tenant_id = $4 AND name = $5`,
        [at, setAsDefault, version, tenantId, stored],
      )
      return version
    })
  }

  async getPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
  ): Promise<PolicyVersionRecord | undefined> {
    const [r] = await this.db.query(
      'SELECT * FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version = $3',
      [tenantId, name, version],
    )
    return r && policyVersion(r)
  }

  async listPolicyVersions(tenantId: string, name: string): Promise<PolicyVersionRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2 ORDER BY version DESC',
        [tenantId, name],
      )
    ).map(policyVersion)
  }

  deletePolicyVersion(tenantId: string, name: string, version: number): Promise<void> {
    return this.db.tx(async (c) => {
      // Locked: the version cannot become the default between the check and the delete.
      const p = await lockPolicy(c, tenantId, name)
      if (int(p.default_version) === version)
        throw new StrongroomError(
          'DELETE_CONFLICT',
          'Cannot delete the default version of a policy.',
        )
      const gone = await c.query(
        'DELETE FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version = $3',
        [tenantId, text(p.name), version],
      )
      if (gone.rowCount === 0) throw noVersion(p, version)
    })
  }

  setDefaultPolicyVersion(
    tenantId: string,
    name: string,
    version: number,
    at: number,
  ): Promise<void> {
    return this.db.tx(async (c) => {
      // Locked: the version cannot be deleted between the check and the update.
      const p = await lockPolicy(c, tenantId, name)
      const exists = await count(
        c,
        'SELECT count(*) AS n FROM policy_versions WHERE tenant_id = $1 AND policy_name = $2 AND version = $3',
        [tenantId, text(p.name), version],
      )
      if (exists === 0) throw noVersion(p, version)
      await c.query(
        'UPDATE managed_policies SET default_version = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4',
        [version, at, tenantId, text(p.name)],
      )
    })
  }

  // ---- attachments

  attachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
    max: number,
  ): Promise<boolean> {
    return this.db.tx(async (c) => {
      // The principal's row, locked against another attachment (the quota counts one after the
      // other) and against its deletion (which counts its attachments); the policy's, against
      // its deletion (which counts its attachments).
      const [who] = await rows(c, `${PRINCIPAL_ROW[kind]} FOR NO KEY UPDATE`, [tenantId, principal])
      if (who === undefined) return false
      const [p] = await rows(
        c,
        'SELECT name FROM managed_policies WHERE tenant_id = $1 AND name = $2 FOR KEY SHARE',
        [tenantId, policyName],
      )
      if (p === undefined) return false
      await c.query(
        `INSERT INTO policy_attachments (tenant_id, kind, principal, policy_name) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING`,
        [tenantId, kind, principal, policyName],
      )
      if ((await attachmentCount(c, tenantId, kind, principal)) > max)
        throw new StrongroomError(
          'LIMIT_EXCEEDED',
          `Cannot exceed quota for PoliciesPer${kind === 'role' ? 'Role' : kind === 'user' ? 'User' : 'Group'}: ${max}`,
        )
      return true
    })
  }

  async detachPolicy(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
    policyName: string,
  ): Promise<boolean> {
    const gone = await this.db.any.query(
      'DELETE FROM policy_attachments WHERE tenant_id = $1 AND kind = $2 AND principal = $3 AND policy_name = $4',
      [tenantId, kind, principal, policyName],
    )
    return (gone.rowCount ?? 0) > 0
  }

  async policyEntities(
    tenantId: string,
    name: string,
    usage: 'attached' | 'boundary',
  ): Promise<PolicyEntity[]> {
    // SQLite sorts both by kind, then by name regardless of case (the roles' collation, the
    // first of the union's, decides for users too).
    const sql =
      usage === 'attached'
        ? `SELECT a.kind AS kind, x.name::text AS name, x.id AS id, x.path AS path
            FROM policy_attachments a
            JOIN (SELECT 'role' AS kind, tenant_id, name, id, path FROM roles
              UNION ALL SELECT 'user', tenant_id, name, id, '/' FROM users
              UNION ALL SELECT 'group', tenant_id, name, id, path FROM iam_groups) x
              ON x.kind = a.kind AND x.tenant_id = a.tenant_id AND x.name = a.principal
          WHERE a.tenant_id = $1 AND a.policy_name = $2
          ORDER BY a.kind COLLATE "C", lower(x.name::text) COLLATE "C"`
        : `SELECT kind, name, id, path FROM (
            SELECT 'role' AS kind, name::text AS name, id, path FROM roles
              WHERE tenant_id = $1 AND permissions_boundary::citext = $2::citext
            UNION ALL SELECT 'user', name::text, id, '/' FROM users
              WHERE tenant_id = $1 AND permissions_boundary::citext = $2::citext) x
          ORDER BY kind COLLATE "C", lower(name) COLLATE "C"`
    return (await this.db.query(sql, [tenantId, name])).map((r) => ({
      kind: text(r.kind) as AttachedKind,
      name: text(r.name),
      id: text(r.id),
      path: text(r.path),
    }))
  }

  async listAttachedPolicies(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<ManagedPolicyRecord[]> {
    return (
      await this.db.query(
        `SELECT p.* FROM policy_attachments a JOIN managed_policies p
          ON p.tenant_id = a.tenant_id AND p.name = a.policy_name
        WHERE a.tenant_id = $1 AND a.kind = $2 AND a.principal = $3
        ORDER BY lower(p.name::text) COLLATE "C"`,
        [tenantId, kind, principal],
      )
    ).map(policy)
  }

  setPermissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
    policyName: string | null,
  ): Promise<boolean> {
    return this.db.tx(async (c) => {
      let stored: string | null = null
      if (policyName !== null) {
        // Locked against the policy's deletion, which counts the boundaries it is.
        const [p] = await rows(
          c,
          'SELECT name FROM managed_policies WHERE tenant_id = $1 AND name = $2 FOR KEY SHARE',
          [tenantId, policyName],
        )
        if (p === undefined) return false
        stored = text(p.name)
      }
      const table = kind === 'role' ? 'roles' : 'users'
      const changed = await c.query(
        `UPDATE ${table} SET permissions_boundary = $1 WHERE tenant_id = $2 AND name = $3`,
        [stored, tenantId, principal],
      )
      return (changed.rowCount ?? 0) > 0
    })
  }

  permissionsBoundary(
    tenantId: string,
    kind: 'role' | 'user',
    principal: string,
  ): Promise<PolicyDocument | undefined> {
    return readBoundary(this.db.any, tenantId, kind, principal)
  }

  attachedDocuments(
    tenantId: string,
    kind: AttachedKind,
    principal: string,
  ): Promise<PolicyDocument[]> {
    return readAttached(this.db.any, tenantId, kind, principal)
  }
}

/** The policy's row, locked FOR UPDATE until the transaction ends; NO_SUCH_ENTITY without one. */
async function lockPolicy(c: Queryable, tenantId: string, name: string): Promise<Row> {
  const [r] = await rows(
    c,
    'SELECT * FROM managed_policies WHERE tenant_id = $1 AND name = $2 FOR UPDATE',
    [tenantId, name],
  )
  if (r === undefined)
    throw new StrongroomError('NO_SUCH_ENTITY', `Policy ${name.slice(0, 128)} was not found.`)
  return r
}

/**
 * How many roles and users have the policy `p` (a managed_policies row) as their boundary.
 * permissions_boundary is text: cast, or `=` would compare it with p.name as text, by case.
 */
const BOUNDARY_USES = `((SELECT count(*) FROM roles r WHERE r.tenant_id = p.tenant_id
    AND r.permissions_boundary::citext = p.name)
  + (SELECT count(*) FROM users u WHERE u.tenant_id = p.tenant_id
    AND u.permissions_boundary::citext = p.name))`

/**
 * The principal's row by name ($1 tenant, $2 name), as SQLite's attachPolicy finds it: roles and
 * groups regardless of case; a user by its name exactly as stored (SQLite's users.name is a
 * byte-wise column, only its uniqueness ignoring case).
 */
const PRINCIPAL_ROW: Record<AttachedKind, string> = {
  role: 'SELECT name FROM roles WHERE tenant_id = $1 AND name = $2',
  user: 'SELECT name FROM users WHERE tenant_id = $1 AND name = $2::citext AND name::text = $2::text',
  group: 'SELECT name FROM iam_groups WHERE tenant_id = $1 AND name = $2',
}

const noVersion = (p: Row, version: number) =>
  new StrongroomError(
    'NO_SUCH_ENTITY',
    `Policy arn:aws:iam::${text(p.tenant_id)}:policy${text(p.path)}${text(p.name)} version v${version} does not exist or is not attachable.`,
  )

type PolicyDocument = { readonly policy: ManagedPolicyRecord; readonly document: string }

// Reads on a given connection, for the port's methods and for ./principals.ts, which makes
// several of them in one transaction.

/** The default version of the principal's permissions boundary, if it has one. */
export async function readBoundary(
  c: Queryable,
  tenantId: string,
  kind: 'role' | 'user',
  principal: string,
): Promise<PolicyDocument | undefined> {
  const table = kind === 'role' ? 'roles' : 'users'
  const [r] = await rows(
    c,
    `SELECT p.*, v.document FROM ${table} x
      JOIN managed_policies p ON p.tenant_id = x.tenant_id AND p.name = x.permissions_boundary::citext
      JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
        AND v.version = p.default_version
    WHERE x.tenant_id = $1 AND x.name = $2`,
    [tenantId, principal],
  )
  return r && { policy: policy(r), document: text(r.document) }
}

/** The managed policy of this name with its default version's document, if there is one. */
export async function readManaged(
  c: Queryable,
  tenantId: string,
  name: string,
): Promise<PolicyDocument | undefined> {
  const [r] = await rows(
    c,
    `SELECT p.*, v.document FROM managed_policies p
      JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
        AND v.version = p.default_version
    WHERE p.tenant_id = $1 AND p.name = $2`,
    [tenantId, name],
  )
  return r && { policy: policy(r), document: text(r.document) }
}

/** The default version of each managed policy attached to the principal, by name. */
export async function readAttached(
  c: Queryable,
  tenantId: string,
  kind: AttachedKind,
  principal: string,
): Promise<PolicyDocument[]> {
  return (
    await rows(
      c,
      `SELECT p.*, v.document FROM policy_attachments a
        JOIN managed_policies p ON p.tenant_id = a.tenant_id AND p.name = a.policy_name
        JOIN policy_versions v ON v.tenant_id = p.tenant_id AND v.policy_name = p.name
          AND v.version = p.default_version
      WHERE a.tenant_id = $1 AND a.kind = $2 AND a.principal = $3
      ORDER BY lower(p.name::text) COLLATE "C"`,
      [tenantId, kind, principal],
    )
  ).map((r) => ({ policy: policy(r), document: text(r.document) }))
}

function policy(r: Row): ManagedPolicyRecord {
  return {
    tenantId: text(r.tenant_id),
    name: text(r.name),
    id: text(r.id),
    path: text(r.path),
    description: text(r.description),
    defaultVersion: int(r.default_version),
    createdAt: int(r.created_at),
    updatedAt: int(r.updated_at),
  }
}

function policyVersion(r: Row): PolicyVersionRecord {
  return { version: int(r.version), document: text(r.document), createdAt: int(r.created_at) }
}
