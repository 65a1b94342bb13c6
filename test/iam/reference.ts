/**
 * A plain reference interpreter of IAM policies, for property tests only: it
 * works on the raw JSON, matches wildcards with regular expressions, and
 * re-derives every rule from AWS's documentation in the most direct form,
 * with no compilation, no index and no caching. The compiled engine in
 * src/iam must decide exactly as this does. It covers the subset that the
 * property tests generate (string, numeric, IP, Bool and Null operators,
 * IfExists, set qualifiers, policy variables in Resource and string values).
 */
type Json = string | number | boolean | null | Json[] | { [k: string]: Json }
type Obj = { [k: string]: Json }
type Ctx = Record<string, string[]>

const list = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])
const str = (v: Json): string => (typeof v === 'string' ? v : JSON.stringify(v))
const esc = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&')
const wild = (pattern: string, value: string, flags = '') =>
  new RegExp(
    `^${esc(pattern).replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]')}$`,
    flags,
  ).test(value)

function substitute(v: string, ctx: Ctx, on: boolean): string | undefined {
  if (!on) return v
  const state = { missing: false }
  const out = v.replace(/\$\{([^}]*)\}/g, (_m, body: string) => {
    if (body === '*') return '\uE001'
    if (body === '?') return '\uE002'
    if (body === '$') return '$'
    const [key = '', dflt] = body.split(/\s*,\s*/)
    const got = ctx[key.toLowerCase()]
    if (got?.length === 1) return (got[0] ?? '').replace(/\*/g, '\uE001').replace(/\?/g, '\uE002')
    if (dflt !== undefined) return dflt.replace(/^'|'$/g, '')
    state.missing = true
    return ''
  })
  return state.missing ? undefined : out
}

/** Wildcards, with \uE001 and \uE002 standing for literal * and ?. */
function wildLit(pattern: string, value: string): boolean {
  const re = esc(pattern)
    .replace(/\*/g, '[\\s\\S]*')
    .replace(/\?/g, '[\\s\\S]')
    .replace(/\uE001/g, '\\*')
    .replace(/\uE002/g, '\\?')
  return new RegExp(`^${re}$`).test(value)
}

function arnLike(pattern: string, value: string): boolean {
  const ps = pattern.split(':')
  if (ps.length === 1) return wildLit(pattern, value)
  if (ps.length < 6) return false
  const vs = value.split(':')
  if (vs.length < 6) return false
  const p6 = [...ps.slice(0, 5), ps.slice(5).join(':')]
  const v6 = [...vs.slice(0, 5), vs.slice(5).join(':')]
  return p6.every((p, i) => wildLit(p, v6[i] ?? ''))
}

function ipIn(cidr: string, ip: string): boolean {
  const toNum = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0)
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false
  const [base = '', bits = '32'] = cidr.split('/')
  const size = 2 ** (32 - Number(bits))
  return Math.floor(toNum(base) / size) === Math.floor(toNum(ip) / size)
}

function conditionHolds(
  opName: string,
  key: string,
  policyVals: string[],
  ctx: Ctx,
  subst: boolean,
): boolean {
  let op = opName
  let set = ''
  if (op.startsWith('ForAnyValue:')) [set, op] = ['any', op.slice(12)]
  if (op.startsWith('ForAllValues:')) [set, op] = ['all', op.slice(13)]
  const ifExists = op.endsWith('IfExists')
  if (ifExists) op = op.slice(0, -8)
  const got = ctx[key.toLowerCase()]
  if (op === 'Null')
    return (got === undefined || got.length === 0) === (policyVals[0]?.toLowerCase() === 'true')
  const negated = /Not/.test(op)
  const positive = op.replace('Not', '')
  const one = (pv: string, v: string): boolean => {
    switch (positive) {
      case 'StringEquals': {
        const s = substitute(pv, ctx, subst)
        return s !== undefined && s.replace(/\uE001/g, '*').replace(/\uE002/g, '?') === v
      }
      case 'StringLike': {
        const s = substitute(pv, ctx, subst)
        return s !== undefined && wildLit(s, v)
      }
      case 'NumericLessThan':
        return /^-?\d+(\.\d+)?$/.test(v) && Number(v) < Number(pv)
      case 'NumericEquals':
        return /^-?\d+(\.\d+)?$/.test(v) && Number(v) === Number(pv)
      case 'IpAddress':
        return ipIn(pv, v)
      case 'Bool':
        return pv.toLowerCase() === v.toLowerCase()
      default:
        throw new Error(`reference: unsupported operator ${op}`)
    }
  }
  const anyPv = (v: string) => policyVals.some((pv) => one(pv, v))
  if (got === undefined || (set !== '' && got.length === 0))
    return ifExists || set === 'all' || (set === '' && negated)
  if (set === 'any') return got.some((v) => anyPv(v) !== negated)
  if (set === 'all') return got.every((v) => anyPv(v) !== negated)
  return got.some(anyPv) !== negated
}

interface Principal {
  arn: string
  account: string
  session: boolean
  roleArn?: string
  chain: string[]
}

function principalOf(arn: string, account: string): Principal {
  const root = `arn:aws:iam::${account}:root`
  const m = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn)
  if (m !== null) {
    const roleArn = `arn:aws:iam::${m[1] ?? ''}:role/${m[2] ?? ''}`
    return { arn, account, session: true, roleArn, chain: [arn, roleArn, root] }
  }
  return { arn, account, session: false, chain: [arn, root] }
}

