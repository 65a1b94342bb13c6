/**
 * `strongroom audit public-key | verify | prove` as an auditor runs them: the real CLI in a
 * child process, against real logs written with TileWriter. verify and prove run with no data
 * directory, configuration or root key in reach (an empty working directory, no STRONGROOM_*
 * variables). One test per way of tampering with a log, named after it, each asserting the
 * exact lines printed and the exit status; then proofs both ways, and bad input.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { openApp } from '../../src/app.ts'
import { auditKeys } from '../../src/audit/keys.ts'
import { openCheckpoint } from '../../src/audit/tlog/checkpoint.ts'
import { generateKey, signNote, verifyNote } from '../../src/audit/tlog/note.ts'
import { decodeBundle, encodeBundle, TileWriter } from '../../src/audit/tlog/tiles.ts'
import { loadConfig } from '../../src/config.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-audit-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** The CLI in `work`, where there is no data directory, and with no STRONGROOM_* variables. */
function sr(args: string[], env: Record<string, string> = {}): Result {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('STRONGROOM_')),
  )
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...clean, ...env },
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Exactly these stdout lines, nothing on stderr, and this exit status. */
function prints(r: Result, lines: string[], code: number): void {
  assert.equal(r.stderr, '', 'nothing on stderr')
  assert.equal(r.stdout, lines.map((l) => `${l}\n`).join(''))
  assert.equal(r.code, code)
}

/** One error line on stderr, nothing on stdout, no stack trace. */
function refuses(r: Result, line: string, code = 1): void {
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, `strongroom: ${line}\n`)
  assert.equal(r.code, code)
}

const ORIGIN = 'strongroom/audit/0123456789abcdef'
const key = generateKey(ORIGIN)
const KEY = join(work, 'audit.pub')
writeFileSync(KEY, `${key.verifierKey}\n`)

const record = (i: number) => Buffer.from(`{"eventID":"${i}","eventName":"GetObject"}`)
let dirs = 0
const fresh = () => join(work, `log${dirs++}`)

/** A log of `n` records (`edit` may change one), checkpointed: answers its directory. */
async function writeLog(
  n: number,
  edit: (i: number) => Buffer = record,
  dir = fresh(),
  signer = key.signerKey,
): Promise<string> {
  const w = await TileWriter.open(dir)
  await w.append(Array.from({ length: n }, (_, i) => edit(i)))
  await w.checkpoint(signer, ORIGIN)
  return dir
}

const rootOf = (dir: string) =>
  Buffer.from(openCheckpoint(readFileSync(join(dir, 'checkpoint')), key.verifierKey).root).toString(
    'base64',
  )

const verify = (dir: string, ...more: string[]) =>
  sr(['audit', 'verify', dir, '--public-key', KEY, ...more])

function editBundle(dir: string, path: string, edit: (records: Buffer[]) => Buffer[]): void {
  const p = join(dir, path)
  writeFileSync(p, encodeBundle(edit(decodeBundle(readFileSync(p)).map((r) => Buffer.from(r)))))
}

