/**
 * The built-in PKI: the root (ca.ts) signs an issuing CA, which signs every
 * leaf: the gateway's server certificates and workload certificates that
 * carry a SPIFFE ID (X.509-SVIDs). Leaves are short-lived (24 h by default,
 * 7 days at most) and renewed at two thirds of their lifetime, so no OCSP is
 * run: a revoked certificate is listed in its issuer's CRL until it expires.
 *
 * Issuing CAs live 90 days and are replaced after 60, kept in the metadata
 * database as system values pki/issuing/1, pki/issuing/2, …: the newest is the
 * current one, and a replacement is made by keeping the next number, which
 * only the first of several gateways (or CLI runs) racing for it wins.
 */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { CertRecord, CertStore } from '../meta/certs.ts'
import type { SystemValues } from '../meta/installation.ts'
import {
  decodeCa,
  encodeCa,
  loadRootCa,
  openCa,
  writeAtomic,
  type RootCa,
  type Sealer,
  type ServerIdentity,
} from './ca.ts'
import {
  certificatesIn,
  issueCertificate,
  issueCrl,
  keyIdOf,
  BACKDATE_MS,
  newSerial,
  pemOf,
  REVOCATION_REASONS,
  type Issuer,
  type RevocationReason,
  type Revoked,
} from './x509.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
/** A leaf's lifetime unless asked otherwise. */
export const LEAF_DEFAULT_MS = DAY
/**
 * The longest a leaf may live: a "short-lived certificate" in the CA/Browser Forum's Baseline
 * Requirements (section 4.9.1.1 and 7.1.2.11: at most 7 days from 2026), for which revocation
 * checking is not required of relying parties.
 */
export const LEAF_MAX_MS = 7 * DAY
const ISSUING_MS = 90 * DAY
const ISSUING_NAME = 'Strongroom Issuing CA'
/** How long a CRL is good for; a new one is signed on every request for it. */
const CRL_MS = HOUR

/** A leaf's renewal point: two thirds through its validity. */
export const renewalOf = (notBefore: number, notAfter: number) =>
  notBefore + Math.floor(((notAfter - notBefore) * 2) / 3)

/** SPIFFE-ID 2.2: a path segment is letters, digits, dots, dashes and underscores, not . or .. */
function segment(v: string, what: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(v) || v === '.' || v === '..')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `the ${what} name \`${v.slice(0, 64)}\` cannot be part of a SPIFFE ID: only letters, digits, '.', '-' and '_' may be`,
    )
  return v
}

export interface PkiOptions {
  readonly dataDir: string
  readonly sealer: Sealer
  /** Where the root and the issuing CAs are kept: the metadata database. */
  readonly values: SystemValues
  readonly certs: CertStore
  readonly trustDomain: string
  readonly now: () => number
}

interface IssuingCa {
  readonly issuer: Issuer
  /** Its certificate, sent after every leaf; empty when the root signs leaves itself. */
  readonly chainPem: string
  readonly keyId: string
  readonly notAfter: number
  readonly renewAt: number
  readonly generation: number
}

export interface IssuedCertificate {
  readonly serial: string
  /** The leaf followed by its issuing CA. */
  readonly certPem: string
  /** The private key (PKCS#8 PEM) when the CA made the key pair; absent for a CSR's key. */
  readonly keyPem?: string
  readonly caPem: string
  readonly subject: string
  readonly notBefore: number
  readonly notAfter: number
  readonly renewAt: number
}

export class Pki {
  private readonly o: PkiOptions
  private rootCa: Promise<RootCa> | undefined
  private current: IssuingCa | undefined

  constructor(o: PkiOptions) {
    this.o = o
  }

  get trustDomain(): string {
    return this.o.trustDomain
  }

  /** The root, loaded (or made, on first use) once per process. */
  root(): Promise<RootCa> {
    this.rootCa ??= loadRootCa(this.o.dataDir, this.o.sealer, this.o.values)
    // A failure is not kept: the next call tries again.
    this.rootCa.catch(() => (this.rootCa = undefined))
    return this.rootCa
  }

