/**
 * A witness run as `strongroom audit witness serve` (a real process, over HTTP), and the logs
 * that send it their checkpoints: the shared log of gateways on one database and a machine's
 * own log. The attack it answers (third outside review of issue 14): a database that shows
 * each gateway a different history (views filtered by connection) cannot get both cosigned,
 * so one gateway refuses work and the witness keeps the other history as evidence.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AuditLog } from '../../src/audit/log.ts'
import { SharedAuditLog } from '../../src/audit/shared-log.ts'
import {
  cosign,
  parseCosignerKey,
  parseWitnessKey,
  verifyCosignature,
} from '../../src/audit/tlog/cosignature.ts'
import { COSIGNATURE_V1, generateKey, signNote, verifyNote } from '../../src/audit/tlog/note.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { loadConfig } from '../../src/config.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const root = mkdtempSync(join(tmpdir(), 'sr-witness-svc-'))
const origin = 'strongroom/audit/00000000000000aa'
const log = generateKey(origin)
const machineOrigin = 'strongroom/audit/00000000000000cc'
const machine = generateKey(machineOrigin)
const rec = (s: string) => Buffer.from(`{"eventID":"${s}"}`)
const sr = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: root })

let witness: ChildProcess | undefined

/** The URL a starting `audit witness serve` prints once it listens. */
function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready at (http:\/\/\S+) for /.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`the witness exited with ${String(code)}`)))
  })
}
let url = ''
let wkey = ''