describe('audit verify names each kind of tampering and the first bad record', () => {
  it('a log nobody touched: OK, with its size and root', async () => {
    const dir = await writeLog(600)
    prints(verify(dir), [`OK: 600 records, root ${rootOf(dir)}`], 0)
    const json = verify(dir, '--json')
    assert.equal(json.code, 0)
    assert.deepEqual(JSON.parse(json.stdout), { ok: true, size: 600, root: rootOf(dir) })
  })

  it('modified record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/001', (rs) => {
      rs[44] = Buffer.from(String(rs[44]).replace('GetObject', 'PutObject'))
      return rs
    })
    prints(
      verify(dir),
      ['FAILED: modified record: record 300 does not match its hash in tile/0/001'],
      1,
    )
    const json = verify(dir, '--json')
    assert.equal(json.code, 1)
    assert.deepEqual(JSON.parse(json.stdout), {
      ok: false,
      problem: 'modified record: record 300 does not match its hash in tile/0/001',
      index: 300,
    })
  })

  it('deleted record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/001', (rs) => rs.filter((_, i) => i !== 10))
    prints(
      verify(dir),
      ['FAILED: deleted record: record 266 is gone and the ones after it moved up'],
      1,
    )
  })

  it('inserted record', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/000', (rs) => [...rs.slice(0, 7), record(9999), ...rs.slice(7)])
    prints(verify(dir), ['FAILED: inserted record: a record was inserted before record 7'], 1)
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
    prints(
      verify(dir),
      ['FAILED: reordered records: record 515 holds what tile/0/002.p/88 says is record 517'],
      1,
    )
  })

  it('tail truncated behind the checkpoint', async () => {
    const dir = await writeLog(600)
    editBundle(dir, 'tile/entries/002.p/88', (rs) => rs.slice(0, 80))
    prints(
      verify(dir),
      ['FAILED: tail truncated behind the checkpoint: it covers 600 records, the log holds 592'],
      1,
    )
  })

  it('forged checkpoint', async () => {
    // Edited under the log's signature: the signature no longer verifies.
    const dir = await writeLog(600)
    const p = join(dir, 'checkpoint')
    const honest = readFileSync(p, 'utf8')
    writeFileSync(p, honest.replace('\n600\n', '\n500\n'))
    const id = key.verifierKey.split('+')[1] ?? ''
    prints(
      verify(dir),
      [
        `FAILED: forged checkpoint: the signature by \`${ORIGIN}+${id}\` does not verify: the note was altered or forged`,
      ],
      1,
    )
    // Signed by another key under the log's name: verifyLog calls this a replaced checkpoint.
    const impostor = generateKey(ORIGIN)
    const other = impostor.verifierKey.split('+')[1] ?? ''
    writeFileSync(p, signNote(verifyNote(honest, key.verifierKey).text, impostor.signerKey))
    prints(
      verify(dir),
      [
        `FAILED: replaced checkpoint: not signed by the log's key (the note is not signed by \`${ORIGIN}+${id}\`; it is signed by \`${ORIGIN}+${other}\`)`,
      ],
      1,
    )
  })

  it('replaced checkpoint', async () => {
    // A checkpoint the log's key did sign, but of another tree: a fork's, of the same size.
    const dir = await writeLog(600)
    const fork = await writeLog(600, (i) => (i === 42 ? record(-1) : record(i)))
    writeFileSync(join(dir, 'checkpoint'), readFileSync(join(fork, 'checkpoint')))
    prints(
      verify(dir),
      [
        'FAILED: modified records: the records and hash tiles agree with each other but not with the signed checkpoint, so both were rewritten',
      ],
      1,
    )
    // An older checkpoint of the log itself put back: the log alone cannot tell, a kept one can.
    const w = await TileWriter.open(fresh())
    await w.append(Array.from({ length: 300 }, (_, i) => record(i)))
    const old = await w.checkpoint(key.signerKey, ORIGIN)
    await w.append(Array.from({ length: 300 }, (_, i) => record(300 + i)))
    const kept = join(work, 'kept.checkpoint')
    writeFileSync(kept, await w.checkpoint(key.signerKey, ORIGIN))
    writeFileSync(join(w.dir, 'checkpoint'), old)
    const root = rootOf(w.dir)
    prints(verify(w.dir), [`OK: 300 records, root ${root}`], 0)
    prints(
      verify(w.dir, '--checkpoint', kept),
      [
        `OK: 300 records, root ${root}`,
        `FAILED: ${kept}: the log was rolled back: its checkpoint covers 300 records, the older one 600`,
      ],
      1,
    )
  })

  it('inconsistent checkpoints', async () => {
    // Two checkpoints the log's key signed, of trees that fork at record 120: a split view.
    const a = await writeLog(300)
    const kept = join(work, 'a-300.checkpoint')
    writeFileSync(kept, readFileSync(join(a, 'checkpoint')))
    const b = await writeLog(500, (i) => (i === 120 ? record(-1) : record(i)))
    const problem =
      'inconsistent checkpoints (300 → 500): the proof does not lead to the older root (size 300)'
    prints(
      verify(b, '--checkpoint', kept),
      [`OK: 500 records, root ${rootOf(b)}`, `FAILED: ${kept}: ${problem}`],
      1,
    )
    // The same as a proof file: written with a warning (it is evidence), and it fails.
    const proof = join(work, 'fork.tlog-consistency')
    const wrote = sr(['audit', 'prove', b, '--from', kept, '--out', proof])
    assert.equal(wrote.code, 0)
    assert.equal(wrote.stdout, `wrote the proof from 300 to 500 records to ${proof}\n`)
    assert.equal(
      wrote.stderr,
      `strongroom: warning: the log does not extend \`${kept}\` (the proof does not lead to the older root (size 300)): the proof is written as evidence and will not verify\n`,
    )
    prints(
      sr(['audit', 'verify', '--proof', proof, '--public-key', KEY]),
      [`FAILED: ${problem}`],
      1,
    )
  })
})

