/**
 * A node:test reporter for `npm run coverage`: prints the least-covered files of src/ and one
 * line with the totals (lines, branches, functions). The threshold itself is node's
 * (--test-coverage-lines), which fails the run below it; this only reports.
 *
 * Coverage includes the processes the tests spawn (the CLI, `strongroom serve`): node's test
 * runner points NODE_V8_COVERAGE at its own directory, children inherit the variable and write
 * their profiles there, and the runner merges them. A child that is killed without exiting
 * (SIGKILL) writes nothing.
 */
import { globSync } from 'node:fs'
import { relative } from 'node:path'
import type { TestEvent } from 'node:test/reporters'

/** How many of the least-covered files to list. */
const WORST = 12

interface FileCoverage {
  readonly path: string
  readonly totalLineCount: number
  readonly coveredLineCount: number
  readonly coveredLinePercent: number
}

export default async function* coverageSummary(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string> {
  let pass = 0
  let fail = 0
  let skip = 0
  let todo = 0
  for await (const event of source) {
    if (
      (event.type === 'test:pass' || event.type === 'test:fail') &&
      event.data.details.type !== 'suite'
    ) {
      const flagged = (v: unknown) => v !== undefined && v !== false
      // A todo test that fails does not fail the run: counted apart, as node's own summary does.
      if (flagged(event.data.todo)) todo++
      else if (flagged(event.data.skip)) skip++
      else if (event.type === 'test:pass') pass++
      else fail++
    } else if (event.type === 'test:coverage') {
      const { files, totals } = event.data.summary
      const root = event.data.summary.workingDirectory
      // Node counts only the files some test loaded: name the others, so a module that no
      // test reaches cannot hide (type-only modules, erased at load, are listed too).
      const seen = new Set((files as readonly FileCoverage[]).map((f) => relative(root, f.path)))
      const unloaded = globSync('src/**/*.ts', { cwd: root })
        .filter((p) => !p.endsWith('.test.ts') && !seen.has(p))
        .sort()
      if (unloaded.length > 0)
        yield `\nsrc/ files no test loaded (not in the figure): ${unloaded.join(', ')}\n`
      const worst = [...(files as readonly FileCoverage[])]
        .filter((f) => f.totalLineCount > 0)
        .sort((a, b) => a.coveredLinePercent - b.coveredLinePercent)
        .slice(0, WORST)
      yield `\nleast-covered files in src/ (lines):\n`
      for (const f of worst)
        yield `  ${f.coveredLinePercent.toFixed(1).padStart(5)}%  ${relative(root, f.path)} (${f.totalLineCount - f.coveredLineCount} of ${f.totalLineCount} lines uncovered)\n`
      yield `\nsrc/ coverage: lines ${totals.coveredLinePercent.toFixed(2)}% (${totals.coveredLineCount}/${totals.totalLineCount}), branches ${totals.coveredBranchPercent.toFixed(2)}%, functions ${totals.coveredFunctionPercent.toFixed(2)}%\n`
    }
  }
  yield `tests: ${pass} passed, ${fail} failed, ${skip} skipped, ${todo} todo\n`
}
