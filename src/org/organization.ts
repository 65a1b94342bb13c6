/**
 * The organization: every tenant is an account of one AWS-Organizations-style organization
 * whose management account is the `admin` tenant (made by `strongroom serve`), with a root
 * that every account sits under. The management account's principals manage the guardrails:
 * service control policies (SCPs), which bound what the principals of every other account may
 * do, and resource control policies (RCPs), which bound what may be done to their resources.
 * SCPs and RCPs never restrict the management account, as on AWS
 * (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
 *
 * FullAWSAccess is attached to the root and to each account until something else is (a target
 * that has never had an SCP attached has it implicitly), and the last SCP of a target cannot be
 * detached, so that no target is ever left without one. The guardrails every request is decided
 * with are a snapshot, read again when older than a second or after a change made here (other
 * gateways see a change within that second, as AWS's own are eventually consistent).
 */
import { randomBytes } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { loadStoredPolicy, type LoadedPolicy } from '../iam/load.ts'
import { parsePolicyText } from '../iam/policy.ts'
import type { Clock } from '../clock.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { SystemValues } from '../meta/installation.ts'
import type { OrgAttachment, OrgPolicyRecord, OrgPolicyType, OrgStore } from '../meta/org.ts'

/** The tenant that is the organization's management account. */
export const MANAGEMENT_TENANT = 'admin'

export const FULL_AWS_ACCESS = 'p-FullAWSAccess'
const FULL_AWS_ACCESS_CONTENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
})
/** AWS's own policies: not stored, never changed or deleted. */
export const AWS_MANAGED: readonly OrgPolicyRecord[] = [
  {
    id: FULL_AWS_ACCESS,
    type: 'SERVICE_CONTROL_POLICY',
    name: 'FullAWSAccess',
    description: 'Allows access to every operation',
    content: FULL_AWS_ACCESS_CONTENT,
    createdAt: 0,
  },
]

const MANAGED_IDS = AWS_MANAGED.map((p) => p.id)

/** The most policies of one type on one target (Organizations' quota). */
export const MAX_POLICIES_PER_TARGET = 5
const SNAPSHOT_MS = 1000

export interface OrgIds {
  readonly organizationId: string
  readonly rootId: string
}

/** What the tenants look like to the organization. */
export interface Accounts {
  findTenant(name: string): Promise<TenantRecord | undefined>
  tenantById(id: string): Promise<TenantRecord | undefined>
  listTenants(): Promise<TenantRecord[]>
}

/** The guardrails at one moment: what the pipeline decides every request with. */
export class Guardrails {
  readonly management: string | undefined
  readonly ids: OrgIds
  private readonly scpsOf: ReadonlyMap<string, LoadedPolicy[]>
  private readonly rcpsOf: ReadonlyMap<string, LoadedPolicy[]>

  constructor(
    ids: OrgIds,
    management: string | undefined,
    policies: readonly OrgPolicyRecord[],
    attachments: readonly OrgAttachment[],
  ) {
    this.ids = ids
    this.management = management
    const byId = new Map([...AWS_MANAGED, ...policies].map((p) => [p.id, p]))
    const scps = new Map<string, LoadedPolicy[]>()
    const rcps = new Map<string, LoadedPolicy[]>()
    for (const a of attachments) {
      const p = byId.get(a.policyId)
      if (p === undefined) {
        // Attached, yet gone (a delete and an attach at once, or an edited database): whatever
        // it was, it denies, as a policy that cannot be loaded does.
        for (const into of [scps, rcps])
          into.set(a.targetId, [
            ...(into.get(a.targetId) ?? []),
            loadStoredPolicy('', into === scps ? 'scp' : 'rcp', `${a.policyId} (missing)`),
          ])
        continue
      }
      const into = p.type === 'SERVICE_CONTROL_POLICY' ? scps : rcps
      const kind = p.type === 'SERVICE_CONTROL_POLICY' ? 'scp' : 'rcp'
      const list = into.get(a.targetId) ?? []
      list.push(
        p.id === FULL_AWS_ACCESS
          ? Guardrails.full
          : loadStoredPolicy(p.content, kind, `${p.name} (${p.id})`),
      )
      into.set(a.targetId, list)
    }
    this.scpsOf = scps
    this.rcpsOf = rcps
  }

