/**
 * The gateway's own CA: certificates node's X.509 parser reads back with the right names,
 * constraints and issuer, and a server identity that is kept across restarts and reissued
 * when the names change or the certificate nears its end.
 */
import assert from 'node:assert/strict'
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
} from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import type { MetadataStore } from '../meta/store.ts'
import { issueCertificate, selfSignedCa, serverIdentity, type Sealer } from './ca.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-ca-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** AES-256-GCM under a key of its own, the label bound as AAD: the Sealer contract, nothing more. */
function sealer(key = randomBytes(32)): Sealer {
  return {
    seal(label, data) {
      const iv = randomBytes(12)
      const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(label))
      const body = Buffer.concat([c.update(data), c.final()])
      return Buffer.concat([iv, c.getAuthTag(), body])
    },
    open(label, sealed) {
      const b = Buffer.from(sealed)
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12)).setAAD(Buffer.from(label))
      d.setAuthTag(b.subarray(12, 28))
      return Buffer.concat([d.update(b.subarray(28)), d.final()])
    },
  }
}

describe('issueCertificate', () => {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const issuer = { name: 'Test CA', key: ca.privateKey, publicKey: ca.publicKey }

  it('a CA certificate: self-signed, CA:TRUE, for the days asked', () => {
    const now = new Date('2026-01-01T00:00:00Z')
    const pem = issueCertificate({
      subject: 'Test CA',
      publicKey: ca.publicKey,
      issuer,
      ca: true,
      days: 10,
      now,
    })
    const x = new X509Certificate(pem)
    assert.equal(x.ca, true)
    assert.equal(x.subject, 'O=Strongroom\nCN=Test CA')
    assert.equal(x.issuer, 'O=Strongroom\nCN=Test CA')
    assert.ok(x.verify(ca.publicKey))
    assert.equal(Date.parse(x.validTo), Date.parse('2026-01-11T00:00:00Z'))
    // Backdated five minutes for clocks slightly behind.
    assert.equal(Date.parse(x.validFrom), Date.parse('2025-12-31T23:55:00Z'))
  })

  it('a server certificate: not a CA, its DNS names and IPv4/IPv6 addresses in subjectAltName', () => {
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const names = ['localhost', 's3.example.test', '127.0.0.1', '::1', 'fd00::12:3']
    const x = new X509Certificate(
      issueCertificate({
        subject: 'localhost',
        publicKey: leaf.publicKey,
        issuer,
        ca: false,
        days: 397,
        names,
      }),
    )
    assert.equal(x.ca, false)
    assert.equal(x.issuer, 'O=Strongroom\nCN=Test CA')
    assert.ok(x.verify(ca.publicKey))
    assert.equal(x.checkHost('s3.example.test'), 's3.example.test')
    assert.equal(x.checkHost('other.example.test'), undefined)
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(x.checkIP('::1'), '::1')
    assert.equal(x.checkIP('fd00::12:3'), 'fd00::12:3')
    assert.equal(x.checkIP('10.0.0.1'), undefined)
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
  })
})

