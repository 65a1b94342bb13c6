/**
 * The `strongroom` command end to end: real processes, real files, real
 * SQLite, exactly the forms that scripts outside the project call.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { COMMANDS, version } from '../src/cli/main.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))

interface Result {
  code: number
  stdout: string
  raw: Buffer
  stderr: string
}

const ROOT = randomBytes(32).toString('hex')

function sr(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: Buffer; cwd?: string } = {},
): Result {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    STRONGROOM_ROOT_KEY: ROOT,
    STRONGROOM_DATA_DIR: undefined,
    ...opts.env,
  }
  const env = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined))
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? work,
    env,
    input: opts.input,
    maxBuffer: 64 << 20,
  })
  return {
    code: r.status ?? -1,
    stdout: r.stdout.toString(),
    raw: r.stdout,
    stderr: r.stderr.toString(),
  }
}

function ok(r: Result): Result {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`)
  return r
}

/** A failure is one line on stderr naming the error code, a non-zero status, and no stack trace. */
function fails(r: Result, code: string, status = 1): Result {
  assert.equal(r.code, status, `expected exit ${status}, got ${r.code}: ${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`)
  assert.match(lines[0] ?? '', new RegExp(`^strongroom: .+ \\[${code}\\]$`))
  assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/)
  return r
}

