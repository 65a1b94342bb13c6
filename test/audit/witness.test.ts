/**
 * The witness (src/audit/witness.ts), answering C2SP tlog-witness `add-checkpoint` requests
 * (https://c2sp.org/tlog-witness) with cosignatures (https://c2sp.org/tlog-cosignature) for a
 * log it trusts, and refusing, with the status codes the spec gives, whatever does not extend
 * the newest checkpoint it cosigned: the way a fork of the audit log becomes visible.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../src/errors.ts'
import { formatCheckpoint } from '../../src/audit/tlog/checkpoint.ts'
import {
  parseCosignerKey,
  parseWitnessKey,
  verifyCosignature,
  withSignatures,
} from '../../src/audit/tlog/cosignature.ts'
import { consistencyProof, MemoryTree } from '../../src/audit/tlog/merkle.ts'
import {
  COSIGNATURE_V1,
  generateKey,
  parseVerifierKey,
  signNote,
} from '../../src/audit/tlog/note.ts'
import { parseAddCheckpoint, Witness } from '../../src/audit/witness.ts'
import { SharedAuditLog } from '../../src/audit/shared-log.ts'
import { sharedProofs } from '../../src/audit/witness-client.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-witness-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const origin = 'strongroom/audit/0123456789abcdef'
const log = generateKey(origin)
const wkeys = generateKey('witness.example/w1', COSIGNATURE_V1)

/** A log of `size` records `prefix0`, `prefix1`…, as a tree and its signed checkpoint. */
function tree(size: number, prefix = 'r') {
  const t = new MemoryTree()
  for (let i = 0; i < size; i++) t.append(Buffer.from(`${prefix}${i}`))
  return t
}
async function checkpointOf(t: MemoryTree, key = log.signerKey, name = origin) {
  const { rootHash } = await import('../../src/audit/tlog/merkle.ts')
  const root = await rootHash(t, t.size)
  return signNote(formatCheckpoint({ origin: name, size: t.size, root, extensions: [] }), key)
}
async function request(old: number, t: MemoryTree, note?: string, proofFrom: MemoryTree = t) {
  const hashes = old === 0 ? [] : await consistencyProof(proofFrom, old, t.size)
  const lines = hashes.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')
  return Buffer.from(`old ${old}\n${lines}\n${note ?? (await checkpointOf(t))}`)
}

async function witness(dir = join(root, `w-${++n}`), evidence: string[] = []) {
  const w = await Witness.open(
    dir,
    parseCosignerKey(wkeys.signerKey),
    [parseVerifierKey(log.verifierKey)],
    (p) => evidence.push(p),
  )
  return { w, dir, evidence }
}

