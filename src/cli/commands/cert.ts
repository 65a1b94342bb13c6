/**
 * `strongroom cert issue|list|revoke|crl|bundle`: the built-in CA's workload certificates
 * (X.509-SVIDs with SPIFFE IDs), their revocation, the CRLs and the CA bundle for clients.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificationRequest } from '@peculiar/asn1-csr'
import { StrongroomError } from '../../errors.ts'
import { writeAtomic } from '../../net/ca.ts'
import { isRevocationReason, LEAF_MAX_MS } from '../../net/pki.ts'
import { REVOCATION_REASONS } from '../../net/x509.ts'
import { readSmallFile } from '../../kms/root.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'
import { parseDuration } from './role.ts'

const TENANT = { type: 'string', value: 'NAME', description: 'the tenant' } as const
/** A CSR is a few hundred bytes; anything near this is not one. */
const MAX_CSR = 64 * 1024

/** The hash each signature algorithm a request may use signs with (null: Ed25519 has its own). */
const CSR_ALGORITHMS: Record<string, { key: string; hash: string | null }> = {
  '1.2.840.10045.4.3.2': { key: 'ec', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { key: 'ec', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { key: 'ec', hash: 'sha512' },
  '1.2.840.113549.1.1.11': { key: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { key: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { key: 'rsa', hash: 'sha512' },
  '1.3.101.112': { key: 'ed25519', hash: null },
}
const NAMED_CURVE_TAG = 0x06

/** The public key of a PKCS#10 request whose self-signature verifies (RFC 2986). */
export function csrPublicKey(pem: string, file: string): KeyObject {
  const m =
    /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([^-]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(
      pem,
    )
  if (m === null)
    throw new StrongroomError(
      'USAGE',
      `${file}: not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)`,
    )
  let key: KeyObject
  let ok: boolean
  let alg: (typeof CSR_ALGORITHMS)[string] | undefined
  let named = true
  try {
    const req = AsnConvert.parse(Buffer.from(m[1] ?? '', 'base64'), CertificationRequest)
    const info = Buffer.from(AsnConvert.serialize(req.certificationRequestInfo))
    const spki = req.certificationRequestInfo.subjectPKInfo
    key = createPublicKey({
      key: Buffer.from(AsnConvert.serialize(spki)),
      format: 'der',
      type: 'spki',
    })
    // RFC 5480 2.1.1: an EC key names its curve; explicit parameters are refused.
    const params = spki.algorithm.parameters
    if (key.asymmetricKeyType === 'ec')
      named = params != null && new Uint8Array(params)[0] === NAMED_CURVE_TAG
    alg = Object.hasOwn(CSR_ALGORITHMS, req.signatureAlgorithm.algorithm)
      ? CSR_ALGORITHMS[req.signatureAlgorithm.algorithm]
      : undefined
    ok =
      alg !== undefined &&
      alg.key === key.asymmetricKeyType &&
      verify(
        alg.hash,
        info,
        key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key,
        Buffer.from(req.signature),
      )
  } catch (e) {
    throw new StrongroomError('USAGE', `${file}: the certificate request cannot be read`, {
      cause: e,
    })
  }
  if (alg === undefined)
    throw new StrongroomError(
      'USAGE',
      `${file}: the request is signed with an algorithm not accepted (ECDSA or RSA with SHA-256, SHA-384 or SHA-512, or Ed25519)`,
    )
  if (!ok)
    throw new StrongroomError(
      'USAGE',
      `${file}: the certificate request's signature does not verify`,
    )
  const d = key.asymmetricKeyDetails
  const allowed =
    (key.asymmetricKeyType === 'ec' &&
      named &&
      (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= 2048) ||
    key.asymmetricKeyType === 'ed25519'
  if (!allowed)
    throw new StrongroomError(
      'USAGE',
      `${file}: the request's key must be ECDSA P-256 or P-384 (a named curve), Ed25519, or RSA of 2048 bits or more`,
    )
  return key
}

/** Makes `out` (or finds it) a directory this process can write, before anything is issued. */
async function outputDirectory(out: string): Promise<void> {
  try {
    await mkdir(out, { recursive: true, mode: 0o700 })
    await access(out, constants.W_OK)
    for (const f of ['cert.pem', 'key.pem', 'ca.pem']) {
      const st = await stat(join(out, f)).catch(() => undefined)
      if (st !== undefined && !st.isFile() && !st.isSymbolicLink())
        throw new Error(`${join(out, f)} is not a file`)
    }
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `--out ${out}: not a directory the certificate can be written to (${(e as Error).message})`,
      { cause: e },
    )
  }
}

export const certIssue: Command = {
  name: 'cert issue',
  summary:
    "Issue a workload certificate (an X.509-SVID) for a tenant's role, valid 24 h unless asked otherwise.",
  args: '',
  positionals: [0, 0],
  options: {
    tenant: TENANT,
    role: { type: 'string', value: 'ROLE', description: 'the role the workload runs as' },
    lifetime: {
      type: 'string',
      value: 'DURATION',
      description: 'how long it is valid: 5m to 168h (default 24h)',
    },
    csr: {
      type: 'string',
      value: 'FILE',
      description: 'a PKCS#10 request (PEM): the private key then never leaves the workload',
    },
    out: {
      type: 'string',
      value: 'DIR',
      description: 'where to write cert.pem (with its issuing CA), key.pem and ca.pem',
    },
  },
  help: `The certificate's one URI SAN is spiffe://TRUST-DOMAIN/tenant/TENANT/role/ROLE (the trust
domain is the trustDomain setting, default strongroom.internal). Files are replaced atomically,
so a workload renews by running the same command again, best at two thirds of the lifetime;
key.pem is readable by its owner only. No OCSP is run: certificates are short-lived, and a
revoked one is listed in the CRL (strongroom cert crl) until it expires.

Examples:
  strongroom cert issue --tenant vision --role trainer --out ./certs
  strongroom cert issue --tenant vision --role trainer --csr trainer.csr --lifetime 4h --out ./certs`,
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', certIssue)
    const roleName = requireOpt(ctx, 'role', certIssue)
    const out = resolve(requireOpt(ctx, 'out', certIssue))
    const lifetime = stringOpt(ctx, 'lifetime')
    const lifetimeMs =
      lifetime === undefined ? undefined : parseDuration(lifetime, 'lifetime') * 1000
    if (lifetimeMs !== undefined && (lifetimeMs < 5 * 60_000 || lifetimeMs > LEAF_MAX_MS))
      throw new StrongroomError('USAGE', '--lifetime must be from 5m to 168h')
    const csrFile = stringOpt(ctx, 'csr')
    const publicKey =
      csrFile === undefined
        ? undefined
        : csrPublicKey(
            readSmallFile(csrFile, 'certificate request', MAX_CSR, 'USAGE').toString('utf8'),
            csrFile,
          )
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const role = await app.identity.role(tenant, roleName)
      // A name a SPIFFE ID cannot hold is refused before anything is written.
      app.pki.spiffeId(tenant.name, role.name)
      await outputDirectory(out)
      const c = await app.pki.issueWorkload({
        tenantId: tenant.id,
        tenantName: tenant.name,
        role: role.name,
        ...(publicKey === undefined ? {} : { publicKey }),
        ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
      })
      // With a CSR the workload keeps its key: a key.pem from an earlier run would not match.
      if (c.keyPem !== undefined) await writeAtomic(join(out, 'key.pem'), c.keyPem, 0o600)
      else await rm(join(out, 'key.pem'), { force: true })
      await writeAtomic(join(out, 'cert.pem'), c.certPem, 0o644)
      await writeAtomic(join(out, 'ca.pem'), c.caPem, 0o644)
      ctx.print(
        [
          `issued ${c.subject}`,
          `  serial ${c.serial}, valid until ${new Date(c.notAfter).toISOString()} (renew after ${new Date(c.renewAt).toISOString()})`,
          `  ${join(out, 'cert.pem')}${c.keyPem === undefined ? '' : `, ${join(out, 'key.pem')}`}, ${join(out, 'ca.pem')}`,
        ].join('\n'),
        {
          SerialNumber: c.serial,
          SpiffeId: c.subject,
          NotBefore: new Date(c.notBefore).toISOString(),
          NotAfter: new Date(c.notAfter).toISOString(),
          RenewAfter: new Date(c.renewAt).toISOString(),
          Files: {
            Certificate: join(out, 'cert.pem'),
            ...(c.keyPem === undefined ? {} : { PrivateKey: join(out, 'key.pem') }),
            CaBundle: join(out, 'ca.pem'),
          },
        },
      )
    })
    return 0
  },
}

export const certList: Command = {
  name: 'cert list',
  summary:
    'List the certificates the built-in CA issued that are still valid (or all, with --all).',
  args: '',
  positionals: [0, 0],
  options: {
    tenant: { ...TENANT, description: "only this tenant's workload certificates" },
    all: { type: 'boolean', description: 'include expired certificates (kept 30 days)' },
  },
  help: 'Examples:\n  strongroom cert list\n  strongroom cert list --tenant vision --json',
  async run(ctx) {
    const tenantName = stringOpt(ctx, 'tenant')
    await withApp(ctx, async (app) => {
      const tenantId =
        tenantName === undefined ? undefined : (await app.identity.tenant(tenantName)).id
      const certs = await app.pki.listCertificates({
        ...(tenantId === undefined ? {} : { tenantId }),
        all: ctx.values.all === true,
      })
      const now = app.clock.now()
      const state = (c: (typeof certs)[number]) =>
        c.revokedAt !== null
          ? `revoked (${c.reason ?? 'unspecified'})`
          : c.notAfter < now
            ? 'expired'
            : 'valid'
      ctx.print(
        certs.length === 0
          ? 'no certificates'
          : certs
              .map(
                (c) =>
                  `${c.serial}\t${c.kind}\t${c.subject}\t${new Date(c.notAfter).toISOString()}\t${state(c)}`,
              )
              .join('\n'),
        certs.map((c) => ({
          SerialNumber: c.serial,
          Kind: c.kind,
          Subject: c.subject,
          NotBefore: new Date(c.notBefore).toISOString(),
          NotAfter: new Date(c.notAfter).toISOString(),
          State: state(c),
          ...(c.revokedAt === null ? {} : { RevokedAt: new Date(c.revokedAt).toISOString() }),
        })),
      )
    })
    return 0
  },
}

export const certRevoke: Command = {
  name: 'cert revoke',
  summary: 'Revoke a certificate: it is listed in the CRL until it expires.',
  args: 'SERIAL',
  positionals: [1, 1],
  options: {
    reason: {
      type: 'string',
      value: 'REASON',
      description: `one of ${Object.keys(REVOCATION_REASONS).join(', ')} (default unspecified)`,
    },
  },
  help: `Listeners that require client certificates reload the CRL within a minute; distribute
the CRL (strongroom cert crl) to other relying parties.

Example:
  strongroom cert revoke 4f1c0a… --reason keyCompromise`,
  async run(ctx) {
    const [serial = ''] = ctx.positionals
    const reason = stringOpt(ctx, 'reason') ?? 'unspecified'
    if (!isRevocationReason(reason))
      throw new StrongroomError(
        'USAGE',
        `--reason \`${reason.slice(0, 40)}\` is not one of ${Object.keys(REVOCATION_REASONS).join(', ')}`,
      )
    await withApp(ctx, async (app) => {
      const { cert, already } = await app.pki.revoke(serial, reason)
      ctx.print(
        already
          ? `certificate ${cert.serial} (${cert.subject}) was already revoked (${cert.reason ?? 'unspecified'})`
          : `revoked certificate ${cert.serial} (${cert.subject}): ${reason}`,
        {
          SerialNumber: cert.serial,
          Subject: cert.subject,
          Reason: cert.reason,
          RevokedAt: new Date(cert.revokedAt ?? 0).toISOString(),
        },
      )
    })
    return 0
  },
}

export const certCrl: Command = {
  name: 'cert crl',
  summary: 'Print the CRLs (PEM) of the issuing CAs whose certificates may still be valid.',
  args: '',
  positionals: [0, 0],
  options: {},
  help: 'Each CRL is signed now and valid for an hour.\n\nExample:\n  strongroom cert crl > strongroom.crl.pem',
  async run(ctx) {
    await withApp(ctx, async (app) => {
      ctx.write((await app.pki.crls()).join(''))
    })
    return 0
  },
}

export const certBundle: Command = {
  name: 'cert bundle',
  summary: "Print the CA bundle (PEM) clients trust: the installation's root CA.",
  args: '',
  positionals: [0, 0],
  options: {},
  help: 'Example:\n  strongroom cert bundle > strongroom-ca.pem && export AWS_CA_BUNDLE=$PWD/strongroom-ca.pem',
  async run(ctx) {
    await withApp(ctx, async (app) => {
      ctx.write((await app.pki.root()).pem)
    })
    return 0
  },
}
