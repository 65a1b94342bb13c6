/**
 * Issue 17: listeners beside the main one, each with its TLS profile and client-certificate
 * mode, against a real `strongroom serve`:
 * - `modern` is TLS 1.3 only (Mozilla's modern configuration,
 *   https://ssl-config.mozilla.org/guidelines/5.7.json); a TLS 1.2 client is refused;
 * - every profile refuses renegotiation and compression (sslscan, Debian package, reads them);
 * - a listener requiring client certificates refuses a client without one, one whose
 *   certificate another CA issued, and one whose certificate was revoked; it accepts a workload
 *   certificate from `strongroom cert issue`; an `optional` one accepts a client without one;
 * - clients that trust only the root CA verify the chain every listener sends.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { constants, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connect, type ConnectionOptions } from 'node:tls'
import { loadConfig } from '../../src/config.ts'
import { testCertificates } from '../../src/net/testing.ts'
import { profileOptions, TLS_PROFILES } from '../../src/net/tls.ts'
import { needs } from '../e2e/harness.ts'
import { BIN, spawnServe, type ServeProcess } from '../serve-process.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-listeners-'))
const env = {
  ...process.env,
  STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex'),
  STRONGROOM_DATA_DIR: join(work, 'data'),
}
const ok = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: 'utf8' })
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

const ports = { modern: 0, required: 0, optional: 0 }
let serve: ServeProcess | undefined
let ca = ''
let workload = { cert: '', key: '', serial: '' }
const other = testCertificates(['client'], 'Another CA')

async function start(): Promise<void> {
  serve = await spawnServe(['--listen', '127.0.0.1:0'], {
    ...env,
    STRONGROOM_LISTENERS: JSON.stringify([
      { listen: `127.0.0.1:${String(ports.modern)}`, tlsProfile: 'modern' },
      { listen: `127.0.0.1:${String(ports.required)}`, clientCertificates: 'required' },
      { listen: `127.0.0.1:${String(ports.optional)}`, clientCertificates: 'optional' },
    ]),
  })
}

before(async () => {
  ports.modern = await freePort()
  ports.required = await freePort()
  ports.optional = await freePort()
  ok('init')
  ok('tenant', 'create', 'vision')
  writeFileSync(
    join(work, 'trust.json'),
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
  )
  ok('role', 'create', 'trainer', '--tenant', 'vision', '--trust', 'trust.json')
  const issued = JSON.parse(
    ok('cert', 'issue', '--tenant', 'vision', '--role', 'trainer', '--out', 'certs', '--json'),
  ) as { SerialNumber: string }
  workload = {
    cert: readFileSync(join(work, 'certs', 'cert.pem'), 'utf8'),
    key: readFileSync(join(work, 'certs', 'key.pem'), 'utf8'),
    serial: issued.SerialNumber,
  }
  await start()
  ca = readFileSync(join(work, 'data', 'ca.pem'), 'utf8')
})
after(async () => {
  await serve?.stop()
  rmSync(work, { recursive: true, force: true })
})

/**
 * A TLS connection that trusts only the root, then one HTTP request for the health endpoint:
 * the status line, or the error that ended it.
 */
