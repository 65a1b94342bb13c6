/**
 * The rules loader is strict: a rules file that does not say exactly what the format allows is
 * CONFIG_INVALID naming the file and line, never a rule that silently matches nothing.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { DEFAULT_RULES_PATH, loadRules, parseRules } from './load.ts'

const ok = (body: string, lists: Record<string, string> = {}) =>
  parseRules(body, 'rules.yaml', (name) => {
    const text = lists[name]
    if (text === undefined) throw new Error(`no such file ${name}`)
    return text
  })

/** Asserts that `body` is refused with CONFIG_INVALID at `rules.yaml:line`, mentioning `what`. */
function refused(body: string, line: number, what: RegExp, lists: Record<string, string> = {}) {
  assert.throws(
    () => ok(body, lists),
    (e: unknown) => {
      assert.ok(isStrongroomError(e, 'CONFIG_INVALID'), String(e))
      assert.match(e.message, new RegExp(`^[\\w.-]+\\.yaml:${line}: `), e.message)
      assert.match(e.message, what)
      return true
    },
  )
}

const rule = (extra: string, kind = 'match') => `rules:
  - id: r1
    title: T
    severity: low
    description: D
    kind: ${kind}
${extra}`

describe('the default rules', () => {
  it('load, every one of them enabled, with unique ids', () => {
    const rules = loadRules()
    assert.equal(rules.length, 17)
    assert.equal(new Set(rules.map((r) => r.id)).size, rules.length)
  })

  it('are each documented in docs/detection.md, with their id as a heading', () => {
    const page = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'docs', 'detection.md'),
      'utf8',
    )
    for (const r of loadRules()) assert.match(page, new RegExp(`^#### \`${r.id}\``, 'm'), r.id)
  })

  it('docs/detection.md: the example rules file loads as written', () => {
    const page = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'docs', 'detection.md'),
      'utf8',
    )
    const example = /```yaml\n([\s\S]*?)```/.exec(page)?.[1] ?? ''
    const rules = parseRules(example, 'docs/detection.md')
    assert.deepEqual(
      rules.map((r) => `${r.id} ${r.kind}`),
      ['nightly-export-volume baseline', 'build-tool-deletes match', 'key-refusals threshold'],
    )
  })

  it('read the penetration-testing list from its own file', () => {
    const pentest = loadRules().find((r) => r.id === 'pentest-user-agent')
    assert.ok(pentest?.where?.op === 'inList')
    assert.ok(pentest.where.entries.length >= 13)
    assert.ok(pentest.where.entries.every((e) => e.ref?.startsWith('https://')))
  })

  it('name the file it could not read', () => {
    assert.throws(
      () => loadRules(join(DEFAULT_RULES_PATH, '..', 'nothing-here.yaml')),
      (e: unknown) =>
        isStrongroomError(e, 'CONFIG_INVALID') && /nothing-here\.yaml/.test(e.message),
    )
  })
})

