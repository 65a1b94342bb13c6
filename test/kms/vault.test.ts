/**
 * The Vault / OpenBao Transit root against a fake Transit server (test/kms/vault-fake.ts): each
 * refusal is checked by its exact error code, and no message or cause ever shows the token, a
 * plaintext or a ciphertext.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isStrongroomError } from '../../src/errors.ts'
import type { ExternalRoot, VaultSettings } from '../../src/kms/external/port.ts'
import { vaultRoot } from '../../src/kms/external/vault.ts'
import { startVaultFake, type VaultFake } from './vault-fake.ts'

const KEY = Buffer.alloc(32, 0x5a)
const AAD = Buffer.from('strongroom/tenant/acme/key/1')
const WRONG_TOKEN = 'hvs.WRONGWRONGWRONGWRONG'

let fake: VaultFake
const roots: ExternalRoot[] = []
const seen: unknown[] = []

before(async () => {
  fake = await startVaultFake({ keys: ['strongroom', 'other'] })
})
after(async () => {
  await Promise.all(roots.map((r) => r.close()))
  await fake.close()
})

/** `token` null: no token given at all. */
function root(over: Partial<VaultSettings> = {}, token: string | null = fake.token) {
  const r = vaultRoot(
    { kind: 'vault', address: fake.url, mount: 'transit', key: 'strongroom', ...over },
    token === null ? {} : { vaultToken: token },
  )
  roots.push(r)
  return r
}

/** The code a refusal carries; keeps the error for the final no-secrets check. */
async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    seen.push(e)
    assert.ok(isStrongroomError(e), String(e))
    return e.code
  }
  assert.fail('accepted')
}

function texts(e: unknown): string {
  let out = ''
  for (let c: unknown = e; c instanceof Error; c = c.cause)
    out += `${c.message}\n${c.stack ?? ''}\n`
  return out
}

