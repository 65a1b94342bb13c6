/**
 * The npm scripts that run the tests (CONTRIBUTING.md, "Build and test"): `test:unit` runs every
 * test but the end-to-end ones, `test:e2e` exactly those, `npm test` both (after the typecheck,
 * the linter and the format check), and `npm run coverage` measures what `test:unit` runs, with
 * an 85% floor for the lines of src/. A test file that no script reaches fails here.
 */
import assert from 'node:assert/strict'
import { globSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const root = join(import.meta.dirname, '..')
const scripts = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>
  }
).scripts
const script = (name: string): string => {
  const s = scripts[name]
  assert.ok(s !== undefined, `package.json has no ${name} script`)
  return s
}

/** The quoted glob patterns a `node --test` script passes. */
const patterns = (s: string) => [...s.matchAll(/ '([^']+\.test\.ts)'/g)].map((m) => m[1] ?? '')
const files = (pats: string[]) => new Set(pats.flatMap((p) => globSync(p, { cwd: root })))

describe('test scripts', () => {
  const unit = files(patterns(script('test:unit')))
  const e2e = files(patterns(script('test:e2e')))
  const all = files(['src/**/*.test.ts', 'test/**/*.test.ts'])

  it('test:unit and test:e2e split every test file between them, none twice', () => {
    assert.ok(unit.size > 0 && e2e.size > 0)
    for (const f of unit) assert.ok(!e2e.has(f), `${f} is in both`)
    assert.deepEqual([...unit, ...e2e].sort(), [...all].sort())
  })

  it('test:e2e is test/e2e/, and test:unit includes the in-process gateway tests', () => {
    for (const f of e2e) assert.match(f, /^test\/e2e\//)
    for (const f of unit) assert.doesNotMatch(f, /^test\/e2e\//)
    assert.ok([...unit].some((f) => f.startsWith('test/gateway/')))
    assert.ok(unit.has('src/api/sigv4.test.ts'))
  })

  it('npm test runs the typecheck, the linter, the format check, then both test sets', () => {
    assert.equal(
      script('test'),
      'npm run typecheck && npm run lint && npm run format:check && npm run test:unit && npm run test:e2e',
    )
  })

  it('npm run coverage measures the test:unit files over src/, failing under 85% of lines', () => {
    const c = script('coverage')
    assert.deepEqual(patterns(c), patterns(script('test:unit')))
    assert.match(c, /--experimental-test-coverage/)
    assert.match(c, /--test-coverage-include='src\/\*\*'/)
    assert.match(c, /--test-coverage-exclude='src\/\*\*\/\*\.test\.ts'/)
    assert.match(c, /--test-coverage-lines=85(?!\d)/)
  })

  it('CONTRIBUTING.md names the scripts and the coverage floor', () => {
    const text = readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8')
    for (const s of ['npm run test:unit', 'npm run test:e2e', 'npm run coverage', '85%'])
      assert.ok(text.includes(s), s)
  })
})
