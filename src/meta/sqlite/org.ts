/** OrgStore on SQLite: the organization's policies and their attachments. */
import { StrongroomError } from '../../errors.ts'
import type { OrgAttachment, OrgPolicyRecord, OrgPolicyType, OrgStore } from '../org.ts'
import { isUniqueViolation, num, str, type Row, type SqliteDb, settle } from './db.ts'

export class SqliteOrgStore implements OrgStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  listOrgPolicies(): Promise<OrgPolicyRecord[]> {
    return settle(() =>
      (this.db.stmt('SELECT * FROM org_policies ORDER BY name, id').all() as Row[]).map(policy),
    )
  }

  getOrgPolicy(id: string): Promise<OrgPolicyRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM org_policies WHERE id = ?').get(id) as Row | undefined
      return r && policy(r)
    })
  }

  createOrgPolicy(p: OrgPolicyRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt(
            'INSERT INTO org_policies (id, type, name, description, content, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(p.id, p.type, p.name, p.description, p.content, p.createdAt)
      } catch (e) {
        throw duplicate(e, p)
      }
    })
  }

  updateOrgPolicy(p: OrgPolicyRecord): Promise<boolean> {
    return settle(() => {
      try {
        return (
          this.db
            .stmt('UPDATE org_policies SET name = ?, description = ?, content = ? WHERE id = ?')
            .run(p.name, p.description, p.content, p.id).changes > 0
        )
      } catch (e) {
        throw duplicate(e, p)
      }
    })
  }

  deleteOrgPolicy(id: string): Promise<'deleted' | 'missing' | 'attached'> {
    return settle(() =>
      this.db.tx(() => {
        if (this.db.stmt('SELECT 1 FROM org_attachments WHERE policy_id = ? LIMIT 1').get(id))
          return 'attached'
        return this.db.stmt('DELETE FROM org_policies WHERE id = ?').run(id).changes > 0
          ? 'deleted'
          : 'missing'
      }),
    )
  }

  listOrgAttachments(): Promise<OrgAttachment[]> {
    return settle(() =>
      (
        this.db.stmt('SELECT * FROM org_attachments ORDER BY target_id, policy_id').all() as Row[]
      ).map((r) => ({ policyId: str(r.policy_id), targetId: str(r.target_id) })),
    )
  }

  attachOrgPolicies(
    targetId: string,
    policyIds: readonly string[],
    awsManaged: readonly string[],
  ): Promise<'attached' | 'duplicate' | 'missing'> {
    return settle(() => {
      try {
        return this.db.tx(() => {
          for (const id of policyIds) {
            const known =
              awsManaged.includes(id) ||
              this.db.stmt('SELECT 1 FROM org_policies WHERE id = ?').get(id) !== undefined
            if (!known) throw new Missing()
            this.db
              .stmt('INSERT INTO org_attachments (policy_id, target_id) VALUES (?, ?)')
              .run(id, targetId)
          }
          return 'attached' as const
        })
      } catch (e) {
        if (e instanceof Missing) return 'missing'
        if (isUniqueViolation(e)) return 'duplicate'
        throw e
      }
    })
  }

  detachOrgPolicy(
    targetId: string,
    policyId: string,
    keepOneOf?: { readonly type: OrgPolicyType; readonly awsManaged: readonly string[] },
  ): Promise<'detached' | 'missing' | 'last'> {
    return settle(() =>
      this.db.tx(() => {
        const rows = this.db
          .stmt(
            `SELECT a.policy_id, p.type FROM org_attachments a LEFT JOIN org_policies p
            ON p.id = a.policy_id WHERE a.target_id = ?`,
          )
          .all(targetId) as Row[]
        if (!rows.some((r) => r.policy_id === policyId)) return 'missing'
        if (keepOneOf !== undefined) {
          const kept = rows.filter(
            (r) => keepOneOf.awsManaged.includes(str(r.policy_id)) || r.type === keepOneOf.type,
          )
          if (kept.length === 1 && kept[0]?.policy_id === policyId) return 'last'
        }
        this.db
          .stmt('DELETE FROM org_attachments WHERE policy_id = ? AND target_id = ?')
          .run(policyId, targetId)
        return 'detached'
      }),
    )
  }
}

/** A policy to attach that is neither AWS's nor stored (ends the transaction). */
class Missing extends Error {}

function duplicate(e: unknown, p: OrgPolicyRecord): unknown {
  if (!isUniqueViolation(e)) return e
  return new StrongroomError(
    'ENTITY_EXISTS',
    `A policy with the same name already exists: ${p.name.slice(0, 128)}`,
    { cause: e },
  )
}

function policy(r: Row): OrgPolicyRecord {
  return {
    id: str(r.id),
    type: str(r.type) as OrgPolicyType,
    name: str(r.name),
    description: str(r.description),
    content: str(r.content),
    createdAt: num(r.created_at),
  }
}
