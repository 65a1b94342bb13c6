/**
 * `strongroom cert issue|list|revoke|crl|bundle`: the built-in CA's workload certificates
 * (X.509-SVIDs with SPIFFE IDs), their revocation, the CRLs and the CA bundle for clients.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
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
  try {
    const req = AsnConvert.parse(Buffer.from(m[1] ?? '', 'base64'), CertificationRequest)
    const info = Buffer.from(AsnConvert.serialize(req.certificationRequestInfo))
    key = createPublicKey({
      key: Buffer.from(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo)),
      format: 'der',
      type: 'spki',
    })
    ok = verify(
      key.asymmetricKeyType === 'rsa' ? 'sha256' : null,
      info,
      key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key,
      Buffer.from(req.signature),
    )
  } catch (e) {
    throw new StrongroomError('USAGE', `${file}: the certificate request cannot be read`, {
      cause: e,
    })
  }
  if (!ok)
    throw new StrongroomError(
      'USAGE',
      `${file}: the certificate request's signature does not verify`,
    )
  const d = key.asymmetricKeyDetails
  const allowed =
    (key.asymmetricKeyType === 'ec' &&
      (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= 2048) ||
    key.asymmetricKeyType === 'ed25519'
  if (!allowed)
    throw new StrongroomError(
      'USAGE',
      `${file}: the request's key must be ECDSA P-256 or P-384, Ed25519, or RSA of 2048 bits or more`,
    )
  return key
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
      const c = await app.pki.issueWorkload({
        tenantId: tenant.id,
        tenantName: tenant.name,
        role: role.name,
        ...(publicKey === undefined ? {} : { publicKey }),
        ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
      })
      await mkdir(out, { recursive: true, mode: 0o700 })
      if (c.keyPem !== undefined) await writeAtomic(join(out, 'key.pem'), c.keyPem, 0o600)
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
