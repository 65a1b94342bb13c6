/**
 * The built-in certificate authority: an ECDSA P-256 CA created on first
 * start, and server certificates it signs for the gateway's names.
 * Certificates are X.509 v3 (RFC 5280) in DER, built here by a minimal
 * encoder of the few ASN.1 types they need; node:crypto makes the keys, the
 * SubjectPublicKeyInfo and the signatures, and parses the result back
 * (X509Certificate) as a check. Private keys never touch the disk unsealed.
 *
 *   pki/ca.pem            the CA certificate (also written to DATA_DIR/ca.pem for AWS_CA_BUNDLE)
 *   pki/ca.key.sealed     the CA's PKCS#8 private key, sealed under the root key
 *   pki/server.pem        the server certificate
 *   pki/server.key.sealed its private key, sealed
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { SystemValues } from '../meta/installation.ts'

// ---- a minimal DER encoder

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), len(body.length), body])
}
const seq = (...items: Buffer[]) => tlv(0x30, ...items)
const set = (...items: Buffer[]) => tlv(0x31, ...items)
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]))
const octets = (b: Buffer) => tlv(0x04, b)
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b)
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'))
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner)

function integer(b: Buffer | number): Buffer {
  let v = typeof b === 'number' ? Buffer.from([b]) : b
  let i = 0
  while (i < v.length - 1 && v[i] === 0) i++
  v = v.subarray(i)
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return tlv(0x02, v)
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number)
  const out = [40 * a + b]
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f]
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift((v & 0x7f) | 0x80)
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(iso.slice(2)))
    : tlv(0x18, Buffer.from(iso))
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const

const name = (cn: string) =>
  seq(set(seq(oid(OID.organization), utf8('Strongroom'))), set(seq(oid(OID.commonName), utf8(cn))))
const ext = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value))

function keyId(pub: KeyObject): Buffer {
  const spki = pub.export({ type: 'spki', format: 'der' })
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest()
}

export interface IssueOptions {
  readonly subject: string
  readonly publicKey: KeyObject
  readonly issuer: { readonly name: string; readonly key: KeyObject; readonly publicKey: KeyObject }
  readonly ca: boolean
  readonly days: number
  /** DNS names and IP addresses (server certificates). */
  readonly names?: readonly string[]
  readonly now?: Date
}

