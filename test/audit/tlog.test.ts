/**
 * The tiled log on disk: TileWriter's files agree with RFC 6962 in memory (the 70,000-record
 * tree of c2sp.org/tlog-tiles' example), it reopens and continues, and any flipped bit of any
 * file fails verification. Then one test per way of tampering with a log, each expecting
 * verifyLog to name it in words and give its first record; and a record's c2sp.org/tlog-proof.
 * The formats themselves are checked in tlog-formats.test.ts.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../src/errors.ts'
import { openCheckpoint } from '../../src/audit/tlog/checkpoint.ts'
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MemoryTree,
  rootHash,
} from '../../src/audit/tlog/merkle.ts'
import { generateKey, signNote, verifyNote } from '../../src/audit/tlog/note.ts'
import { formatProof, parseProof, proveRecord, verifyProof } from '../../src/audit/tlog/proof.ts'
import { decodeBundle, encodeBundle, TileReader, TileWriter } from '../../src/audit/tlog/tiles.ts'
import { verifyConsistency, verifyLog } from '../../src/audit/tlog/verify.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const record = (i: number) => Buffer.from(`{"eventID":"${i}","eventName":"GetObject"}`)
const memoryTree = (n: number) => {
  const t = new MemoryTree()
  for (let i = 0; i < n; i++) t.append(record(i))
  return t
}
const root = mkdtempSync(join(tmpdir(), 'sr-tlog-'))
after(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0
const freshDir = () => join(root, `log${dirs++}`)

const key = generateKey('strongroom.example/audit')
const ORIGIN = 'strongroom.example/audit'

/** A log of `n` records written in one append and checkpointed: every file is one verifyLog reads. */
async function writeLog(n: number, dir = freshDir()): Promise<string> {
  const w = await TileWriter.open(dir)
  await w.append(Array.from({ length: n }, (_, i) => record(i)))
  await w.checkpoint(key.signerKey, ORIGIN)
  return dir
}

