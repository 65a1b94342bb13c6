/**
 * The built-in PKI: certificates node's X.509 parser (and OpenSSL, where installed) reads back
 * with the right names, constraints and issuer; a root that signs an issuing CA that signs every
 * leaf; a server identity kept across restarts and reissued when the names change or it is two
 * thirds through its life; workload X.509-SVIDs; revocation through CRLs.
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
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificateList } from '@peculiar/asn1-x509'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import type { MetadataStore } from '../meta/store.ts'
import { selfSignedCa, type Sealer } from './ca.ts'
import { LEAF_DEFAULT_MS, Pki } from './pki.ts'
import { certificatesIn, issueCertificate } from './x509.ts'

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

let stores = 0
const opened: MetadataStore[] = []
after(() => Promise.all(opened.map((st) => st.close())))
/** A real metadata database (SQLite's adapter) for the issuing CAs and the certificate list. */
function metadata(): MetadataStore {
  const st = SqliteMetadataStore.open(join(work, `meta-${String(++stores)}.sqlite`), {
    create: true,
  })
  opened.push(st)
  return st
}

interface At {
  now?: () => number
  shared?: MetadataStore
  meta?: MetadataStore
}
/** A PKI over `dir`, its issuing CAs and certificates in `meta` (the shared store when given). */
function pkiAt(dir: string, s: Sealer, at: At = {}): Pki {
  const meta = at.meta ?? at.shared ?? metadata()
  return new Pki({
    dataDir: dir,
    sealer: s,
    values: meta,
    certs: meta,
    trustDomain: 'example.org',
    now: at.now ?? Date.now,
  })
}
const serverIdentity = (dir: string, s: Sealer, names: string[], shared?: MetadataStore) =>
  pkiAt(dir, s, shared === undefined ? { meta: metaOf(dir) } : { shared }).serverIdentity(names)
const metas = new Map<string, MetadataStore>()
function metaOf(dir: string): MetadataStore {
  const known = metas.get(dir)
  if (known !== undefined) return known
  const made = metadata()
  metas.set(dir, made)
  return made
}

