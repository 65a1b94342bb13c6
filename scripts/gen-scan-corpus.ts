/**
 * Writes the scanner's own corpus (test/scan/corpus.ts) out as files, with a
 * labels.json in the shape of ../shared/corpus/models, so that other
 * scanners (or this one, through the CLI) can be run over it.
 *
 * Usage: node scripts/gen-scan-corpus.ts OUT_DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CASES } from '../test/scan/corpus.ts'

const out = process.argv[2]
if (out === undefined) {
  console.error('usage: node scripts/gen-scan-corpus.ts OUT_DIR')
  process.exit(2)
}
mkdirSync(join(out, 'files'), { recursive: true })
const labels: Record<string, { label: string; why: string }> = {}
for (const c of CASES) {
  // Names carry no extension: the scanner must identify content, not names.
  writeFileSync(join(out, 'files', c.name), c.bytes)
  labels[c.name] = { label: c.label, why: c.why }
}
writeFileSync(join(out, 'labels.json'), JSON.stringify(labels, null, 1) + '\n')
console.log(`wrote ${CASES.length} files to ${join(out, 'files')}`)