describe('audit prove, then audit verify --proof', () => {
  it('inclusion proof round trip: OK, and FAILED once one byte of the record changes', async () => {
    const dir = await writeLog(600)
    const proof = join(work, '517.tlog-proof')
    prints(
      sr(['audit', 'prove', dir, '--index', '517', '--out', proof]),
      [`wrote the proof of record 517 to ${proof}`],
      0,
    )
    const text = readFileSync(proof, 'utf8')
    assert.deepEqual(text.split('\n').slice(0, 2), ['c2sp.org/tlog-proof@v1', 'index 517'])
    assert.ok(text.endsWith(readFileSync(join(dir, 'checkpoint'), 'utf8')))
    assert.equal(sr(['audit', 'prove', dir, '--index', '517']).stdout, text, 'stdout without --out')
    const rec = join(work, '517.json')
    writeFileSync(rec, record(517))
    const ok = `OK: record 517 is in the log: checkpoint of 600 records, root ${rootOf(dir)}`
    const check = (...more: string[]) =>
      sr(['audit', 'verify', '--proof', proof, '--public-key', KEY, ...more])
    prints(check('--record', rec), [ok], 0)
    prints(check(dir), [ok], 0)
    prints(check('--record', rec, '--index', '517'), [ok], 0)
    prints(
      check('--record', rec, '--index', '516'),
      [`FAILED: \`${proof}\` is the proof of record 517, not 516`],
      1,
    )
    const flipped = record(517)
    flipped[5] = (flipped[5] ?? 0) ^ 1
    writeFileSync(rec, flipped)
    prints(
      check('--record', rec),
      [
        'FAILED: record 517 is not in the checkpointed log: the proof does not lead from leaf 517 to the root of 600',
      ],
      1,
    )
  })

  it('consistency proof round trip: an older checkpoint, the log grown since', async () => {
    const w = await TileWriter.open(fresh())
    await w.append(Array.from({ length: 300 }, (_, i) => record(i)))
    const kept = join(work, 'june.checkpoint')
    writeFileSync(kept, await w.checkpoint(key.signerKey, ORIGIN))
    const june = rootOf(w.dir)
    await w.append(Array.from({ length: 300 }, (_, i) => record(300 + i)))
    await w.checkpoint(key.signerKey, ORIGIN)
    const now = rootOf(w.dir)
    prints(
      verify(w.dir, '--checkpoint', kept),
      [`OK: 600 records, root ${now}`, `OK: consistent with ${kept}: 300 records, root ${june}`],
      0,
    )
    const proof = join(work, 'june.tlog-consistency')
    prints(
      sr(['audit', 'prove', w.dir, '--from', kept, '--out', proof]),
      [`wrote the proof from 300 to 600 records to ${proof}`],
      0,
    )
    const text = readFileSync(proof, 'utf8')
    const older = readFileSync(kept, 'utf8')
    assert.ok(text.startsWith(`strongroom/tlog-consistency@v1\n${older}\nold 300\n`))
    assert.ok(text.endsWith(`\n\n${readFileSync(join(w.dir, 'checkpoint'), 'utf8')}`))
    prints(
      sr(['audit', 'verify', '--proof', proof, '--public-key', KEY]),
      [
        `OK: the checkpoint of 300 records (root ${june}) is consistent with the checkpoint of 600 records (root ${now})`,
      ],
      0,
    )
  })
})