before(async () => {
  const made = sr('audit', 'witness', 'key', 'witness.example/w1', '--out', 'w1.key')
  assert.equal(made.status, 0, made.stderr)
  wkey = made.stdout.trim()
  assert.match(wkey, /^witness\.example\/w1\+[0-9a-f]{8}\+B[A-P]/)
  assert.equal(statSync(join(root, 'w1.key')).mode & 0o777, 0o600)
  // Never overwritten.
  const again = sr('audit', 'witness', 'key', 'witness.example/w1', '--out', 'w1.key')
  assert.equal(again.status, 1)
  assert.match(again.stderr, /cannot write `w1.key`/)
  writeFileSync(join(root, 'w1.pub'), `${wkey}\n`)
  writeFileSync(join(root, 'audit.pub'), `${log.verifierKey}\n`)
  writeFileSync(join(root, 'machine.pub'), `${machine.verifierKey}\n`)
  const child = spawn(
    process.execPath,
    [
      BIN,
      'audit',
      'witness',
      'serve',
      '--key',
      'w1.key',
      '--log-key',
      'audit.pub',
      '--log-key',
      'machine.pub',
      '--state',
      'wstate',
      '--listen',
      '127.0.0.1:0',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  witness = child
  url = await readyUrl(child)
})
after(() => {
  witness?.kill('SIGTERM')
  rmSync(root, { recursive: true, force: true })
})

const stores: { close(): Promise<void> }[] = []
const shared = (db: string, name: string) =>
  SharedAuditLog.open({
    store: stores[
      stores.push(SqliteMetadataStore.open(db, { create: true })) - 1
    ] as SqliteMetadataStore,
    dir: join(root, name),
    signerKey: log.signerKey,
    verifierKey: log.verifierKey,
    origin,
    macKey: Buffer.alloc(32, 3),
    checkpointMs: 3_600_000,
    witnesses: [{ url, key: wkey }],
    onAlert: () => {},
  })

describe('the witness service', () => {
  it('answers what is not an add-checkpoint POST with 404 or 405', async () => {
    assert.equal((await fetch(`${url}/`)).status, 404)
    assert.equal((await fetch(`${url}/add-checkpoint`)).status, 405)
    const junk = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: 'old x\n\n' })
    assert.equal(junk.status, 400)
  })

  it("cosigns the shared log's checkpoints as gateways seal them, and refuses a database that shows two gateways two histories", async () => {
    const db = join(root, 'one.sqlite')
    const a = await shared(db, 'gw-a')
    for (let i = 0; i < 5; i++) await a.append(rec(`common${i}`))
    await a.checkpoint()
    await a.witnessed()
    const kept = readFileSync(
      join(root, 'gw-a', 'witnessed', 'witness.example_w1.checkpoint'),
      'utf8',
    )
    assert.ok(verifyCosignature(kept, parseWitnessKey(wkey)) > 0)
    assert.match(kept, new RegExp(`^${origin}\\n5\\n`))
    await a.close()
    await stores.pop()?.close()
    // The database's administrator shows gateway B another copy from here on.
    const other = join(root, 'other.sqlite')
    copyFileSync(db, other)
    const a2 = await shared(db, 'gw-a')
    const b = await shared(other, 'gw-b')
    for (let i = 0; i < 3; i++) await a2.append(rec(`a-sees${i}`))
    for (let i = 0; i < 3; i++) await b.append(rec(`b-sees${i}`))
    await a2.checkpoint()
    await a2.witnessed()
    assert.equal(a2.problem(), undefined)
    await b.checkpoint()
    await b.witnessed()
    assert.match(
      b.problem() ?? '',
      /witness `witness\.example\/w1` refuses this log's checkpoint as another history than the one it cosigned/,
    )
    assert.equal(readdirSync(join(root, 'wstate', 'evidence')).length, 1)
    await a2.close()
    await b.close()
    for (const st of stores.splice(0)) await st.close()
  })

  it("cosigns a machine's own log, and `audit verify --witness-key` proves the log extends the cosigned checkpoint", async () => {
    const dir = join(root, 'machine')
    const other = generateKey('strongroom/audit/00000000000000bb')
    // A log the witness does not know: 404, reported, nothing refused.
    const alerts: string[] = []
    const unknown = await AuditLog.open({
      dir: join(root, 'unknown'),
      signerKey: other.signerKey,
      verifierKey: other.verifierKey,
      origin: 'strongroom/audit/00000000000000bb',
      witnesses: [{ url, key: wkey }],
      onAlert: (p) => alerts.push(p),
    })
    await unknown.append(rec('x'))
    await unknown.checkpoint()
    await unknown.witnessed()
    assert.equal(unknown.problem(), undefined)
    assert.match(alerts.join('\n'), /answered 404: this witness does not witness the log/)
    await unknown.close()

    const l = await AuditLog.open({
      dir,
      signerKey: machine.signerKey,
      verifierKey: machine.verifierKey,
      origin: machineOrigin,
      witnesses: [{ url, key: wkey }],
    })
    for (let i = 0; i < 3; i++) await l.append(rec(`own${i}`))
    await l.checkpoint()
    await l.witnessed()
    // The next checkpoint goes with a consistency proof from the tiles.
    for (let i = 3; i < 300; i++) await l.append(rec(`own${i}`))
    await l.checkpoint()
    await l.witnessed()
    assert.equal(l.problem(), undefined)
    const cosigned = join(dir, 'witnessed', 'witness.example_w1.checkpoint')
    assert.match(readFileSync(cosigned, 'utf8'), new RegExp(`^${machineOrigin}\\n300\\n`))
    const verify = (witnessKey: string) =>
      sr(
        'audit',
        'verify',
        join(dir, 'log'),
        '--public-key',
        'machine.pub',
        '--checkpoint',
        cosigned,
        '--witness-key',
        witnessKey,
      )
    const ok = verify('w1.pub')
    assert.equal(ok.status, 0, ok.stderr)
    assert.match(ok.stdout, /^OK: 300 records, root \S+\nOK: consistent with .*: 300 records/)
    // Another witness's key: the kept checkpoint carries no cosignature of it.
    const w2 = sr('audit', 'witness', 'key', 'witness.example/w2', '--out', 'w2.key')
    writeFileSync(join(root, 'w2.pub'), w2.stdout)
    const not = verify('w2.pub')
    assert.equal(not.status, 1)
    assert.match(not.stdout, /FAILED: .*no cosignature by witness `witness\.example\/w2/)
    await l.close()
  })

  it('docs/audit.md "Witnesses": its commands and setting work as written', async () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8')
    const section = page.slice(page.indexOf('\n## Witnesses\n'))
    const [make, verify] = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
    const setting = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    const [keyLine, serveLine] = (make ?? '').trim().split('\n')
    assert.match(keyLine ?? '', /^npx strongroom audit witness key /)
    assert.match(serveLine ?? '', /^npx strongroom audit witness serve /)
    const dir = mkdtempSync(join(root, 'reader-'))
    const reader = generateKey('strongroom/audit/00000000000000dd')
    writeFileSync(join(dir, 'audit.pub'), `${reader.verifierKey}\n`)
    const bash = (line: string) =>
      spawnSync(
        'bash',
        [
          '-euo',
          'pipefail',
          '-c',
          line.replaceAll('npx strongroom', `"${process.execPath}" "${BIN}"`),
        ],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      )
    const made = bash(keyLine ?? '')
    assert.equal(made.status, 0, made.stderr)
    const pub = readFileSync(join(dir, 'witness.pub'), 'utf8').trim()
    // The port as written may be taken on a test machine: any free one.
    const serve = spawn(
      'bash',
      [
        '-c',
        `exec ${(serveLine ?? '').replace('127.0.0.1:7380', '127.0.0.1:0').replaceAll('npx strongroom', `"${process.execPath}" "${BIN}"`)}`,
      ],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    try {
      const at = await readyUrl(serve)
      const list = (
        JSON.parse(
          setting
            .replace('http://127.0.0.1:7380', at)
            .replace(/"witness\.example\.com\/audit\+…"/, JSON.stringify(pub)),
        ) as { auditWitnesses: unknown }
      ).auditWitnesses
      const config = loadConfig({
        env: { STRONGROOM_AUDIT_WITNESSES: JSON.stringify(list) },
        flags: { 'data-dir': join(dir, 'strongroom-data') },
      })
      assert.deepEqual(config.auditWitnesses, [{ url: at, key: pub }])
      const l = await AuditLog.open({
        dir: config.auditDir,
        signerKey: reader.signerKey,
        verifierKey: reader.verifierKey,
        origin: 'strongroom/audit/00000000000000dd',
        witnesses: config.auditWitnesses,
      })
      for (let i = 0; i < 7; i++) await l.append(rec(`doc${i}`))
      await l.checkpoint()
      await l.witnessed()
      await l.close()
      const checked = bash((verify ?? '').trim())
      assert.equal(checked.status, 0, checked.stderr)
      assert.match(
        checked.stdout,
        /^OK: 7 records, root \S+\nOK: consistent with \S+witness\.example\.com_audit\.checkpoint: 7 records/,
      )
    } finally {
      serve.kill('SIGTERM')
    }
  })

  it('attack (fourth review): a request line no URL parser takes (`POST http://[`) is answered, and the witness keeps running', async () => {
    const { port } = new URL(url)
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => {
        sock.end('POST http://[ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')
      })
      let got = ''
      sock.on('data', (d: Buffer) => (got += d.toString()))
      sock.on('end', () => resolve(got))
      sock.on('error', reject)
    })
    assert.match(raw, /^HTTP\/1\.1 404 /)
    assert.equal((await fetch(`${url}/add-checkpoint`)).status, 405)
  })

  it("attack (fourth review): a machine's log copied back to an older state is refused by its witness's newer checkpoint", async () => {
    const dir = join(root, 'rolled')
    const open = () =>
      AuditLog.open({
        dir,
        signerKey: machine.signerKey,
        verifierKey: machine.verifierKey,
        origin: machineOrigin,
        witnesses: [{ url, key: wkey }],
        onAlert: () => {},
      })
    // The witness already holds this log at 300 records (the test above): the same log,
    // copied back to an empty state and regrown a little, is behind what the witness saw.
    let l = await open()
    await l.append(rec('after the copy'))
    await l.checkpoint()
    await l.witnessed()
    assert.match(
      l.problem() ?? '',
      /it cosigned a checkpoint of 300 records, and this log holds none of that size/,
    )
    await l.close()
    // Restarted, it finds out again at its first checkpoint (witnesses are asked in the
    // background, never holding up a start or a request).
    l = await open()
    await l.append(rec('after the restart'))
    await l.checkpoint()
    await l.witnessed()
    await assert.rejects(l.ready(), /not carried out/)
    await l.close()
  })

  it('attack (fourth review): a witness that adds signature lines of other keys to its answer does not spoil the kept checkpoint', async () => {
    const liar = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        const note = body.slice(body.indexOf('\n\n') + 2)
        const text = note.slice(0, note.lastIndexOf('\n\n') + 1)
        const junk = signNote(text, generateKey(machineOrigin).signerKey).split('\n\n')[1] ?? ''
        const good = cosign(
          text,
          parseCosignerKey(liarKeys.signerKey),
          Math.floor(Date.now() / 1000),
        )
        res.end(`${junk}${good}`)
      })
    })
    const liarKeys = generateKey('liar.example/w', COSIGNATURE_V1)
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r))
    const at = `http://127.0.0.1:${String((liar.address() as AddressInfo).port)}`
    try {
      const other = generateKey('strongroom/audit/00000000000000ee')
      const dir = join(root, 'liar-log')
      const l = await AuditLog.open({
        dir,
        signerKey: other.signerKey,
        verifierKey: other.verifierKey,
        origin: 'strongroom/audit/00000000000000ee',
        witnesses: [{ url: at, key: liarKeys.verifierKey }],
      })
      await l.append(rec('x'))
      await l.checkpoint()
      await l.witnessed()
      await l.close()
      const kept = readFileSync(join(dir, 'witnessed', 'liar.example_w.checkpoint'), 'utf8')
      const lines = kept
        .slice(kept.indexOf('\n\n') + 2)
        .trim()
        .split('\n')
      assert.deepEqual(
        lines.map((line) => line.split(' ')[1]),
        ['strongroom/audit/00000000000000ee', 'liar.example/w'],
      )
      assert.equal(verifyNote(kept, other.verifierKey).text.split('\n')[1], '1')
    } finally {
      liar.close()
    }
  })
})
