/**
 * OrgStore on PostgreSQL: the organization's policies and their attachments. A policy is
 * deleted under a lock that an attachment to it also takes (its row), and an attachment is made
 * only to a policy that exists, so that a delete and an attach at once cannot leave an attachment
 * to a policy that is gone.
 */
import { StrongroomError } from '../../errors.ts'
import type { OrgAttachment, OrgPolicyRecord, OrgPolicyType, OrgStore } from '../org.ts'
import { int, isUniqueViolation, text, type PgDb } from './db.ts'

type Row = Record<string, unknown>

export class PgOrgStore implements OrgStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async listOrgPolicies(): Promise<OrgPolicyRecord[]> {
    return (await this.db.query('SELECT * FROM org_policies ORDER BY name, id')).map(policy)
  }

  async getOrgPolicy(id: string): Promise<OrgPolicyRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM org_policies WHERE id = $1', [id])
    return r && policy(r)
  }

  async createOrgPolicy(p: OrgPolicyRecord): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO org_policies (id, type, name, description, content, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [p.id, p.type, p.name, p.description, p.content, p.createdAt],
      )
    } catch (e) {
      throw duplicate(e, p)
    }
  }

  async updateOrgPolicy(p: OrgPolicyRecord): Promise<boolean> {
    try {
      const r = await this.db.any.query(
        'UPDATE org_policies SET name = $1, description = $2, content = $3 WHERE id = $4',
        [p.name, p.description, p.content, p.id],
      )
      return (r.rowCount ?? 0) > 0
    } catch (e) {
      throw duplicate(e, p)
    }
  }

  async deleteOrgPolicy(id: string): Promise<'deleted' | 'missing' | 'attached'> {
    return this.db.tx(async (c) => {
      const found = await c.query('SELECT 1 FROM org_policies WHERE id = $1 FOR UPDATE', [id])
      if ((found.rowCount ?? 0) === 0) return 'missing'
      const used = await c.query('SELECT 1 FROM org_attachments WHERE policy_id = $1 LIMIT 1', [id])
      if ((used.rowCount ?? 0) > 0) return 'attached'
      await c.query('DELETE FROM org_policies WHERE id = $1', [id])
      return 'deleted'
    })
  }

  async listOrgAttachments(): Promise<OrgAttachment[]> {
    return (await this.db.query('SELECT * FROM org_attachments ORDER BY target_id, policy_id')).map(
      (r) => ({ policyId: text(r.policy_id), targetId: text(r.target_id) }),
    )
  }

  async attachOrgPolicies(
    targetId: string,
    policyIds: readonly string[],
    awsManaged: readonly string[],
  ): Promise<'attached' | 'duplicate' | 'missing'> {
    try {
      return await this.db.tx(async (c) => {
        for (const id of policyIds) {
          if (!awsManaged.includes(id)) {
            // The policy's row lock, which a delete of it waits for: it exists until commit.
            const found = await c.query('SELECT 1 FROM org_policies WHERE id = $1 FOR SHARE', [id])
            if ((found.rowCount ?? 0) === 0) throw new Missing()
          }
          await c.query('INSERT INTO org_attachments (policy_id, target_id) VALUES ($1, $2)', [
            id,
            targetId,
          ])
        }
        return 'attached' as const
      })
    } catch (e) {
      if (e instanceof Missing) return 'missing'
      if (isUniqueViolation(e)) return 'duplicate'
      throw e
    }
  }

  async detachOrgPolicy(
    targetId: string,
    policyId: string,
    keepOneOf?: { readonly type: OrgPolicyType; readonly awsManaged: readonly string[] },
  ): Promise<'detached' | 'missing' | 'last'> {
    return this.db.tx(async (c) => {
      // Every attachment of the target, locked: two detaches at once take turns, and the second
      // counts what the first left.
      const rows = (
        await c.query(
          `SELECT a.policy_id, p.type FROM org_attachments a LEFT JOIN org_policies p
          ON p.id = a.policy_id WHERE a.target_id = $1 FOR UPDATE OF a`,
          [targetId],
        )
      ).rows as Row[]
      if (!rows.some((r) => r.policy_id === policyId)) return 'missing'
      if (keepOneOf !== undefined) {
        const kept = rows.filter(
          (r) => keepOneOf.awsManaged.includes(text(r.policy_id)) || r.type === keepOneOf.type,
        )
        if (kept.length === 1 && kept[0]?.policy_id === policyId) return 'last'
      }
      await c.query('DELETE FROM org_attachments WHERE policy_id = $1 AND target_id = $2', [
        policyId,
        targetId,
      ])
      return 'detached'
    })
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
    id: text(r.id),
    type: text(r.type) as OrgPolicyType,
    name: text(r.name),
    description: text(r.description),
    content: text(r.content),
    createdAt: int(r.created_at),
  }
}