  private static full = loadStoredPolicy(FULL_AWS_ACCESS_CONTENT, 'scp', 'FullAWSAccess')

  /**
   * The SCP levels (root, then the account) that bound `account`'s principals; none for the
   * management account. A level that is FullAWSAccess alone allows everything and is left out
   * (the decision is the same, and its records do not name a policy that decided nothing).
   */
  scps(account: string): (readonly LoadedPolicy[])[] | undefined {
    if (account === this.management) return undefined
    const levels = [this.ids.rootId, account]
      .map((target) => this.scpsOf.get(target))
      .filter((l): l is LoadedPolicy[] => l !== undefined && !l.every((p) => p === Guardrails.full))
    return levels.length === 0 ? undefined : levels
  }

  /** The RCP levels that bound what is done to `account`'s resources; none for the management account. */
  rcps(account: string): (readonly LoadedPolicy[])[] | undefined {
    if (account === this.management) return undefined
    return [this.rcpsOf.get(this.ids.rootId) ?? [], this.rcpsOf.get(account) ?? []]
  }
}

export class Organization {
  private readonly store: OrgStore & SystemValues
  private readonly accounts: Accounts
  private readonly clock: Clock
  private cached: { at: number; value: Promise<Guardrails> } | undefined
  private kept: Promise<OrgIds> | undefined

  constructor(store: OrgStore & SystemValues, accounts: Accounts, clock: Clock) {
    this.store = store
    this.accounts = accounts
    this.clock = clock
  }

  /** The organization's and its root's ids, made once for the installation. */
  ids(): Promise<OrgIds> {
    // A failed read is not kept: the next call reads again.
    this.kept ??= this.keepIds().catch((e: unknown) => {
      this.kept = undefined
      throw e
    })
    return this.kept
  }

  private async keepIds(): Promise<OrgIds> {
    const made = JSON.stringify({
      organizationId: `o-${randomBytes(5).toString('hex')}`,
      rootId: `r-${randomBytes(2).toString('hex')}`,
    })
    const kept = await this.store.keepSystemValue('organization', Buffer.from(made))
    return JSON.parse(kept.toString('utf8')) as OrgIds
  }

  async management(): Promise<TenantRecord | undefined> {
    return this.accounts.findTenant(MANAGEMENT_TENANT)
  }

  /** The guardrails now (at most a second old, or fresh after a change made here). */
  guardrails(): Promise<Guardrails> {
    const now = this.clock.now()
    const c = this.cached
    if (c !== undefined && now - c.at < SNAPSHOT_MS && now >= c.at) return c.value
    const value = (async () => {
      const [ids, management, policies, attachments] = await Promise.all([
        this.ids(),
        this.management(),
        this.store.listOrgPolicies(),
        this.store.listOrgAttachments(),
      ])
      return new Guardrails(ids, management?.id, policies, attachments)
    })()
    // A failed read is not kept: the next request reads again (and is refused meanwhile).
    value.catch(() => {
      if (this.cached?.value === value) this.cached = undefined
    })
    this.cached = { at: now, value }
    return value
  }

  private changed(): void {
    this.cached = undefined
  }

  /** Every policy of a type, AWS's own first. */
  async listPolicies(type: OrgPolicyType): Promise<OrgPolicyRecord[]> {
    const stored = (await this.store.listOrgPolicies()).filter((p) => p.type === type)
    return [...AWS_MANAGED.filter((p) => p.type === type), ...stored]
  }

  async policy(id: string): Promise<OrgPolicyRecord> {
    const p = AWS_MANAGED.find((x) => x.id === id) ?? (await this.store.getOrgPolicy(id))
    if (p === undefined) throw policyNotFound(id)
    return p
  }

