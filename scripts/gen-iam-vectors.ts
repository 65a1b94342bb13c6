/**
 * Writes test/vectors/iam.jsonl from test/vectors/iam-cases.ts: the project's
 * IAM evaluation vectors in the simulator's document format, one per line.
 *
 * Usage: node scripts/gen-iam-vectors.ts
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CASES } from '../test/vectors/iam-cases.ts'

const file = join(import.meta.dirname, '..', 'test', 'vectors', 'iam.jsonl')
writeFileSync(file, CASES.map((c) => JSON.stringify(c)).join('\n') + '\n')
console.log(`wrote ${CASES.length} cases to ${file}`)