describe('audit verify and prove refuse bad input precisely', () => {
  it('wrong-origin key: names both logs', async () => {
    const dir = await writeLog(10)
    const other = join(work, 'other.pub')
    writeFileSync(other, `${generateKey('example.com/other-log').verifierKey}\n`)
    refuses(
      sr(['audit', 'verify', dir, '--public-key', other]),
      `the public key is for log \`example.com/other-log\`, but the checkpoint in \`${dir}\` is of log \`${ORIGIN}\`: give that log's key [WRONG_KEY]`,
    )
  })

  it('garbage key file: says what a verifier key looks like', async () => {
    const dir = await writeLog(10)
    const file = join(work, 'garbage.pub')
    const form =
      'it should hold one line NAME+KEYID+BASE64 as `strongroom audit public-key` prints it, e.g. `strongroom/audit/0123456789abcdef+1a2b3c4d+AT…`'
    const cases: [string, string][] = [
      ['not a key at all\n', `is not a verifier key (a verifier key has the form name+keyid+key)`],
      ['', 'is empty'],
      [
        '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
        'holds a PEM key, not a C2SP verifier key',
      ],
      [
        readFileSync(join(dir, 'checkpoint'), 'utf8'),
        'holds a signed note (a checkpoint?), not a key',
      ],
      [
        `${key.signerKey}\n`,
        'is not a verifier key (that is a signer key, which stays secret: verifying takes the verifier key)',
      ],
    ]
    for (const [content, why] of cases) {
      writeFileSync(file, content)
      refuses(
        sr(['audit', 'verify', dir, '--public-key', file]),
        `\`${file}\` ${why}: ${form} [INVALID_ARGUMENT]`,
      )
    }
    refuses(
      sr(['audit', 'verify', dir, '--public-key', join(work, 'nope.pub')]),
      `cannot read the public key file \`${join(work, 'nope.pub')}\`: no such file [IO]`,
    )
  })

  it('a missing DIR, a data directory for DIR, no key, no DIR', async () => {
    const missing = join(work, 'no-such-log')
    refuses(verify(missing), `no log at \`${missing}\`: the directory does not exist [IO]`)
    const data = join(work, 'data-dir-like')
    await writeLog(3, record, join(data, 'audit', 'log'))
    refuses(
      verify(data),
      `\`${data}\` is a data directory: its audit log is \`${join(data, 'audit', 'log')}\` [USAGE]`,
      2,
    )
    refuses(
      verify(join(data, 'audit')),
      `\`${join(data, 'audit')}\` is an audit directory: its audit log is \`${join(data, 'audit', 'log')}\` [USAGE]`,
      2,
    )
    const empty = join(work, 'empty-dir')
    mkdirSync(empty)
    refuses(
      verify(empty),
      `no log in \`${empty}\`: it has no \`checkpoint\` and no \`tile/\` (on a server the log is DATA_DIR/audit/log) [IO]`,
    )
    refuses(
      sr(['audit', 'verify', empty]),
      '--public-key FILE is required: the verifier key `strongroom audit public-key` prints [USAGE]',
      2,
    )
    refuses(
      sr(['audit', 'verify', '--public-key', KEY]),
      'give the log directory DIR (or --proof FILE); usage: strongroom audit verify DIR --public-key FILE [USAGE]',
      2,
    )
    refuses(
      sr(['audit', 'prove', missing, '--index', '0']),
      `no log at \`${missing}\`: the directory does not exist [IO]`,
    )
  })

  it('a malformed proof: the file and line at fault', async () => {
    const dir = await writeLog(600)
    const good = sr(['audit', 'prove', dir, '--index', '3']).stdout
    const bad = join(work, 'bad.tlog-proof')
    const rec = join(work, '3.json')
    writeFileSync(rec, record(3))
    const run = () => sr(['audit', 'verify', '--proof', bad, '--record', rec, '--public-key', KEY])
    writeFileSync(bad, good.replace(/^index 3\n(.*)\n/m, 'index 3\n$1\nnot-a-hash\n'))
    refuses(
      run(),
      `${bad}:4: proof hash 1 is not base64 of 32 bytes: \`not-a-hash\` [INVALID_ARGUMENT]`,
    )
    writeFileSync(bad, good.replace('index 3', 'index three'))
    refuses(
      run(),
      `${bad}:2: line 2 of the proof is not \`index\` and a decimal record index [INVALID_ARGUMENT]`,
    )
    writeFileSync(bad, 'hello\n')
    refuses(
      run(),
      `${bad}:1: not a proof: one starts with the line c2sp.org/tlog-proof@v1 (audit prove --index) or strongroom/tlog-consistency@v1 (audit prove --from) [INVALID_ARGUMENT]`,
    )
    const kept = join(work, 'kept-3.checkpoint')
    writeFileSync(kept, readFileSync(join(dir, 'checkpoint')))
    const consistency = sr(['audit', 'prove', dir, '--from', kept]).stdout
    writeFileSync(bad, consistency.replace('\nold 600\n', '\nold 599\n'))
    refuses(
      sr(['audit', 'verify', '--proof', bad, '--public-key', KEY]),
      `${bad}:8: \`old 599\` is not the size of the older checkpoint, 600 [INVALID_ARGUMENT]`,
    )
  })
})

