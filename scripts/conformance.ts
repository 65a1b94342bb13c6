/**
 * Runs the shared conformance cases (../shared/corpus) against this build.
 * They live outside the project and are read in place; the project's own
 * tests never depend on them. Exits 1 when any case decides otherwise than
 * expected, printing each mismatch with its decision trace.
 *
 * Usage: node scripts/conformance.ts [CORPUS_DIR]
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { readSimulationText, simulate } from '../src/iam/simulate.ts'
import { scan } from '../src/scan/scan.ts'
import { bufferSource } from '../src/scan/source.ts'

const corpus = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'shared', 'corpus'))
if (!existsSync(corpus)) {
  console.log(`no shared corpus at ${corpus}; nothing to check`)
  process.exit(0)
}

let failed = 0

const iamCases = join(corpus, 'iam', 'cases.jsonl')
if (existsSync(iamCases)) {
  const counts = { pass: 0, fail: 0 }
  const lines = readFileSync(iamCases, 'utf8').split('\n')
  lines.forEach((line, n) => {
    if (line.trim() === '') return
    const expected = (JSON.parse(line) as { expected?: string }).expected
    const input = readSimulationText(line)
    if ('issues' in input) {
      counts.fail++
      console.log(
        `✖ ${iamCases}:${n + 1} ${input.id ?? ''}: rejected: ${input.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      )
      return
    }
    const r = simulate(input, true)
    if ('decision' in r && r.decision === expected) counts.pass++
    else {
      counts.fail++
      const why = 'decision' in r ? `${r.decision} (${r.trace?.decidedBy ?? ''})` : r.error.message
      console.log(
        `✖ ${iamCases}:${n + 1} ${input.id ?? ''}: expected ${expected ?? '?'}, got ${why}`,
      )
    }
  })
  console.log(`iam: ${counts.pass} passed, ${counts.fail} failed (${iamCases})`)
  failed += counts.fail
}

// The model-scanning corpus: every benign file clean, every other file not clean.
const models = join(corpus, 'models')
if (existsSync(join(models, 'labels.json'))) {
  const labels = JSON.parse(readFileSync(join(models, 'labels.json'), 'utf8')) as Record<
    string,
    { label: string; technique: string }
  >
  const tally = new Map<string, { n: number; right: number }>()
  for (const [file, { label, technique }] of Object.entries(labels)) {
    const r = scan(bufferSource(readFileSync(join(models, 'files', file))), file)
    const right = label === 'benign' ? r.verdict === 'clean' : r.verdict !== 'clean'
    const t = tally.get(label) ?? { n: 0, right: 0 }
    t.n++
    if (right) t.right++
    tally.set(label, t)
    if (!right) {
      failed++
      console.log(
        `✖ models/${file} (${label}, ${technique}): scanned ${r.verdict}: ${r.findings.map((f) => `${f.rule} ${f.reason}`).join('; ') || 'no findings'}`,
      )
    }
  }
  const line = [...tally]
    .map(([label, t]) =>
      label === 'benign'
        ? `${t.right}/${t.n} benign clean (${t.n - t.right} false positives)`
        : `${t.right}/${t.n} ${label} detected`,
    )
    .join(', ')
  console.log(`models: ${line} (${models})`)
}

process.exit(failed > 0 ? 1 : 0)
