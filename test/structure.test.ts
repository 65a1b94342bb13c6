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

it('in src/api, only pipeline.ts calls the IAM engine, and handlers reach no store but through their context', () => {
  const api = join(SRC, 'api')
  const files = [...sources(api)].filter((f) => !f.endsWith('.test.ts'))
  const engine = files.filter((f) =>
    /import\s+\{[^}]*\bauthorize\b[^}]*\}\s+from\s+'[./]+iam\/evaluate\.ts'/.test(
      readFileSync(f, 'utf8'),
    ),
  )
  assert.deepEqual(
    engine.map((f) => relative(api, f)),
    ['pipeline.ts'],
  )
  const handlers = [...sources(join(api, 's3'))]
  assert.ok(handlers.length >= 7)
  for (const f of handlers) {
    const text = readFileSync(f, 'utf8')
    // Types only: a handler gets the App's stores and services from `Authorized`.
    assert.doesNotMatch(
      text,
      /^import \{[^}]*\} from '\.\.\/\.\.\/(app|meta\/store|meta\/sqlite\/[\w/]+)\.ts'/m,
      f,
    )
    assert.doesNotMatch(text, /\bauthorize\(/, f)
  }
})