type Grant = 0 | 1 | 2 | 3 // none, account, role, direct

function grantOf(pr: Json, p: Principal): Grant {
  if (pr === '*') return 3
  const aws = list((pr as Obj).AWS).map(str)
  if (aws.includes('*')) return 3
  if (aws.includes(p.arn)) return 3
  if (p.session && aws.includes(p.roleArn ?? '')) return 2
  if (aws.includes(p.account) || aws.includes(`arn:aws:iam::${p.account}:root`)) return 1
  return 0
}

interface Outcome {
  allow: boolean
  deny: boolean
  grant: Grant
}

function evalPolicy(policy: Obj, req: Req, ctx: Ctx, p: Principal): Outcome {
  const subst = policy.Version === '2012-10-17'
  const out: Outcome = { allow: false, deny: false, grant: 0 }
  for (const st of list(policy.Statement) as Obj[]) {
    const action = req.action
    const actOk =
      st.Action !== undefined
        ? list(st.Action).some((a) => wild(str(a), action, 'i'))
        : !list(st.NotAction).some((a) => wild(str(a), action, 'i'))
    if (!actOk) continue
    const resMatch = (r: Json) => {
      const s = substitute(str(r), ctx, subst)
      return s !== undefined && arnLike(s, req.resource)
    }
    const resOk =
      st.Resource !== undefined
        ? list(st.Resource).some(resMatch)
        : st.NotResource !== undefined
          ? !list(st.NotResource).some(resMatch)
          : true
    if (!resOk) continue
    let grant: Grant = 3
    if (st.Principal !== undefined) {
      grant = grantOf(st.Principal, p)
      if (grant === 0) continue
    } else if (st.NotPrincipal !== undefined) {
      const np = st.NotPrincipal
      const aws = np === '*' ? ['*'] : list((np as Obj).AWS).map(str)
      const named = p.chain.map(
        (id) =>
          aws.includes('*') ||
          aws.includes(id) ||
          (id.endsWith(':root') && aws.includes(id.split(':')[4] ?? '')),
      )
      const applies = st.Effect === 'Deny' ? !named.every(Boolean) : !named.some(Boolean)
      if (!applies) continue
    }
    const cond = (st.Condition ?? {}) as Obj
    const condOk = Object.entries(cond).every(([op, block]) =>
      Object.entries(block as Obj).every(([k, vals]) =>
        conditionHolds(op, k, list(vals).map(str), ctx, subst),
      ),
    )
    if (!condOk) continue
    if (st.Effect === 'Deny') out.deny = true
    else {
      out.allow = true
      out.grant = Math.max(out.grant, grant) as Grant
    }
  }
  return out
}

export interface Req {
  principal: string
  principalAccount: string
  action: string
  resource: string
  resourceAccount: string
  context: Record<string, string | string[]>
}

export interface RefInput {
  identityPolicies: Obj[]
  resourcePolicy?: Obj
  scps?: Obj[][]
  permissionBoundary?: Obj
  sessionPolicy?: Obj
  request: Req
}

export function referenceDecide(input: RefInput): 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' {
  const req = input.request
  const p = principalOf(req.principal, req.principalAccount)
  const ctx: Ctx = {}
  for (const [k, v] of Object.entries(req.context))
    ctx[k.toLowerCase()] = typeof v === 'string' ? [v] : v
  ctx['aws:principalarn'] ??= [p.roleArn ?? p.arn]
  ctx['aws:principalaccount'] ??= [p.account]
  if (/:user\//.test(p.arn)) ctx['aws:username'] ??= [p.arn.slice(p.arn.lastIndexOf('/') + 1)]

  const identity = input.identityPolicies.map((x) => evalPolicy(x, req, ctx, p))
  const resource =
    input.resourcePolicy === undefined ? undefined : evalPolicy(input.resourcePolicy, req, ctx, p)
  const scps = (input.scps ?? []).map((level) => level.map((x) => evalPolicy(x, req, ctx, p)))
  const boundary =
    input.permissionBoundary === undefined
      ? undefined
      : evalPolicy(input.permissionBoundary, req, ctx, p)
  const session =
    input.sessionPolicy === undefined ? undefined : evalPolicy(input.sessionPolicy, req, ctx, p)
  const all = [...identity, ...scps.flat(), resource, boundary, session].filter(
    (x): x is Outcome => x !== undefined,
  )
  if (all.some((o) => o.deny)) return 'ExplicitDeny'
  if (input.scps !== undefined && scps.some((level) => !level.some((o) => o.allow)))
    return 'ImplicitDeny'
  const boundaryOk = boundary === undefined || boundary.allow
  const sessionOk = session === undefined || session.allow
  const grant = resource?.grant ?? 0
  const same = req.principalAccount === req.resourceAccount
  if (same && grant === 3) return 'Allow'
  if (same && grant === 2 && boundaryOk && sessionOk) return 'Allow'
  const idOk = identity.some((o) => o.allow) && boundaryOk && sessionOk
  if (same) return idOk ? 'Allow' : 'ImplicitDeny'
  return idOk && grant > 0 ? 'Allow' : 'ImplicitDeny'
}
