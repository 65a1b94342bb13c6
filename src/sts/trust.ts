/**
 * Whether a role's trust policy lets its own account assume it: what `strongroom run` asks
 * before it hands the role to a job, since the operator acts for the account (as an
 * orchestrator's agent hands out only task roles that trust it). Decided by the IAM engine,
 * with the account's root as the caller and the trust policy as the resource policy
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html: a trust
 * policy naming the account delegates to it).
 */
import { authorize, type Decision } from '../iam/evaluate.ts'
import { loadStoredPolicy } from '../iam/load.ts'
import type { RoleRecord } from '../meta/identity.ts'
import { roleArn } from '../identity/roles.ts'

export function accountMayAssume(
  role: RoleRecord,
  sessionName: string,
  now: number,
): { decision: Decision; reason: string } {
  const r = authorize(
    {
      principal: `arn:aws:iam::${role.tenantId}:root`,
      principalAccount: role.tenantId,
      action: 'sts:AssumeRole',
      resource: roleArn(role.tenantId, role),
      resourceAccount: role.tenantId,
      context: {
        'aws:CurrentTime': new Date(now).toISOString(),
        'aws:EpochTime': String(Math.floor(now / 1000)),
        'aws:PrincipalAccount': role.tenantId,
        'aws:PrincipalArn': `arn:aws:iam::${role.tenantId}:root`,
        'sts:RoleSessionName': sessionName,
      },
    },
    {
      identity: [],
      resource: loadStoredPolicy(role.trustPolicy, 'trust', `trust policy of ${role.name}`),
    },
    { explain: true },
  )
  return { decision: r.decision, reason: r.trace?.decidedBy ?? r.decision }
}