  async createPolicy(
    type: OrgPolicyType,
    name: string,
    description: string,
    content: string,
  ): Promise<OrgPolicyRecord> {
    checkContent(type, content)
    if (AWS_MANAGED.some((p) => p.name === name && p.type === type))
      throw new StrongroomError(
        'ENTITY_EXISTS',
        `A policy with the same name already exists: ${name}`,
      )
    const p: OrgPolicyRecord = {
      id: `p-${randomBytes(6).toString('hex')}`,
      type,
      name,
      description,
      content,
      createdAt: this.clock.now(),
    }
    await this.store.createOrgPolicy(p)
    this.changed()
    return p
  }

  async updatePolicy(
    id: string,
    change: { name?: string; description?: string; content?: string },
  ): Promise<OrgPolicyRecord> {
    const p = await this.policy(id)
    if (AWS_MANAGED.includes(p)) throw awsManaged(p)
    const next = { ...p, ...change }
    if (AWS_MANAGED.some((x) => x.name === next.name && x.type === p.type))
      throw new StrongroomError(
        'ENTITY_EXISTS',
        `A policy with the same name already exists: ${next.name}`,
      )
    if (change.content !== undefined) checkContent(p.type, change.content)
    if (!(await this.store.updateOrgPolicy(next))) throw policyNotFound(id)
    this.changed()
    return next
  }

  async deletePolicy(id: string): Promise<void> {
    const p = await this.policy(id)
    if (AWS_MANAGED.includes(p)) throw awsManaged(p)
    const r = await this.store.deleteOrgPolicy(id)
    if (r === 'missing') throw policyNotFound(id)
    if (r === 'attached')
      throw new StrongroomError(
        'ORG_POLICY_IN_USE',
        `The policy ${id} is attached to one or more targets: detach it from each first`,
      )
    this.changed()
  }

  /** The root's id, or an account's (a tenant's id); TargetNotFoundException otherwise. */
  async target(id: string): Promise<{ id: string; kind: 'ROOT' | 'ACCOUNT'; name: string }> {
    const ids = await this.ids()
    if (id === ids.rootId) return { id, kind: 'ROOT', name: 'Root' }
    const t = /^\d{12}$/.test(id) ? await this.accounts.tenantById(id) : undefined
    if (t === undefined)
      throw new StrongroomError(
        'ORG_TARGET_NOT_FOUND',
        `We can't find a root or account with the ID ${id.slice(0, 100)}.`,
      )
    return { id, kind: 'ACCOUNT', name: t.name }
  }

  /** The policies of a type attached to a target: FullAWSAccess when it never had an SCP. */
  async policiesFor(targetId: string, type: OrgPolicyType): Promise<OrgPolicyRecord[]> {
    return (await this.attached(targetId, type)).policies
  }

  /** The policies of a type on a target, and whether they are FullAWSAccess held implicitly. */
  private async attached(
    targetId: string,
    type: OrgPolicyType,
  ): Promise<{ policies: OrgPolicyRecord[]; implicit: boolean }> {
    const attached = (await this.store.listOrgAttachments()).filter((a) => a.targetId === targetId)
    const all = await this.listPolicies(type)
    if (type === 'SERVICE_CONTROL_POLICY' && !attached.some((a) => isScp(all, a.policyId)))
      return { policies: AWS_MANAGED.filter((p) => p.id === FULL_AWS_ACCESS), implicit: true }
    return {
      policies: all.filter((p) => attached.some((a) => a.policyId === p.id)),
      implicit: false,
    }
  }

  /** The targets a policy is attached to (FullAWSAccess: every target that never had an SCP too). */
  async targetsFor(policyId: string): Promise<string[]> {
    const p = await this.policy(policyId)
    const attachments = await this.store.listOrgAttachments()
    const explicit = attachments.filter((a) => a.policyId === p.id).map((a) => a.targetId)
    if (p.id !== FULL_AWS_ACCESS) return explicit
    const scps = await this.listPolicies('SERVICE_CONTROL_POLICY')
    const touched = new Set(
      attachments.filter((a) => isScp(scps, a.policyId)).map((a) => a.targetId),
    )
    const ids = await this.ids()
    const all = [ids.rootId, ...(await this.accounts.listTenants()).map((t) => t.id)]
    return [...new Set([...explicit, ...all.filter((t) => !touched.has(t))])]
  }