describe('TileWriter and TileReader', () => {
  it("writes the spec's 70,000-record tree: its tiles, proofs and root agree with RFC 6962 in memory", async () => {
    const dir = await writeLog(70000)
    const mem = memoryTree(70000)
    const reader = new TileReader(dir, 70000)
    assert.equal(hex(await rootHash(reader, 70000)), hex(await rootHash(mem, 70000)))
    for (const p of [
      'tile/0/272',
      'tile/0/273.p/112',
      'tile/1/000',
      'tile/1/001.p/17',
      'tile/2/000.p/1',
      'tile/entries/273.p/112',
    ])
      assert.ok(readFileSync(join(dir, p)).length > 0, p)
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 70000 }),
        fc.integer({ min: 0, max: 69999 }),
        async (n, i) => {
          const m = (i % n) + 1
          assert.deepEqual(
            (await inclusionProof(reader, i % n, n)).map(hex),
            (await inclusionProof(mem, i % n, n)).map(hex),
          )
          assert.deepEqual(
            (await consistencyProof(reader, m, 70000)).map(hex),
            (await consistencyProof(mem, m, 70000)).map(hex),
          )
        },
      ),
      { numRuns: 100 },
    )
    assert.deepEqual(await verifyLog(dir, key.verifierKey), {
      ok: true,
      size: 70000,
      root: await rootHash(mem, 70000),
    })
  })

  it('reopens a log and continues; full tiles never change; replaced partials are removed', async () => {
    const dir = freshDir()
    let w = await TileWriter.open(dir)
    await w.checkpoint(key.signerKey, ORIGIN)
    assert.deepEqual(await verifyLog(dir, key.verifierKey), { ok: true, size: 0, root: EMPTY_ROOT })
    await assert.rejects(verifyLog(dir, 'not a key'), (e) =>
      isStrongroomError(e, 'INVALID_ARGUMENT'),
    )
    await w.append(Array.from({ length: 300 }, (_, i) => record(i)))
    await w.checkpoint(key.signerKey, ORIGIN)
    const full = readFileSync(join(dir, 'tile/0/000'))
    w = await TileWriter.open(dir)
    assert.equal(w.size, 300)
    for (let i = 300; i < 800; i += 50)
      await w.append(Array.from({ length: 50 }, (_, j) => record(i + j)))
    await w.checkpoint(key.signerKey, ORIGIN)
    assert.deepEqual(readFileSync(join(dir, 'tile/0/000')), full)
    assert.throws(() => readFileSync(join(dir, 'tile/0/001.p/44')), /ENOENT/)
    const mem = memoryTree(800)
    assert.deepEqual(await verifyLog(dir, key.verifierKey), {
      ok: true,
      size: 800,
      root: await rootHash(mem, 800),
    })
  })

  it('an older checkpoint still verifies once full tiles replaced its partial ones', async () => {
    const dir = freshDir()
    const w = await TileWriter.open(dir)
    await w.append(Array.from({ length: 590 }, (_, i) => record(i)))
    const old = await w.checkpoint(key.signerKey, ORIGIN)
    await w.append(Array.from({ length: 300 }, (_, i) => record(590 + i)))
    await w.checkpoint(key.signerKey, ORIGIN)
    assert.throws(() => readFileSync(join(dir, 'tile/entries/002.p/78')), /ENOENT/)
    writeFileSync(join(dir, 'checkpoint'), old)
    assert.deepEqual(await verifyLog(dir, key.verifierKey), {
      ok: true,
      size: 590,
      root: await rootHash(memoryTree(590), 590),
    })
    const proof = await inclusionProof(new TileReader(dir, 590), 589, 590)
    assert.deepEqual(proof.map(hex), (await inclusionProof(memoryTree(590), 589, 590)).map(hex))
  })

  it('refuses a directory with tiles and no checkpoint, and one whose last tiles were changed', async () => {
    const dir = await writeLog(300)
    rmSync(join(dir, 'checkpoint'))
    await assert.rejects(TileWriter.open(dir), /has tiles but no checkpoint/)
    const dir2 = await writeLog(300)
    const p = join(dir2, 'tile/0/001.p/44')
    const t = readFileSync(p)
    t[5] = (t[5] ?? 0) ^ 1
    writeFileSync(p, t)
    await assert.rejects(TileWriter.open(dir2), (e) => isStrongroomError(e, 'LOG_TAMPERED'))
  })

  it('property: flipping any bit of any file of a log fails verification', async () => {
    const dir = await writeLog(600)
    const files = [
      'checkpoint',
      'tile/0/000',
      'tile/0/001',
      'tile/0/002.p/88',
      'tile/1/000.p/2',
      'tile/entries/000',
      'tile/entries/001',
      'tile/entries/002.p/88',
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        async (f, at, bit) => {
          const p = join(dir, f)
          const good = readFileSync(p)
          const bad = Buffer.from(good)
          bad[at % bad.length] = (bad[at % bad.length] ?? 0) ^ (1 << bit)
          writeFileSync(p, bad)
          try {
            const r = await verifyLog(dir, key.verifierKey)
            assert.equal(r.ok, false, `${f} byte ${at % bad.length} bit ${bit}`)
          } finally {
            writeFileSync(p, good)
          }
        },
      ),
      { numRuns: 150 },
    )
    assert.equal((await verifyLog(dir, key.verifierKey)).ok, true)
  })
})

/** Rewrites bundle `b` of `dir` (path `path`) with `edit` applied to its records. */
function editBundle(dir: string, path: string, edit: (records: Buffer[]) => Buffer[]): void {
  const p = join(dir, path)
  writeFileSync(p, encodeBundle(edit(decodeBundle(readFileSync(p)).map((r) => Buffer.from(r)))))
}

describe('partial tiles do not pile up (outside review of issue 15)', () => {
  it('a log checkpointed after every record keeps two partials of its last bundle; older sizes still read', async () => {
    const dir = freshDir()
    const { signerKey } = generateKey('example.com/log')
    const w = await TileWriter.open(dir)
    const roots: Buffer[] = []
    for (let i = 0; i < 100; i++) {
      await w.append([record(i)])
      await w.checkpoint(signerKey, 'example.com/log')
      roots.push(w.root())
    }
    assert.deepEqual(readdirSync(join(dir, 'tile', 'entries', '000.p')).sort(), ['100', '99'])
    assert.deepEqual(readdirSync(join(dir, 'tile', '0', '000.p')).sort(), ['100', '99'])
    // A reader of an older checkpoint (size 10) reads the prefix of a wider partial.
    const old = new TileReader(dir, 10)
    assert.equal(hex(await rootHash(old, 10)), hex(roots[9] ?? Buffer.alloc(0)))
    assert.equal((await old.readEntry(9)).toString(), record(9).toString())
    const mem = memoryTree(100)
    assert.deepEqual(
      (await consistencyProof(w.reader(), 10, 100)).map(hex),
      (await consistencyProof(mem, 10, 100)).map(hex),
    )
  })
})

