/**
 * `strongroom cert` as an operator and a workload use it: a workload certificate issued for a
 * role (key made here, or kept by the workload through a CSR), used for mutual TLS against a
 * Node TLS server that trusts only the CA bundle and checks the CRL; revoked, it is refused.
 * X.509-SVID rules: https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { connect, createServer, type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr'
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509'
import { certificatesIn, pemOf } from '../src/net/x509.ts'
import { testCertificates } from '../src/net/testing.ts'
import { needs } from './e2e/harness.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-cert-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))
const env = {
  ...process.env,
  STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex'),
  STRONGROOM_DATA_DIR: join(work, 'data'),
  STRONGROOM_TRUST_DOMAIN: 'ml.example.org',
}

function sr(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
/** `cert issue` for the trainer role of tenant vision; the test adds the rest. */
const trainerCert = ['cert', 'issue', '--tenant', 'vision', '--role', 'trainer']
function ok(...args: string[]): string {
  const r = sr(...args)
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** A PKCS#10 request for `key`, signed by it (RFC 2986), as `openssl req -new` writes one. */
function csrFor(
  pair: { publicKey: KeyObject; privateKey: KeyObject },
  tamper = false,
  hash: 'sha256' | 'sha384' = 'sha256',
): string {
  const info = new CertificationRequestInfo({
    subject: new Name([
      new RelativeDistinguishedName([
        new AttributeTypeAndValue({
          type: '2.5.4.3',
          value: new AttributeValue({ utf8String: 'trainer' }),
        }),
      ]),
    ]),
    subjectPKInfo: AsnConvert.parse(
      pair.publicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    ),
  })
  const der = Buffer.from(AsnConvert.serialize(info))
  const sig = sign(hash, der, pair.privateKey)
  if (tamper) sig.writeUInt8((sig.at(-1) ?? 0) ^ 1, sig.length - 1)
  const req = new CertificationRequest({
    certificationRequestInfo: info,
    // ecdsa-with-SHA256 or -SHA384 (RFC 5758 3.2)
    signatureAlgorithm: new AlgorithmIdentifier({
      algorithm: hash === 'sha256' ? '1.2.840.10045.4.3.2' : '1.2.840.10045.4.3.3',
    }),
    signature: new Uint8Array(sig).buffer,
  })
  return pemOf('CERTIFICATE REQUEST', AsnConvert.serialize(req))
}

/** A TLS server that requires a client certificate from the bundle's CA, checked against the CRLs. */
async function mtlsServer(ca: string, crls: string) {
  // Node reads one CRL per string: the PEM text `cert crl` prints is split into its CRLs.
  const crl = crls.match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----\n/g) ?? []
  assert.equal(crl.length, 2, 'the root CRL and the issuing CA CRL')
  const own = testCertificates(['127.0.0.1'])
  const server = createServer(
    { key: own.keyPem, cert: own.certPem, requestCert: true, rejectUnauthorized: false, ca, crl },
    // The server's verdict, told to the client: the greeting, or why the certificate was refused.
    (s: TLSSocket) =>
      s.end(
        s.authorized
          ? `hello ${(s.getPeerCertificate().subjectaltname ?? '').slice(0, 200)}`
          : `refused: ${String(s.authorizationError)}`,
      ),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as AddressInfo).port }
}
function withServer(port: number, cert: string, key: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', cert, key, rejectUnauthorized: false }, () => {
      let data = ''
      s.on('data', (d: Buffer) => (data += d.toString()))
      s.on('end', () => resolve(data))
    })
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error: ${e.code ?? e.message}`))
  })
}

describe('strongroom cert', () => {
  const out = join(work, 'certs')
  let serial = ''
  before(() => {
    ok('init')
    ok('tenant', 'create', 'vision')
    writeFileSync(
      join(work, 'trust.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'ec2.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
    )
    ok('role', 'create', 'trainer', '--tenant', 'vision', '--trust', 'trust.json')
  })

  it('issue: an X.509-SVID for the role, chained to the CA bundle, its key readable by its owner only', () => {
    const r = JSON.parse(ok(...trainerCert, '--out', out, '--json')) as {
      SerialNumber: string
      SpiffeId: string
      NotBefore: string
      NotAfter: string
    }
    serial = r.SerialNumber
    assert.equal(r.SpiffeId, 'spiffe://ml.example.org/tenant/vision/role/trainer')
    assert.equal(Date.parse(r.NotAfter) - Date.parse(r.NotBefore), 24 * 3_600_000 + 5 * 60_000)
    assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600)
    const [leaf, issuing, ...rest] = certificatesIn(readFileSync(join(out, 'cert.pem'), 'utf8'))
    const root = new X509Certificate(readFileSync(join(out, 'ca.pem')))
    assert.ok(leaf && issuing && rest.length === 0)
    assert.ok(leaf.verify(issuing.publicKey) && issuing.verify(root.publicKey))
    assert.equal(leaf.serialNumber.toLowerCase(), serial)
    // Exactly one URI SAN, not a CA, server and client authentication.
    assert.equal(leaf.subjectAltName, 'URI:spiffe://ml.example.org/tenant/vision/role/trainer')
    assert.equal(leaf.ca, false)
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
    assert.equal(readFileSync(join(out, 'ca.pem'), 'utf8'), ok('cert', 'bundle'))
    assert.equal(readFileSync(join(work, 'data', 'ca.pem'), 'utf8'), ok('cert', 'bundle'))
  })

  it('a TLS server that checks the CRL accepts the certificate until it is revoked', async () => {
    const cert = readFileSync(join(out, 'cert.pem'), 'utf8')
    const key = readFileSync(join(out, 'key.pem'), 'utf8')
    const ca = ok('cert', 'bundle')
    const before = await mtlsServer(ca, ok('cert', 'crl'))
    try {
      assert.equal(
        await withServer(before.port, cert, key),
        'hello URI:spiffe://ml.example.org/tenant/vision/role/trainer',
      )
    } finally {
      before.server.close()
    }
    assert.equal(
      ok('cert', 'revoke', serial, '--reason', 'keyCompromise'),
      `revoked certificate ${serial} (spiffe://ml.example.org/tenant/vision/role/trainer): keyCompromise\n`,
    )
    assert.match(ok('cert', 'revoke', serial), /was already revoked \(keyCompromise\)/)
    const afterRevoke = await mtlsServer(ca, ok('cert', 'crl'))
    try {
      assert.equal(await withServer(afterRevoke.port, cert, key), 'refused: CERT_REVOKED')
    } finally {
      afterRevoke.server.close()
    }
    const list = JSON.parse(ok('cert', 'list', '--tenant', 'vision', '--json')) as {
      SerialNumber: string
      State: string
    }[]
    assert.deepEqual(
      list.map((c) => [c.SerialNumber, c.State]),
      [[serial, 'revoked (keyCompromise)']],
    )
  })

  it('with --csr the key stays with the workload: no key.pem, the certificate is for its key', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    writeFileSync(join(work, 'w.csr'), csrFor(pair))
    const dir = join(work, 'csr-certs')
    ok(...trainerCert, '--csr', 'w.csr', '--lifetime', '4h', '--out', dir)
    assert.equal(existsSync(join(dir, 'key.pem')), false)
    const leaf = certificatesIn(readFileSync(join(dir, 'cert.pem'), 'utf8'))[0]
    assert.ok(leaf !== undefined && leaf.checkPrivateKey(pair.privateKey))
    assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 4 * 3_600_000 + 5 * 60_000)
  })

  it('refuses a forged CSR, a lifetime past 7 days, an unknown role, and names a SPIFFE ID cannot hold', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    writeFileSync(join(work, 'bad.csr'), csrFor(pair, true))
    const forged = sr(...trainerCert, '--csr', 'bad.csr', '--out', 'x')
    assert.equal(forged.code, 2)
    assert.equal(
      forged.stderr,
      "strongroom: bad.csr: the certificate request's signature does not verify [USAGE]\n",
    )
    writeFileSync(join(work, 'junk.csr'), 'not a csr')
    assert.match(
      sr(...trainerCert, '--csr', 'junk.csr', '--out', 'x').stderr,
      /junk\.csr: not a PEM certificate request/,
    )
    const long = sr(...trainerCert, '--lifetime', '169h', '--out', 'x')
    assert.equal(long.code, 2)
    assert.equal(long.stderr, 'strongroom: --lifetime must be from 5m to 168h [USAGE]\n')
    const missing = sr('cert', 'issue', '--tenant', 'vision', '--role', 'nobody', '--out', 'x')
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /nobody/)
    ok('role', 'create', 'a+b', '--tenant', 'vision', '--trust', 'trust.json')
    const odd = sr('cert', 'issue', '--tenant', 'vision', '--role', 'a+b', '--out', 'x')
    assert.equal(odd.code, 1)
    assert.match(odd.stderr, /the role name `a\+b` cannot be part of a SPIFFE ID/)
    assert.equal(existsSync(join(work, 'x')), false)
  })

  it('second review: SHA-384 requests are read, explicit curve parameters refused, a stale key.pem removed, a bad --out named', (t) => {
    // A P-384 request signed with SHA-384, as Go's x509.CreateCertificateRequest writes one.
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    writeFileSync(join(work, 'p384.csr'), csrFor(p384, false, 'sha384'))
    const dir = join(work, 'renew')
    ok(...trainerCert, '--out', dir)
    assert.equal(existsSync(join(dir, 'key.pem')), true)
    ok(...trainerCert, '--csr', 'p384.csr', '--out', dir)
    // The workload keeps its key now: the key.pem of the first run would not match cert.pem.
    assert.equal(existsSync(join(dir, 'key.pem')), false)
    const leaf = certificatesIn(readFileSync(join(dir, 'cert.pem'), 'utf8'))[0]
    assert.ok(leaf !== undefined && leaf.checkPrivateKey(p384.privateKey))
    writeFileSync(join(work, 'a-file'), 'x')
    const file = sr(...trainerCert, '--out', 'a-file')
    assert.equal(file.code, 1)
    assert.match(
      file.stderr,
      /^strongroom: --out \S+a-file: not a directory the certificate can be written to/,
    )
    if (!needs(t, 'openssl')) return
    // RFC 5480 2.1.1: explicit curve parameters are refused (OpenSSL refuses such certificates).
    const o = (...args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: work, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
    o(
      'ecparam',
      '-name',
      'prime256v1',
      '-param_enc',
      'explicit',
      '-genkey',
      '-noout',
      '-out',
      'e.key',
    )
    o('req', '-new', '-key', 'e.key', '-subj', '/CN=x', '-out', 'e.csr')
    const explicit = sr(...trainerCert, '--csr', 'e.csr', '--out', 'e')
    assert.equal(explicit.code, 2)
    assert.match(explicit.stderr, /must be ECDSA P-256 or P-384 \(a named curve\)/)
  })

  it('revoke: an unknown serial and a bad reason are named', () => {
    const unknown = sr('cert', 'revoke', 'abcdef')
    assert.equal(unknown.code, 1)
    assert.equal(
      unknown.stderr,
      'strongroom: no certificate with serial abcdef was issued here [NO_SUCH_ENTITY]\n',
    )
    assert.equal(sr('cert', 'revoke', 'zz').code, 1)
    const reason = sr('cert', 'revoke', serial, '--reason', 'boredom')
    assert.equal(reason.code, 2)
    assert.match(reason.stderr, /--reason `boredom` is not one of unspecified, keyCompromise/)
  })
})

