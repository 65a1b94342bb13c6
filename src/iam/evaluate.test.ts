import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { authorize, decide, type AuthzRequest, type Facts } from './evaluate.ts'
import { arnMatch, cidrContains, globMatch, globPattern, parseCidr, parseIp } from './match.ts'
import { parsePolicy, type PolicyKind } from './policy.ts'
import type { JsonValue } from './json.ts'

const policy = (doc: JsonValue, kind: PolicyKind = 'identity', name = 'p') => {
  const r = parsePolicy(doc, kind, { name })
  assert.ok(r.policy, JSON.stringify(r.errors))
  return r.policy
}
const req = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({
  principal: 'arn:aws:iam::111122223333:user/alice',
  principalAccount: '111122223333',
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::ml/models/m1.bin',
  resourceAccount: '111122223333',
  context: {},
  ...over,
})

describe('matching', () => {
  it('matches wildcards exactly like an anchored regular expression (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', ':', '*', '?')
    fc.assert(
      fc.property(
        fc.string({ unit: alphabet, maxLength: 12 }),
        fc.string({ unit: fc.constantFrom('a', 'b', '/', ':'), maxLength: 14 }),
        (p, s) => {
          const re = new RegExp(
            `^${p.replace(/[/]/g, '\\/').replace(/\*/g, '.*').replace(/\?/g, '.')}$`,
            's',
          )
          assert.equal(globMatch(globPattern(p), s), re.test(s))
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('takes linear-ish time on patterns that make backtracking regexes explode', () => {
    const p = globPattern(`${'*a'.repeat(30)}b`)
    const s = 'a'.repeat(5000)
    const t0 = performance.now()
    assert.equal(globMatch(p, s), false)
    assert.ok(performance.now() - t0 < 2000)
  })

  it('matches ARNs segment by segment: a wildcard never spans a colon of the first five', () => {
    assert.equal(arnMatch(globPattern('arn:aws:s3:::ml/*'), 'arn:aws:s3:::ml/a:b/c'), true)
    assert.equal(
      arnMatch(globPattern('arn:aws:iam::*:role/x'), 'arn:aws:iam::111122223333:role/x'),
      true,
    )
    assert.equal(
      arnMatch(globPattern('arn:aws:*:role/x'), 'arn:aws:iam::111122223333:role/x'),
      false,
    )
    assert.equal(
      arnMatch(
        globPattern('arn:aws:sns:*:*:topic-*'),
        'arn:aws:sns:us-east-1:111122223333:topic-a',
      ),
      true,
    )
    assert.equal(arnMatch(globPattern('*'), 'arn:aws:s3:::anything'), true)
  })

  it('reads IPv4 and IPv6 in every textual form (RFC 4291, 5952)', () => {
    const inRange = (c: string, ip: string) => {
      const cidr = parseCidr(c)
      const addr = parseIp(ip)
      assert.ok(cidr && addr, `${c} ${ip}`)
      return cidrContains(cidr, addr)
    }
    assert.equal(inRange('2001:db8::/32', '2001:0db8:0000:0000:0000:0000:0000:0001'), true)
    assert.equal(inRange('2001:db8::/32', '2001:db9::1'), false)
    assert.equal(inRange('::ffff:0:0/96', '::ffff:192.0.2.1'), true)
    assert.equal(inRange('203.0.113.7', '203.0.113.7'), true, 'a bare address is /32')
    assert.equal(inRange('203.0.113.7', '203.0.113.8'), false)
    assert.equal(inRange('0.0.0.0/0', '8.8.8.8'), true)
    assert.equal(inRange('::/0', '8.8.8.8'), false, 'families never mix')
    for (const bad of [
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1::2::3',
      'g::1',
      '1.2.3.4/33',
      '::/129',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      assert.equal(parseCidr(bad), undefined, bad)
    }
  })
})

describe('explanations', () => {
  it('names the layer, the statement and the failed condition, and lists absent keys', () => {
    const identity = policy(
      {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TeamOnly',
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: '*',
            Condition: { StringEquals: { 'aws:PrincipalTag/team': 'ml' } },
          },
          { Sid: 'Writes', Effect: 'Allow', Action: 's3:PutObject', Resource: '*' },
        ],
      },
      'identity',
      'team-read',
    )
    const r = authorize(
      req({ context: { 'aws:PrincipalTag/team': 'finance' } }),
      { identity: [identity] },
      { explain: true },
    )
    assert.equal(r.decision, 'ImplicitDeny')
    assert.ok(r.trace)
    assert.equal(r.trace.decidedBy, 'no identity-based or resource-based policy allows the action')
    assert.deepEqual(r.trace.policies.at(0)?.statements, [
      {
        index: 0,
        sid: 'TeamOnly',
        effect: 'Allow',
        matched: false,
        reason:
          'condition StringEquals on `aws:PrincipalTag/team` is false: request value `finance` against `ml`',
      },
      {
        index: 1,
        sid: 'Writes',
        effect: 'Allow',
        matched: false,
        reason: 'action `s3:GetObject` is not in its Action',
      },
    ])
    const absent = authorize(req(), { identity: [identity] }, { explain: true })
    assert.deepEqual(absent.trace?.absentKeys, ['aws:PrincipalTag/team'])
  })

  it('names the statement of an explicit deny', () => {
    const allow = policy({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: '*', Resource: '*' },
    })
    const scp = policy(
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: '*', Resource: '*' },
          { Sid: 'NoDeletes', Effect: 'Deny', Action: 's3:Delete*', Resource: '*' },
        ],
      },
      'scp',
      'guardrail',
    )
    const r = authorize(
      req({ action: 's3:DeleteObject' }),
      { identity: [allow], scps: [[scp]] },
      { explain: true },
    )
    assert.equal(r.decision, 'ExplicitDeny')
    assert.equal(
      r.trace?.decidedBy,
      'explicit Deny in scp policy `guardrail`, statement `NoDeletes`',
    )
  })

  it('allocates no trace unless asked', () => {
    const allow = policy({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: '*', Resource: '*' },
    })
    assert.deepEqual(authorize(req(), { identity: [allow] }), { decision: 'Allow' })
  })
})

