/**
 * Properties of the IAM engine over random policies and requests:
 * - the compiled, indexed engine decides exactly as the plain reference interpreter;
 * - adding a Deny statement never turns a denial into an Allow;
 * - adding an Allow statement never removes an Allow.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { referenceDecide, type RefInput } from '../../test/iam/reference.ts'
import type { JsonValue } from './json.ts'
import { readSimulation, simulate } from './simulate.ts'

const A = '111122223333'
const B = '444455556666'

const action = fc.constantFrom(
  's3:GetObject',
  's3:*',
  '*',
  's3:PutObject',
  's3:ListBucket',
  's3:PutObject',
  's3:ListBucket',
  's3:*',
  's3:Get*',
  '*',
  'S3:GETOBJECT',
  's3:?etObject',
  'kms:Decrypt',
)
const resource = fc.constantFrom(
  '*',
  '*',
  'arn:aws:s3:::ml/*',
  'arn:aws:s3:::ml/*',
  'arn:aws:s3:::ml/models/*',
  'arn:aws:s3:::ml/home/${aws:username}/*',
  'arn:aws:s3:::other/*',
  'arn:aws:s3:::ml/models/a?.bin',
  "arn:aws:s3:::ml/teams/${aws:PrincipalTag/team, 'shared'}/*",
  'arn:aws:s3:::*/models/*',
  'arn:aws:s3:::ml/what${?}',
)
const condition = fc.constantFrom<Record<string, Record<string, JsonValue>>>(
  { StringEquals: { 'aws:PrincipalTag/team': 'ml' } },
  { StringEquals: { 'aws:PrincipalTag/team': ['ml', 'finance'] } },
  { StringEquals: { 'aws:PrincipalTag/team': '${aws:username}' } },
  { StringNotEquals: { 'aws:PrincipalTag/team': 'ml' } },
  { StringLike: { 'aws:PrincipalTag/team': 'm*' } },
  { StringEqualsIfExists: { 'aws:PrincipalTag/team': 'ml' } },
  { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } },
  { NumericLessThanIfExists: { 'aws:MultiFactorAuthAge': 3600 } },
  { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
  { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.0.2.7'] } },
  { Null: { 'aws:PrincipalTag/team': 'true' } },
  { Null: { 'aws:SourceIp': 'false' } },
  { BoolIfExists: { 'aws:SecureTransport': 'true' } },
  { Bool: { 'aws:SecureTransport': false } },
  { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team', 'owner'] } },
  { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'owner'] } },
  { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['team'] } },
  { 'ForAllValues:StringLike': { 'aws:TagKeys': ['t*'] } },
  { StringEquals: { 'aws:PrincipalTag/team': 'ml' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
)
const principalEl = fc.constantFrom<JsonValue>(
  '*',
  { AWS: `arn:aws:iam::${A}:user/alice` },
  { AWS: A },
  { AWS: `arn:aws:iam::${A}:root` },
  { AWS: `arn:aws:iam::${A}:role/app-role` },
  { AWS: `arn:aws:sts::${A}:assumed-role/app-role/s1` },
  { AWS: [`arn:aws:iam::${B}:user/carol`, `arn:aws:iam::${A}:user/bob`] },
  { AWS: `arn:aws:iam::${B}:root` },
)

function statement(withPrincipal: boolean) {
  return fc
    .record(
      {
        Effect: fc.constantFrom('Allow', 'Allow', 'Allow', 'Allow', 'Deny'),
        act: fc.tuple(fc.boolean(), fc.array(action, { minLength: 1, maxLength: 3 })),
        res: fc.tuple(
          fc.integer({ min: 0, max: 7 }),
          fc.array(resource, { minLength: 1, maxLength: 2 }),
        ),
        cond: fc.option(condition, { nil: undefined, freq: 2 }),
        pr: fc.tuple(fc.integer({ min: 0, max: 5 }), principalEl),
      },
      { requiredKeys: ['Effect', 'act', 'res', 'pr'] },
    )
    .map((r) => {
      const st: Record<string, JsonValue> = { Effect: r.Effect }
      st[r.act[0] ? 'Action' : 'NotAction'] =
        r.act[1].length === 1 ? (r.act[1][0] ?? '*') : r.act[1]
      st[r.res[0] === 0 ? 'NotResource' : 'Resource'] = r.res[1]
      if (r.cond !== undefined) st.Condition = r.cond
      if (withPrincipal)
        st[r.pr[0] === 0 ? 'NotPrincipal' : 'Principal'] =
          r.pr[0] === 0 && r.pr[1] === '*' ? { AWS: `arn:aws:iam::${A}:user/bob` } : r.pr[1]
      return st
    })
}

const policy = (withPrincipal = false) =>
  fc.record({
    Version: fc.constantFrom('2012-10-17', '2012-10-17', '2008-10-17'),
    Statement: fc.array(statement(withPrincipal), { minLength: 1, maxLength: 3 }),
  })

const request = fc.record({
  principal: fc.constantFrom(
    `arn:aws:iam::${A}:user/alice`,
    `arn:aws:sts::${A}:assumed-role/app-role/s1`,
    `arn:aws:sts::${A}:assumed-role/app-role/s2`,
    `arn:aws:iam::${B}:user/carol`,
  ),
  action: fc.constantFrom('s3:GetObject', 's3:PutObject', 's3:ListBucket'),
  resource: fc.constantFrom(
    'arn:aws:s3:::ml/models/a1.bin',
    'arn:aws:s3:::ml/home/alice/x',
    'arn:aws:s3:::ml/teams/shared/y',
    'arn:aws:s3:::ml/teams/ml/z',
    'arn:aws:s3:::other/models/k',
    'arn:aws:s3:::ml/what?',
  ),
  team: fc.option(fc.constantFrom('ml', 'finance', 'alice', '*'), { nil: undefined }),
  mfa: fc.option(fc.constantFrom('60', '7200', 'x'), { nil: undefined }),
  ip: fc.option(fc.constantFrom('10.1.2.3', '192.0.2.7', '203.0.113.9'), { nil: undefined }),
  tls: fc.option(fc.constantFrom('true', 'false'), { nil: undefined }),
  tags: fc.option(fc.subarray(['team', 'owner', 'env']), { nil: undefined }),
})

const input = fc
  .record(
    {
      identityPolicies: fc.array(policy(), { maxLength: 3 }),
      resourcePolicy: policy(true),
      scps: fc.array(fc.array(policy(), { minLength: 1, maxLength: 2 }), {
        minLength: 1,
        maxLength: 2,
      }),
      layers: fc.record({
        scp: fc.nat(3),
        boundary: fc.nat(2),
        session: fc.nat(2),
        resource: fc.nat(2),
      }),
      permissionBoundary: policy(),
      sessionPolicy: policy(),
      req: request,
    },
    { requiredKeys: ['identityPolicies', 'req', 'layers'] },
  )
  .map((r): RefInput => {
    const context: Record<string, string | string[]> = {}
    if (r.req.team !== undefined) context['aws:PrincipalTag/team'] = r.req.team
    if (r.req.mfa !== undefined) context['aws:MultiFactorAuthAge'] = r.req.mfa
    if (r.req.ip !== undefined) context['aws:SourceIp'] = r.req.ip
    if (r.req.tls !== undefined) context['aws:SecureTransport'] = r.req.tls
    if (r.req.tags !== undefined) context['aws:TagKeys'] = r.req.tags
    const principalAccount = r.req.principal.includes(B) ? B : A
    const out: RefInput = {
      identityPolicies: r.identityPolicies,
      request: {
        principal: r.req.principal,
        principalAccount,
        action: r.req.action,
        resource: r.req.resource,
        resourceAccount: A,
        context,
      },
    }
    // Each optional layer is present in a minority of cases, so that Allow decisions stay common.
    if (r.resourcePolicy !== undefined && r.layers.resource > 0)
      out.resourcePolicy = r.resourcePolicy
    if (r.scps !== undefined && r.layers.scp === 0) out.scps = r.scps
    if (r.permissionBoundary !== undefined && r.layers.boundary === 0)
      out.permissionBoundary = r.permissionBoundary
    if (
      r.sessionPolicy !== undefined &&
      r.layers.session === 0 &&
      r.req.principal.includes(':assumed-role/')
    )
      out.sessionPolicy = r.sessionPolicy
    return out
  })

function engine(doc: RefInput): string {
  const parsed = readSimulation(JSON.parse(JSON.stringify(doc)) as JsonValue)
  if ('issues' in parsed)
    throw new Error(`generated an invalid document: ${JSON.stringify(parsed.issues)}`)
  const r = simulate(parsed, false)
  if (!('decision' in r)) throw new Error('no decision')
  return r.decision
}

const RUNS = { numRuns: 3000 }

describe('IAM engine properties', () => {
  it('decides exactly as the plain reference interpreter', () => {
    fc.assert(
      fc.property(input, (doc) => {
        assert.equal(engine(doc), referenceDecide(doc), JSON.stringify(doc))
      }),
      RUNS,
    )
  })

  it('never turns a denial into an Allow when a Deny statement is added', () => {
    fc.assert(
      fc.property(input, statement(false), fc.nat(3), (doc, extra, where) => {
        const before = engine(doc)
        const deny = { ...extra, Effect: 'Deny' }
        const after = engine(addStatement(doc, deny, where))
        if (before !== 'Allow') assert.notEqual(after, 'Allow')
        if (before === 'ExplicitDeny') assert.equal(after, 'ExplicitDeny')
      }),
      RUNS,
    )
  })

  it('never removes an Allow when an Allow statement is added', () => {
    fc.assert(
      fc.property(input, statement(false), fc.nat(3), (doc, extra, where) => {
        const before = engine(doc)
        const after = engine(addStatement(doc, { ...extra, Effect: 'Allow' }, where))
        if (before === 'Allow') assert.equal(after, 'Allow')
      }),
      RUNS,
    )
  })
})

/** Adds a statement to an identity policy, the boundary, the session policy or the first SCP level. */
function addStatement(doc: RefInput, st: Record<string, JsonValue>, where: number): RefInput {
  const copy = JSON.parse(JSON.stringify(doc)) as RefInput
  const push = (p: { Statement?: JsonValue } | undefined) => {
    if (p === undefined) return false
    const s = p.Statement
    p.Statement = Array.isArray(s) ? [...s, st] : s === undefined ? [st] : [s, st]
    return true
  }
  if (where === 1 && push(copy.permissionBoundary)) return copy
  if (where === 2 && push(copy.sessionPolicy)) return copy
  if (where === 3 && push(copy.scps?.[0]?.[0])) return copy
  copy.identityPolicies.push({ Version: '2012-10-17', Statement: [st] })
  return copy
}
