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
   * Attaches the policies to the target in one transaction, each one of `awsManaged` or a
   * stored policy (checked in that transaction, so that a policy deleted meanwhile is never
   * attached): 'duplicate' or 'missing' (nothing changes) otherwise.
   */
  attachOrgPolicies(
    targetId: string,
    policyIds: readonly string[],
    awsManaged: readonly string[],
  ): Promise<'attached' | 'duplicate' | 'missing'>
  /**
   * Detaches a policy from the target. With `keepOneOf` (the SCPs: the stored policies of that
   * type and the AWS-managed ids given), the last of them on the target is kept: 'last', decided
   * in the same transaction as the delete, so that two detaches at once cannot both pass.
   */
  detachOrgPolicy(
    targetId: string,
    policyId: string,
    keepOneOf?: { readonly type: OrgPolicyType; readonly awsManaged: readonly string[] },
  ): Promise<'detached' | 'missing' | 'last'>
}
