/**
 * The HTTPS listener with the built-in PKI's server certificate: clients that trust only the
 * root CA verify the chain the server sends (its certificate, then the issuing CA's), and a
 * renewed certificate is served to new connections without a restart while open connections
 * keep theirs.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type PeerCertificate } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { initDataDir, openApp, type App } from '../app.ts'
import { loadConfig } from '../config.ts'
import { certificatesIn } from '../net/x509.ts'
import { S3Gateway } from './s3.ts'
import { listen, type RunningServer } from './server.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-server-tls-'))
let app: App
let server: RunningServer
let caPem = ''

before(async () => {
  const config = loadConfig({ env: {}, flags: { 'data-dir': join(dir, 'data') } })
  await initDataDir(config, { dev: true })
  app = await openApp(config)
  const id = await app.pki.serverIdentity(['127.0.0.1'])
  caPem = id.caPem
  server = await listen(new S3Gateway({ app, objects: app.objects, onAlert: () => undefined }), {
    host: '127.0.0.1',
    port: 0,
    log: () => undefined,
    tls: { key: id.keyPem, cert: id.certPem },
  })
})

after(async () => {
  await server.close()
  await app.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A connection that trusts only the root CA; its peer's certificate and protocol. */
function handshake(): Promise<{ cert: PeerCertificate; protocol: string | null; end: () => void }> {
  const port = Number(new URL(server.url).port)
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: caPem, servername: undefined }, () =>
      resolve({ cert: s.getPeerCertificate(), protocol: s.getProtocol(), end: () => s.end() }),
    )
    s.on('error', reject)
  })
}

describe('the HTTPS listener and the built-in PKI', () => {
  it('serves a chain that verifies against the root alone, over TLS 1.3', async () => {
    const c = await handshake()
    c.end()
    assert.equal(c.protocol, 'TLSv1.3')
    assert.equal(c.cert.subjectaltname, 'IP Address:127.0.0.1')
    assert.equal(c.cert.issuer.CN, 'Strongroom Issuing CA')
  })

  it('a renewed certificate reaches new connections without a restart; open ones keep theirs', async () => {
    const before = await handshake()
    rmSync(join(dir, 'data', 'pki', 'server.pem'))
    const renewed = await app.pki.serverIdentity(['127.0.0.1'])
    server.setTls({ key: renewed.keyPem, cert: renewed.certPem })
    const after = await handshake()
    assert.notEqual(after.cert.serialNumber, before.cert.serialNumber)
    assert.equal(after.cert.serialNumber, certificatesIn(renewed.certPem)[0]?.serialNumber)
    const listed = (await app.pki.listCertificates({})).map((c) => c.serial)
    assert.ok(listed.includes(after.cert.serialNumber.toLowerCase()), 'the renewed one is listed')
    before.end()
    after.end()
  })
})