  spiffeId(tenant: string, role: string): string {
    return `spiffe://${this.o.trustDomain}/tenant/${segment(tenant, 'tenant')}/role/${segment(role, 'role')}`
  }

  /** The issuing CA, replaced when past two thirds of its life. */
  async issuing(): Promise<IssuingCa> {
    const now = this.o.now()
    if (this.current !== undefined && now < this.current.renewAt) return this.current
    const root = await this.root()
    if (!root.allowsIntermediate) {
      const notAfter = Date.parse(new X509Certificate(root.pem).validTo)
      this.current = {
        issuer: root.issuer,
        chainPem: '',
        keyId: keyIdOf(root.issuer.publicKey).toString('hex'),
        notAfter,
        renewAt: notAfter,
        generation: 0,
      }
      return this.current
    }
    let n = this.current?.generation ?? 0
    let found: IssuingCa | undefined
    for (;;) {
      const v = await this.o.values.getSystemValue(`pki/issuing/${String(n + 1)}`)
      if (v === undefined) break
      found = this.openIssuing(root, v, ++n)
    }
    if (found === undefined || now >= found.renewAt) {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const pem = issueCertificate({
        subject: ISSUING_NAME,
        publicKey: pair.publicKey,
        issuer: root.issuer,
        ca: true,
        pathLen: 0,
        lifetimeMs: ISSUING_MS,
        now: new Date(now),
      })
      const sealedKey = this.o.sealer.seal(
        'pki/issuing.key',
        pair.privateKey.export({ type: 'pkcs8', format: 'der' }),
      )
      // Whoever keeps this number first made the CA everyone uses.
      const kept = await this.o.values.keepSystemValue(
        `pki/issuing/${String(n + 1)}`,
        encodeCa({ pem, sealedKey }),
      )
      found = this.openIssuing(root, kept, n + 1)
    }
    this.current = found
    return found
  }

  private openIssuing(root: RootCa, value: Buffer, generation: number): IssuingCa {
    const name = `pki/issuing/${String(generation)}`
    const ca = decodeCa(value, name)
    const issuer = openCa(
      this.o.sealer,
      'pki/issuing.key',
      ca,
      `the metadata database (${name})`,
      ISSUING_NAME,
    )
    const cert = new X509Certificate(ca.pem)
    if (!cert.verify(root.issuer.publicKey))
      throw new StrongroomError(
        'IO',
        `the issuing CA ${name} was not signed by this installation's root CA`,
      )
    const notBefore = Date.parse(cert.validFrom)
    const notAfter = Date.parse(cert.validTo)
    return {
      issuer,
      chainPem: ca.pem,
      keyId: keyIdOf(issuer.publicKey).toString('hex'),
      notAfter,
      renewAt: renewalOf(notBefore, notAfter),
      generation,
    }
  }

