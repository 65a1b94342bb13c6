/**
 * X.509 certificates and CRLs (RFC 5280) for the built-in CA. The structures
 * are PeculiarVentures' ASN.1 schemas (@peculiar/asn1-x509), so no DER is
 * written by hand here; node:crypto makes the keys and the ECDSA signatures,
 * and parses every result back (X509Certificate) as a check before it leaves.
 *
 * Leaves follow the rules of their kind:
 * - server: DNS and IP subject alternative names, serverAuth and clientAuth;
 * - workload: an X.509-SVID (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md):
 *   exactly one URI SAN (the SPIFFE ID), cA false, digitalSignature only (no keyCertSign or
 *   cRLSign), serverAuth and clientAuth.
 */
import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificateList,
  CRLNumber,
  CRLReason,
  CRLReasons,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  RevokedCertificate,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  TBSCertList,
  Time,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509'
import { isIP } from 'node:net'

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'
const COMMON_NAME = '2.5.4.3'
const ORGANIZATION = '2.5.4.10'

/** O=Strongroom, CN=`cn`: every name the CA writes, so an issuer's name always matches. */
function nameOf(cn: string): Name {
  const rdn = (type: string, v: string) =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: v }) }),
    ])
  return new Name([rdn(ORGANIZATION, 'Strongroom'), rdn(COMMON_NAME, cn)])
}

const extension = (extnID: string, critical: boolean, value: unknown) =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdOfSpki(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest()
}

const spkiOf = (pub: KeyObject) =>
  AsnConvert.parse(pub.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo)

/** Issuers' key identifiers, worked out once per key. */
const issuerKeyIds = new WeakMap<KeyObject, Buffer>()

/** A public key's identifier (RFC 5280 4.2.1.2 method 1). */
export function keyIdOf(pub: KeyObject): Buffer {
  let id = issuerKeyIds.get(pub)
  if (id === undefined) {
    id = keyIdOfSpki(spkiOf(pub))
    issuerKeyIds.set(pub, id)
  }
  return id
}

/** A positive 128-bit serial (RFC 5280 4.1.2.2; CA/B BR 7.1: at least 64 random bits). */
export function newSerial(): Buffer {
  const s = randomBytes(16)
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x01
  return s
}

export interface Issuer {
  /** The issuer's common name (its subject is O=Strongroom, CN=name). */
  readonly name: string
  readonly key: KeyObject
  readonly publicKey: KeyObject
}

export interface IssueOptions {
  /** The subject's common name. */
  readonly subject: string
  readonly publicKey: KeyObject
  readonly issuer: Issuer
  readonly ca: boolean
  /** A CA's pathLenConstraint: 0 for one that issues only leaves. */
  readonly pathLen?: number
  /** Lifetime in days (or `lifetimeMs`). */
  readonly days?: number
  readonly lifetimeMs?: number
  /** DNS names and IP addresses (server certificates). */
  readonly names?: readonly string[]
  /** The one URI SAN of an X.509-SVID (a SPIFFE ID); with it, `names` must be empty. */
  readonly uri?: string
  readonly serial?: Buffer
  readonly now?: Date
}

const ext = {
  basic: (ca: boolean, pathLen: number | undefined) =>
    extension(
      id_ce_basicConstraints,
      true,
      new BasicConstraints(
        ca ? { cA: true, ...(pathLen === undefined ? {} : { pathLenConstraint: pathLen }) } : {},
      ),
    ),
  keyUsage: (flags: number) => extension(id_ce_keyUsage, true, new KeyUsage(flags)),
}

function sanOf(names: readonly string[], uri: string | undefined): GeneralName[] {
  if (uri !== undefined) return [new GeneralName({ uniformResourceIdentifier: uri })]
  return names.map((n) =>
    isIP(n) === 0 ? new GeneralName({ dNSName: n }) : new GeneralName({ iPAddress: n }),
  )
}

function signed(tbsDer: ArrayBuffer, key: KeyObject): ArrayBuffer {
  return ab(sign('sha256', Buffer.from(tbsDer), key))
}

/** A copy of `b` as an ArrayBuffer of its own, as the ASN.1 schemas take bytes. */
const ab = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer

