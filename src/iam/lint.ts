/**
 * Least-privilege lint: warnings, never errors, for valid policies that grant
 * more than their author probably meant. Each warning names the statement.
 * Sources: IAM's security best practices
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html) and
 * the NotAction / NotResource / NotPrincipal element pages.
 */
import { globMatch } from './match.ts'
import type { Policy, Statement } from './policy.ts'

export interface Finding {
  readonly code: string
  readonly path: string
  readonly message: string
}

/**
 * Actions that let a principal raise its own privileges (each alone, or
 * iam:PassRole with a service that runs code as the passed role).
 */
export const ESCALATION_ACTIONS = [
  'iam:createpolicyversion',
  'iam:setdefaultpolicyversion',
  'iam:attachuserpolicy',
  'iam:attachgrouppolicy',
  'iam:attachrolepolicy',
  'iam:putuserpolicy',
  'iam:putgrouppolicy',
  'iam:putrolepolicy',
  'iam:addusertogroup',
  'iam:updateassumerolepolicy',
  'iam:createaccesskey',
  'iam:createloginprofile',
  'iam:updateloginprofile',
  'iam:putuserpermissionsboundary',
  'iam:deleteuserpermissionsboundary',
  'iam:putrolepermissionsboundary',
  'iam:deleterolepermissionsboundary',
] as const

/** Keys whose negated test inside an Allow usually means the author wanted a Deny. */
const NETWORK_KEYS = new Set([
  'aws:sourcevpce',
  'aws:sourcevpc',
  'aws:sourceip',
  'aws:vpcsourceip',
  'aws:principalorgid',
  'aws:securetransport',
])

function grants(s: Statement, action: string): boolean {
  if (s.action !== undefined) return s.action.patterns.some((p) => globMatch(p, action))
  return s.notAction !== undefined && !s.notAction.patterns.some((p) => globMatch(p, action))
}

export function lintPolicy(policy: Policy, raw: string): Finding[] {
  const out: Finding[] = []
  const warn = (s: Statement, element: string | undefined, code: string, message: string) =>
    out.push({ code, path: element === undefined ? s.path : `${s.path}.${element}`, message })
  if (raw.includes('${') && policy.version !== '2012-10-17') {
    out.push({
      code: 'VariablesWithoutVersion',
      path: '$',
      message:
        '`${…}` is literal text here: policy variables are substituted only under "Version": "2012-10-17"',
    })
  }
  const identityLike =
    policy.kind === 'identity' || policy.kind === 'boundary' || policy.kind === 'session'
  for (const s of policy.statements) {
    if (s.effect !== 'Allow') continue
    if (s.notAction !== undefined)
      warn(
        s,
        'NotAction',
        'AllowWithNotAction',
        'Allow with NotAction grants every other action, including ones added to AWS later; list the actions instead',
      )
    if (s.notResource !== undefined)
      warn(
        s,
        'NotResource',
        'AllowWithNotResource',
        'Allow with NotResource grants every other resource; list the resources instead',
      )
    if (s.notPrincipal !== undefined)
      warn(
        s,
        'NotPrincipal',
        'AllowWithNotPrincipal',
        'Allow with NotPrincipal grants everyone else, anonymous callers included',
      )
    if (s.action?.raw.includes('*') === true)
      warn(s, 'Action', 'WildcardAction', 'Action "*" grants every action of every service')
    else {
      const services = s.action?.raw.filter((a) => /^[^:]+:\*$/.test(a)) ?? []
      if (services.length > 0)
        warn(
          s,
          'Action',
          'WildcardAction',
          `${services.map((a) => `\`${a}\``).join(', ')} grants every action of the service; name the actions needed`,
        )
    }
    if (
      identityLike &&
      s.resource?.some((t) => t.source === '*') === true &&
      s.action?.raw.some((a) => !/:(Get|List|Describe)/i.test(a)) === true
    ) {
      warn(
        s,
        'Resource',
        'WildcardResource',
        'Resource "*" with actions that change things: scope the resources',
      )
    }
    if (
      grants(s, 'iam:passrole') &&
      (s.resource === undefined ||
        s.resource.some((t) => t.source === '*' || t.source.endsWith(':role/*')))
    ) {
      warn(
        s,
        'Action',
        'PassRoleToAnyRole',
        'iam:PassRole on every role lets the holder hand any role, admin ones included, to a service it controls',
      )
    }
    const escalations = ESCALATION_ACTIONS.filter((a) => grants(s, a))
    if (escalations.length > 0 && identityLike) {
      warn(
        s,
        'Action',
        'PrivilegeEscalation',
        `grants ${escalations.slice(0, 4).join(', ')}${escalations.length > 4 ? ` and ${escalations.length - 4} more` : ''}: each lets a principal raise its own permissions`,
      )
    }
    const isPublic = s.principal?.wildcard === true
    if (isPublic && s.conditions.length === 0)
      warn(
        s,
        'Principal',
        'PublicPrincipal',
        'Principal "*" without a Condition grants access to anyone, anonymous callers included',
      )
    for (const c of s.conditions) {
      if (c.operator.base.negated && c.operator.set === undefined && NETWORK_KEYS.has(c.lkey)) {
        warn(
          s,
          'Condition',
          'InvertedCondition',
          `an Allow with ${c.operator.name} on \`${c.key}\` grants every request that does not come from there, including requests without the key; did you mean a Deny?`,
        )
      }
    }
  }
  return out
}
