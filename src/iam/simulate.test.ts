/**
 * The simulator's input document (docs/iam-simulator.md): what it accepts, and for what it
 * refuses, the issue with its JSON path and position, so a user can find the mistake.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  readSimulationText,
  simulate,
  type SimulationInput,
  type SimulationResult,
} from './simulate.ts'

const REQUEST = {
  principal: 'arn:aws:iam::111122223333:user/alice',
  principalAccount: '111122223333',
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::bucket/key',
  resourceAccount: '111122223333',
  context: { 'aws:SourceIp': '10.0.0.1', 'aws:TagKeys': ['a', 'b'] },
}
const ALLOW = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
}

function decisionOf(r: SimulationResult): string {
  assert.ok('decision' in r, JSON.stringify(r))
  return r.decision
}

function read(doc: unknown): ReturnType<typeof readSimulationText> {
  return readSimulationText(typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2))
}

function issues(doc: unknown): { path: string; message: string; line: number }[] {
  const r = read(doc)
  assert.ok('issues' in r, 'accepted')
  return r.issues.map((i) => ({ path: i.path, message: i.message, line: i.line }))
}

function accepted(doc: unknown): SimulationInput {
  const r = read(doc)
  assert.ok(!('issues' in r), JSON.stringify(r))
  return r
}

describe('simulation documents', () => {
  it('a complete document is read; unknown top-level fields are kept as extra', () => {
    const input = accepted({ id: 'case-1', request: REQUEST, identityPolicies: [ALLOW], note: 'x' })
    assert.equal(input.id, 'case-1')
    assert.deepEqual(input.request.context, REQUEST.context)
    assert.deepEqual(input.extra, { note: 'x' })
    assert.equal(decisionOf(simulate(input, false)), 'Allow')
    const traced = simulate(input, true)
    assert.ok('trace' in traced)
  })

  it('text that is not JSON: one InvalidJson issue with its line and column', () => {
    const r = read('{\n  "request": ,\n}')
    assert.ok('issues' in r)
    assert.equal(r.issues.length, 1)
    const [i] = r.issues
    assert.deepEqual([i?.code, i?.path, i?.line], ['InvalidJson', '$', 2])
  })

  it('a document that is not an object', () => {
    for (const doc of ['[]', '"x"', '1', 'null'])
      assert.deepEqual(issues(doc), [
        { path: '$', message: 'a simulation document must be a JSON object', line: 1 },
      ])
  })

  it('identityPolicies missing or not an array; scps not levels of policies', () => {
    assert.deepEqual(
      issues({ request: REQUEST }).map((i) => i.path),
      ['$.identityPolicies'],
    )
    assert.deepEqual(
      issues({ request: REQUEST, identityPolicies: ALLOW }).map((i) => [i.path, i.message]),
      [
        ['$.identityPolicies', 'identityPolicies must be an array (use [] for none)'],
        ['$.identityPolicies', 'identityPolicies must be an array of policies'],
      ],
    )
    assert.deepEqual(
      issues({ request: REQUEST, identityPolicies: [], scps: [ALLOW] }).map((i) => i.path),
      ['$.scps'],
    )
  })

  it('a request that is not an object, or whose fields are not strings, names each field', () => {
    assert.deepEqual(
      issues({ request: [], identityPolicies: [] }).map((i) => i.path),
      ['$.request'],
    )
    const r = issues({
      request: { ...REQUEST, action: 1, resource: null, context: { k: 2, ok: 'v' } },
      identityPolicies: [],
    })
    assert.deepEqual(
      r.map((i) => i.path),
      ['$.request.action', '$.request.resource', '$.request.context.k'],
    )
    assert.ok(
      r.every((i) => i.line > 0),
      'positions come from the text',
    )
    assert.deepEqual(
      issues({ request: { ...REQUEST, context: ['a'] }, identityPolicies: [] }).map((i) => i.path),
      ['$.request.context'],
    )
  })

  it('policies in every slot are parsed with their own paths; levels keep their shape', () => {
    const input = accepted({
      request: REQUEST,
      identityPolicies: [ALLOW],
      resourcePolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }],
      },
      scps: [[ALLOW], [ALLOW, ALLOW]],
      rcps: [
        [
          {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
          },
        ],
      ],
      permissionBoundary: ALLOW,
      sessionPolicy: ALLOW,
      vpcEndpointPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
      },
    })
    assert.deepEqual(
      input.policies.scps?.map((l) => l.length),
      [1, 2],
    )
    assert.equal(decisionOf(simulate(input, false)), 'Allow')
    const bad = issues({
      request: REQUEST,
      identityPolicies: [],
      scps: [[ALLOW, { Version: '2012-10-17', Statement: [{ Effect: 'Nope' }] }]],
    })
    assert.ok(bad.length > 0)
    assert.ok(
      bad.every((i) => i.path.startsWith('$.scps[0][1]')),
      JSON.stringify(bad),
    )
  })

  it('a policy boundary that does not allow the action denies what the identity policy allows', () => {
    const input = accepted({
      request: REQUEST,
      identityPolicies: [ALLOW],
      permissionBoundary: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }],
      },
    })
    assert.equal(decisionOf(simulate(input, false)), 'ImplicitDeny')
  })
})