/** Builds and signs one certificate; returns it as PEM. */
export function issueCertificate(o: IssueOptions): string {
  const now = o.now ?? new Date()
  const notBefore = new Date(now.getTime() - 5 * 60 * 1000)
  const notAfter = new Date(now.getTime() + o.days * 86_400_000)
  const alg = seq(oid(OID.ecdsaWithSha256))
  const extensions = [
    ext(OID.basicConstraints, true, o.ca ? seq(bool(true), integer(0)) : seq()),
    // keyUsage: CA digitalSignature|keyCertSign|cRLSign; leaf digitalSignature.
    ext(OID.keyUsage, true, o.ca ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0x80]), 7)),
    ext(OID.subjectKeyId, false, octets(keyId(o.publicKey))),
    ext(OID.authorityKeyId, false, seq(tlv(0x80, keyId(o.issuer.publicKey)))),
  ]
  if (!o.ca) {
    extensions.push(ext(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))))
    const sans = (o.names ?? []).map((n) => {
      const v = isIP(n)
      if (v === 4) return tlv(0x87, Buffer.from(n.split('.').map(Number)))
      if (v === 6) return tlv(0x87, ipv6Bytes(n))
      return tlv(0x82, Buffer.from(n, 'ascii'))
    })
    extensions.push(ext(OID.subjectAltName, false, seq(...sans)))
  }
  const tbs = seq(
    explicit(0, integer(2)),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    alg,
    name(o.issuer.name),
    seq(time(notBefore), time(notAfter)),
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  )
  const der = seq(tbs, alg, bits(sign('sha256', tbs, o.issuer.key)))
  const pem = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END CERTIFICATE-----\n`
  // Parse it back: a certificate we cannot read is a bug, not something to serve.
  const parsed = new X509Certificate(pem)
  if (!parsed.verify(o.issuer.publicKey)) throw new Error('the issued certificate does not verify')
  return pem
}

function ipv6Bytes(s: string): Buffer {
  const [head = '', tail = ''] = s.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = s.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const groups = s.includes('::')
    ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    : h
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]))
}

// ---- the CA on disk

export interface Sealer {
  seal(label: string, data: Uint8Array): Buffer
  open(label: string, sealed: Uint8Array): Buffer
}

export interface ServerIdentity {
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
}

/** The name of the shared CA among the installation's system values. */
const CA_VALUE = 'pki/ca'

interface StoredCa {
  readonly pem: string
  /** The CA's PKCS#8 private key, sealed under the root key. */
  readonly sealedKey: Buffer
}

/** A new self-signed ECDSA P-256 CA named `subject`: its certificate and private key. */
export function selfSignedCa(subject: string, days: number): { pem: string; key: KeyObject } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = issueCertificate({
    subject,
    publicKey: pair.publicKey,
    issuer: { name: subject, key: pair.privateKey, publicKey: pair.publicKey },
    ca: true,
    days,
  })
  return { pem, key: pair.privateKey }
}

function newCa(sealer: Sealer): StoredCa {
  const { pem, key } = selfSignedCa('Strongroom CA', 3650)
  return { pem, sealedKey: sealer.seal('pki/ca.key', key.export({ type: 'pkcs8', format: 'der' })) }
}

/** The CA as one value, so that its certificate and key are kept (or lost) together. */
function encodeCa(ca: StoredCa): Buffer {
  return Buffer.from(JSON.stringify({ pem: ca.pem, sealedKey: ca.sealedKey.toString('base64') }))
}

/** The certificate of the CA shared by an installation's gateways, once one has made it. */
export async function sharedCaPem(shared: SystemValues): Promise<string | undefined> {
  const v = await shared.getSystemValue(CA_VALUE)
  return v === undefined ? undefined : decodeCa(v).pem
}

function decodeCa(value: Buffer): StoredCa {
  let v: { pem?: unknown; sealedKey?: unknown } = {}
  try {
    v = JSON.parse(value.toString('utf8')) as typeof v
  } catch {
    // reported below
  }
  if (typeof v.pem !== 'string' || typeof v.sealedKey !== 'string')
    throw new StrongroomError(
      'IO',
      'the CA kept in the metadata database (system value pki/ca) is not a certificate and a sealed key',
    )
  return { pem: v.pem, sealedKey: Buffer.from(v.sealedKey, 'base64') }
}

async function writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, data, { mode, flush: true })
  await rename(tmp, path)
}

/**
 * Loads the CA (creating it on first start) and a server certificate for
 * `names`, reissued when missing, expiring within 30 days, or for other names.
 * With `shared` (gateways sharing a metadata database) the CA is the one kept
 * there, made by whichever gateway came first (a CA this data directory had is
 * moved in), so every gateway's certificate chains to one CA that clients trust;
 * pki/ca.pem and DATA_DIR/ca.pem are then local copies for clients.
 */
export async function serverIdentity(
  dataDir: string,
  sealer: Sealer,
  names: readonly string[],
  shared?: SystemValues,
): Promise<ServerIdentity> {
  const dir = join(dataDir, 'pki')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const caCert = join(dir, 'ca.pem')
  const caKeyFile = join(dir, 'ca.key.sealed')
  const local = async () =>
    existsSync(caCert) && existsSync(caKeyFile)
      ? { pem: await readFile(caCert, 'utf8'), sealedKey: await readFile(caKeyFile) }
      : undefined
  let made: StoredCa | undefined = shared === undefined ? await local() : undefined
  if (shared !== undefined) {
    const kept =
      (await shared.getSystemValue(CA_VALUE)) ??
      (await shared.keepSystemValue(CA_VALUE, encodeCa((await local()) ?? newCa(sealer))))
    made = decodeCa(kept)
  } else if (made === undefined) {
    made = newCa(sealer)
    await writeAtomic(caKeyFile, made.sealedKey, 0o600)
  }
  const caPem = made.pem
  const where = shared === undefined ? caKeyFile : 'the metadata database'
  let caKey: KeyObject
  try {
    caKey = createPrivateKey({
      key: sealer.open('pki/ca.key', made.sealedKey),
      format: 'der',
      type: 'pkcs8',
    })
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `the CA key kept in ${where} does not open under this installation's root key: it was replaced, or belongs to another installation`,
      { cause: e },
    )
  }
  // Nothing is written, and nothing issued, from a certificate that is not the key's.
  if (!new X509Certificate(caPem).checkPrivateKey(caKey))
    throw new StrongroomError(
      'IO',
      `the CA certificate kept in ${where === caKeyFile ? caCert : where} is not the CA key's: it was replaced`,
    )
  await writeAtomic(caCert, caPem, 0o600)
  await writeAtomic(join(dataDir, 'ca.pem'), caPem, 0o600)
  const ca = new X509Certificate(caPem)
  const certFile = join(dir, 'server.pem')
  const keyFile = join(dir, 'server.key.sealed')
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = await readFile(certFile, 'utf8')
    const cert = new X509Certificate(certPem)
    const fresh = Date.parse(cert.validTo) - Date.now() > 30 * 86_400_000
    const sameNames = names.every(
      (n) => (isIP(n) ? cert.checkIP(n) : cert.checkHost(n)) !== undefined,
    )
    if (fresh && sameNames && cert.verify(ca.publicKey)) {
      const key = createPrivateKey({
        key: sealer.open('pki/server.key', await readFile(keyFile)),
        format: 'der',
        type: 'pkcs8',
      })
      return { caPem, certPem, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() }
    }
  }
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const certPem = issueCertificate({
    subject: names[0] ?? 'localhost',
    publicKey: pair.publicKey,
    issuer: { name: 'Strongroom CA', key: caKey, publicKey: ca.publicKey },
    ca: false,
    days: 397,
    names,
  })
  await writeAtomic(
    keyFile,
    sealer.seal('pki/server.key', pair.privateKey.export({ type: 'pkcs8', format: 'der' })),
    0o600,
  )
  await writeAtomic(certFile, certPem, 0o600)
  return {
    caPem,
    certPem,
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}
