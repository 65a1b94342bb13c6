/**
 * The built-in CA's root: an ECDSA P-256 CA created on first start, its key
 * sealed under the installation's root key. It signs only issuing CAs (pki.ts);
 * day-to-day certificates come from those.
 *
 * It is kept in the metadata database (system value pki/ca: the certificate and the PKCS#8
 * private key sealed under the root key); pki/ca.pem and DATA_DIR/ca.pem are copies for clients
 * (AWS_CA_BUNDLE), pki/ca.key.sealed a copy of the sealed key.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
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
  try {
    await writeFile(tmp, data, { mode, flush: true })
    await rename(tmp, path)
  } catch (e) {
    // A key must not be left behind in a temporary file.
    await rm(tmp, { force: true }).catch(() => undefined)
    throw e
  }
}

/** The certificate of the CA shared by an installation's gateways, once one has made it. */
export async function sharedCaPem(shared: SystemValues): Promise<string | undefined> {
  const v = await shared.getSystemValue(CA_VALUE)
  return v === undefined ? undefined : decodeCa(v, CA_VALUE).pem
}

/**
 * Loads the root CA, creating it on first use. It is kept in the metadata database (system
 * value pki/ca, its key sealed), made by whichever process came first: two processes starting at
 * once agree on one root, and gateways sharing a database share it. A root an older version kept
 * in this data directory's pki/ files is moved in, so clients that trust it keep working.
 * pki/ca.pem and DATA_DIR/ca.pem are copies for clients, written once the root has opened.
 */
export async function loadRootCa(
  dataDir: string,
  sealer: Sealer,
  values: SystemValues,
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
  const kept =
    (await values.getSystemValue(CA_VALUE)) ??
    (await values.keepSystemValue(CA_VALUE, encodeCa((await local()) ?? fresh())))
  const made = decodeCa(kept, CA_VALUE)
  const issuer = openCa(sealer, 'pki/ca.key', made, 'the metadata database', ROOT_NAME)
  // Only a root that opened under this installation's key is copied out: the certificate for
  // clients, and the sealed key, so that a data directory later pointed at a new shared
  // database brings its root along (moved in above) and its clients keep trusting it.
  await writeAtomic(caKeyFile, made.sealedKey, 0o600)
  await writeAtomic(caCert, made.pem, 0o600)
  await writeAtomic(join(dataDir, 'ca.pem'), made.pem, 0o600)
  return { pem: made.pem, issuer, allowsIntermediate: pathLenOf(made.pem) !== 0 }
}