/** A deployment (`init`), and a log of `n` records in DATA_DIR/audit/log signed with its sealed key, as the server writes it. */
async function deployment(data: string, n: number) {
  const env = { STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex') }
  assert.equal(sr(['init', '--data-dir', data], env).code, 0)
  const app = await openApp(loadConfig({ env: { ...env, STRONGROOM_DATA_DIR: data }, flags: {} }))
  let keys
  try {
    keys = await auditKeys(data, app.sealer)
  } finally {
    await app.close()
  }
  const log = join(data, 'audit', 'log')
  const w = await TileWriter.open(log)
  await w.append(Array.from({ length: n }, (_, i) => record(i)))
  const note = await w.checkpoint(keys.signerKey, keys.origin)
  const root = Buffer.from(openCheckpoint(note, keys.verifierKey).root).toString('base64')
  return { env, keys, log, root }
}

describe('audit public-key', () => {
  it("prints the deployment's verifier key, which verifies the log written with its keys", async () => {
    const data = join(work, 'deployment')
    const { env, keys, log, root } = await deployment(data, 40)
    const r = sr(['audit', 'public-key', '--data-dir', data], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^strongroom\/audit\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/)
    assert.equal(r.stdout, `${keys.verifierKey}\n`)
    const json = sr(['audit', 'public-key', '--data-dir', data, '--json'], env)
    assert.deepEqual(JSON.parse(json.stdout), {
      origin: r.stdout.split('+')[0],
      verifierKey: r.stdout.trimEnd(),
    })
    const pub = join(work, 'deployment.pub')
    writeFileSync(pub, r.stdout)
    prints(sr(['audit', 'verify', log, '--public-key', pub]), [`OK: 40 records, root ${root}`], 0)
    // A key from another deployment does not verify it; the data directory is not the log.
    refuses(
      sr(['audit', 'verify', log, '--public-key', KEY]),
      `the public key is for log \`${ORIGIN}\`, but the checkpoint in \`${log}\` is of log \`${keys.origin}\`: give that log's key [WRONG_KEY]`,
    )
    refuses(
      sr(['audit', 'verify', data, '--public-key', pub]),
      `\`${data}\` is a data directory: its audit log is \`${log}\` [USAGE]`,
      2,
    )
  })
})

describe('docs/audit.md', () => {
  it('"Verifying the log": its commands run as written and print what the page says', async () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8')
    const section = page.slice(page.indexOf('\n## Verifying the log\n'))
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    assert.match(block, /audit verify/)
    const dir = join(work, 'reader')
    const { env, root } = await deployment(join(dir, 'strongroom-data'), 40)
    // `npx strongroom` is this checkout's bin (test/doc-commands.test.ts runs npx itself).
    const lines = block.replaceAll('npx strongroom', `"${process.execPath}" "${BIN}"`)
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('STRONGROOM_')),
    )
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', lines], {
      cwd: dir,
      env: { ...clean, ...env },
      encoding: 'utf8',
    })
    prints(
      { code: r.status, stdout: r.stdout, stderr: r.stderr },
      [
        `OK: 40 records, root ${root}`,
        `OK: 40 records, root ${root}`,
        `OK: consistent with checkpoint-kept: 40 records, root ${root}`,
        'wrote the proof of record 0 to 0.tlog-proof',
        `OK: record 0 is in the log: checkpoint of 40 records, root ${root}`,
        'wrote the proof from 40 to 40 records to since.tlog-consistency',
        `OK: the checkpoint of 40 records (root ${root}) is consistent with the checkpoint of 40 records (root ${root})`,
      ],
      0,
    )
  })
})
