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

// The model-scanning corpus (../shared/corpus/models) waits for the scanner (issue 5).
if (existsSync(join(corpus, 'models')))
  console.log('models: no scanner in this build yet; not checked')

process.exit(failed > 0 ? 1 : 0)
