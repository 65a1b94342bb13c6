/**
 * The examples in the docs are run as written: a reader who copies them gets
 * exactly what the page says.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const root = join(import.meta.dirname, '..')
const block = (text: string, lang: string, n = 0) => {
  const blocks = [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map(
    (m) => m[1] ?? '',
  )
  const b = blocks[n]
  assert.ok(b !== undefined, `no ${lang} block #${n}`)
  return b
}

describe('docs/iam-simulator.md', () => {
  const page = readFileSync(join(root, 'docs', 'iam-simulator.md'), 'utf8')

  it('shows the example file as it is', () => {
    assert.equal(
      block(page, 'jsonl'),
      readFileSync(join(root, 'docs', 'examples', 'simulate.jsonl'), 'utf8'),
    )
  })

  it('prints what the page says the example command prints', () => {
    const command = block(page, 'sh').trim()
    assert.equal(
      command,
      'npm run --silent strongroom -- policy simulate --input docs/examples/simulate.jsonl --explain',
    )
    const r = spawnSync(
      process.execPath,
      [
        'bin/strongroom.js',
        'policy',
        'simulate',
        '--input',
        'docs/examples/simulate.jsonl',
        '--explain',
      ],
      {
        cwd: root,
        encoding: 'utf8',
      },
    )
    assert.equal(r.stdout, block(page, 'text'))
    assert.equal(r.status, 1, 'one of the two requests is denied')
  })
})
