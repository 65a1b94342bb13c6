/**
 * A throwaway CA and a server certificate it signed, for tests and benchmarks that need a TLS
 * server of their own (a sink, a fake Vault, an OIDC issuer, a plain baseline server), made by
 * the same X.509 code as the gateway's CA. Only tests and benchmarks import this module.
 */
import { generateKeyPairSync } from 'node:crypto'
import { issueCertificate } from './x509.ts'

export interface TestCertificates {
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
}

/** A one-day CA named `caName` and a certificate it signed for `names`. */
export function testCertificates(
  names: readonly string[] = ['localhost', '127.0.0.1'],
  caName = 'Test CA',
): TestCertificates {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const issuer = { name: caName, key: ca.privateKey, publicKey: ca.publicKey }
  const caPem = issueCertificate({
    subject: caName,
    publicKey: ca.publicKey,
    issuer,
    ca: true,
    days: 1,
  })
  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const certPem = issueCertificate({
    subject: names[0] ?? 'localhost',
    publicKey: leaf.publicKey,
    issuer,
    ca: false,
    days: 1,
    names,
  })
  const keyPem = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  return { caPem, certPem, keyPem }
}
