/**
 * docs/security.md lists every attack we test and where its test lives: a file
 * added under test/security/ without a row there, or a row naming a file that is
 * gone, fails here.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const root = join(import.meta.dirname, '..', '..')
const page = readFileSync(join(root, 'docs', 'security.md'), 'utf8')
const files = readdirSync(import.meta.dirname).filter(
  (f) => f.endsWith('.test.ts') && f !== 'index.test.ts',
)
/** Backticked test file names in the page; `xml-*.test.ts` stands for a family. */
const named = [...page.matchAll(/`([\w*-]+\.test\.ts)`/g)].map((m) => m[1] ?? '')
const covers = (pattern: string, file: string) =>
  new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('*', '[\\w-]+')}$`).test(file)

describe('docs/security.md', () => {
  it('names every test file under test/security/', () => {
    const missing = files.filter((f) => !named.some((n) => covers(n, f)))
    assert.deepEqual(missing, [], 'add a row for each to docs/security.md')
  })

  it('names no test file that does not exist', () => {
    const security = named.filter((n) => !n.includes('/'))
    const stale = security.filter((n) => !files.some((f) => covers(n, f)))
    assert.deepEqual(stale, [])
  })
})
