import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { authorize, type AuthzRequest, type PolicySet } from './evaluate.ts'
import { isUnloadable, loadStoredPolicy, unloadableAlert } from './load.ts'

const ALLOW_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
})
const BUCKET_ALLOW_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::ml/*' }],
})
/** A Deny that a corrupt row would lose: the second half of the text is gone. */
const CORRUPT_DENY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }],
}).slice(0, 40)

const req = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({
  principal: 'arn:aws:iam::111122223333:user/alice',
  principalAccount: '111122223333',
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::ml/models/m1.bin',
  resourceAccount: '111122223333',
  context: {},
  ...over,
})

describe('stored policies that cannot be loaded fail closed', () => {
  it('loads a valid stored policy as the compiled policy', () => {
    const p = loadStoredPolicy(ALLOW_ALL, 'identity', 'all')
    assert.equal(isUnloadable(p), false)
    assert.equal(authorize(req(), { identity: [p] }).decision, 'Allow')
  })

  it('a truncated identity policy denies every request of its user, with a trace naming it', () => {
    const bad = loadStoredPolicy(CORRUPT_DENY, 'identity', 'guardrail')
    assert.ok(isUnloadable(bad))
    assert.equal(bad.name, 'guardrail')
    assert.match(bad.reason, /^InvalidJson at \$ \(1:\d+\)$/)
    const set: PolicySet = { identity: [loadStoredPolicy(ALLOW_ALL, 'identity', 'all'), bad] }
    for (const action of ['s3:GetObject', 's3:DeleteObject', 's3:ListBucket', 'kms:Decrypt']) {
      assert.deepEqual(authorize(req({ action }), set), { decision: 'ExplicitDeny' })
      const r = authorize(req({ action }), set, { explain: true })
      assert.equal(r.decision, 'ExplicitDeny')
      assert.equal(
        r.trace?.decidedBy,
        `explicit Deny in identity policy \`guardrail\`, which cannot be loaded (${bad.reason}) and so denies every request`,
      )
      assert.deepEqual(
        r.trace.policies.find((t) => t.name === 'guardrail'),
        { layer: 'identity', name: 'guardrail', statements: [], unloadable: bad.reason },
      )
    }
  })

  it('a bucket policy that no longer parses denies even the account root and anonymous callers', () => {
    const bad = loadStoredPolicy(
      BUCKET_ALLOW_ALL.replace('"Principal"', '"Principals"'),
      'resource',
      'bucket policy of ml',
    )
    assert.ok(isUnloadable(bad))
    for (const principal of ['arn:aws:iam::111122223333:root', '*']) {
      const r = authorize(req({ principal }), { identity: [], resource: bad }, { explain: true })
      assert.equal(r.decision, 'ExplicitDeny', principal)
      assert.match(
        r.trace?.decidedBy ?? '',
        /resource policy `bucket policy of ml`, which cannot be loaded/,
      )
    }
  })

  it('a policy of any layer that cannot be loaded denies (property)', () => {
    const bad = loadStoredPolicy('{"Version":', 'identity', 'x')
    const allow = loadStoredPolicy(ALLOW_ALL, 'identity', 'all')
    const layers = [
      'identity',
      'resource',
      'scp',
      'rcp',
      'boundary',
      'session',
      'endpoint',
    ] as const
    fc.assert(
      fc.property(
        fc.constantFrom(...layers),
        fc.constantFrom('s3:GetObject', 'kms:Decrypt', 'iam:PassRole'),
        (layer, action) => {
          const set: PolicySet = {
            identity: layer === 'identity' ? [allow, bad] : [allow],
            ...(layer === 'resource' ? { resource: bad } : {}),
            ...(layer === 'scp' ? { scps: [[allow, bad]] } : {}),
            ...(layer === 'rcp' ? { rcps: [[bad]] } : {}),
            ...(layer === 'boundary' ? { boundary: bad } : {}),
            ...(layer === 'session' ? { session: [bad] } : {}),
            ...(layer === 'endpoint' ? { endpoint: bad } : {}),
          }
          assert.equal(authorize(req({ action }), set).decision, 'ExplicitDeny')
          assert.equal(authorize(req({ action }), set, { explain: true }).decision, 'ExplicitDeny')
        },
      ),
    )
  })

  it('the alert names the policy and why, and never echoes the policy text', () => {
    const secretish = '{"Version":"2012-10-17","Statement":[{"Sid":"AKIASECRETVALUE123","Effect":'
    const bad = loadStoredPolicy(secretish, 'identity', 'leaky')
    assert.ok(isUnloadable(bad))
    const line = unloadableAlert(bad)
    assert.equal(
      line,
      `stored identity policy \`leaky\` cannot be loaded (${bad.reason}): every request that reads it is denied until it is replaced or deleted`,
    )
    assert.doesNotMatch(line + bad.reason, /AKIASECRETVALUE123/)
    assert.match(bad.digest, /^[0-9a-f]{64}$/)
  })
})