describe('vault transit root', () => {
  it('wraps and unwraps with the AAD bound', async () => {
    const r = root()
    assert.equal(r.kind, 'vault')
    assert.equal(r.describe, `vault transit/keys/strongroom at ${fake.url}`)
    const blob = await r.wrap(KEY, AAD)
    assert.match(blob.toString('utf8'), /^vault:v1:[A-Za-z0-9+/]+=*$/)
    assert.deepEqual(await r.unwrap(blob, AAD), KEY)
    assert.deepEqual(await r.unwrap(await r.wrap(KEY, Buffer.alloc(0)), Buffer.alloc(0)), KEY)
  })

  it('attack: a blob presented with another AAD is ROOT_KEY_WRONG', async () => {
    const r = root()
    const blob = await r.wrap(KEY, AAD)
    assert.equal(
      await code(r.unwrap(blob, Buffer.from('strongroom/tenant/evil/key/1'))),
      'ROOT_KEY_WRONG',
    )
    assert.equal(await code(r.unwrap(blob, Buffer.alloc(0))), 'ROOT_KEY_WRONG')
  })

  it('attack: a tampered blob is ROOT_KEY_WRONG', async () => {
    const r = root()
    const text = (await r.wrap(KEY, AAD)).toString('utf8')
    const body = Buffer.from(text.slice('vault:v1:'.length), 'base64')
    body[20] = (body[20] ?? 0) ^ 1
    const flipped = Buffer.from(`vault:v1:${body.toString('base64')}`)
    assert.equal(await code(r.unwrap(flipped, AAD)), 'ROOT_KEY_WRONG')
    const short = Buffer.from(`vault:v1:${body.subarray(0, 20).toString('base64')}`)
    assert.equal(await code(r.unwrap(short, AAD)), 'ROOT_KEY_WRONG')
    const future = Buffer.from(text.replace('vault:v1:', 'vault:v9:'))
    assert.equal(await code(r.unwrap(future, AAD)), 'ROOT_KEY_WRONG')
  })

  it('attack: blobs that are not transit ciphertexts are refused before any request', async () => {
    const r = root()
    const before = fake.stats.requests
    for (const bad of [
      '',
      'vault:v1:',
      'vault:v0:AAAA',
      'vault:vx:AAAA',
      'v1:AAAA',
      'vault:v1:AA AA',
    ]) {
      assert.equal(await code(r.unwrap(Buffer.from(bad), AAD)), 'ROOT_KEY_WRONG', bad)
    }
    const huge = Buffer.from(`vault:v1:${'A'.repeat(8192)}`)
    assert.equal(await code(r.unwrap(huge, AAD)), 'ROOT_KEY_WRONG')
    assert.equal(fake.stats.requests, before)
  })

  it('attack: a blob made under another transit key is ROOT_KEY_WRONG', async () => {
    const blob = await root({ key: 'other' }).wrap(KEY, AAD)
    assert.equal(await code(root().unwrap(blob, AAD)), 'ROOT_KEY_WRONG')
  })

  it('attack: a refused token is ROOT_KEY_MISSING, naming the policy it needs', async () => {
    const r = root({}, WRONG_TOKEN)
    const before = fake.stats.requests
    assert.equal(await code(r.wrap(KEY, AAD)), 'ROOT_KEY_MISSING')
    assert.equal(fake.stats.requests, before + 1, 'a refusal is not retried')
    const e = seen.at(-1) as Error
    assert.match(e.message, /transit\/encrypt\/strongroom/)
    assert.match(e.message, /transit\/decrypt\/strongroom/)
    const blob = await root().wrap(KEY, AAD)
    assert.equal(await code(r.unwrap(blob, AAD)), 'ROOT_KEY_MISSING')
  })

  it('a missing token is ROOT_KEY_MISSING and says to set VAULT_TOKEN', async () => {
    const before = fake.stats.requests
    assert.equal(await code(root({}, null).wrap(KEY, AAD)), 'ROOT_KEY_MISSING')
    assert.match((seen.at(-1) as Error).message, /VAULT_TOKEN/)
    assert.equal(await code(root({}, '').wrap(KEY, AAD)), 'ROOT_KEY_MISSING')
    assert.equal(await code(root({}, 'bad\ntoken').wrap(KEY, AAD)), 'ROOT_KEY_MISSING')
    assert.equal(fake.stats.requests, before)
  })

  it('an unknown key or mount is CONFIG_INVALID, saying how to make the key', async () => {
    assert.equal(await code(root({ key: 'nokey' }).wrap(KEY, AAD)), 'CONFIG_INVALID')
    assert.match((seen.at(-1) as Error).message, /vault write -f transit\/keys\/nokey/)
    const blob = await root().wrap(KEY, AAD)
    assert.equal(await code(root({ key: 'nokey' }).unwrap(blob, AAD)), 'CONFIG_INVALID')
    assert.equal(await code(root({ mount: 'elsewhere' }).wrap(KEY, AAD)), 'CONFIG_INVALID')
    assert.match((seen.at(-1) as Error).message, /`elsewhere`/)
  })

  it('settings that name nothing usable are CONFIG_INVALID', async () => {
    for (const over of [
      { address: 'not a url' },
      { address: 'ftp://127.0.0.1:8200' },
      { address: 'https://user:pw@vault.example:8200' },
      { address: 'https://vault.example:8200/?x=1' },
      { mount: '../sys' },
      { mount: '' },
      { key: 'a/b' },
      { key: '' },
      { namespace: 'ns\r\nX-Evil: 1' },
    ]) {
      assert.equal(await code(() => root(over)), 'CONFIG_INVALID', JSON.stringify(over))
    }
    assert.doesNotMatch((seen.at(-7) as Error).message, /pw/)
  })

  it('attack: plain http to a host that is not loopback is refused', async () => {
    for (const address of [
      'http://vault.example:8200',
      'http://10.0.0.5:8200',
      'http://[fe80::1]:8200',
      'http://localhost.evil.example',
    ]) {
      assert.equal(await code(() => root({ address })), 'CONFIG_INVALID', address)
    }
    for (const address of ['http://localhost:8200', 'http://[::1]:8200', 'https://vault.example']) {
      assert.equal(root({ address }).kind, 'vault')
    }
  })

  it('a sealed vault is IO with the cause, after retrying', async () => {
    const r = root()
    fake.seal(true)
    try {
      const before = fake.stats.requests
      assert.equal(await code(r.wrap(KEY, AAD)), 'IO')
      assert.equal(fake.stats.requests, before + 3)
      const e = seen.at(-1) as Error
      assert.match(e.message, /sealed/)
      assert.match((e.cause as Error).message, /503.*Vault is sealed/)
    } finally {
      fake.seal(false)
    }
    assert.deepEqual(await r.unwrap(await r.wrap(KEY, AAD), AAD), KEY)
  })

  it('passing failures (5xx, 429) are retried; lasting ones are IO', async () => {
    const r = root()
    fake.failNext(2, 500)
    assert.deepEqual(await r.unwrap(await r.wrap(KEY, AAD), AAD), KEY)
    fake.failNext(1, 429)
    assert.match((await r.wrap(KEY, AAD)).toString(), /^vault:v\d+:/)
    fake.failNext(3, 502)
    assert.equal(await code(r.wrap(KEY, AAD)), 'IO')
  })

  it('an unreachable vault is IO with the network cause', async () => {
    const server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const r = root({ address: `http://127.0.0.1:${port}` })
    assert.equal(await code(r.wrap(KEY, AAD)), 'IO')
    assert.ok((seen.at(-1) as Error).cause instanceof Error)
  })

  it('attack: a hostile server (huge or malformed answers) is IO', async () => {
    let mode = 'huge'
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      if (mode === 'huge') res.end(`{"data":{"ciphertext":"${'A'.repeat(2 << 20)}"}}`)
      else if (mode === 'garbage') res.end('<html>not json</html>')
      else if (mode === 'badct') res.end('{"data":{"ciphertext":"vault:v1:not base64!"}}')
      else res.end('{"data":{"plaintext":42}}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const r = root({ address: `http://127.0.0.1:${port}` })
      for (const m of ['huge', 'garbage', 'badct']) {
        mode = m
        assert.equal(await code(r.wrap(KEY, AAD)), 'IO', m)
      }
      mode = 'badpt'
      assert.equal(await code(r.unwrap(Buffer.from('vault:v1:AAAA'), AAD)), 'IO')
      await r.close()
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('https: the given CA is trusted; without it the certificate is refused (IO)', async () => {
    const tls = await startVaultFake({ tls: true })
    const settings = {
      kind: 'vault',
      address: tls.url,
      mount: 'transit',
      key: 'strongroom',
    } as const
    const trusted = vaultRoot(settings, { vaultToken: tls.token, ca: tls.caPem ?? '' })
    const unknown = vaultRoot(settings, { vaultToken: tls.token })
    try {
      assert.deepEqual(await trusted.unwrap(await trusted.wrap(KEY, AAD), AAD), KEY)
      assert.equal(await code(unknown.wrap(KEY, AAD)), 'IO')
      assert.match((seen.at(-1) as Error).message, /certificate is not trusted/)
    } finally {
      await Promise.all([trusted.close(), unknown.close()])
      await tls.close()
    }
  })

  it('rotation: old blobs still unwrap, new wraps use the latest version', async () => {
    const r = root()
    const v1 = await r.wrap(KEY, AAD)
    assert.match(v1.toString(), /^vault:v1:/)
    assert.equal(fake.rotate('strongroom'), 2)
    const v2 = await r.wrap(KEY, AAD)
    assert.match(v2.toString(), /^vault:v2:/)
    assert.deepEqual(await r.unwrap(v1, AAD), KEY)
    assert.deepEqual(await r.unwrap(v2, AAD), KEY)
  })

  it('sends X-Vault-Namespace when a namespace is set, and none otherwise', async () => {
    await root({ namespace: 'admin/team-a' }).wrap(KEY, AAD)
    assert.equal(fake.stats.lastNamespace, 'admin/team-a')
    await root().wrap(KEY, AAD)
    assert.equal(fake.stats.lastNamespace, undefined)
  })

  it('attack: no message or cause shows the token, the plaintext or a ciphertext', () => {
    assert.ok(seen.length > 30, `errors seen: ${seen.length}`)
    const secrets = [
      fake.token,
      WRONG_TOKEN,
      KEY.toString('hex'),
      KEY.toString('base64'),
      'vault:v1:',
      'vault:v2:',
    ]
    for (const e of seen) {
      const t = texts(e)
      for (const s of secrets) assert.ok(!t.includes(s), `${s} in: ${t}`)
    }
  })
})
