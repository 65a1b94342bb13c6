/**
 * Writes test/vectors/encrypted-object.json: known-answer vectors for the
 * encrypted-object format, so another implementation can check itself
 * against ours. Deterministic: fixed keys, salt and nonce prefix. Run it only
 * when the format version changes; test/vectors.test.ts checks the file.
 *
 * Usage: node scripts/gen-vectors.ts
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  NEGATIVE_EDITS,
  sealVector,
  VECTOR_INPUTS,
  vectorPlaintext,
} from '../test/vectors/inputs.ts'

const out = []
for (const v of VECTOR_INPUTS) {
  const plain = vectorPlaintext(v.length)
  const sealed = await sealVector(v, plain)
  out.push({
    ...v,
    plaintextHex: plain.toString('hex'),
    ciphertextHex: sealed.toString('hex'),
  })
}
const file = join(import.meta.dirname, '..', 'test', 'vectors', 'encrypted-object.json')
writeFileSync(
  file,
  JSON.stringify(
    {
      format: 'strongroom encrypted object, version 1 (docs/formats/encrypted-object.md)',
      positive: out,
      negative: NEGATIVE_EDITS,
    },
    null,
    1,
  ) + '\n',
)
console.log(`wrote ${out.length} vectors to ${file}`)
