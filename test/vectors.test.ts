/**
 * Known-answer vectors for the encrypted-object format
 * (test/vectors/encrypted-object.json, written by scripts/gen-vectors.ts):
 * this build must produce exactly the committed bytes and read them back, and
 * every negative edit must fail with its stated error code.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseHeader, TAG_BYTES } from '../src/crypto/header.ts'
import { openObject } from '../src/crypto/range.ts'
import { decrypt } from '../src/crypto/stream.ts'
import { openSecret } from '../src/crypto/seal.ts'
import { isStrongroomError, StrongroomError } from '../src/errors.ts'
import { headerDataKey } from '../src/kms/envelope.ts'
import { dataKeyAad } from '../src/kms/local.ts'
import type { KeyProvider } from '../src/kms/provider.ts'
import { sealVector, type NegativeEdit, type VectorInput } from './vectors/inputs.ts'

interface Vector extends VectorInput {
  plaintextHex: string
  ciphertextHex: string
}
const file = JSON.parse(
  readFileSync(join(import.meta.dirname, 'vectors', 'encrypted-object.json'), 'utf8'),
) as {
  positive: Vector[]
  negative: NegativeEdit[]
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of gen) parts.push(p)
  return Buffer.concat(parts)
}

describe('encrypted-object known-answer vectors', () => {
  it('has vectors to check', () => {
    assert.ok(file.positive.length >= 8)
    assert.ok(file.negative.length >= 12)
  })

  for (const v of file.positive) {
    it(`seals and opens: ${v.name}`, async () => {
      const plain = Buffer.from(v.plaintextHex, 'hex')
      assert.equal(plain.length, v.length)
      const sealed = await sealVector(v, plain)
      assert.equal(sealed.toString('hex'), v.ciphertextHex)
      const ct = Buffer.from(v.ciphertextHex, 'hex')
      const opened = await collect(
        decrypt([ct], {
          dataKey: () => Buffer.from(v.dataKeyHex, 'hex'),
          expectedContext: v.context,
        }),
      )
      assert.deepEqual(opened, plain)
    })
  }

  it("unwraps the standalone vector's embedded data key with its tenant-key material", async () => {
    const v = file.positive.find((x) => x.kekHex !== undefined)
    assert.ok(v?.kekHex !== undefined && v.wrappedKeyHex !== '')
    const kek = Buffer.from(v.kekHex, 'hex')
    // The local provider's unwrap, over the vector's key material (src/kms/local.ts).
    const provider: KeyProvider = {
      kind: 'local',
      wrap: () => Promise.reject(new Error('not used')),
      unwrap: (w, context) =>
        Promise.resolve(
          openSecret(
            kek,
            w.ciphertext,
            dataKeyAad(w.keyId, w.keyVersion, context),
            () => new StrongroomError('KEY_UNWRAP_FAILED', 'does not unwrap'),
          ),
        ),
    }
    const ct = Buffer.from(v.ciphertextHex, 'hex')
    const header = parseHeader(ct)
    assert.equal(header.wrappedKey.toString('hex'), v.wrappedKeyHex)
    assert.equal(Buffer.from(await headerDataKey(provider)(header)).toString('hex'), v.dataKeyHex)
    const opened = await collect(decrypt([ct], { dataKey: headerDataKey(provider) }))
    assert.equal(opened.toString('hex'), v.plaintextHex)
    // Another tenant key's material does not unwrap it.
    kek.fill(0x11)
    await assert.rejects(
      collect(decrypt([ct], { dataKey: headerDataKey(provider) })),
      (e: unknown) => isStrongroomError(e, 'KEY_UNWRAP_FAILED'),
    )
  })

  const target = file.positive.find((v) => v.length === 100)
  for (const n of file.negative) {
    it(`rejects: ${n.name} (${n.expected})`, async () => {
      assert.ok(target)
      let ct = Buffer.from(target.ciphertextHex, 'hex')
      const h = parseHeader(ct).bytes.length
      const seg = (i: number) => h + i * (target.segmentSize + TAG_BYTES)
      let key = Buffer.from(target.dataKeyHex, 'hex')
      let expectedContext = target.context
      switch (n.edit) {
        case 'truncate':
          ct = ct.subarray(0, ct.length - (n.at ?? 0))
          break
        case 'append':
          ct = Buffer.concat([ct, Buffer.alloc(n.at ?? 0)])
          break
        case 'swap-segments': {
          const a = Buffer.from(ct.subarray(seg(0), seg(1)))
          ct.copy(ct, seg(0), seg(1), seg(2))
          a.copy(ct, seg(1))
          break
        }
        case 'flip-byte':
          ct[n.at ?? 0] = (ct[n.at ?? 0] ?? 0) ^ 1
          break
        case 'flip-segment-byte':
          ct[seg(n.at ?? 0)] = (ct[seg(n.at ?? 0)] ?? 0) ^ 1
          break
        case 'wrong-key':
          key = Buffer.alloc(32, 0xee)
          break
        case 'other-context':
          expectedContext = { ...target.context, key: 'another/object.pt' }
          break
      }
      const check = (e: unknown) => {
        assert.ok(isStrongroomError(e), String(e))
        assert.equal(e.code, n.expected, e.message)
        return true
      }
      const options = { dataKey: () => Buffer.from(key), expectedContext }
      await assert.rejects(collect(decrypt([ct], options)), check, 'streaming reader')
      const source = {
        size: ct.length,
        read: (at: number, len: number) => Promise.resolve(ct.subarray(at, at + len)),
      }
      await assert.rejects(
        (async () => collect((await openObject(source, options)).range(0, target.length - 1)))(),
        check,
        'random-access reader',
      )
    })
  }
})
