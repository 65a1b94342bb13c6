/**
 * OrgStore: the organization's guardrails, as AWS Organizations keeps them: service control
 * policies (SCPs) and resource control policies (RCPs) made by the management account, and
 * which targets (the root, an account) each is attached to. The AWS-managed FullAWSAccess and
 * RCPFullAWSAccess are not stored as policies; FullAWSAccess's attachments are rows like any.
 */

export type OrgPolicyType = 'SERVICE_CONTROL_POLICY' | 'RESOURCE_CONTROL_POLICY'

export interface OrgPolicyRecord {
  /** p- and 8 to 128 lowercase letters or digits. */
  readonly id: string
  readonly type: OrgPolicyType
  readonly name: string
  readonly description: string
  /** The policy document, as given (checked before it is stored). */
  readonly content: string
  readonly createdAt: number
}

export interface OrgAttachment {
  readonly policyId: string
  /** The root's id (r-...) or an account's (a tenant's id). */
  readonly targetId: string
}

export interface OrgStore {
  listOrgPolicies(): Promise<OrgPolicyRecord[]>
  getOrgPolicy(id: string): Promise<OrgPolicyRecord | undefined>
  /** ENTITY_EXISTS when a policy of this type has the name. */
  createOrgPolicy(p: OrgPolicyRecord): Promise<void>
  /** Replaces name, description and content; false when there is no such policy. ENTITY_EXISTS on a name clash. */
  updateOrgPolicy(p: OrgPolicyRecord): Promise<boolean>
  /** Removes a policy attached nowhere: 'attached' (nothing changes) while any target has it. */
  deleteOrgPolicy(id: string): Promise<'deleted' | 'missing' | 'attached'>
  /** Every attachment, by target then policy. */
  listOrgAttachments(): Promise<OrgAttachment[]>
  /**
   * Attaches the policies to the target in one transaction; false (nothing changes) when one
   * of them is attached to it already.
   */
  attachOrgPolicies(targetId: string, policyIds: readonly string[]): Promise<boolean>
  /** False when the policy is not attached to the target. */
  detachOrgPolicy(targetId: string, policyId: string): Promise<boolean>
}
