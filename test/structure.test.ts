/** The tree stays readable: no source file in src/ over 600 lines, generated ones included. */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { it } from 'node:test'

const SRC = join(import.meta.dirname, '..', 'src')
const MAX_LINES = 600

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
    .filter((f) => f.lines > MAX_LINES)
  assert.deepEqual(long, [], 'split these files by concept')
})

it('in src/api, only the pipeline (pipeline.ts, and json-decide.ts, its authorize stage for the JSON services) calls the IAM engine, and handlers reach no store but through their context', () => {
  const api = join(SRC, 'api')
  const files = [...sources(api)].filter((f) => !f.endsWith('.test.ts'))
  const engine = files.filter((f) =>
    /import\s+\{[^}]*\bauthorize\b[^}]*\}\s+from\s+'[./]+iam\/evaluate\.ts'/.test(
      readFileSync(f, 'utf8'),
    ),
  )
  assert.deepEqual(engine.map((f) => relative(api, f)).sort(), ['json-decide.ts', 'pipeline.ts'])
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

it('only pipeline.ts makes a handler context: no other module imports MINT', () => {
  const files = [...sources(SRC)].filter((f) => !f.endsWith('.test.ts'))
  const minting = files.filter((f) =>
    /import\s+\{[^}]*\bMINT\b[^}]*\}\s+from\s+'[./]+(api\/)?authorized\.ts'/.test(
      readFileSync(f, 'utf8'),
    ),
  )
  assert.deepEqual(
    minting.map((f) => relative(SRC, f).split('\\').join('/')),
    ['api/pipeline.ts'],
  )
})

it('nothing in src/api or src/cli reaches the metadata store or the local key service: only the services', () => {
  const files = [...sources(join(SRC, 'api')), ...sources(join(SRC, 'cli'))]
  assert.ok(files.length > 30, 'the sources were found')
  const rules: [RegExp, string][] = [
    [/from '(\.\.\/)+meta\/sqlite\//, 'imports the SQLite adapter'],
    [/from '(\.\.\/)+meta\/store\.ts'/, 'imports the whole metadata store'],
    [/\.store\./, 'calls a metadata store'],
    [/\b(app|ctx)\.(store|kms)\b/, 'reaches the raw store or key service'],
    [/\b(LocalKms|SqliteMetadataStore)\b/, 'names a concrete adapter'],
  ]
  const found: string[] = []
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n')
    lines.forEach((line, i) => {
      for (const [re, why] of rules)
        if (re.test(line)) found.push(`${relative(SRC, f)}:${i + 1}: ${why}`)
    })
  }
  assert.deepEqual(
    found,
    [],
    'go through app.identity, app.buckets, app.objectMeta, app.objects, app.keys',
  )
})