describe('the decision table', () => {
  const facts: Facts = {
    deny: false,
    denyLayer: '',
    scpLevelWithoutAllow: -1,
    endpointAllows: true,
    anonymous: false,
    identityAllows: true,
    boundaryAllows: true,
    sessionAllows: true,
    grant: undefined,
    hasResourcePolicy: false,
    sameAccount: true,
    required: undefined,
  }
  const d = (over: Partial<Facts>) => decide({ ...facts, ...over })[0]

  it('lets an explicit deny win over everything', () => {
    assert.equal(d({ deny: true, grant: 'direct' }), 'ExplicitDeny')
  })
  it('requires every SCP level and the endpoint policy, which never grant', () => {
    assert.equal(d({ scpLevelWithoutAllow: 1, grant: 'direct' }), 'ImplicitDeny')
    assert.equal(d({ endpointAllows: false }), 'ImplicitDeny')
    assert.equal(d({ identityAllows: false }), 'ImplicitDeny')
  })
  it('does not limit a same-account resource grant to the caller itself by boundary or session policy, but limits a grant to its role', () => {
    assert.equal(
      d({ identityAllows: false, boundaryAllows: false, sessionAllows: false, grant: 'direct' }),
      'Allow',
    )
    assert.equal(d({ identityAllows: false, sessionAllows: false, grant: 'role' }), 'ImplicitDeny')
    assert.equal(d({ identityAllows: false, grant: 'role' }), 'Allow')
  })
  it('needs a key policy or trust policy that names the caller or delegates to its account', () => {
    assert.equal(d({ required: 'key' }), 'ImplicitDeny')
    assert.equal(d({ required: 'key', grant: 'account' }), 'Allow')
    assert.equal(d({ required: 'trust', grant: 'account', identityAllows: false }), 'ImplicitDeny')
  })
  it('lets an anonymous caller in only through a grant to everyone', () => {
    assert.equal(
      d({ anonymous: true, sameAccount: false, identityAllows: false, grant: 'direct' }),
      'Allow',
    )
    assert.equal(
      d({ anonymous: true, sameAccount: false, identityAllows: false, grant: 'account' }),
      'ImplicitDeny',
    )
    assert.equal(
      d({
        anonymous: true,
        sameAccount: false,
        identityAllows: false,
        grant: 'direct',
        deny: true,
      }),
      'ExplicitDeny',
    )
  })
  it('needs both sides across accounts', () => {
    assert.equal(d({ sameAccount: false, grant: 'direct', identityAllows: false }), 'ImplicitDeny')
    assert.equal(d({ sameAccount: false, grant: undefined }), 'ImplicitDeny')
    assert.equal(d({ sameAccount: false, grant: 'account' }), 'Allow')
    assert.equal(d({ sameAccount: false, grant: 'account', boundaryAllows: false }), 'ImplicitDeny')
  })
})

describe('session policies', () => {
  // "The resulting session's permissions are the intersection of the role's identity-based
  // policy and the session policies": inline and managed alike, any of them may allow
  // (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).
  const allowOn = (resource: string, effect = 'Allow') =>
    policy(
      {
        Version: '2012-10-17',
        Statement: [{ Effect: effect, Action: 's3:GetObject', Resource: resource }],
      },
      'session',
    )
  const identity = [policy({ Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] })]
  const decision = (session: ReturnType<typeof allowOn>[] | undefined) =>
    authorize(req(), { identity, session }).decision

  it('no session policy: the identity policies alone', () => {
    assert.equal(decision(undefined), 'Allow')
  })
  it('one of several allowing is enough; none allowing denies', () => {
    assert.equal(decision([allowOn('arn:aws:s3:::other/*'), allowOn('arn:aws:s3:::ml/*')]), 'Allow')
    assert.equal(decision([allowOn('arn:aws:s3:::other/*')]), 'ImplicitDeny')
  })
  it('a session whose session policies are all gone allows nothing', () => {
    assert.equal(decision([]), 'ImplicitDeny')
  })
  it('an explicit deny in any of them denies', () => {
    assert.equal(decision([allowOn('*'), allowOn('arn:aws:s3:::ml/*', 'Deny')]), 'ExplicitDeny')
  })
})