  private async issue(o: {
    kind: CertRecord['kind']
    subject: string
    names?: readonly string[]
    uri?: string
    publicKey?: KeyObject
    lifetimeMs: number
    tenantId: string | null
    role: string | null
  }): Promise<IssuedCertificate> {
    if (!(o.lifetimeMs >= 5 * 60_000 && o.lifetimeMs <= LEAF_MAX_MS))
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `a certificate lives from 5 minutes to 7 days (${String(LEAF_MAX_MS / HOUR)} h): short-lived certificates are never checked for revocation by clients, so none lives longer`,
      )
    const [root, ca] = [await this.root(), await this.issuing()]
    const now = this.o.now()
    // A leaf never outlives its issuer, and its validity (backdating included, both ends
    // counted: BR 1.6.1 "Validity Period") stays within 7 days.
    const lifetimeMs = Math.min(o.lifetimeMs, ca.notAfter - now, LEAF_MAX_MS - BACKDATE_MS - 1000)
    const pair =
      o.publicKey === undefined ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : undefined
    const serial = newSerial()
    const pem = issueCertificate({
      subject: o.subject,
      publicKey: o.publicKey ?? (pair as { publicKey: KeyObject }).publicKey,
      issuer: ca.issuer,
      ca: false,
      lifetimeMs,
      ...(o.names === undefined ? {} : { names: o.names }),
      ...(o.uri === undefined ? {} : { uri: o.uri }),
      serial,
      now: new Date(now),
    })
    const cert = new X509Certificate(pem)
    const [notBefore, notAfter] = [Date.parse(cert.validFrom), Date.parse(cert.validTo)]
    await this.o.certs.recordCertificate(
      {
        serial: serial.toString('hex'),
        kind: o.kind,
        subject: o.uri ?? o.subject,
        tenantId: o.tenantId,
        role: o.role,
        issuerKeyId: ca.keyId,
        notBefore,
        notAfter,
        revokedAt: null,
        reason: null,
      },
      now,
    )
    return {
      serial: serial.toString('hex'),
      certPem: pem + ca.chainPem,
      ...(pair === undefined
        ? {}
        : { keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }),
      caPem: root.pem,
      subject: o.uri ?? o.subject,
      notBefore,
      notAfter,
      renewAt: renewalOf(notBefore, notAfter),
    }
  }

  /**
   * A workload certificate for a tenant's role: an X.509-SVID whose one URI SAN is
   * spiffe://TRUST-DOMAIN/tenant/TENANT/role/ROLE. With `publicKey` (from a CSR) the key
   * stays with the workload; otherwise one is made and returned.
   */
  async issueWorkload(o: {
    tenantId: string
    tenantName: string
    role: string
    publicKey?: KeyObject
    lifetimeMs?: number
  }): Promise<IssuedCertificate> {
    const uri = this.spiffeId(o.tenantName, o.role)
    return await this.issue({
      kind: 'workload',
      subject: `${o.tenantName}/${o.role}`,
      uri,
      ...(o.publicKey === undefined ? {} : { publicKey: o.publicKey }),
      lifetimeMs: o.lifetimeMs ?? LEAF_DEFAULT_MS,
      tenantId: o.tenantId,
      role: o.role,
    })
  }

  /**
   * The gateway's server certificate for `names`, kept in pki/server.pem (with its issuing CA)
   * and pki/server.key.sealed, and reissued when missing, for other names, longer-lived than
   * `lifetimeMs` asks, not from this installation's root, or past two thirds of its life.
   */
  async serverIdentity(
    names: readonly string[],
    lifetimeMs = LEAF_DEFAULT_MS,
  ): Promise<ServerIdentity & { readonly renewAt: number; readonly notAfter: number }> {
    const root = await this.root()
    const dir = join(this.o.dataDir, 'pki')
    const certFile = join(dir, 'server.pem')
    const keyFile = join(dir, 'server.key.sealed')
    if (existsSync(certFile) && existsSync(keyFile)) {
      const certPem = await readFile(certFile, 'utf8')
      const [leaf, ...chain] = certificatesIn(certPem)
      if (leaf !== undefined) {
        const [notBefore, notAfter] = [Date.parse(leaf.validFrom), Date.parse(leaf.validTo)]
        const renewAt = renewalOf(notBefore, notAfter)
        const sameNames = names.every(
          (n) => (isIP(n) ? leaf.checkIP(n) : leaf.checkHost(n)) !== undefined,
        )
        const issuer = chain[0]
        const chained =
          issuer === undefined
            ? leaf.verify(root.issuer.publicKey)
            : leaf.verify(issuer.publicKey) && issuer.verify(root.issuer.publicKey)
        // A certificate revoked, or not in the list of those issued, is replaced.
        const record = await this.o.certs.getCertificate(leaf.serialNumber.toLowerCase())
        if (
          record !== undefined &&
          record.revokedAt === null &&
          this.o.now() < renewAt &&
          notAfter - notBefore <= lifetimeMs + BACKDATE_MS &&
          sameNames &&
          chained
        ) {
          const key = this.o.sealer.open('pki/server.key', await readFile(keyFile))
          return {
            caPem: root.pem,
            certPem,
            keyPem: pemOf('PRIVATE KEY', key),
            renewAt,
            notAfter,
          }
        }
      }
    }
    const issued = await this.issue({
      kind: 'server',
      subject: names[0] ?? 'localhost',
      names,
      lifetimeMs,
      tenantId: null,
      role: null,
    })
    const keyPem = issued.keyPem ?? ''
    const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    await writeAtomic(keyFile, this.o.sealer.seal('pki/server.key', der), 0o600)
    await writeAtomic(certFile, issued.certPem, 0o600)
    return {
      caPem: root.pem,
      certPem: issued.certPem,
      keyPem,
      renewAt: issued.renewAt,
      notAfter: issued.notAfter,
    }
  }

  /** Revokes a leaf: it is in its issuer's CRL from now until it expires. */
  async revoke(
    serial: string,
    reason: RevocationReason,
  ): Promise<{ readonly cert: CertRecord; readonly already: boolean }> {
    const s = serial.toLowerCase().replace(/:/g, '')
    if (!/^[0-9a-f]{2,40}$/.test(s))
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `\`${serial.slice(0, 64)}\` is not a certificate serial number (hex, as \`strongroom cert list\` shows it)`,
      )
    const r = await this.o.certs.revokeCertificate(s, this.o.now(), reason)
    const cert = r === 'missing' ? undefined : await this.o.certs.getCertificate(s)
    if (cert === undefined)
      throw new StrongroomError('NO_SUCH_ENTITY', `no certificate with serial ${s} was issued here`)
    return { cert, already: r === 'already' }
  }

  /**
   * The root's CRL and one for each issuing CA whose certificates may still be valid (the
   * current one and those it replaced that have not expired), signed now and good for an hour.
   */
  async crls(): Promise<string[]> {
    const current = await this.issuing()
    const now = this.o.now()
    const cas: IssuingCa[] = [current]
    const root = await this.root()
    for (let g = current.generation - 1; g >= 1; g--) {
      const v = await this.o.values.getSystemValue(`pki/issuing/${String(g)}`)
      if (v === undefined) break
      const ca = this.openIssuing(root, v, g)
      if (ca.notAfter < now) break
      cas.push(ca)
    }
    const signed = async (issuer: Issuer, revoked: Revoked[]) =>
      issueCrl({
        issuer,
        revoked,
        number: await this.o.certs.nextCrlNumber(),
        thisUpdate: new Date(now),
        nextUpdate: new Date(now + CRL_MS),
      })
    const out: string[] = []
    // The root's own CRL (no issuing CA is ever revoked, so it is empty): a relying party that
    // checks the whole chain, as OpenSSL does with CRL_CHECK_ALL (Node's `crl` option), needs it.
    if (root.allowsIntermediate) out.push(await signed(root.issuer, []))
    for (const ca of cas) {
      const revoked = await this.o.certs.listRevoked(ca.keyId, now)
      out.push(
        await signed(
          ca.issuer,
          revoked.map((c) => ({
            serial: c.serial,
            revokedAt: new Date(c.revokedAt ?? now),
            reason: (c.reason ?? 'unspecified') as RevocationReason,
          })),
        ),
      )
    }
    return out
  }

  listCertificates(o: { tenantId?: string; all?: boolean; limit?: number }): Promise<CertRecord[]> {
    return this.o.certs.listCertificates({
      ...(o.tenantId === undefined ? {} : { tenantId: o.tenantId }),
      ...(o.all === true ? {} : { validAt: this.o.now() }),
      limit: o.limit ?? 1000,
    })
  }
}

export function isRevocationReason(v: string): v is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, v)
}
