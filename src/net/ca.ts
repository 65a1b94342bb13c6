/**
 * The built-in CA's root: an ECDSA P-256 CA created on first start, its key
 * sealed under the installation's root key. It signs only issuing CAs (pki.ts);
 * day-to-day certificates come from those.
 *
 *   pki/ca.pem            the root certificate (also written to DATA_DIR/ca.pem for AWS_CA_BUNDLE)
 *   pki/ca.key.sealed     the root's PKCS#8 private key, sealed under the root key
 *
 * Gateways sharing a metadata database keep the root there instead (system value pki/ca).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { SystemValues } from '../meta/installation.ts'
import { issueCertificate, pathLenOf, type Issuer } from './x509.ts'

export interface Sealer {
  seal(label: string, data: Uint8Array): Buffer
  open(label: string, sealed: Uint8Array): Buffer
}

export interface ServerIdentity {
  /** The root CA certificate clients trust. */
  readonly caPem: string
  /** The server certificate followed by its issuing CA's. */
  readonly certPem: string
  readonly keyPem: string
}

export const ROOT_NAME = 'Strongroom CA'

/** The name of the shared CA among the installation's system values. */
const CA_VALUE = 'pki/ca'

/** A certificate and its sealed PKCS#8 private key, kept (or lost) together. */
export interface StoredCa {
  readonly pem: string
  readonly sealedKey: Buffer
}

export interface RootCa {
  readonly pem: string
  readonly issuer: Issuer
  /** False for a root made before issuing CAs (pathLenConstraint 0): it signs leaves itself. */
  readonly allowsIntermediate: boolean
}

/** A new self-signed ECDSA P-256 CA named `subject` that may sign one level of CAs below it. */
export function selfSignedCa(subject: string, days: number): { pem: string; key: Issuer } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const issuer = { name: subject, key: pair.privateKey, publicKey: pair.publicKey }
  const pem = issueCertificate({
    subject,
    publicKey: pair.publicKey,
    issuer,
    ca: true,
    pathLen: 1,
    days,
  })
  return { pem, key: issuer }
}

export function encodeCa(ca: StoredCa): Buffer {
  return Buffer.from(JSON.stringify({ pem: ca.pem, sealedKey: ca.sealedKey.toString('base64') }))
}

export function decodeCa(value: Buffer, name: string): StoredCa {
  let v: { pem?: unknown; sealedKey?: unknown } = {}
  try {
    v = JSON.parse(value.toString('utf8')) as typeof v
  } catch {
    // reported below
  }
  if (typeof v.pem !== 'string' || typeof v.sealedKey !== 'string')
    throw new StrongroomError(
      'IO',
      `the CA kept in the metadata database (system value ${name}) is not a certificate and a sealed key`,
    )
  return { pem: v.pem, sealedKey: Buffer.from(v.sealedKey, 'base64') }
}

/**
 * Opens a stored CA's key and checks that the certificate is the key's and a CA named `name`:
 * a CA replaced in storage is refused before anything is written or issued from it.
 */
export function openCa(
  sealer: Sealer,
  label: string,
  ca: StoredCa,
  where: string,
  name: string,
): Issuer {
  let key
  try {
    key = createPrivateKey({ key: sealer.open(label, ca.sealedKey), format: 'der', type: 'pkcs8' })
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `the CA key kept in ${where} does not open under this installation's root key: it was replaced, or belongs to another installation`,
      { cause: e },
    )
  }
  const cert = new X509Certificate(ca.pem)
  if (!cert.checkPrivateKey(key) || !cert.ca || cert.subject !== `O=Strongroom\nCN=${name}`)
    throw new StrongroomError(
      'IO',
      `the CA certificate kept in ${where} is not the CA key's: it was replaced`,
    )
  return { name, key, publicKey: cert.publicKey }
}

export async function writeAtomic(
  path: string,
  data: string | Buffer,
  mode: number,
): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, data, { mode, flush: true })
  await rename(tmp, path)
}

/** The certificate of the CA shared by an installation's gateways, once one has made it. */
export async function sharedCaPem(shared: SystemValues): Promise<string | undefined> {
  const v = await shared.getSystemValue(CA_VALUE)
  return v === undefined ? undefined : decodeCa(v, CA_VALUE).pem
}

/**
 * Loads the root CA, creating it on first start. With `shared` (gateways sharing a metadata
 * database) the root is the one kept there, made by whichever gateway came first (a root this
 * data directory had is moved in), so every gateway's certificates chain to one root that
 * clients trust; pki/ca.pem and DATA_DIR/ca.pem are then local copies for clients.
 */
export async function loadRootCa(
  dataDir: string,
  sealer: Sealer,
  shared?: SystemValues,
): Promise<RootCa> {
  const dir = join(dataDir, 'pki')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const caCert = join(dir, 'ca.pem')
  const caKeyFile = join(dir, 'ca.key.sealed')
  const local = async () =>
    existsSync(caCert) && existsSync(caKeyFile)
      ? { pem: await readFile(caCert, 'utf8'), sealedKey: await readFile(caKeyFile) }
      : undefined
  const fresh = (): StoredCa => {
    const { pem, key } = selfSignedCa(ROOT_NAME, 3650)
    return {
      pem,
      sealedKey: sealer.seal('pki/ca.key', key.key.export({ type: 'pkcs8', format: 'der' })),
    }
  }
  let made: StoredCa
  if (shared !== undefined) {
    const kept =
      (await shared.getSystemValue(CA_VALUE)) ??
      (await shared.keepSystemValue(CA_VALUE, encodeCa((await local()) ?? fresh())))
    made = decodeCa(kept, CA_VALUE)
  } else {
    const found = await local()
    made = found ?? fresh()
    if (found === undefined) await writeAtomic(caKeyFile, made.sealedKey, 0o600)
  }
  const where = shared === undefined ? caKeyFile : 'the metadata database'
  const issuer = openCa(sealer, 'pki/ca.key', made, where, ROOT_NAME)
  // Only a root that opened under this installation's key is copied out for clients.
  await writeAtomic(caCert, made.pem, 0o600)
  await writeAtomic(join(dataDir, 'ca.pem'), made.pem, 0o600)
  return { pem: made.pem, issuer, allowsIntermediate: pathLenOf(made.pem) !== 0 }
}
