/** What a caller's authorization takes from its principal's state: its policies, by name. */
import type { PrincipalState } from '../meta/principals.ts'
import { policyArn } from './managed.ts'

/**
 * A principal's policies as a caller compiles them: its inline policies (by name), the default
 * version of each attached managed policy (by ARN), what reaches it through its groups (named so
 * that a trace tells them from its own), and its permissions boundary (by ARN).
 */
export function policyDocuments(state: PrincipalState): {
  readonly identity: { readonly name: string; readonly document: string }[]
  readonly boundary: { readonly name: string; readonly document: string } | undefined
} {
  const tenantId = state.record.tenantId
  const b = state.boundary
  return {
    identity: [
      ...state.inline.map((p) => ({ name: p.name, document: p.document })),
      ...state.attached.map((a) => ({ name: policyArn(tenantId, a.policy), document: a.document })),
      ...state.groups.map((g) => ({
        name:
          g.kind === 'inline'
            ? `group/${g.group}/${g.name}`
            : `arn:aws:iam::${tenantId}:policy${g.name}`,
        document: g.document,
      })),
    ],
    boundary: b && { name: policyArn(tenantId, b.policy), document: b.document },
  }
}