/** Whether the leaf in `certPem` chains through the issuing CA after it to the root `caPem`. */
function chainsTo(certPem: string, caPem: string): boolean {
  const [leaf, issuing, ...rest] = certificatesIn(certPem)
  const root = new X509Certificate(caPem)
  return (
    leaf !== undefined &&
    issuing !== undefined &&
    rest.length === 0 &&
    leaf.verify(issuing.publicKey) &&
    leaf.checkIssued(issuing) &&
    issuing.verify(root.publicKey) &&
    issuing.checkIssued(root)
  )
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
    const cert = new X509Certificate(first.certPem)
    assert.ok(chainsTo(first.certPem, first.caPem))
    assert.equal(cert.checkHost('localhost'), 'localhost')
    // 24 hours (and the five minutes it is backdated), renewed two thirds through.
    const [from, to] = [Date.parse(cert.validFrom), Date.parse(cert.validTo)]
    assert.equal(to - from, LEAF_DEFAULT_MS + 5 * 60_000)
    assert.equal(first.renewAt, from + ((to - from) * 2) / 3)
    assert.equal(new X509Certificate(first.caPem).subject, 'O=Strongroom\nCN=Strongroom CA')
    assert.equal(
      certificatesIn(first.certPem)[1]?.subject,
      'O=Strongroom\nCN=Strongroom Issuing CA',
    )
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

  it('a certificate two thirds through its life is reissued, from the same issuing CA', async () => {
    const names = ['localhost', '127.0.0.1', 'gw.example.test']
    const before = await serverIdentity(dir, s, names)
    const at = (ms: number) =>
      pkiAt(dir, s, { meta: metaOf(dir), now: () => ms }).serverIdentity(names)
    assert.deepEqual(await at(before.renewAt - 1000), before)
    const renewed = await at(before.renewAt)
    assert.notEqual(renewed.certPem, before.certPem)
    assert.ok(chainsTo(renewed.certPem, before.caPem))
    assert.equal(
      certificatesIn(renewed.certPem)[1]?.raw.toString('hex'),
      certificatesIn(before.certPem)[1]?.raw.toString('hex'),
    )
  })

  it('a longer-lived server certificate (one made before certificates were short-lived) is replaced', async () => {
    const root = await pkiAt(dir, s, { meta: metaOf(dir) }).root()
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const names = ['localhost']
    const old = issueCertificate({
      subject: 'localhost',
      publicKey: leaf.publicKey,
      issuer: root.issuer,
      ca: false,
      days: 397,
      names,
    })
    writeFileSync(join(dir, 'pki', 'server.pem'), old)
    const renewed = await serverIdentity(dir, s, names)
    assert.notEqual(renewed.certPem, old)
    assert.ok(chainsTo(renewed.certPem, renewed.caPem))
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
    assert.ok(chainsTo(a.certPem, a.caPem))
    assert.ok(chainsTo(b.certPem, a.caPem))
    // One issuing CA for both: kept under pki/issuing/1 by whichever came first.
    assert.equal(
      certificatesIn(a.certPem)[1]?.raw.toString('hex'),
      certificatesIn(b.certPem)[1]?.raw.toString('hex'),
    )
    assert.equal(await shared.getSystemValue('pki/issuing/2'), undefined)
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

describe('issuing CAs, workload certificates and CRLs', () => {
  const s = sealer()
  const DAY = 86_400_000

  it('an X.509-SVID: one URI SAN, not a CA, digitalSignature only, server and client auth', async () => {
    const pki = pkiAt(join(work, 'svid'), s)
    const c = await pki.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'trainer' })
    const leaf = new X509Certificate(c.certPem)
    assert.equal(leaf.subjectAltName, 'URI:spiffe://example.org/tenant/vision/role/trainer')
    assert.equal(leaf.ca, false)
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
    assert.ok(chainsTo(c.certPem, c.caPem))
    assert.ok(leaf.checkPrivateKey(createPrivateKey(c.keyPem ?? '')))
    assert.throws(
      () =>
        issueCertificate({
          subject: 'x',
          publicKey: leaf.publicKey,
          issuer: {
            name: 'x',
            key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
            publicKey: leaf.publicKey,
          },
          ca: false,
          uri: 'spiffe://example.org/a',
          names: ['localhost'],
        }),
      /exactly one URI SAN/,
    )
    await assert.rejects(
      pki.issueWorkload({
        tenantId: 't1',
        tenantName: 'vision',
        role: 'trainer',
        lifetimeMs: 7 * DAY + 1,
      }),
      /from 5 minutes to 7 days/,
    )
    await assert.rejects(
      pki.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: '..' }),
      /cannot be part of a SPIFFE ID/,
    )
  })

  it('the issuing CA is replaced 60 days into its 90; CRLs cover it and the one it replaced', async () => {
    let now = Date.now()
    const meta = metadata()
    const pki = pkiAt(join(work, 'rotate'), s, { meta, now: () => now })
    await pki.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'a' })
    now += 58 * DAY
    const first = await pki.issueWorkload({
      tenantId: 't1',
      tenantName: 'vision',
      role: 'a',
      lifetimeMs: 7 * DAY,
    })
    now += 3 * DAY
    const second = await pki.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'b' })
    const issuerOf = (pem: string) => certificatesIn(pem)[1]?.raw.toString('hex')
    assert.notEqual(issuerOf(first.certPem), issuerOf(second.certPem))
    assert.ok(chainsTo(second.certPem, second.caPem))
    assert.notEqual(await meta.getSystemValue('pki/issuing/2'), undefined)
    // Another process (a second gateway, the CLI) finds the current one instead of making a third.
    const other = pkiAt(join(work, 'rotate'), s, { meta, now: () => now })
    const third = await other.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'c' })
    assert.equal(issuerOf(third.certPem), issuerOf(second.certPem))
    assert.equal(await meta.getSystemValue('pki/issuing/3'), undefined)
    // A revoked leaf of the older issuing CA is in that CA's CRL; the root's CRL is empty.
    assert.deepEqual((await pki.revoke(first.serial, 'superseded')).already, false)
    const crls = (await pki.crls()).map((p) => new X509Crl(p))
    assert.deepEqual(
      crls.map((c) => [c.issuer, c.revoked]),
      [
        ['CN=Strongroom CA', []],
        ['CN=Strongroom Issuing CA', []],
        ['CN=Strongroom Issuing CA', [first.serial]],
      ],
    )
  })

  it('a root made before issuing CAs (pathLenConstraint 0) signs leaves itself', async () => {
    const dir = join(work, 'legacy')
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const issuer = { name: 'Strongroom CA', key: pair.privateKey, publicKey: pair.publicKey }
    const pem = issueCertificate({
      subject: 'Strongroom CA',
      publicKey: pair.publicKey,
      issuer,
      ca: true,
      pathLen: 0,
      days: 3650,
    })
    mkdirSync(join(dir, 'pki'), { recursive: true })
    writeFileSync(join(dir, 'pki', 'ca.pem'), pem)
    writeFileSync(
      join(dir, 'pki', 'ca.key.sealed'),
      s.seal('pki/ca.key', pair.privateKey.export({ type: 'pkcs8', format: 'der' })),
    )
    const pki = pkiAt(dir, s)
    const c = await pki.issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'a' })
    assert.equal(certificatesIn(c.certPem).length, 1)
    assert.ok(new X509Certificate(c.certPem).verify(pair.publicKey))
    assert.equal(c.caPem, pem)
  })

  it('attack: an issuing CA swapped in the database (not signed by the root) is refused', async () => {
    const meta = metadata()
    const dir = join(work, 'swap-issuing')
    await pkiAt(dir, s, { meta }).issueWorkload({ tenantId: 't1', tenantName: 'vision', role: 'a' })
    // The attacker writes a CA of their own, its key sealed as the real one is (a stolen sealer).
    const own = selfSignedCa('Strongroom Issuing CA', 90)
    const forged = metadata()
    await forged.keepSystemValue(
      'pki/issuing/1',
      Buffer.from(
        JSON.stringify({
          pem: own.pem,
          sealedKey: s
            .seal('pki/issuing.key', own.key.key.export({ type: 'pkcs8', format: 'der' }))
            .toString('base64'),
        }),
      ),
    )
    await assert.rejects(
      pkiAt(dir, s, { meta: forged }).issueWorkload({
        tenantId: 't1',
        tenantName: 'vision',
        role: 'a',
      }),
      /was not signed by this installation's root CA/,
    )
  })
})