describe('a rules file', () => {
  it('reads a minimal rule with the defaults filled in', () => {
    const [r] = ok(rule('    where: { field: eventName, equals: GetObject }'))
    assert.equal(r?.kind, 'match')
    assert.deepEqual(r.groupBy, ['principal'])
    assert.equal(r.suppressSeconds, 3600)
    assert.deepEqual(r.where, { op: 'equals', field: 'eventName', value: 'GetObject' })
  })

  it('drops a rule with enabled: false, after checking it', () => {
    assert.deepEqual(ok(rule('    enabled: false')), [])
    refused(rule('    enabled: false\n    colour: red'), 8, /unknown key `colour`/)
  })

  it('reads durations in seconds, minutes, hours and days', () => {
    const [r] = ok(rule('    count: 5\n    window: 90s\n    suppress: 2d', 'threshold'))
    assert.ok(r?.kind === 'threshold')
    assert.equal(r.windowSeconds, 90)
    assert.equal(r.suppressSeconds, 172_800)
  })

  it('refuses an unknown key, naming its line and the keys it could be', () => {
    refused(
      rule('    where: { field: eventName, equals: GetObject }\n    severty: high'),
      8,
      /unknown key `severty`.*expected one of/,
    )
  })

  it('refuses a key of another kind (a threshold count on a match rule)', () => {
    refused(rule('    count: 3'), 7, /unknown key `count` in a match rule/)
  })

  it('refuses a value of the wrong type', () => {
    refused(
      rule('    count: "20"\n    window: 60s', 'threshold'),
      7,
      /`count` .* must be a whole number/,
    )
    refused(rule('    suppress: soon'), 7, /must be a duration/)
    refused(rule('    groupBy: principal'), 7, /must be a list/)
    refused(rule('    enabled: yes'), 7, /must be true or false/)
  })

  it('refuses a rule without a required key, or an unknown kind or severity', () => {
    refused(
      'rules:\n  - id: r1\n    kind: match\n    title: T\n    severity: low\n',
      2,
      /has no `description`/,
    )
    refused(rule('', 'sometimes'), 6, /needs `kind`/)
    refused(
      rule('').replace('severity: low', 'severity: urgent'),
      4,
      /one of low, medium, high, critical/,
    )
  })

  it('refuses a threshold without its count or window', () => {
    refused(rule('    count: 3', 'threshold'), 2, /`window` .* is required/)
  })

  it('refuses a field no event has (a typo would match nothing, forever)', () => {
    refused(
      rule('    where: { field: evntName, equals: GetObject }'),
      7,
      /`evntName` is neither a derived field/,
    )
    refused(rule('    groupBy: [principal, "userIdentity..arn"]'), 7, /is not a field path/)
    refused(rule("    summary: '{principle} did it'"), 7, /names `principle`/)
  })

  it('refuses a condition with two tests, none, or an empty list', () => {
    refused(
      rule('    where: { field: eventName, equals: A, in: [A] }'),
      7,
      /exactly one of equals, in, regex, exists, inList/,
    )
    refused(rule('    where: { field: eventName }'), 7, /exactly one of/)
    refused(rule('    where: { any: [] }'), 7, /at least one condition/)
    refused(
      rule('    where: { all: [{ field: eventName, exists: true }], any: [] }'),
      7,
      /exactly one of `all`, `any` and `not`/,
    )
  })

  it('refuses a regex that does not compile, and ignoreCase without a regex', () => {
    refused(rule("    where: { field: userAgent, regex: '(unclosed' }"), 7, /does not compile/)
    refused(
      rule('    where: { field: userAgent, equals: x, ignoreCase: true }'),
      7,
      /applies to `regex` only/,
    )
  })

  it('refuses equals on null, a map or a list', () => {
    refused(
      rule('    where: { field: errorCode, equals: null }'),
      7,
      /strings, numbers or booleans/,
    )
    refused(rule('    where: { field: errorCode, equals: [a] }'), 7, /strings, numbers or booleans/)
  })

  it('refuses a duplicate rule id, and a duplicate key', () => {
    const two = rule('') + rule('').replace('rules:\n', '')
    refused(two, 7, /`r1` is used twice/)
    refused(rule('    suppress: 1h\n    suppress: 2h'), 8, /unique|duplicate/i)
  })

  it('refuses YAML aliases and merge keys', () => {
    refused('x: &a [1]\nrules:\n  - *a\n', 3, /aliases/)
    refused(rule('    <<: { suppress: 1h }'), 7, /merge keys/)
  })

  it('names the line of a YAML syntax error', () => {
    refused(rule('    where: { field: eventName, equals: [GetObject }'), 7, /./)
  })

  it('refuses a list name no `lists` defines', () => {
    refused(
      rule('    where: { field: userAgent, inList: pentest }'),
      7,
      /`pentest`, which `lists` does not define/,
    )
  })

  it('reads a list from a file beside it and names that file in its errors', () => {
    const body = `lists:\n  tools:\n    file: tools.yaml\n${rule('    where: { field: userAgent, inList: tools }')}`
    const [r] = ok(body, { 'tools.yaml': 'entries:\n  - name: sqlmap\n    contains: sqlmap/\n' })
    assert.ok(r?.where?.op === 'inList')
    assert.equal(r.where.entries[0]?.pattern.test('SQLMAP/1.8'), true, 'case-insensitive')
    assert.throws(
      () => ok(body, { 'tools.yaml': 'entries:\n  - name: sqlmap\n    regex: "("\n' }),
      (e: unknown) => isStrongroomError(e, 'CONFIG_INVALID') && /^tools\.yaml:3: /.test(e.message),
    )
  })

  it('reads no list file outside its own directory', () => {
    const body = `lists:\n  x:\n    file: ../../etc/passwd.yaml\nrules: []\n`
    refused(body, 3, /beside the rules file/)
  })

  it('refuses baseline and first-seen parameters out of range', () => {
    refused(rule('    factor: 0.5', 'baseline'), 7, /from 1 to/)
    refused(rule('    historyDays: 2\n    minActiveHours: 100', 'baseline'), 8, /from 1 to 48/)
    refused(rule('    field: eventName\n    maxValues: 0', 'first-seen'), 8, /from 1 to/)
    refused(rule('', 'first-seen'), 2, /`field` .* is required/)
  })

  it('refuses a file that is not a mapping with rules', () => {
    refused('- a\n- b\n', 1, /must be a mapping/)
    refused('version: 1\n', 1, /has no `rules`/)
    refused('version: 2\nrules: []\n', 1, /must be 1/)
  })
})
