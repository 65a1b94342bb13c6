/**
 * Interoperability: a log written by TileWriter is checked by a verifier that shares nothing
 * with ours (test/audit/verify_tlog.py: Python's hashlib and the `cryptography` package,
 * written from c2sp.org/signed-note, tlog-checkpoint and tlog-tiles), and a checkpoint signed
 * by that code opens with ours. Agreement between two implementations is what makes the
 * format worth anything to an auditor. Without python3 and its cryptography module the tests
 * skip with the package to install; with STRONGROOM_REQUIRE_TOOLS=1 (CI) they fail instead.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { openCheckpoint } from '../../src/audit/tlog/checkpoint.ts'
import { leafHash } from '../../src/audit/tlog/merkle.ts'
import { COSIGNATURE_V1, generateKey, signNote, verifyNote } from '../../src/audit/tlog/note.ts'
import {
  cosign,
  parseCosignerKey,
  parseWitnessKey,
  verifyCosignature,
  withSignatures,
} from '../../src/audit/tlog/cosignature.ts'
import { decodeBundle, encodeBundle, TileWriter } from '../../src/audit/tlog/tiles.ts'
import { verifyLog } from '../../src/audit/tlog/verify.ts'

export const NEEDS_PYTHON_CRYPTOGRAPHY =
  'needs Debian package python3-cryptography (apt-get install python3-cryptography)'
const SCRIPT = join(import.meta.dirname, 'verify_tlog.py')

function hasPython(): boolean {
  const r = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' })
  if (r.status === 0) return true
  if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
    assert.fail(`${NEEDS_PYTHON_CRYPTOGRAPHY}; STRONGROOM_REQUIRE_TOOLS=1`)
  return false
}

const python = (...args: string[]) => spawnSync('python3', [SCRIPT, ...args], { encoding: 'utf8' })

describe(
  'the log against an independent Python verifier',
  { skip: hasPython() ? false : NEEDS_PYTHON_CRYPTOGRAPHY },
  () => {
    const origin = 'strongroom.example/audit'
    const key = generateKey(origin)
    const record = (i: number) =>
      Buffer.from(JSON.stringify({ eventID: i, eventName: 'PutObject' }))

    it('verifies a log of 65,900 records written in two sessions (three tile levels)', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'sr-tlog-interop-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      let w = await TileWriter.open(dir)
      await w.append(Array.from({ length: 300 }, (_, i) => record(i)))
      await w.checkpoint(key.signerKey, origin)
      w = await TileWriter.open(dir)
      await w.append(Array.from({ length: 65600 }, (_, i) => record(300 + i)))
      await w.checkpoint(key.signerKey, origin)
      const ours = await verifyLog(dir, key.verifierKey)
      assert.ok(ours.ok)
      const r = python('verify', dir, key.verifierKey)
      assert.equal(r.status, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout), {
        size: 65900,
        root: Buffer.from(ours.root).toString('hex'),
      })

      // It is a verifier: it refuses a modified record, and a checkpoint signed by another key.
      const bundle = join(dir, 'tile/entries/100')
      const good = readFileSync(bundle)
      const records = decodeBundle(good)
      records[3] = Buffer.from(String(records[3]).replace('PutObject', 'GetObject'))
      writeFileSync(bundle, encodeBundle(records))
      const tampered = python('verify', dir, key.verifierKey)
      assert.notEqual(tampered.status, 0)
      assert.match(tampered.stderr, /level 0 tiles do not match/)
      writeFileSync(bundle, good)
      assert.equal(python('verify', dir, generateKey(origin).verifierKey).status, 1)
    })

    it('opens a checkpoint that Python signed', () => {
      const r = python('sign', 'python.example/log')
      assert.equal(r.status, 0, r.stderr)
      const { vkey, note } = JSON.parse(r.stdout) as { vkey: string; note: string }
      assert.match(verifyNote(note, vkey).text, /^python\.example\/log\n1\n/)
      const c = openCheckpoint(note, vkey)
      assert.equal(c.size, 1)
      assert.deepEqual(Buffer.from(c.root), leafHash(Buffer.from('hello')))
    })

    it("agrees on witness cosignatures (c2sp.org/tlog-cosignature): Python checks ours, we check Python's", (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'sr-cosign-interop-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const text = `${origin}\n1\n${leafHash(Buffer.from('hello')).toString('base64')}\n`
      const note = signNote(text, key.signerKey)
      const witness = generateKey('witness.example/w1', COSIGNATURE_V1)
      const file = join(dir, 'cosigned')
      writeFileSync(
        file,
        withSignatures(note, cosign(text, parseCosignerKey(witness.signerKey), 1700000123)),
      )
      const r = python('cosigned', file, witness.verifierKey)
      assert.equal(r.status, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout), { time: 1700000123 })
      // A cosignature moved onto another checkpoint does not verify there.
      writeFileSync(file, readFileSync(file, 'utf8').replace(`${origin}\n1\n`, `${origin}\n2\n`))
      assert.equal(python('cosigned', file, witness.verifierKey).status, 1)

      writeFileSync(file, note)
      const p = python('cosign', 'python.example/witness', file)
      assert.equal(p.status, 0, p.stderr)
      const theirs = JSON.parse(p.stdout) as { wkey: string; note: string }
      assert.equal(verifyCosignature(theirs.note, parseWitnessKey(theirs.wkey)), 1700000000)
      assert.equal(verifyNote(theirs.note, key.verifierKey).text, text)
    })
  },
)