/** The issuer's CN and the revoked serials of a CRL, as OpenSSL-compatible parsers see them. */
class X509Crl {
  readonly issuer: string
  readonly revoked: string[]
  constructor(pem: string) {
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    const crl = AsnConvert.parse(der, CertificateList)
    const cn = crl.tbsCertList.issuer.find((rdn) => rdn[0]?.type === '2.5.4.3')?.[0]?.value
    this.issuer = `CN=${String(cn?.toString())}`
    this.revoked = (crl.tbsCertList.revokedCertificates ?? []).map((r) =>
      Buffer.from(r.userCertificate).toString('hex'),
    )
  }
}

describe('the second review', () => {
  const s = sealer()

  it('two processes making the root at once agree on one, and every later start opens it', async () => {
    for (let i = 0; i < 5; i++) {
      const dir = join(work, `race-${String(i)}`)
      const meta = metadata()
      const [a, b] = await Promise.all([
        pkiAt(dir, s, { meta }).issueWorkload({ tenantId: 't', tenantName: 'v', role: 'a' }),
        pkiAt(dir, s, { meta }).issueWorkload({ tenantId: 't', tenantName: 'v', role: 'b' }),
      ])
      assert.equal(a.caPem, b.caPem)
      const later = await pkiAt(dir, s, { meta }).serverIdentity(['localhost'])
      assert.ok(
        chainsTo(later.certPem, a.caPem) &&
          chainsTo(a.certPem, readFileSync(join(dir, 'ca.pem'), 'utf8')),
      )
    }
  })

  it('a revoked server certificate is not served again after a restart', async () => {
    const dir = join(work, 'revoked-server')
    const meta = metadata()
    const first = await pkiAt(dir, s, { meta }).serverIdentity(['localhost'])
    const serial = certificatesIn(first.certPem)[0]?.serialNumber.toLowerCase() ?? ''
    await pkiAt(dir, s, { meta }).revoke(serial, 'keyCompromise')
    const next = await pkiAt(dir, s, { meta }).serverIdentity(['localhost'])
    assert.notEqual(certificatesIn(next.certPem)[0]?.serialNumber.toLowerCase(), serial)
  })

  it('CRL numbers only grow, however fast CRLs are signed', async () => {
    const pki = pkiAt(join(work, 'crl-numbers'), s)
    const numbers: bigint[] = []
    for (let i = 0; i < 3; i++)
      for (const pem of await pki.crls()) {
        const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
        const ext = AsnConvert.parse(der, CertificateList).tbsCertList.crlExtensions?.find(
          (e) => e.extnID === '2.5.29.20',
        )
        numbers.push(
          BigInt(
            `0x${Buffer.from(ext?.extnValue.buffer ?? new ArrayBuffer(0))
              .subarray(2)
              .toString('hex')}`,
          ),
        )
      }
    assert.deepEqual(numbers, [1n, 2n, 3n, 4n, 5n, 6n])
  })

  it('the longest lifetime asked for stays within 7 days, both ends and the backdating counted', async () => {
    const c = await pkiAt(join(work, 'seven-days'), s).issueWorkload({
      tenantId: 't',
      tenantName: 'v',
      role: 'a',
      lifetimeMs: 7 * 86_400_000,
    })
    const leaf = new X509Certificate(c.certPem)
    // BR 1.6.1: the validity period includes both notBefore and notAfter (a second each).
    assert.ok(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom) + 1000 <= 7 * 86_400_000)
  })
})
