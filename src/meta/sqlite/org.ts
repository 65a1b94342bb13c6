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

  attachOrgPolicies(targetId: string, policyIds: readonly string[]): Promise<boolean> {
    return settle(() => {
      try {
        this.db.tx(() => {
          for (const id of policyIds)
            this.db
              .stmt('INSERT INTO org_attachments (policy_id, target_id) VALUES (?, ?)')
              .run(id, targetId)
        })
        return true
      } catch (e) {
        if (isUniqueViolation(e)) return false
        throw e
      }
    })
  }

  detachOrgPolicy(targetId: string, policyId: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt('DELETE FROM org_attachments WHERE policy_id = ? AND target_id = ?')
          .run(policyId, targetId).changes > 0,
    )
  }
}

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