export const pemOf = (label: string, der: ArrayBuffer | Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END ${label}-----\n`

/** How far before its issue a certificate's validity starts, for clocks behind ours. */
export const BACKDATE_MS = 5 * 60 * 1000

/** Builds and signs one certificate; returns it as PEM. */
export function issueCertificate(o: IssueOptions): string {
  if (o.uri !== undefined && (o.names ?? []).length > 0)
    throw new Error('an X.509-SVID has exactly one URI SAN and no other names')
  const now = o.now ?? new Date()
  const lifetime = o.lifetimeMs ?? (o.days ?? 1) * 86_400_000
  // Tolerance for clocks behind ours.
  const notBefore = new Date(now.getTime() - BACKDATE_MS)
  const notAfter = new Date(now.getTime() + lifetime)
  const alg = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })
  const spki = spkiOf(o.publicKey)
  const list: Extension[] = [
    ext.basic(o.ca, o.ca ? o.pathLen : undefined),
    ext.keyUsage(
      o.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature,
    ),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdOfSpki(spki))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdOf(o.issuer.publicKey)) }),
    ),
  ]
  if (!o.ca) {
    list.push(
      extension(
        id_ce_extKeyUsage,
        false,
        new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth]),
      ),
    )
    const san = sanOf(o.names ?? [], o.uri)
    // RFC 5280 4.2.1.6: with an empty subject the SAN is critical; ours always has a subject.
    if (san.length > 0)
      list.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(san)))
  }
  const serial = o.serial ?? newSerial()
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(serial),
    signature: alg,
    issuer: nameOf(o.issuer.name),
    validity: new Validity({ notBefore, notAfter }),
    subject: nameOf(o.subject),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(list),
  })
  const tbsDer = AsnConvert.serialize(tbs)
  const cert = new Certificate({
    tbsCertificate: tbs,
    tbsCertificateRaw: tbsDer,
    signatureAlgorithm: alg,
    signatureValue: signed(tbsDer, o.issuer.key),
  })
  const pem = pemOf('CERTIFICATE', AsnConvert.serialize(cert))
  // Parse it back: a certificate we cannot read is a bug, not something to hand out.
  const parsed = new X509Certificate(pem)
  if (!parsed.verify(o.issuer.publicKey)) throw new Error('the issued certificate does not verify')
  return pem
}

/** RFC 5280 5.3.1 reason codes a revocation may give. */
export const REVOCATION_REASONS = {
  unspecified: CRLReasons.unspecified,
  keyCompromise: CRLReasons.keyCompromise,
  affiliationChanged: CRLReasons.affiliationChanged,
  superseded: CRLReasons.superseded,
  cessationOfOperation: CRLReasons.cessationOfOperation,
  privilegeWithdrawn: CRLReasons.privilegeWithdrawn,
} as const
export type RevocationReason = keyof typeof REVOCATION_REASONS

export interface Revoked {
  /** The serial, lowercase hex. */
  readonly serial: string
  readonly revokedAt: Date
  readonly reason: RevocationReason
}

export interface CrlOptions {
  readonly issuer: Issuer
  readonly revoked: readonly Revoked[]
  /** A number that grows with each CRL the issuer signs (RFC 5280 5.2.3). */
  readonly number: number
  readonly thisUpdate: Date
  readonly nextUpdate: Date
}

/** A v2 CRL (RFC 5280 5) signed by `issuer`, as PEM. */
export function issueCrl(o: CrlOptions): string {
  const alg = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })
  const entries = o.revoked.map((r) => {
    const reason = REVOCATION_REASONS[r.reason]
    return new RevokedCertificate({
      userCertificate: ab(Buffer.from(r.serial, 'hex')),
      revocationDate: new Time(r.revokedAt),
      // 5.3.1: the reason code is omitted rather than given as unspecified.
      ...(reason === CRLReasons.unspecified
        ? {}
        : { crlEntryExtensions: [extension(id_ce_cRLReasons, false, new CRLReason(reason))] }),
    })
  })
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: alg,
    issuer: nameOf(o.issuer.name),
    thisUpdate: new Time(o.thisUpdate),
    nextUpdate: new Time(o.nextUpdate),
    ...(entries.length > 0 ? { revokedCertificates: entries } : {}),
    crlExtensions: [
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({
          keyIdentifier: new KeyIdentifier(keyIdOf(o.issuer.publicKey)),
        }),
      ),
      extension(id_ce_cRLNumber, false, new CRLNumber(o.number)),
    ],
  })
  const tbsDer = AsnConvert.serialize(tbs)
  const crl = new CertificateList({
    tbsCertList: tbs,
    tbsCertListRaw: tbsDer,
    signatureAlgorithm: alg,
    signature: signed(tbsDer, o.issuer.key),
  })
  return pemOf('X509 CRL', AsnConvert.serialize(crl))
}

/** A CA certificate's pathLenConstraint; undefined when it sets none (or is not a CA). */
export function pathLenOf(pem: string): number | undefined {
  const der = new X509Certificate(pem).raw
  const cert = AsnConvert.parse(der, Certificate)
  const bc = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_basicConstraints)
  if (bc === undefined) return undefined
  return AsnConvert.parse(bc.extnValue.buffer, BasicConstraints).pathLenConstraint
}

/** Every certificate in a PEM text, in order. */
export function certificatesIn(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  )
}