describe('strongroom CLI', () => {
  const dir = join(work, 'data')
  const d = ['--data-dir', dir]
  const plain = randomBytes(3 * 1024 * 1024 + 123)
  const plainPath = join(work, 'model.bin')
  const sealed = join(work, 'model.bin.sr')

  before(() => {
    writeFileSync(plainPath, plain)
    ok(sr(['init', ...d]))
    ok(sr(['tenant', 'create', 'vision', ...d]))
    ok(sr(['key', 'create', '--tenant', 'vision', '--alias', 'models', ...d]))
    ok(
      sr([
        'encrypt',
        '--tenant',
        'vision',
        '--key',
        'alias/models',
        '--context',
        'project=resnet',
        ...d,
        plainPath,
        sealed,
      ]),
    )
  })

  it('prints --help for every command and --version', () => {
    for (const c of COMMANDS) {
      const r = ok(sr([...c.name.split(' '), '--help']))
      assert.match(r.stdout, new RegExp(`^Usage: strongroom ${c.name}`))
      assert.match(r.stdout, /--data-dir DIR/)
    }
    assert.equal(ok(sr(['--version'])).stdout, `strongroom ${version()}\n`)
    assert.match(ok(sr(['--help'])).stdout, /key schedule-deletion/)
    // A group's --help lists its commands with their summaries.
    const group = ok(sr(['root', '--help'])).stdout
    assert.match(
      group,
      /^Usage: strongroom root COMMAND \[options\]\n\n {2}root migrate {2}Move the root/,
    )
    assert.match(ok(sr(['key', '-h'])).stdout, /^ {2}key rotate +\S/m)
    assert.match(
      ok(sr(['audit', 'witness', '--help'])).stdout,
      /^Usage: strongroom audit witness COMMAND/,
    )
    fails(sr(['tenant', 'create']), 'USAGE', 2)
    fails(sr(['frobnicate']), 'USAGE', 2)
    fails(sr(['key', 'create', '--tenant', 'vision', '--nope', ...d]), 'USAGE', 2)
  })

  it('creates tenants and keys in the documented JSON shapes', () => {
    const t = JSON.parse(ok(sr(['tenant', 'create', 'audio', '--json', ...d])).stdout) as {
      id: string
      name: string
    }
    assert.match(t.id, /^[1-9]\d{11}$/)
    assert.equal(t.name, 'audio')
    const k = JSON.parse(
      ok(sr(['key', 'create', '--tenant', 'audio', '--alias', 'speech', '--json', ...d])).stdout,
    ) as Record<string, unknown>
    assert.equal(k.AliasName, 'alias/speech')
    assert.equal(k.KeyState, 'Enabled')
    assert.equal(k.Arn, `arn:aws:kms:us-east-1:${t.id}:key/${String(k.KeyId)}`)
    const list = JSON.parse(ok(sr(['tenant', 'list', '--json', ...d])).stdout) as { name: string }[]
    assert.deepEqual(list.map((x) => x.name).sort(), ['audio', 'vision'])
    fails(sr(['tenant', 'create', 'audio', ...d]), 'TENANT_EXISTS')
    fails(sr(['tenant', 'create', 'Bad_Name', ...d]), 'NAME_INVALID')
  })

  it('round-trips a file, a byte range, and stdin to stdout', () => {
    const back = join(work, 'back.bin')
    ok(sr(['decrypt', ...d, sealed, back]))
    assert.deepEqual(readFileSync(back), plain)
    const part = ok(sr(['decrypt', '--range', '1048570-1048600', ...d, sealed, '-']))
    assert.deepEqual(part.raw, plain.subarray(1048570, 1048601))
    const piped = ok(
      sr(['encrypt', '--tenant', 'vision', '--key', 'alias/models', ...d, '-', '-'], {
        input: plain,
      }),
    )
    const opened = ok(sr(['decrypt', ...d, '-', '-'], { input: piped.raw }))
    assert.deepEqual(opened.raw, plain)
  })

  it('rotates: old files still open, new files use the new version', () => {
    const r = JSON.parse(
      ok(sr(['key', 'rotate', '--tenant', 'vision', '--key', 'alias/models', '--json', ...d]))
        .stdout,
    ) as {
      CurrentVersion: number
    }
    assert.ok(r.CurrentVersion >= 2)
    ok(sr(['decrypt', ...d, sealed, join(work, 'after-rotate.bin')]))
    const out = join(work, 'v2.sr')
    const info = JSON.parse(
      ok(
        sr([
          'encrypt',
          '--tenant',
          'vision',
          '--key',
          'alias/models',
          '--json',
          ...d,
          plainPath,
          out,
        ]),
      ).stdout,
    ) as {
      keyVersion: number
    }
    assert.equal(info.keyVersion, r.CurrentVersion)
  })

  describe('bad input: one precise line, a non-zero status, nothing at OUT', () => {
    const out = join(work, 'must-not-exist.bin')
    const nothingAtOut = (r: Result, code: string, status = 1) => {
      fails(r, code, status)
      assert.equal(existsSync(out), false, 'OUT was created')
      assert.deepEqual(
        readdirSync(work).filter((f) => f.endsWith('.tmp')),
        [],
        'a temporary file was left behind',
      )
    }
    const variant = (name: string, edit: (b: Buffer) => Buffer) => {
      const p = join(work, name)
      writeFileSync(p, edit(Buffer.from(readFileSync(sealed))))
      return p
    }

    it('a corrupt header', () => {
      nothingAtOut(
        sr(['decrypt', ...d, variant('hdr.sr', (b) => (b.writeUInt32BE(5, 12), b)), out]),
        'CORRUPT_HEADER',
      )
      nothingAtOut(
        sr(['decrypt', ...d, variant('hdr2.sr', (b) => ((b[60] = (b[60] ?? 0) ^ 1), b)), out]),
        'HEADER_TAMPERED',
      )
    })
    it('a truncated file', () => {
      nothingAtOut(
        sr(['decrypt', ...d, variant('trunc.sr', (b) => b.subarray(0, b.length - 100)), out]),
        'TRUNCATED',
      )
      const cut = readFileSync(sealed).subarray(0, 2_000_000)
      nothingAtOut(sr(['decrypt', ...d, '-', out], { input: cut }), 'TRUNCATED')
    })
    it('a file that is not ours', () => {
      nothingAtOut(sr(['decrypt', ...d, plainPath, out]), 'NOT_ENCRYPTED_OBJECT')
    })
    it('a context mismatch', () => {
      nothingAtOut(
        sr(['decrypt', '--context', 'project=other', ...d, sealed, out]),
        'CONTEXT_MISMATCH',
      )
    })
    it('a range past the end', () => {
      nothingAtOut(
        sr(['decrypt', '--range', `${plain.length}-${plain.length + 10}`, ...d, sealed, out]),
        'RANGE_NOT_SATISFIABLE',
      )
      nothingAtOut(sr(['decrypt', '--range', '10', ...d, sealed, out]), 'USAGE', 2)
    })
    it('a missing or foreign data directory', () => {
      nothingAtOut(
        sr(['decrypt', '--data-dir', join(work, 'nowhere'), sealed, out]),
        'DATA_DIR_MISSING',
      )
      const foreign = join(work, 'foreign')
      mkdirSync(foreign, { recursive: true })
      writeFileSync(join(foreign, 'notes.txt'), 'hello')
      nothingAtOut(sr(['decrypt', '--data-dir', foreign, sealed, out]), 'DATA_DIR_FOREIGN')
      writeFileSync(
        join(foreign, 'meta.sqlite'),
        'this is not a database, just text that is long enough to matter',
      )
      nothingAtOut(sr(['decrypt', '--data-dir', foreign, sealed, out]), 'DATA_DIR_FOREIGN')
    })
    it('a wrong root key', () => {
      nothingAtOut(
        sr(['decrypt', ...d, sealed, out], {
          env: { STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex') },
        }),
        'ROOT_KEY_WRONG',
      )
      nothingAtOut(
        sr(['decrypt', ...d, sealed, out], { env: { STRONGROOM_ROOT_KEY: 'abc' } }),
        'ROOT_KEY_INVALID',
      )
    })
    it('a disabled key, then a key pending deletion', () => {
      ok(sr(['tenant', 'create', 'lab', ...d]))
      ok(sr(['key', 'create', '--tenant', 'lab', '--alias', 'tmp', ...d]))
      const f = join(work, 'lab.sr')
      ok(sr(['encrypt', '--tenant', 'lab', '--key', 'alias/tmp', ...d, plainPath, f]))
      ok(sr(['key', 'disable', '--tenant', 'lab', '--key', 'alias/tmp', ...d]))
      nothingAtOut(sr(['decrypt', ...d, f, out]), 'KEY_DISABLED')
      nothingAtOut(
        sr(['encrypt', '--tenant', 'lab', '--key', 'alias/tmp', ...d, plainPath, out]),
        'KEY_DISABLED',
      )
      ok(sr(['key', 'enable', '--tenant', 'lab', '--key', 'alias/tmp', ...d]))
      fails(
        sr([
          'key',
          'schedule-deletion',
          '--tenant',
          'lab',
          '--key',
          'alias/tmp',
          '--pending-window-days',
          '3',
          ...d,
        ]),
        'USAGE',
        2,
      )
      const s = JSON.parse(
        ok(
          sr([
            'key',
            'schedule-deletion',
            '--tenant',
            'lab',
            '--key',
            'alias/tmp',
            '--pending-window-days',
            '7',
            '--json',
            ...d,
          ]),
        ).stdout,
      ) as {
        KeyState: string
        DeletionDate: string
      }
      assert.equal(s.KeyState, 'PendingDeletion')
      assert.ok(Date.parse(s.DeletionDate) - Date.now() > 6.9 * 86_400_000)
      nothingAtOut(sr(['decrypt', ...d, f, out]), 'KEY_PENDING_DELETION')
      const c = JSON.parse(
        ok(sr(['key', 'cancel-deletion', '--tenant', 'lab', '--key', 'alias/tmp', '--json', ...d]))
          .stdout,
      ) as { KeyState: string }
      assert.equal(c.KeyState, 'Disabled')
    })
    it('IN and OUT the same file, and ciphertext to a terminal', () => {
      fails(sr(['decrypt', ...d, sealed, sealed]), 'USAGE', 2)
    })
  })

  describe('the root of trust', () => {
    it('refuses to initialise without a root key, and outside --dev never keeps one beside the data', () => {
      const dd = join(work, 'nokey')
      fails(
        sr(['init', '--data-dir', dd], { env: { STRONGROOM_ROOT_KEY: undefined } }),
        'ROOT_KEY_MISSING',
      )
      assert.equal(existsSync(dd), false)
      mkdirSync(dd)
      const inside = join(dd, 'root.key')
      writeFileSync(inside, randomBytes(32))
      fails(
        sr(['init', '--data-dir', dd, '--root-key-file', inside], {
          env: { STRONGROOM_ROOT_KEY: undefined },
        }),
        'ROOT_KEY_INVALID',
      )
      fails(sr(['init', '--data-dir', dd, '--root-key-file', inside]), 'USAGE', 2)
    })

    it('takes a key file, and refuses to initialise a data directory twice', () => {
      const keyFile = join(work, 'root.key')
      writeFileSync(keyFile, randomBytes(32))
      const dd = join(work, 'keyfile')
      const noEnv = { env: { STRONGROOM_ROOT_KEY: undefined } }
      ok(sr(['init', '--data-dir', dd, '--root-key-file', keyFile], noEnv))
      ok(sr(['tenant', 'create', 'x', '--data-dir', dd, '--root-key-file', keyFile], noEnv))
      fails(sr(['tenant', 'list', '--data-dir', dd], noEnv), 'ROOT_KEY_MISSING')
      fails(sr(['init', '--data-dir', dd, '--root-key-file', keyFile], noEnv), 'DATA_DIR_EXISTS')
    })

    it('derives the root key from a passphrase and rejects a wrong one', () => {
      const dd = join(work, 'pass')
      const good = join(work, 'pass.txt')
      const bad = join(work, 'bad.txt')
      writeFileSync(good, 'correct horse battery staple\n')
      writeFileSync(bad, 'incorrect horse battery staple\n')
      const noEnv = { env: { STRONGROOM_ROOT_KEY: undefined } }
      ok(sr(['init', '--data-dir', dd, '--passphrase-file', good], noEnv))
      ok(sr(['tenant', 'create', 'p', '--data-dir', dd, '--passphrase-file', good], noEnv))
      const r = fails(
        sr(['tenant', 'list', '--data-dir', dd, '--passphrase-file', bad], noEnv),
        'ROOT_KEY_WRONG',
      )
      assert.match(r.stderr, /wrong passphrase/)
      assert.doesNotMatch(r.stderr, /horse/, 'the passphrase is never echoed')
    })

    it('generates a development key only with --dev, and says so', () => {
      const dd = join(work, 'dev')
      const r = ok(
        sr(['init', '--dev', '--data-dir', dd], { env: { STRONGROOM_ROOT_KEY: undefined } }),
      )
      assert.match(r.stderr, /warning: --dev/)
      assert.equal(readFileSync(join(dd, 'dev-root.key'), 'utf8').trim().length, 64)
      ok(
        sr(['tenant', 'create', 'd', '--data-dir', dd], {
          env: { STRONGROOM_ROOT_KEY: undefined },
        }),
      )
    })
  })

  describe('on a Node.js older than 24', () => {
    const OLD_PATH = '/usr/local/bin:/usr/bin:/bin'
    let system = ''
    try {
      system = execFileSync('node', ['--version'], { env: { PATH: OLD_PATH } })
        .toString()
        .trim()
    } catch {
      // no system node at all
    }
    const older = system !== '' && Number(system.slice(1).split('.')[0]) < 24
    const skipLine = `no Node.js older than 24 on this machine (system node: ${system || 'none'})`

    it('runs under the pinned Node from node_modules, with its output and exit status', (t) => {
      if (!older) {
        t.skip(skipLine)
        return
      }
      const r = spawnSync('node', [BIN, '--version'], { env: { PATH: OLD_PATH } })
      assert.equal(r.status, 0, r.stderr.toString())
      assert.equal(r.stdout.toString(), sr(['--version']).stdout)
      assert.equal(r.stderr.toString(), '')
      const bad = spawnSync('node', [BIN, 'no-such-command'], { env: { PATH: OLD_PATH } })
      assert.equal(bad.status, 2)
    })

    it('without the pinned Node, refuses with one line naming the fix', (t) => {
      if (!older) {
        t.skip(skipLine)
        return
      }
      const dir = mkdtempSync(join(tmpdir(), 'sr-bin-'))
      mkdirSync(join(dir, 'bin'))
      copyFileSync(BIN, join(dir, 'bin', 'strongroom.js'))
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
      const r = spawnSync('node', [join(dir, 'bin', 'strongroom.js'), '--version'], {
        env: { PATH: OLD_PATH },
      })
      rmSync(dir, { recursive: true, force: true })
      assert.equal(r.status, 2)
      assert.equal(r.stderr.toString().trimEnd().split('\n').length, 1)
      assert.match(r.stderr.toString(), /Node\.js 24 or newer is required .* run `npm ci`/)
    })
  })
})
