/**
 * The root of trust's inputs: key files, hex keys, passphrase files and the stored scrypt
 * parameters. Each is read from a place an operator (or whoever altered the database) controls,
 * so each refusal is tested with the error code an operator sees.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../errors.ts'
import {
  deriveRootKey,
  parseScryptParams,
  readPassphraseFile,
  readRootKeyFile,
  rootKeyFromHex,
} from './root.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-root-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    assert.ok(isStrongroomError(e), String(e))
    return e.code
  }
  assert.fail('accepted')
}

const HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'

describe('root key inputs', () => {
  it('a hex key: 64 hex characters, surrounding whitespace ignored, either case', () => {
    assert.equal(rootKeyFromHex(` ${HEX.toUpperCase()}\n`, 'x').toString('hex'), HEX)
  })

  it('a hex key of the wrong length or with other characters is ROOT_KEY_INVALID, naming where it came from', async () => {
    for (const bad of [HEX.slice(2), `${HEX}00`, `${HEX.slice(1)}g`, ''])
      assert.equal(await code(() => rootKeyFromHex(bad, 'STRONGROOM_ROOT_KEY')), 'ROOT_KEY_INVALID')
    try {
      rootKeyFromHex('nope', 'STRONGROOM_ROOT_KEY')
    } catch (e) {
      assert.match((e as Error).message, /^STRONGROOM_ROOT_KEY must hold 64 hexadecimal characters/)
    }
  })

  it('a key file holds 32 raw bytes or 64 hex characters', async () => {
    const raw = Buffer.from(HEX, 'hex')
    assert.ok((await readRootKeyFile(file('raw.key', raw))).equals(raw))
    assert.ok((await readRootKeyFile(file('hex.key', `${HEX}\n`))).equals(raw))
  })

  it('a key file of another size is ROOT_KEY_INVALID; a missing one ROOT_KEY_MISSING', async () => {
    assert.equal(
      await code(readRootKeyFile(file('short.key', Buffer.alloc(31)))),
      'ROOT_KEY_INVALID',
    )
    assert.equal(
      await code(readRootKeyFile(file('long.key', Buffer.alloc(4096)))),
      'ROOT_KEY_INVALID',
    )
    assert.equal(await code(readRootKeyFile(join(dir, 'absent.key'))), 'ROOT_KEY_MISSING')
  })

  it('a key file that cannot be read is ROOT_KEY_MISSING with the reason, not a crash', async () => {
    // A directory in the key file's place: unreadable for every user, root included.
    const p = join(dir, 'a-directory.key')
    mkdirSync(p)
    try {
      await readRootKeyFile(p)
      assert.fail('read')
    } catch (e) {
      assert.ok(isStrongroomError(e, 'ROOT_KEY_MISSING'), String(e))
      assert.match(e.message, /is a directory/)
    }
  })

  it('a passphrase file: one trailing newline (or CRLF) is the editor’s; 12 to 1024 bytes', async () => {
    assert.equal(
      (await readPassphraseFile(file('p1', 'correct horse battery\n'))).toString(),
      'correct horse battery',
    )
    assert.equal(
      (await readPassphraseFile(file('p2', 'correct horse battery\r\n'))).toString(),
      'correct horse battery',
    )
    assert.equal(
      (await readPassphraseFile(file('p3', ' spaces kept \n\n'))).toString(),
      ' spaces kept \n',
    )
    assert.equal(await code(readPassphraseFile(file('p4', 'short\n'))), 'ROOT_KEY_INVALID')
    assert.equal(await code(readPassphraseFile(file('p5', 'x'.repeat(1025)))), 'ROOT_KEY_INVALID')
    assert.equal(await code(readPassphraseFile(join(dir, 'absent'))), 'ROOT_KEY_MISSING')
  })

  it('stored scrypt parameters out of bounds are refused (a doctored database cannot demand unbounded memory)', async () => {
    const good = { alg: 'scrypt', N: 1 << 14, r: 8, p: 1, salt: '00'.repeat(16) }
    assert.deepEqual(parseScryptParams(JSON.stringify(good)), good)
    for (const bad of [
      'not json',
      'null',
      { ...good, alg: 'argon2' },
      { ...good, N: 1000 },
      { ...good, N: 1 << 21 },
      { ...good, N: 1 },
      { ...good, r: 0 },
      { ...good, r: 33 },
      { ...good, p: 17 },
      { ...good, salt: 'zz'.repeat(16) },
      { ...good, salt: '00' },
    ])
      assert.equal(
        await code(() => parseScryptParams(typeof bad === 'string' ? bad : JSON.stringify(bad))),
        'DATA_DIR_FOREIGN',
        JSON.stringify(bad),
      )
  })

  it('scrypt derives the same key from the same passphrase and salt, another from another salt', async () => {
    const params = { alg: 'scrypt', N: 1 << 10, r: 8, p: 1, salt: '11'.repeat(16) } as const
    const pass = Buffer.from('correct horse battery')
    const k1 = await deriveRootKey(pass, params)
    assert.equal(k1.length, 32)
    assert.ok(k1.equals(await deriveRootKey(pass, params)))
    assert.ok(!k1.equals(await deriveRootKey(pass, { ...params, salt: '22'.repeat(16) })))
  })
})