  async attach(policyId: string, targetId: string): Promise<void> {
    const p = await this.policy(policyId)
    await this.target(targetId)
    const { policies: now, implicit } = await this.attached(targetId, p.type)
    if (now.some((x) => x.id === p.id))
      throw new StrongroomError(
        'ORG_DUPLICATE_ATTACHMENT',
        `The policy ${p.id} is already attached to ${targetId}`,
      )
    if (now.length >= MAX_POLICIES_PER_TARGET)
      throw new StrongroomError(
        'ORG_CONSTRAINT_VIOLATION',
        `${targetId} already has ${String(MAX_POLICIES_PER_TARGET)} policies of type ${p.type}, the most a target may have`,
      )
    // A target that had FullAWSAccess implicitly keeps it, now as a row of its own.
    const rows = implicit ? [FULL_AWS_ACCESS, p.id] : [p.id]
    const r = await this.store.attachOrgPolicies(targetId, rows, MANAGED_IDS)
    if (r === 'missing') throw policyNotFound(p.id)
    if (r === 'duplicate')
      throw new StrongroomError(
        'ORG_DUPLICATE_ATTACHMENT',
        `The policy ${p.id} is already attached to ${targetId}`,
      )
    this.changed()
  }

  async detach(policyId: string, targetId: string): Promise<void> {
    const p = await this.policy(policyId)
    await this.target(targetId)
    const now = await this.policiesFor(targetId, p.type)
    if (!now.some((x) => x.id === p.id))
      throw new StrongroomError(
        'ORG_POLICY_NOT_ATTACHED',
        `The policy ${p.id} is not attached to ${targetId}`,
      )
    const last = new StrongroomError(
      'ORG_CONSTRAINT_VIOLATION',
      `You cannot remove the last service control policy from ${targetId}: attach another first`,
    )
    const scp = p.type === 'SERVICE_CONTROL_POLICY'
    if (scp && now.length === 1) throw last
    // Decided again with the delete: two detaches at once cannot both take a target's last two.
    const r = await this.store.detachOrgPolicy(
      targetId,
      p.id,
      scp ? { type: 'SERVICE_CONTROL_POLICY', awsManaged: MANAGED_IDS } : undefined,
    )
    if (r === 'last') throw last
    if (r === 'missing')
      throw new StrongroomError(
        'ORG_POLICY_NOT_ATTACHED',
        `The policy ${p.id} is not attached to ${targetId}`,
      )
    this.changed()
  }
}

const isScp = (scps: readonly OrgPolicyRecord[], id: string) =>
  scps.some((p) => p.id === id && p.type === 'SERVICE_CONTROL_POLICY')

function checkContent(type: OrgPolicyType, content: string): void {
  const kind = type === 'SERVICE_CONTROL_POLICY' ? 'scp' : 'rcp'
  const r = parsePolicyText(content, kind, 'the policy')
  if (r.policy === undefined) {
    const e = r.errors[0]
    throw new StrongroomError(
      'MALFORMED_POLICY',
      e === undefined
        ? 'The provided policy document does not meet the requirements of the specified policy type.'
        : `The provided policy document does not meet the requirements of the specified policy type: ${e.message} (line ${String(e.line)}, column ${String(e.column)}, ${e.path})`,
    )
  }
}

function policyNotFound(id: string): StrongroomError {
  return new StrongroomError(
    'ORG_POLICY_NOT_FOUND',
    `We can't find a policy with the PolicyId ${id.slice(0, 130)}.`,
  )
}

function awsManaged(p: OrgPolicyRecord): StrongroomError {
  return new StrongroomError(
    'ACCESS_DENIED',
    `${p.name} is managed by AWS: it cannot be changed or deleted`,
  )
}
