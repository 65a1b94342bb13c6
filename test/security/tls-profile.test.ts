/**
 * Issue 9, item 9: TLS 1.2 offered CBC, ARIA and CCM suites (Node's default
 * list). The listener's profile is now Mozilla's "intermediate" configuration
 * exactly (https://ssl-config.mozilla.org/guidelines/5.7.json,
 * https://wiki.mozilla.org/Security/Server_Side_TLS): TLS 1.2 with ECDHE and
 * AES-GCM or ChaCha20-Poly1305 only, TLS 1.3 with its three suites, groups
 * X25519, P-256 and P-384, and the client's cipher order.
 *
 * Checked twice against a real `strongroom serve`: by sslscan (Debian package)
 * reading its XML, and, with Node alone, by handshakes that force each
 * forbidden suite or protocol and must fail.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, getCiphers, type ConnectionOptions } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { MOZILLA_INTERMEDIATE } from '../../src/net/tls.ts'
import { ca, endpoint, needs, start, stop } from '../e2e/harness.ts'

before(() => start())
after(stop)

/** Mozilla intermediate, TLS 1.2, in its order. */
const MOZILLA_TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]
const MOZILLA_TLS13 = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
]
/** The gateway's certificate is ECDSA (the built-in CA's P-256), so these are the TLS 1.2 suites it can use. */
const ECDSA_TLS12 = MOZILLA_TLS12.filter((c) => c.startsWith('ECDHE-ECDSA-'))

const port = () => Number(new URL(endpoint).port)

/** Attributes of every `<tag .../>` element in sslscan's XML. */
function elements(xml: string, tag: string): Record<string, string>[] {
  return [...xml.matchAll(new RegExp(`<${tag}\\s([^>]*?)/>`, 'g'))].map((m) => {
    const attrs: Record<string, string> = {}
    for (const a of (m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1] ?? ''] = a[2] ?? ''
    return attrs
  })
}

/** Handshakes with `options`; resolves the negotiated protocol and cipher, or the error. */
function handshake(
  options: ConnectionOptions,
): Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const sock = connect({
      host: '127.0.0.1',
      port: port(),
      servername: 'localhost',
      ca: readFileSync(ca),
      ...options,
    })
    sock.once('secureConnect', () => {
      const r = { ok: true as const, protocol: sock.getProtocol(), cipher: sock.getCipher().name }
      sock.destroy()
      resolve(r)
    })
    sock.once('error', (e: NodeJS.ErrnoException) => {
      sock.destroy()
      resolve({ ok: false, error: `${e.code ?? ''} ${e.message}` })
    })
  })
}

describe("the listener's TLS profile is Mozilla intermediate", () => {
  it('is configured with exactly Mozilla intermediate: six TLS 1.2 suites in order, three TLS 1.3 suites, three groups', () => {
    assert.deepEqual(MOZILLA_INTERMEDIATE, {
      minVersion: 'TLSv1.2',
      ciphers: [...MOZILLA_TLS13, ...MOZILLA_TLS12].join(':'),
      ecdhCurve: 'X25519:prime256v1:secp384r1',
      honorCipherOrder: false,
    })
  })

  it('sslscan finds only TLS 1.2 and 1.3, only the intermediate suites, no CBC, ARIA or CCM', (t) => {
    if (!needs(t, 'sslscan')) return
    const r = spawnSync('sslscan', ['--xml=-', '--no-colour', `127.0.0.1:${port()}`], {
      encoding: 'utf8',
      timeout: 300_000,
    })
    assert.equal(r.status, 0, r.stderr)
    const xml = r.stdout
    const protocols = Object.fromEntries(
      elements(xml, 'protocol').map((p) => [`${p.type} ${p.version}`, p.enabled]),
    )
    assert.deepEqual(protocols, {
      'ssl 2': '0',
      'ssl 3': '0',
      'tls 1.0': '0',
      'tls 1.1': '0',
      'tls 1.2': '1',
      'tls 1.3': '1',
    })
    const suites = (version: string) =>
      elements(xml, 'cipher')
        .filter((c) => c.sslversion === version)
        .map((c) => c.cipher ?? '')
        .sort()
    assert.deepEqual(suites('TLSv1.3'), [...MOZILLA_TLS13].sort())
    assert.deepEqual(suites('TLSv1.2'), [...ECDSA_TLS12].sort())
    for (const c of elements(xml, 'cipher')) {
      // AEAD only: AES-GCM or ChaCha20-Poly1305, never CBC (…-SHA, …-SHA256/384), CCM, ARIA or Camellia.
      assert.match(c.cipher ?? '', /GCM|CHACHA20.POLY1305/, c.cipher)
      assert.doesNotMatch(c.cipher ?? '', /CBC|CCM|ARIA|CAMELLIA/, c.cipher)
      assert.equal(c.strength === 'strong' || c.strength === 'acceptable', true, JSON.stringify(c))
    }
    assert.equal(elements(xml, 'pk').at(0)?.type, 'EC')
    // Key exchange groups: X25519, P-256 and P-384 and nothing else.
    const groups = new Set(elements(xml, 'group').map((g) => g.id))
    assert.deepEqual(
      [...groups].filter((g) => !['0x001d', '0x0017', '0x0018'].includes(g ?? '')),
      [],
      xml,
    )
    assert.deepEqual(
      elements(xml, 'group')
        .filter((g) => g.sslversion === 'TLSv1.3')
        .map((g) => g.id)
        .sort(),
      ['0x0017', '0x0018', '0x001d'],
    )
  })

  it('a TLS 1.2 client forcing a CBC, CCM, ARIA or Camellia suite fails the handshake', async () => {
    const forbidden = [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA',
      'ECDHE-ECDSA-AES128-SHA256',
      'ECDHE-ECDSA-AES256-SHA384',
      'ECDHE-ECDSA-AES128-CCM',
      'ECDHE-ECDSA-AES256-CCM8',
      'ECDHE-ECDSA-ARIA128-GCM-SHA256',
      'ECDHE-ECDSA-CAMELLIA128-SHA256',
    ]
    // Only what this Node's OpenSSL can offer as a client; the four CBC suites always can.
    const offerable = new Set(getCiphers())
    const tried = forbidden.filter((c) => offerable.has(c.toLowerCase()))
    assert.ok(tried.length >= 4, tried.join(' '))
    for (const cipher of tried) {
      const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: `${cipher}:@SECLEVEL=0` })
      assert.ok(!r.ok, `${cipher} was accepted`)
      assert.match(r.error, /handshake failure|no shared cipher/i, cipher)
    }
  })

  it('a TLS 1.1 or TLS 1.0 client fails the handshake', async () => {
    for (const version of ['TLSv1.1', 'TLSv1'] as const) {
      const r = await handshake({
        minVersion: version,
        maxVersion: version,
        ciphers: 'DEFAULT:@SECLEVEL=0',
      })
      assert.ok(!r.ok, `${version} was accepted`)
      assert.match(r.error, /protocol version|unsupported protocol/i, version)
    }
  })

  it('each intermediate suite negotiates, under TLS 1.2 and TLS 1.3', async () => {
    for (const cipher of ECDSA_TLS12) {
      const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: cipher })
      assert.deepEqual(r, { ok: true, protocol: 'TLSv1.2', cipher })
    }
    for (const cipher of MOZILLA_TLS13) {
      const r = await handshake({ minVersion: 'TLSv1.3', ciphers: cipher })
      assert.deepEqual(r, { ok: true, protocol: 'TLSv1.3', cipher })
    }
  })
})
