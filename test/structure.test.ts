/** The tree stays readable: no source file in src/ over 600 lines (generated data excepted). */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { it } from 'node:test'

const SRC = join(import.meta.dirname, '..', 'src')
const MAX_LINES = 600
const EXEMPT = new Set(['iam/catalogue.ts'])

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* sources(p)
    else if (e.name.endsWith('.ts')) yield p
  }
}

it(`no file in src/ is over ${MAX_LINES} lines`, () => {
  const files = [...sources(SRC)]
  assert.ok(files.length > 50, 'the sources were found')
  const long = files
    .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((f) => f.lines > MAX_LINES && !EXEMPT.has(f.file.split('\\').join('/')))
  assert.deepEqual(long, [], 'split these files by concept')
})