describe('the audit log witness', () => {
  it('cosigns the first checkpoint it sees and each one that extends it, remembering across restarts', async () => {
    const { w, dir } = await witness()
    const t10 = tree(10)
    const first = await w.addCheckpoint(await request(0, t10), 1_800_000_000_000)
    assert.equal(first.status, 200, first.body)
    assert.match(first.body, /^\u2014 witness\.example\/w1 [A-Za-z0-9+/=]+\n$/)
    const cosigned = withSignatures(await checkpointOf(t10), first.body)
    assert.equal(
      verifyCosignature(cosigned, parseWitnessKey(wkeys.verifierKey), 1_800_000_000_000),
      1_800_000_000,
    )
    const t25 = tree(25)
    const next = await w.addCheckpoint(await request(10, t25))
    assert.equal(next.status, 200, next.body)
    // Restarted, it holds 25 (state fsynced before the cosignature left).
    const again = await witness(dir)
    assert.equal(again.w.sizeOf(origin), 25)
    const stale = await again.w.addCheckpoint(await request(10, tree(30)))
    assert.deepEqual(stale, { status: 409, contentType: 'text/x.tlog.size', body: '25\n' })
    // The same checkpoint again is cosigned again (a log retrying).
    assert.equal((await again.w.addCheckpoint(await request(25, t25))).status, 200)
  })

  it('attack: a forked log (the records after 10 rewritten) gets no cosignature, and the request is kept as evidence', async () => {
    const { w, dir, evidence } = await witness()
    assert.equal((await w.addCheckpoint(await request(0, tree(12)))).status, 200)
    // The log's operator rewrites records 10 and 11 and signs a new checkpoint of 20; the only
    // proof from 12 it can give is one of its rewritten tree.
    const honest = tree(20)
    const forged = tree(10)
    for (let i = 10; i < 20; i++) forged.append(Buffer.from(`forged${i}`))
    const refused = await w.addCheckpoint(await request(12, forged))
    assert.equal(refused.status, 422, refused.body)
    assert.match(refused.body, /consistency proof from 12 to 20 does not verify/)
    assert.equal(w.sizeOf(origin), 12)
    assert.equal(evidence.length, 1)
    assert.match(evidence[0] ?? '', /does not extend the one of 12 this witness cosigned/)
    assert.equal(readdirSync(join(dir, 'evidence')).length, 1)
    // The honest continuation is still cosigned.
    assert.equal((await w.addCheckpoint(await request(12, honest))).status, 200)
  })

  it('attack: another root at the size it cosigned is a fork: 409, kept as evidence', async () => {
    const { w, evidence } = await witness()
    assert.equal((await w.addCheckpoint(await request(0, tree(8)))).status, 200)
    const other = await w.addCheckpoint(await request(8, tree(8, 'x')))
    assert.equal(other.status, 409, other.body)
    assert.match(other.body, /cosigned another root at size 8: the log forked/)
    assert.equal(evidence.length, 1)
  })

  it('attack: a rollback (an older checkpoint, or old past the size) is never cosigned', async () => {
    const { w } = await witness()
    assert.equal((await w.addCheckpoint(await request(0, tree(30)))).status, 200)
    const older = await w.addCheckpoint(await request(0, tree(20)))
    assert.deepEqual([older.status, older.body], [409, '30\n'])
    const backwards = await w.addCheckpoint(
      Buffer.from(`old 30\n\n${await checkpointOf(tree(20))}`),
    )
    assert.equal(backwards.status, 400)
    assert.match(backwards.body, /old 30 is past the checkpoint's size, 20/)
  })

  it('answers an unknown log 404, a checkpoint not signed by the log 403, and malformed requests 400', async () => {
    const { w } = await witness()
    const t = tree(3)
    const otherLog = generateKey('other/log')
    const unknown = await w.addCheckpoint(
      await request(0, t, await checkpointOf(t, otherLog.signerKey, 'other/log')),
    )
    assert.equal(unknown.status, 404, unknown.body)
    const impostor = generateKey(origin)
    const forged = await w.addCheckpoint(
      await request(0, t, await checkpointOf(t, impostor.signerKey)),
    )
    assert.equal(forged.status, 403, forged.body)
    for (const body of ['old 01\n\nx', 'old 3\nnot-a-hash\n\nx', 'nothing', '\u00ff'])
      assert.equal((await w.addCheckpoint(Buffer.from(body, 'latin1'))).status, 400, body)
    const hashesFromZero = Buffer.from(
      `old 0\n${Buffer.alloc(32).toString('base64')}\n\n${await checkpointOf(t)}`,
    )
    assert.equal((await w.addCheckpoint(hashesFromZero)).status, 422)
    assert.equal(w.sizeOf(origin), 0)
  })

  it('attack: two requests at once from the same size cannot roll its state back: one is cosigned, the other told the new size', async () => {
    const { w } = await witness()
    assert.equal((await w.addCheckpoint(await request(0, tree(5)))).status, 200)
    const [a, b] = await Promise.all([
      w.addCheckpoint(await request(5, tree(40))),
      w.addCheckpoint(await request(5, tree(9))),
    ])
    assert.deepEqual([a.status, b.status, b.body], [200, 409, '40\n'])
    assert.equal(w.sizeOf(origin), 40)
  })

  it('refuses to start on a damaged state file rather than cosign from scratch', async () => {
    const { dir } = await witness()
    const { w } = await witness(dir)
    assert.equal((await w.addCheckpoint(await request(0, tree(2)))).status, 200)
    const [file] = readdirSync(join(dir, 'logs'))
    writeFileSync(join(dir, 'logs', file ?? ''), '{"origin": "x"')
    await assert.rejects(witness(dir), (e) => {
      assert.ok(isStrongroomError(e, 'CONFIG_INVALID'))
      assert.match(e.message, /is not a checkpoint this witness kept/)
      return true
    })
  })

  it('parses add-checkpoint bodies strictly, naming the line at fault', () => {
    assert.deepEqual(parseAddCheckpoint('old 0\n\nC'), { old: 0, hashes: [], checkpoint: 'C' })
    assert.throws(
      () => parseAddCheckpoint(`old 2\n${'A'.repeat(42)}==\n\nC`),
      /line 2: not a proof hash/,
    )
    const many = Array.from({ length: 64 }, () => `${Buffer.alloc(32).toString('base64')}\n`).join(
      '',
    )
    assert.throws(() => parseAddCheckpoint(`old 2\n${many}\nC`), /over 63 hashes/)
  })

  it("brings a witness far behind the shared log up a stored checkpoint at a time, each step's proof valid", async () => {
    const store = SqliteMetadataStore.open(join(root, `shared-${++n}.sqlite`), { create: true })
    try {
      const l = await SharedAuditLog.open({
        store,
        dir: join(root, `gw-${++n}`),
        signerKey: log.signerKey,
        verifierKey: log.verifierKey,
        origin,
        macKey: Buffer.alloc(32, 1),
        checkpointMs: 3_600_000,
        sealMax: 8,
        onAlert: () => {},
      })
      for (let i = 0; i < 40; i++) {
        await l.append(Buffer.from(`r${i}`))
        if (i % 8 === 7) await l.checkpoint()
      }
      await l.close()
      const last = await store.latestAuditCheckpoint()
      assert.equal(last?.size, 40)
      const proofs = sharedProofs(store, 10)
      const { w } = await witness()
      const first = await w.addCheckpoint(await request(0, tree(8)))
      assert.equal(first.status, 200)
      // From 8 towards 40, at most 10 records a step: the checkpoint of 16, then 24...
      const sizes: number[] = []
      for (let from = 8; from < 40;) {
        const step = await proofs.step(from, { note: last.note, size: 40 })
        assert.ok(step)
        sizes.push(step.size)
        const lines = step.hashes.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')
        const r = await w.addCheckpoint(Buffer.from(`old ${from}\n${lines}\n${step.note}`))
        assert.equal(r.status, 200, r.body)
        from = step.size
      }
      assert.deepEqual(sizes, [16, 24, 32, 40])
      // A size the log holds no checkpoint of: nothing to prove from.
      assert.equal(await proofs.step(9, { note: last.note, size: 40 }), undefined)
    } finally {
      await store.close()
    }
  })
})
