/**
 * PrincipalStore: what authorization reads about a caller, read at one instant. A request's
 * caller needs its record, its identity policies (inline, attached, through its groups), its
 * permissions boundary and its tags; read one by one they could come from two different moments
 * (a policy detached between two reads), and each read is a round trip of its own.
 */
import type { GroupPolicyDocument } from './groups.ts'
import type { TagRecord } from './iam.ts'
import type { AccessKeyRecord, RoleRecord, UserRecord } from './identity.ts'
import type { ManagedPolicyRecord } from './policies.ts'

/** A managed policy with its default version's document. */
export interface ManagedDocument {
  readonly policy: ManagedPolicyRecord
  readonly document: string
}

/** What authorization needs of one user or role. */
export interface PrincipalState<R extends UserRecord | RoleRecord = UserRecord | RoleRecord> {
  readonly record: R
  /** Its inline policies, by name. */
  readonly inline: readonly { readonly name: string; readonly document: string }[]
  /** The managed policies attached to it, by name. */
  readonly attached: readonly ManagedDocument[]
  /** What reaches a user through its groups (GroupStore.groupPolicyDocuments); none for a role. */
  readonly groups: readonly GroupPolicyDocument[]
  readonly boundary: ManagedDocument | undefined
  readonly tags: readonly TagRecord[]
  /** The managed session policies asked for by name, those that exist, in the order asked. */
  readonly sessionPolicies: readonly ManagedDocument[]
}

export interface PrincipalStore {
  /**
   * The user's state, with the managed policies named in `sessionPolicies` (a session's);
   * undefined when there is no such user (names match regardless of case).
   */
  userState(
    tenantId: string,
    name: string,
    sessionPolicies?: readonly string[],
  ): Promise<PrincipalState<UserRecord> | undefined>
  /** The role's state, as userState; undefined when there is no such role. */
  roleState(
    tenantId: string,
    name: string,
    sessionPolicies?: readonly string[],
  ): Promise<PrincipalState<RoleRecord> | undefined>
  /**
   * The access key and, in the same instant, its user's state (undefined when the user is
   * gone); undefined when there is no such key.
   */
  accessKeyState(
    id: string,
  ): Promise<
    | { readonly key: AccessKeyRecord; readonly user: PrincipalState<UserRecord> | undefined }
    | undefined
  >
}