describe('a hostile copy of a log (outside review of issue 15)', () => {
  it('a checkpoint that is a FIFO, or a link to /dev/zero, is an error at once, not a hang or an exhausted heap', async () => {
    const { verifierKey } = generateKey('example.com/log')
    for (const make of [
      (p: string) => execFileSync('mkfifo', [p]),
      (p: string) => symlinkSync('/dev/zero', p),
    ]) {
      const dir = freshDir()
      mkdirSync(dir, { recursive: true })
      make(join(dir, 'checkpoint'))
      await assert.rejects(verifyLog(dir, verifierKey), (e) => isStrongroomError(e, 'IO'))
    }
  })
})

describe('verifyLog names each kind of tampering and its first record', () => {
  const check = async (dir: string, problem: RegExp, index?: number) => {
    const r = await verifyLog(dir, key.verifierKey)
    if (r.ok) assert.fail('the tampered log verified')
    assert.match(r.problem, problem)
    assert.equal(r.index, index)
  }

  it('modified record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/001', (rs) => {
      rs[44] = Buffer.from(String(rs[44]).replace('GetObject', 'PutObject'))
      return rs
    })
    await check(dir, /^modified record: record 300 does not match its hash in tile\/0\/001/, 300)
  })

  it('deleted record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/001', (rs) => rs.filter((_, i) => i !== 10))
    await check(dir, /^deleted record: record 266 is gone/, 266)
  })

  it('inserted record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/000', (rs) => [...rs.slice(0, 7), record(9999), ...rs.slice(7)])
    await check(dir, /^inserted record: a record was inserted before record 7/, 7)
  })

  it('reordered records', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/002.p/88', (rs) => [
      ...rs.slice(0, 3),
      rs[5] as Buffer,
      rs[4] as Buffer,
      rs[3] as Buffer,
      ...rs.slice(6),
    ])
    await check(
      dir,
      /^reordered records: record 515 holds what tile\/0\/002.p\/88 says is record 517/,
      515,
    )
  })

  it('tail truncated behind the checkpoint', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/002.p/88', (rs) => rs.slice(0, 80))
    await check(
      dir,
      /^tail truncated behind the checkpoint: it covers 600 records, the log holds 592/,
      592,
    )
    rmSync(join(dir, 'tile/entries/002.p'), { recursive: true })
    rmSync(join(dir, 'tile/0/002.p'), { recursive: true })
    await check(
      dir,
      /^tail truncated behind the checkpoint: it covers 600 records, the log holds 512/,
      512,
    )
    // Rolled back to the files of an earlier checkpoint, under the latest one.
    const w = await TileWriter.open(freshDir())
    await w.append(Array.from({ length: 590 }, (_, i) => record(i)))
    await w.checkpoint(key.signerKey, ORIGIN)
    await w.append(Array.from({ length: 10 }, (_, i) => record(590 + i)))
    await w.checkpoint(key.signerKey, ORIGIN)
    rmSync(join(w.dir, 'tile/entries/002.p/88'))
    rmSync(join(w.dir, 'tile/0/002.p/88'))
    await check(
      w.dir,
      /^tail truncated behind the checkpoint: it covers 600 records, the log holds 590/,
      590,
    )
  })

  it('forged checkpoint', async () => {
    const dir = await writeLog(600)
    const p = join(dir, 'checkpoint')
    writeFileSync(p, readFileSync(p, 'utf8').replace('\n600\n', '\n500\n'))
    await check(
      dir,
      /^forged checkpoint: the signature by `strongroom.example\/audit\+[0-9a-f]{8}` does not verify/,
    )
  })

  it('replaced checkpoint from another key', async () => {
    const dir = await writeLog(600)
    const p = join(dir, 'checkpoint')
    const impostor = generateKey(ORIGIN)
    writeFileSync(
      p,
      signNote(verifyNote(readFileSync(p), key.verifierKey).text, impostor.signerKey),
    )
    await check(dir, /^replaced checkpoint: not signed by the log's key/)
  })

  it('records rewritten together with their hash tile', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/000', (rs) => rs.reverse())
    const rewritten = decodeBundle(readFileSync(join(dir, 'tile/entries/000'))).map(leafHash)
    writeFileSync(join(dir, 'tile/0/000'), Buffer.concat(rewritten))
    await check(
      dir,
      /^modified record: records 0 to 255 were rewritten together with their hash tiles, which tile\/1\/000.p\/2 contradicts/,
      0,
    )
  })

  it('the same answers from a log large enough to be hashed in worker threads', async () => {
    const dir = await writeLog(70000)
    const restore = (path: string, bytes: Buffer) => {
      rmSync(join(dir, path), { force: true })
      writeFileSync(join(dir, path), bytes)
    }
    const modified = 'tile/entries/270'
    const good = readFileSync(join(dir, modified))
    editBundle(dir, modified, (rs) => {
      rs[7] = Buffer.from(String(rs[7]).replace('GetObject', 'PutObject'))
      return rs
    })
    await check(
      dir,
      /^modified record: record 69127 does not match its hash in tile\/0\/270$/,
      69127,
    )
    restore(modified, good)
    const rewritten = 'tile/entries/150'
    const goodTile = readFileSync(join(dir, 'tile/0/150'))
    const goodBundle = readFileSync(join(dir, rewritten))
    editBundle(dir, rewritten, (rs) => rs.reverse())
    writeFileSync(
      join(dir, 'tile/0/150'),
      Buffer.concat(decodeBundle(readFileSync(join(dir, rewritten))).map(leafHash)),
    )
    await check(
      dir,
      /^modified record: records 38400 to 38655 were rewritten together with their hash tiles, which tile\/1\/000 contradicts$/,
      38400,
    )
    restore(rewritten, goodBundle)
    restore('tile/0/150', goodTile)
    const deleted = 'tile/entries/100'
    const goodDeleted = readFileSync(join(dir, deleted))
    rmSync(join(dir, deleted))
    await check(dir, /^deleted records: tile\/entries\/100 is missing$/, 25600)
    execFileSync('mkfifo', [join(dir, deleted)])
    await assert.rejects(verifyLog(dir, key.verifierKey), (e) => isStrongroomError(e, 'IO'))
    restore(deleted, goodDeleted)
    assert.equal((await verifyLog(dir, key.verifierKey)).ok, true)
  })

  it('records and every tile rewritten: only the signed root catches it', async () => {
    const dir = await writeLog(600)
    const forged = freshDir()
    const w = await TileWriter.open(forged)
    await w.append(Array.from({ length: 600 }, (_, i) => (i === 42 ? record(-1) : record(i))))
    await w.checkpoint(generateKey(ORIGIN).signerKey, ORIGIN)
    rmSync(join(forged, 'checkpoint'))
    writeFileSync(join(forged, 'checkpoint'), readFileSync(join(dir, 'checkpoint')))
    await check(
      forged,
      /^modified records: the records and hash tiles agree with each other but not with the signed checkpoint/,
    )
  })

  it('two inconsistent checkpoints', async () => {
    const a = await writeLog(300)
    const b = freshDir()
    const w = await TileWriter.open(b)
    await w.append(Array.from({ length: 500 }, (_, i) => (i === 120 ? record(-1) : record(i))))
    const forkNote = await w.checkpoint(key.signerKey, ORIGIN)
    const older = openCheckpoint(readFileSync(join(a, 'checkpoint')), key.verifierKey)
    const newer = openCheckpoint(forkNote, key.verifierKey)
    const proof = await consistencyProof(w.reader(), 300, 500)
    const r = verifyConsistency(older, newer, proof)
    if (r.ok) assert.fail('the forked checkpoints were found consistent')
    assert.match(
      r.problem,
      /^inconsistent checkpoints \(300 → 500\): the proof does not lead to the older root/,
    )
    // The honest continuation of log a is consistent with it.
    const wa = await TileWriter.open(a)
    await wa.append(Array.from({ length: 200 }, (_, i) => record(300 + i)))
    const honest = openCheckpoint(await wa.checkpoint(key.signerKey, ORIGIN), key.verifierKey)
    assert.deepEqual(
      verifyConsistency(older, honest, await consistencyProof(wa.reader(), 300, 500)),
      { ok: true },
    )
  })
})

describe('C2SP tlog-proof', () => {
  it('proves one record offline with the checkpoint it carries', async () => {
    const dir = await writeLog(600)
    const text = await proveRecord(dir, 517, Buffer.from('context'))
    const lines = text.split('\n')
    assert.deepEqual(lines.slice(0, 3), [
      'c2sp.org/tlog-proof@v1',
      'extra Y29udGV4dA==',
      'index 517',
    ])
    assert.ok(text.endsWith(readFileSync(join(dir, 'checkpoint'), 'utf8')))
    const ok = verifyProof(text, record(517), key.verifierKey)
    assert.equal(ok.ok, true)
    assert.equal(verifyProof(text, record(516), key.verifierKey).ok, false)
    assert.equal(verifyProof(text, record(517), generateKey(ORIGIN).verifierKey).ok, false)
    const p = parseProof(text)
    assert.equal(formatProof(p), text)
    const bad = formatProof({ ...p, index: 516 })
    assert.equal(verifyProof(bad, record(517), key.verifierKey).ok, false)
  })
})