describe('serverIdentity', () => {
  const dir = join(work, 'data')
  const s = sealer()
  let first: Awaited<ReturnType<typeof serverIdentity>>

  it('first start: creates the CA and a server certificate it signed; private keys only sealed on disk', async () => {
    first = await serverIdentity(dir, s, ['localhost', '127.0.0.1'])
    const ca = new X509Certificate(first.caPem)
    const cert = new X509Certificate(first.certPem)
    assert.ok(cert.verify(ca.publicKey))
    assert.equal(cert.checkHost('localhost'), 'localhost')
    // The key pair matches the certificate.
    assert.ok(cert.checkPrivateKey(createPrivateKey(first.keyPem)))
    for (const f of [
      'ca.pem',
      'pki/ca.pem',
      'pki/server.pem',
      'pki/ca.key.sealed',
      'pki/server.key.sealed',
    ])
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f)
    assert.equal(statSync(join(dir, 'pki')).mode & 0o777, 0o700)
  })

  it('a restart with the same names keeps the certificate and key', async () => {
    const again = await serverIdentity(dir, s, ['localhost', '127.0.0.1'])
    assert.deepEqual(again, first)
  })

  it('other names: a new server certificate from the same CA', async () => {
    const more = await serverIdentity(dir, s, ['localhost', '127.0.0.1', 'gw.example.test'])
    assert.equal(more.caPem, first.caPem)
    assert.notEqual(more.certPem, first.certPem)
    assert.equal(new X509Certificate(more.certPem).checkHost('gw.example.test'), 'gw.example.test')
  })

  it('a certificate within 30 days of its end is reissued', async () => {
    const ca = new X509Certificate(first.caPem)
    const caKey = createPrivateKey({
      key: s.open('pki/ca.key', readFileSync(join(dir, 'pki', 'ca.key.sealed'))),
      format: 'der',
      type: 'pkcs8',
    })
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const names = ['localhost', '127.0.0.1', 'gw.example.test']
    const ending = issueCertificate({
      subject: 'localhost',
      publicKey: leaf.publicKey,
      issuer: { name: 'Strongroom CA', key: caKey, publicKey: ca.publicKey },
      ca: false,
      days: 10,
      names,
    })
    writeFileSync(join(dir, 'pki', 'server.pem'), ending)
    const renewed = await serverIdentity(dir, s, names)
    assert.notEqual(renewed.certPem, ending)
    assert.ok(
      Date.parse(new X509Certificate(renewed.certPem).validTo) - Date.now() > 300 * 86_400_000,
    )
  })

  it('a sealer that cannot open the stored CA key fails the start instead of making a new CA', async () => {
    await assert.rejects(serverIdentity(dir, sealer(), ['localhost']))
    assert.equal((await serverIdentity(dir, s, ['localhost'])).caPem, first.caPem)
  })
})

describe('serverIdentity of gateways sharing a metadata database', () => {
  /** The installation's system values in a real metadata database (SQLite's adapter). */
  let n = 0
  const stores: MetadataStore[] = []
  after(() => Promise.all(stores.map((st) => st.close())))
  const values = () => {
    const st = SqliteMetadataStore.open(join(work, `values-${++n}.sqlite`), { create: true })
    stores.push(st)
    return st
  }
  const s = sealer()

  it('gives every gateway a certificate from one CA, made by the first (and kept nowhere unsealed)', async () => {
    const shared = values()
    const [a, b] = await Promise.all([
      serverIdentity(join(work, 'gw-a'), s, ['localhost'], shared),
      serverIdentity(join(work, 'gw-b'), s, ['localhost'], shared),
    ])
    assert.equal(a.caPem, b.caPem)
    const ca = new X509Certificate(a.caPem)
    assert.ok(new X509Certificate(a.certPem).verify(ca.publicKey))
    assert.ok(new X509Certificate(b.certPem).verify(ca.publicKey))
    assert.notEqual(a.certPem, b.certPem)
    assert.equal(readFileSync(join(work, 'gw-b', 'ca.pem'), 'utf8'), a.caPem)
    const stored = (await shared.getSystemValue('pki/ca'))?.toString() ?? ''
    assert.ok(!stored.includes('PRIVATE KEY'), 'the CA key is stored sealed')
  })

  it('moves in the CA a data directory already had, so clients that trust it keep working', async () => {
    const dir = join(work, 'gw-old')
    const before = await serverIdentity(dir, s, ['localhost'])
    const shared = values()
    const after = await serverIdentity(dir, s, ['localhost'], shared)
    assert.equal(after.caPem, before.caPem)
    const other = await serverIdentity(join(work, 'gw-new'), s, ['localhost'], shared)
    assert.equal(other.caPem, before.caPem)
  })

  it('attack: a CA certificate swapped in the database is refused before any copy of it is written', async () => {
    const shared = values()
    const dir = join(work, 'gw-swap')
    const real = await serverIdentity(dir, s, ['localhost'], shared)
    const kept = JSON.parse((await shared.getSystemValue('pki/ca'))?.toString() ?? '{}') as {
      sealedKey: string
    }
    const forged = selfSignedCa('Strongroom CA', 3650).pem
    const swapped = values()
    await swapped.keepSystemValue(
      'pki/ca',
      Buffer.from(JSON.stringify({ pem: forged, sealedKey: kept.sealedKey })),
    )
    await assert.rejects(serverIdentity(dir, s, ['localhost'], swapped), /is not the CA key's/)
    assert.equal(readFileSync(join(dir, 'ca.pem'), 'utf8'), real.caPem)
    const junk = values()
    await junk.keepSystemValue('pki/ca', Buffer.from('not json'))
    await assert.rejects(
      serverIdentity(dir, s, ['localhost'], junk),
      /is not a certificate and a sealed key/,
    )
  })
})
