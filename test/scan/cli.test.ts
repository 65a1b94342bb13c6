/**
 * `strongroom scan` end to end: the generated corpus written out by
 * scripts/gen-scan-corpus.ts, scanned through the CLI in each output format,
 * with the exit status the issue specifies (0 clean, 1 findings, 2 usage or
 * I/O error, findings still reported).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-scan-'))
const corpus = join(work, 'corpus')
after(() => rmSync(work, { recursive: true, force: true }))

const scan = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, 'scan', ...args], {
    encoding: 'utf8',
    cwd: work,
    maxBuffer: 64 << 20,
  })

before(() => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-scan-corpus.ts'), corpus], {
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stderr)
})

interface Line {
  path: string
  verdict: string
  format: string
  findings: { path: string; offset: number; rule: string; severity: string; reason: string }[]
}

describe('strongroom scan', () => {
  it('--json: one object per file, every verdict as labelled, exit 1', () => {
    const r = scan('--json', join(corpus, 'files'))
    assert.equal(r.status, 1, r.stderr)
    const labels = JSON.parse(readFileSync(join(corpus, 'labels.json'), 'utf8')) as Record<
      string,
      { label: string }
    >
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line)
    assert.equal(lines.length, Object.keys(labels).length)
    for (const l of lines) {
      const name = l.path.split('/').at(-1) ?? ''
      const want = labels[name]?.label
      assert.equal(
        l.verdict,
        want === 'benign' ? 'clean' : want,
        `${name}: ${JSON.stringify(l.findings)}`,
      )
      for (const f of l.findings)
        assert.ok(f.path.startsWith(l.path) && f.rule !== '' && f.reason !== '')
    }
  })

  it('a clean directory exits 0 with a readable summary', () => {
    const dir = join(work, 'clean')
    mkdirSync(dir)
    for (const n of ['benign-torch-zip-state-dict', 'benign-npy-float64'])
      writeFileSync(join(dir, n), readFileSync(join(corpus, 'files', n)))
    const r = scan(dir)
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /^clean {6}.*benign-npy-float64 \(npy, \d+ bytes\)$/m)
    assert.match(r.stdout, /^2 files: 2 clean, 0 suspicious, 0 malicious$/m)
  })

  it('reports the member path, offset and reason of a finding', () => {
    const r = scan(join(corpus, 'files', 'zip-in-zip'))
    assert.equal(r.status, 1)
    assert.match(r.stdout, /^malicious .*zip-in-zip \(zip, \d+ bytes\)$/m)
    assert.match(
      r.stdout,
      /critical pickle\.dangerous-global {2}.*zip-in-zip!bundle\/model\.pt!archive\/data\.pkl @\d+: imports os\.system/,
    )
  })

  it('--sarif: a SARIF 2.1.0 log with one result per finding', () => {
    const r = scan(
      '--sarif',
      join(corpus, 'files', 'CVE-2025-1944-zip-name-mismatch'),
      join(corpus, 'files', 'benign-gguf'),
    )
    assert.equal(r.status, 1, r.stderr)
    const log = JSON.parse(r.stdout) as {
      version: string
      runs: {
        tool: { driver: { name: string; rules: { id: string }[] } }
        results: {
          ruleId: string
          level: string
          locations: { physicalLocation: { artifactLocation: { uri: string } } }[]
        }[]
      }[]
    }
    assert.equal(log.version, '2.1.0')
    const run = log.runs[0]
    assert.ok(run !== undefined)
    assert.equal(run.tool.driver.name, 'strongroom-scan')
    const ids = run.results.map((x) => `${x.ruleId}:${x.level}`).sort()
    assert.deepEqual(ids, ['pickle.dangerous-global:error', 'zip.name-mismatch:warning'])
    assert.equal(
      run.results[0]?.locations[0]?.physicalLocation.artifactLocation.uri,
      'corpus/files/CVE-2025-1944-zip-name-mismatch',
    )
    assert.deepEqual(
      run.tool.driver.rules.map((x) => x.id),
      ['pickle.dangerous-global', 'zip.name-mismatch'],
    )
  })

  it('an unreadable path exits 2, and the findings of the other files are still reported', () => {
    const r = scan('--json', join(work, 'missing.pt'), join(corpus, 'files', 'pickle-p2-os-system'))
    assert.equal(r.status, 2)
    assert.match(r.stderr, /missing\.pt: no such file or directory/)
    assert.equal((JSON.parse(r.stdout.trim()) as Line).verdict, 'malicious')
  })

  it('--strict makes library classes suspicious; --json with --sarif is a usage error', () => {
    const file = join(corpus, 'files', 'benign-sklearn-style-classes')
    assert.equal(scan(file).status, 0)
    const strict = scan('--strict', '--json', file)
    assert.equal(strict.status, 1)
    assert.equal((JSON.parse(strict.stdout) as Line).verdict, 'suspicious')
    const both = scan('--json', '--sarif', file)
    assert.equal(both.status, 2)
    assert.match(both.stderr, /choose one of --json and --sarif/)
  })
})