function health(port: number, options: ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...options }, () => {
      s.write('GET /_health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    })
    let data = ''
    s.on('data', (d: Buffer) => (data += d.toString()))
    s.on('end', () => resolve(data.split('\r\n')[0] || 'closed without an answer'))
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`))
  })
}

describe('listeners with their own TLS profile and client certificates', () => {
  it('modern: TLS 1.3 only; a TLS 1.2 client is refused; the chain verifies against the root', async () => {
    assert.equal(await health(ports.modern), 'HTTP/1.1 200 OK')
    assert.equal(
      await health(ports.modern, { maxVersion: 'TLSv1.2' }),
      'error ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    )
  })

  it('sslscan: modern offers only TLS 1.3 and its three suites; no listener renegotiates', (t) => {
    if (!needs(t, 'sslscan')) return
    for (const port of [ports.modern, ports.required, Number(new URL(serve?.url ?? '').port)]) {
      const r = spawnSync('sslscan', ['--xml=-', '--no-colour', `127.0.0.1:${String(port)}`], {
        encoding: 'utf8',
        timeout: 300_000,
      })
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /<renegotiation supported="0"/)
      // (Compression: Debian's sslscan is built without it and cannot ask; the profile's
      // options are checked below.)
      if (port !== ports.modern) continue
      const enabled = [
        ...r.stdout.matchAll(/<protocol type="(\w+)" version="([\d.]+)" enabled="1"/g),
      ]
      assert.deepEqual(
        enabled.map((m) => `${m[1] ?? ''} ${m[2] ?? ''}`),
        ['tls 1.3'],
      )
      const suites = [
        ...r.stdout.matchAll(/<cipher status="\w+" sslversion="([^"]+)"[^>]*cipher="([^"]+)"/g),
      ]
      assert.deepEqual(suites.map((m) => `${m[1] ?? ''} ${m[2] ?? ''}`).sort(), [
        'TLSv1.3 TLS_AES_128_GCM_SHA256',
        'TLSv1.3 TLS_AES_256_GCM_SHA384',
        'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256',
      ])
    }
  })

  it('testssl.sh: no protocol below TLS 1.2, no weak suite, forward secrecy only, no client renegotiation, no CRIME', (t) => {
    if (!needs(t, 'testssl')) return
    const main = Number(new URL(serve?.url ?? '').port)
    for (const [port, profile] of [
      [ports.modern, 'modern'],
      [main, 'intermediate'],
    ] as const) {
      const json = join(work, `testssl-${profile}.json`)
      // testssl.sh exits non-zero even on a clean run: its findings are judged, not its status.
      spawnSync(
        'testssl',
        [
          '--quiet',
          '--color',
          '0',
          '--warnings',
          'off',
          '--protocols',
          '--std',
          '--fs',
          '--renegotiation',
          '--crime',
          '--jsonfile',
          json,
          `127.0.0.1:${String(port)}`,
        ],
        { encoding: 'utf8', timeout: 300_000 },
      )
      const findings = new Map(
        (
          JSON.parse(readFileSync(json, 'utf8')) as {
            id: string
            severity: string
            finding: string
          }[]
        ).map((f) => [f.id, f]),
      )
      const finding = (id: string) => findings.get(id)?.finding ?? `${id}: no finding`
      for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'])
        assert.equal(finding(id), 'not offered', `${profile} ${id}`)
      assert.equal(finding('TLS1_2'), profile === 'modern' ? 'not offered' : 'offered', profile)
      assert.match(finding('TLS1_3'), /^offered/)
      for (const id of [
        'cipherlist_NULL',
        'cipherlist_aNULL',
        'cipherlist_EXPORT',
        'cipherlist_LOW',
        'cipherlist_3DES_IDEA',
        'cipherlist_AVERAGE',
      ])
        assert.equal(finding(id), 'not offered', `${profile} ${id}`)
      assert.equal(finding('PFS'), 'offered')
      // TLS 1.3 has neither renegotiation nor compression: testssl.sh says so in its own words.
      const none =
        profile === 'modern'
          ? /^not vulnerable, TLS 1.3 only$|^TLS 1.3 only server$/
          : /^not vulnerable$/
      assert.match(finding('secure_client_renego'), none)
      assert.match(finding('CRIME_TLS'), none)
      const bad = [...findings.values()].filter((f) =>
        /^(LOW|MEDIUM|HIGH|CRITICAL)$/.test(f.severity),
      )
      assert.deepEqual(bad, [], profile)
    }
  })

  it('docs/network.md: its listeners example loads as written', () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'network.md'), 'utf8')
    const example = /```json\n([\s\S]*?)```/.exec(page)?.[1] ?? ''
    assert.deepEqual(loadConfig({ env: { STRONGROOM_LISTENERS: example }, flags: {} }).listeners, [
      { host: '10.0.0.5', port: 9444, tlsProfile: 'modern', clientCertificates: 'required' },
      { host: '127.0.0.1', port: 9445, tlsProfile: 'intermediate', clientCertificates: 'optional' },
    ])
  })

  it('every profile turns renegotiation and compression off, and names nothing below TLS 1.2', () => {
    for (const name of ['modern', 'intermediate'] as const) {
      const o = profileOptions(name)
      assert.equal(
        (o.secureOptions ?? 0) & constants.SSL_OP_NO_RENEGOTIATION,
        constants.SSL_OP_NO_RENEGOTIATION,
      )
      assert.equal(
        (o.secureOptions ?? 0) & constants.SSL_OP_NO_COMPRESSION,
        constants.SSL_OP_NO_COMPRESSION,
      )
    }
    assert.equal(profileOptions('modern').minVersion, 'TLSv1.3')
    assert.equal(profileOptions('intermediate').minVersion, 'TLSv1.2')
    assert.deepEqual(Object.keys(TLS_PROFILES), ['modern', 'intermediate'])
  })

  it('required: no certificate and another CA’s certificate are refused; a workload certificate is served', async () => {
    assert.match(await health(ports.required), /^error |^closed without an answer$/)
    assert.match(
      await health(ports.required, { cert: other.certPem, key: other.keyPem }),
      /^error |^closed without an answer$/,
    )
    assert.equal(
      await health(ports.required, { cert: workload.cert, key: workload.key }),
      'HTTP/1.1 200 OK',
    )
  })

  it('optional: a client without a certificate is served, one with another CA’s is refused', async () => {
    assert.equal(await health(ports.optional), 'HTTP/1.1 200 OK')
    assert.equal(
      await health(ports.optional, { cert: workload.cert, key: workload.key }),
      'HTTP/1.1 200 OK',
    )
    assert.match(
      await health(ports.optional, { cert: other.certPem, key: other.keyPem }),
      /^error |^closed without an answer$/,
    )
  })

  it('a revoked workload certificate is refused by the listener that requires one', async () => {
    ok('cert', 'revoke', workload.serial, '--reason', 'keyCompromise')
    // The CRLs are signed afresh every minute; a restart reads them at once.
    await serve?.stop()
    await start()
    assert.match(
      await health(ports.required, { cert: workload.cert, key: workload.key }),
      /^error |^closed without an answer$/,
    )
  })
})