describe('docs/network.md', () => {
  it('runs its commands as written: issue, list, CRLs and the bundle', () => {
    const page = readFileSync(join(import.meta.dirname, '..', 'docs', 'network.md'), 'utf8')
    const blocks = [...page.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
    assert.equal(blocks.length, 1, 'the blocks this test accounts for')
    const dir = join(work, 'network-doc')
    mkdirSync(dir)
    const root = join(import.meta.dirname, '..')
    for (const f of ['bin', 'src', 'node_modules', 'package.json'])
      symlinkSync(join(root, f), join(dir, f))
    // The tenant and role made above; a reader's shell with the pinned Node reached through npx.
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', blocks[0] ?? ''], {
      cwd: dir,
      env,
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      r.stdout,
      /\tworkload\tspiffe:\/\/ml\.example\.org\/tenant\/vision\/role\/trainer\t/,
    )
    assert.equal(
      (readFileSync(join(dir, 'crl.pem'), 'utf8').match(/BEGIN X509 CRL/g) ?? []).length,
      2,
    )
    assert.equal(
      readFileSync(join(dir, 'strongroom-ca.pem'), 'utf8'),
      readFileSync(join(work, 'data', 'ca.pem'), 'utf8'),
    )
    assert.equal(statSync(join(dir, 'certs', 'key.pem')).mode & 0o777, 0o600)
    assert.equal(certificatesIn(readFileSync(join(dir, 'certs', 'cert.pem'), 'utf8')).length, 2)
  })
})
