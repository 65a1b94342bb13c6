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
import { encrypt } from '../src/crypto/stream.ts'
import {
  VECTOR_INPUTS,
  vectorRandom,
  vectorPlaintext,
  NEGATIVE_EDITS,
} from '../test/vectors/inputs.ts'

const out = []
for (const v of VECTOR_INPUTS) {
  const plain = vectorPlaintext(v.length)
  const parts: Uint8Array[] = []
  for await (const p of encrypt([plain], {
    dataKey: Buffer.from(v.dataKeyHex, 'hex'),
    dataKeyId: v.dataKeyId,
    context: v.context,
    segmentSize: v.segmentSize,
    plaintextLength: plain.length,
    wrappedKey: Buffer.from(v.wrappedKeyHex, 'hex'),
    random: vectorRandom(v.saltHex, v.noncePrefixHex),
  })) {
    parts.push(p)
  }
  out.push({
    ...v,
    plaintextHex: plain.toString('hex'),
    ciphertextHex: Buffer.concat(parts).toString('hex'),
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
