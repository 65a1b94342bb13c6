/**
 * The examples in the docs are run as written: a reader who copies them gets
 * exactly what the page says.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
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
      'npx strongroom policy simulate --input docs/examples/simulate.jsonl --explain',
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

describe('docs/scanner.md', () => {
  const page = readFileSync(join(root, 'docs', 'scanner.md'), 'utf8')

  it('prints what the page says the example commands print', () => {
    const [gen = '', scan = ''] = block(page, 'sh').trim().split('\n')
    const dir = mkdtempSync(join(tmpdir(), 'sr-docs-'))
    try {
      const local = (line: string) => line.replaceAll('/tmp/sr-corpus', dir).split(' ')
      const [npx = '', node = '', script = '', out = ''] = local(gen)
      assert.deepEqual([npx, node], ['npx', 'node'])
      assert.equal(script, 'scripts/gen-scan-corpus.ts')
      const g = spawnSync(process.execPath, [script, out], { cwd: root, encoding: 'utf8' })
      assert.equal(g.status, 0, g.stderr)
      const args = local(scan)
      assert.deepEqual(args.slice(0, 3), ['npx', 'strongroom', 'scan'])
      const r = spawnSync(process.execPath, ['bin/strongroom.js', ...args.slice(2)], {
        cwd: root,
        encoding: 'utf8',
      })
      assert.equal(r.stdout, block(page, 'text').replaceAll('/tmp/sr-corpus', dir))
      assert.equal(r.status, 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
