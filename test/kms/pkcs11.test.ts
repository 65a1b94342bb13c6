/**
 * The root in a PKCS#11 HSM, against a real SoftHSM2 token: the provider on its own (AES-GCM
 * under a key that never leaves the token), then a data directory initialised with it, used
 * by the CLI, and migrated into it from a local root key: the old root key then opens no
 * tenant key, and what was sealed before still opens.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { DatabaseSync } from 'node:sqlite'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type * as P from 'pkcs11js'
import { isStrongroomError, type ErrorCode } from '../../src/errors.ts'
import { parseKeyStore } from '../../src/kms/external/index.ts'
import { parsePkcs11Uri, pkcs11Root } from '../../src/kms/external/pkcs11.ts'
import { NEEDS_SOFTHSM, softHsm, type SoftHsm } from './softhsm.ts'

const hsm = softHsm()
const PIN = '4711-0815'
const work = mkdtempSync(join(tmpdir(), 'sr-pkcs11-'))
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')

after(() => {
  hsm?.stop()
  rmSync(work, { recursive: true, force: true })
})

async function fails(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    assert.ok(isStrongroomError(e), `a StrongroomError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    assert.ok(!e.message.includes(PIN), 'the PIN is never in a message')
    return e.message
  }
  assert.fail(`expected ${code}`)
}

function sr(args: string[], env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    STRONGROOM_DATA_DIR: undefined,
    ...env,
  }
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)),
    encoding: 'utf8',
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

function ok(r: ReturnType<typeof sr>) {
  assert.equal(r.code, 0, `exit ${String(r.code)}: ${r.stderr}`)
  return r
}

describe('PKCS#11 root (SoftHSM2)', { skip: hsm === undefined ? NEEDS_SOFTHSM : false }, () => {
  const h = hsm as SoftHsm
  before(() => {
    h.token('Strongroom', PIN)
    h.token('Other', PIN)
  })
  const settings = (object = 'root', token = 'Strongroom') =>
    parsePkcs11Uri(h.uri(token, object)).settings

  it('wraps and unwraps under a key it makes on the token: sensitive, never extractable, encrypt and decrypt only', async () => {
    const r = pkcs11Root(settings(), { pin: PIN }, { create: true })
    try {
      const secret = randomBytes(32)
      const aad = Buffer.from('strongroom/key-material/v1\0k\x001')
      const w = await r.wrap(secret, aad)
      assert.equal(w.length, 12 + 32 + 16)
      assert.deepEqual(await r.unwrap(w, aad), secret)
      assert.equal(r.describe, 'pkcs11 key `root` on PKCS#11 token `Strongroom`')
    } finally {
      await r.close()
    }
    // Read back through the binding: the token holds an AES key that cannot be exported.
    const lib = createRequire(import.meta.url)('pkcs11js') as typeof P
    const p11 = new lib.PKCS11()
    p11.load(settings().module)
    p11.C_Initialize()
    try {
      const slot = p11
        .C_GetSlotList(true)
        .find((s) => p11.C_GetTokenInfo(s).label.trim() === 'Strongroom')
      assert.ok(slot)
      const s = p11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION)
      p11.C_Login(s, lib.CKU_USER, PIN)
      p11.C_FindObjectsInit(s, [{ type: lib.CKA_LABEL, value: 'root' }])
      const [key] = p11.C_FindObjects(s, 2)
      p11.C_FindObjectsFinal(s)
      assert.ok(key)
      const [ext, sens, value, ...uses] = p11.C_GetAttributeValue(s, key, [
        { type: lib.CKA_EXTRACTABLE },
        { type: lib.CKA_SENSITIVE },
        { type: lib.CKA_VALUE_LEN },
        { type: lib.CKA_ENCRYPT },
        { type: lib.CKA_DECRYPT },
        { type: lib.CKA_WRAP },
        { type: lib.CKA_UNWRAP },
        { type: lib.CKA_SIGN },
        { type: lib.CKA_VERIFY },
        { type: lib.CKA_DERIVE },
      ])
      assert.deepEqual([ext?.value, sens?.value], [Buffer.from([0]), Buffer.from([1])])
      // Encrypt and decrypt (AES-GCM) only: no wrapping of other keys, no MACs, no derivation.
      assert.deepEqual(
        uses.map((a) => a.value[0]),
        [1, 1, 0, 0, 0, 0, 0],
      )
      assert.equal((value?.value as Buffer).readUInt32LE(0), 32)
    } finally {
      p11.C_Finalize()
      p11.close()
    }
  })

  it('attack: a blob opened with other AAD, altered, truncated or from another token is ROOT_KEY_WRONG', async () => {
    const r = pkcs11Root(settings(), { pin: PIN })
    const other = pkcs11Root(settings('root', 'Other'), { pin: PIN }, { create: true })
    try {
      const aad = Buffer.from('a')
      const w = await r.wrap(Buffer.alloc(32, 1), aad)
      await fails(r.unwrap(w, Buffer.from('b')), 'ROOT_KEY_WRONG')
      const flipped = Buffer.from(w)
      flipped[20] = (flipped[20] ?? 0) ^ 1
      await fails(r.unwrap(flipped, aad), 'ROOT_KEY_WRONG')
      await fails(r.unwrap(w.subarray(0, 20), aad), 'ROOT_KEY_WRONG')
      await fails(other.unwrap(w, aad), 'ROOT_KEY_WRONG')
      // The session still works after the refusals.
      assert.deepEqual(await r.unwrap(w, aad), Buffer.alloc(32, 1))
    } finally {
      await r.close()
      await other.close()
    }
  })

  it('attack: a wrong or missing PIN is ROOT_KEY_MISSING and never echoed', async () => {
    await fails(() => pkcs11Root(settings(), { pin: '0000-0000' }), 'ROOT_KEY_MISSING')
    const m = await fails(() => pkcs11Root(settings(), {}), 'ROOT_KEY_MISSING')
    assert.match(m, /STRONGROOM_PKCS11_PIN/)
  })

  it('an unknown token, a missing key or a module that does not load is CONFIG_INVALID', async () => {
    assert.match(
      await fails(() => pkcs11Root(settings('root', 'Nope'), { pin: PIN }), 'CONFIG_INVALID'),
      /no PKCS#11 token labelled `Nope`/,
    )
    assert.match(
      await fails(() => pkcs11Root(settings('gone'), { pin: PIN }), 'CONFIG_INVALID'),
      /there is no key `gone`/,
    )
    await fails(
      () => pkcs11Root({ ...settings(), module: join(work, 'missing.so') }, { pin: PIN }),
      'CONFIG_INVALID',
    )
  })

  it('attack: an existing key that can be exported, or is shorter than AES-256, is refused, not used', async () => {
    const lib = createRequire(import.meta.url)('pkcs11js') as typeof P
    const p11 = new lib.PKCS11()
    p11.load(settings().module)
    p11.C_Initialize()
    try {
      const slot = p11
        .C_GetSlotList(true)
        .find((s) => p11.C_GetTokenInfo(s).label.trim() === 'Strongroom')
      assert.ok(slot)
      const s = p11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION)
      p11.C_Login(s, lib.CKU_USER, PIN)
      for (const [label, bytes, exportable] of [
        ['exportable', 32, true],
        ['aes128', 16, false],
      ] as const)
        p11.C_GenerateKey(s, { mechanism: lib.CKM_AES_KEY_GEN }, [
          { type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY },
          { type: lib.CKA_KEY_TYPE, value: lib.CKK_AES },
          { type: lib.CKA_VALUE_LEN, value: bytes },
          { type: lib.CKA_LABEL, value: label },
          { type: lib.CKA_TOKEN, value: true },
          { type: lib.CKA_SENSITIVE, value: !exportable },
          { type: lib.CKA_EXTRACTABLE, value: exportable },
          { type: lib.CKA_ENCRYPT, value: true },
          { type: lib.CKA_DECRYPT, value: true },
        ])
    } finally {
      p11.C_Finalize()
      p11.close()
    }
    assert.match(
      await fails(() => pkcs11Root(settings('exportable'), { pin: PIN }), 'CONFIG_INVALID'),
      /can be exported/,
    )
    assert.match(
      await fails(() => pkcs11Root(settings('aes128'), { pin: PIN }), 'CONFIG_INVALID'),
      /is AES-128; the root wrapping key must be AES-256/,
    )
  })

  it('a data directory initialised with --key-provider pkcs11 seals and opens through the token', () => {
    const dir = join(work, 'hsm-data')
    const env = { STRONGROOM_PKCS11_PIN: PIN, STRONGROOM_ROOT_KEY: undefined }
    const store = ['--key-provider', 'pkcs11', '--key-store', h.uri('Strongroom', 'init-root')]
    const init = ok(sr(['init', '--data-dir', dir, ...store], env))
    assert.match(init.stdout, /root key: pkcs11/)
    ok(sr(['tenant', 'create', 'vision', '--data-dir', dir, ...store], env))
    ok(
      sr(
        ['key', 'create', '--tenant', 'vision', '--alias', 'models', '--data-dir', dir, ...store],
        env,
      ),
    )
    const plain = join(work, 'model.bin')
    writeFileSync(plain, randomBytes(5000))
    ok(
      sr(
        [
          'encrypt',
          '--tenant',
          'vision',
          '--key',
          'alias/models',
          plain,
          `${plain}.sr`,
          '--data-dir',
          dir,
          ...store,
        ],
        env,
      ),
    )
    ok(sr(['decrypt', `${plain}.sr`, `${plain}.out`, '--data-dir', dir, ...store], env))
    assert.deepEqual(readFileSync(`${plain}.out`), readFileSync(plain))
    // Without the store: one line that names what the directory needs, no stack.
    const bare = sr(['key', 'list', '--tenant', 'vision', '--data-dir', dir], env)
    assert.equal(bare.code, 1)
    assert.match(
      bare.stderr,
      /root is kept in pkcs11 \(key=init-root, module=.*token=Strongroom\): pass --key-provider pkcs11/,
    )
    assert.equal(bare.stderr.trimEnd().split('\n').length, 1)
    // A wrong PIN stops the start.
    const wrong = sr(['key', 'list', '--tenant', 'vision', '--data-dir', dir, ...store], {
      ...env,
      STRONGROOM_PKCS11_PIN: '1',
    })
    assert.match(wrong.stderr, /refused the PIN/)
  })

  it('attack: a metadata database that names another PKCS#11 module never makes Strongroom load it', () => {
    const dir = join(work, 'db-writer')
    const env = { STRONGROOM_PKCS11_PIN: PIN, STRONGROOM_ROOT_KEY: undefined }
    const store = ['--key-provider', 'pkcs11', '--key-store', h.uri('Strongroom', 'db-root')]
    ok(sr(['init', '--data-dir', dir, ...store], env))
    // The writer of the database points the record at a "module" of its own: were it ever
    // loaded, the start would fail with "does not load" instead of what follows.
    const evil = join(work, 'evil.so')
    writeFileSync(evil, 'not a shared object')
    const db = new DatabaseSync(join(dir, 'meta.sqlite'))
    db.prepare('UPDATE installation SET root_store = ?').run(
      JSON.stringify({ key: 'db-root', kind: 'pkcs11', module: evil, token: 'Strongroom' }),
    )
    db.close()
    // With the configuration, the configured module is the one used: the command works.
    ok(sr(['tenant', 'create', 'vision', '--data-dir', dir, ...store], env))
    // Without it, the record only names what it says in the message; nothing is loaded.
    const bare = sr(['tenant', 'list', '--data-dir', dir], env)
    assert.equal(bare.code, 1)
    assert.match(bare.stderr, /root is kept in pkcs11 \(key=db-root, module=.*evil\.so/)
    assert.doesNotMatch(bare.stderr, /does not load|not a shared object|invalid ELF/)
  })

  it('root migrate moves a local root into the token: the old root key then opens no tenant key', () => {
    const dir = join(work, 'migrated')
    const oldRoot = randomBytes(32).toString('hex')
    const local = { STRONGROOM_ROOT_KEY: oldRoot }
    ok(sr(['init', '--data-dir', dir], local))
    ok(sr(['tenant', 'create', 'nlp', '--data-dir', dir], local))
    ok(sr(['key', 'create', '--tenant', 'nlp', '--alias', 'data', '--data-dir', dir], local))
    ok(sr(['key', 'rotate', '--tenant', 'nlp', '--key', 'alias/data', '--data-dir', dir], local))
    const plain = join(work, 'data.bin')
    writeFileSync(plain, randomBytes(3000))
    ok(
      sr(
        [
          'encrypt',
          '--tenant',
          'nlp',
          '--key',
          'alias/data',
          plain,
          `${plain}.sr`,
          '--data-dir',
          dir,
        ],
        local,
      ),
    )
    const target = h.uri('Strongroom', 'migrated-root')
    const moved = ok(
      sr(
        [
          'root',
          'migrate',
          '--data-dir',
          dir,
          '--to-key-provider',
          'pkcs11',
          '--to-key-store',
          target,
        ],
        { ...local, STRONGROOM_PKCS11_PIN: PIN },
      ),
    )
    assert.match(moved.stdout, /now kept in pkcs11 \(was key\): 2 key versions re-wrapped/)
    const store = ['--key-provider', 'pkcs11', '--key-store', target]
    const env = { STRONGROOM_PKCS11_PIN: PIN, STRONGROOM_ROOT_KEY: undefined }
    // Every key version is now wrapped by the token (format 3, kind 1): none under the old root.
    const db = new DatabaseSync(join(dir, 'meta.sqlite'), { readOnly: true })
    const rows = db.prepare('SELECT material FROM key_versions').all()
    db.close()
    assert.deepEqual(
      rows.map((r) => [...(r.material as Uint8Array).subarray(0, 2)]),
      [
        [3, 1],
        [3, 1],
        [3, 1],
      ],
    )
    // What was sealed before the migration opens through the token, untouched.
    ok(sr(['decrypt', `${plain}.sr`, `${plain}.out`, '--data-dir', dir, ...store], env))
    assert.deepEqual(readFileSync(`${plain}.out`), readFileSync(plain))
    // The old root key is refused: the directory now needs the token.
    const old = sr(['key', 'list', '--tenant', 'nlp', '--data-dir', dir], local)
    assert.equal(old.code, 1)
    assert.match(old.stderr, /root is kept in pkcs11/)
    // Run again: nothing left to re-wrap.
    const again = ok(
      sr(
        [
          'root',
          'migrate',
          '--data-dir',
          dir,
          ...store,
          '--to-key-provider',
          'pkcs11',
          '--to-key-store',
          target,
        ],
        env,
      ),
    )
    assert.match(again.stdout, /0 key versions re-wrapped, 3 already there/)
  })

  it('docs/keys.md: the SoftHSM2 example and root migrate, as written; the Vault and KMS stores parse', () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'keys.md'), 'utf8')
    const blocks = [...page.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
    assert.equal(blocks.length, 4, 'the blocks this test accounts for')
    const [softhsm = '', vault = '', kms = '', migrate = ''] = blocks
    // Run as a reader runs them: in a checkout, in a shell, with npx.
    const dir = join(work, 'keys-doc')
    mkdirSync(dir)
    const root = join(import.meta.dirname, '..', '..')
    for (const f of ['bin', 'src', 'node_modules', 'package.json'])
      symlinkSync(join(root, f), join(dir, f))
    // A SoftHSM2 of its own: the page makes its own token called Strongroom.
    mkdirSync(join(dir, 'tokens'))
    const conf = join(dir, 'softhsm2.conf')
    writeFileSync(
      conf,
      `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\n`,
    )
    const shell = (lines: string, env: Record<string, string> = {}) => {
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', lines], {
        cwd: dir,
        env: { ...process.env, SOFTHSM2_CONF: conf, ...env },
        encoding: 'utf8',
      })
      assert.equal(r.status, 0, `${lines}\n${r.stderr}`)
      return r.stdout
    }
    const out = shell(`unset STRONGROOM_DATA_DIR STRONGROOM_ROOT_KEY\n${softhsm}`)
    assert.match(out, /root key: pkcs11/)
    assert.match(out, /"Alias": "alias\/models"|alias\/models/)
    // The migration: a data directory made with a local root key in root.key.
    writeFileSync(join(dir, 'root.key'), randomBytes(32).toString('hex'))
    shell('unset STRONGROOM_DATA_DIR STRONGROOM_ROOT_KEY\nrm -rf strongroom-data', {})
    shell(
      'unset STRONGROOM_DATA_DIR STRONGROOM_ROOT_KEY\nnpx strongroom init --root-key-file root.key && npx strongroom tenant create nlp --root-key-file root.key && npx strongroom key create --tenant nlp --alias data --root-key-file root.key',
    )
    const moved = shell(`unset STRONGROOM_DATA_DIR STRONGROOM_ROOT_KEY\n${migrate}`, {
      STRONGROOM_PKCS11_PIN: '4711-0815',
    })
    assert.match(moved, /now kept in pkcs11 \(was key\): 1 key versions re-wrapped/)
    // The other stores cannot run here: their --key-store values parse as the page gives them.
    const store = (block: string) => /--key-store (\S+)/.exec(block)?.[1] ?? ''
    assert.deepEqual(parseKeyStore('vault', store(vault), {}).settings, {
      kind: 'vault',
      address: 'https://vault.internal:8200',
      mount: 'transit',
      key: 'strongroom-root',
    })
    assert.equal(parseKeyStore('awskms', store(kms), {}).settings.kind, 'awskms')
    assert.match(vault, /^vault write -f transit\/keys\/strongroom-root type=aes256-gcm96$/m)
  })
})
