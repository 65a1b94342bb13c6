/**
 * Revoking a role's sessions as AWS does it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html): an
 * inline policy named AWSRevokeOlderSessions that denies every action to sessions issued
 * before now (`aws:TokenIssueTime`). Role policies are read on every request, so it takes
 * effect at once on every gateway; sessions made afterwards are untouched.
 */
export const REVOKE_POLICY_NAME = 'AWSRevokeOlderSessions'

export function revokeOlderSessionsPolicy(now: number): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Deny',
        Action: ['*'],
        Resource: ['*'],
        Condition: { DateLessThan: { 'aws:TokenIssueTime': new Date(now).toISOString() } },
      },
    ],
  })
}
