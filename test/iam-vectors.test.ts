/**
 * The project's IAM evaluation vectors (test/vectors/iam.jsonl), each written
 * from the AWS documentation page it cites: every case must decide as
 * expected, and together they must cover every condition operator, every
 * policy layer and every principal type.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { readSimulationText, simulate } from '../src/iam/simulate.ts'
import { principalInfo } from '../src/iam/evaluate.ts'
import { CASES, type VectorCase } from './vectors/iam-cases.ts'

const file = join(import.meta.dirname, 'vectors', 'iam.jsonl')
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
const cases = lines.map((l) => JSON.parse(l) as VectorCase)

describe('IAM evaluation vectors', () => {
  it('has at least 250 cases, each citing an AWS documentation page, with unique ids', () => {
    assert.ok(cases.length >= 250, `${cases.length} cases`)
    for (const c of cases) assert.match(c.source, /^https:\/\/docs\.aws\.amazon\.com\//, c.id)
    assert.equal(new Set(cases.map((c) => c.id)).size, cases.length)
  })

  it('is the file scripts/gen-iam-vectors.ts writes from test/vectors/iam-cases.ts', () => {
    assert.deepEqual(
      cases,
      JSON.parse(JSON.stringify(CASES)),
      'run `node scripts/gen-iam-vectors.ts`',
    )
  })

  it('covers every condition operator, with and without IfExists and set qualifiers', () => {
    const ops = new Set<string>()
    for (const l of lines)
      for (const m of l.matchAll(
        /"((?:ForAnyValue:|ForAllValues:)?[A-Z][A-Za-z]+)":\{"[a-z0-9.]+:/g,
      ))
        ops.add(m[1] ?? '')
    const base = [
      'StringEquals',
      'StringNotEquals',
      'StringEqualsIgnoreCase',
      'StringNotEqualsIgnoreCase',
      'StringLike',
      'StringNotLike',
    ]
      .concat([
        'NumericEquals',
        'NumericNotEquals',
        'NumericLessThan',
        'NumericLessThanEquals',
        'NumericGreaterThan',
        'NumericGreaterThanEquals',
      ])
      .concat([
        'DateEquals',
        'DateNotEquals',
        'DateLessThan',
        'DateLessThanEquals',
        'DateGreaterThan',
        'DateGreaterThanEquals',
      ])
      .concat([
        'Bool',
        'BinaryEquals',
        'IpAddress',
        'NotIpAddress',
        'ArnEquals',
        'ArnLike',
        'ArnNotEquals',
        'ArnNotLike',
        'Null',
      ])
    for (const op of base) assert.ok(ops.has(op), `no case uses ${op}`)
    for (const family of ['String', 'Numeric', 'Date', 'Bool', 'Binary', 'IpAddress', 'Arn']) {
      assert.ok(
        [...ops].some((o) => o.startsWith(family) && o.endsWith('IfExists')),
        `no IfExists case for ${family}`,
      )
    }
    assert.ok([...ops].some((o) => o.startsWith('ForAnyValue:')))
    assert.ok([...ops].some((o) => o.startsWith('ForAllValues:')))
  })

  it('covers every policy layer and every principal type', () => {
    for (const layer of [
      'resourcePolicy',
      'scps',
      'rcps',
      'permissionBoundary',
      'sessionPolicy',
      'vpcEndpointPolicy',
    ] as const) {
      assert.ok(
        cases.some((c) => c[layer] !== undefined),
        `no case with ${layer}`,
      )
    }
    for (const category of ['kms', 'trust', 'cross-account', 'not-principal'])
      assert.ok(
        cases.some((c) => c.category === category),
        category,
      )
    const types = new Set(
      cases.map((c) => principalInfo(c.request.principal, c.request.principalAccount).type),
    )
    for (const t of [
      'user',
      'assumed-role',
      'federated-user',
      'root',
      'service',
      'anonymous',
      'other',
    ] as const)
      assert.ok(types.has(t), `no ${t} caller`)
  })

  for (const [n, line] of lines.entries()) {
    const c = cases[n]
    it(`${c?.id ?? n}: ${c?.description ?? ''}`, () => {
      const input = readSimulationText(line)
      assert.ok(!('issues' in input), JSON.stringify('issues' in input ? input.issues : ''))
      const r = simulate(input, true)
      assert.ok('decision' in r)
      assert.equal(r.decision, c?.expected, `${c?.source ?? ''}\n${r.trace?.decidedBy ?? ''}`)
    })
  }
})
