/**
 * The deployment's audit keys, made once and kept for good: the Ed25519 key that signs the
 * log's checkpoints (its public half is what verifiers hold) and the HMAC key that correlates
 * secrets in events. Both are sealed under the root key in DATA_DIR/audit/keys.sealed, made
 * once and never remade, so a record written years ago still matches a token seen today.
 * Vault's audit HMAC key is lost when a device is disabled and enabled again; this one is not
 * tied to any sink. Gateways that share a metadata database (PostgreSQL) keep them in it
 * instead, sealed the same way, so that every gateway of the installation holds the same keys.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { existsSync } from 'node:fs'
import { link, mkdir, open, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { SystemValues } from '../meta/installation.ts'
import { recordMacKey } from './record-mac.ts'
import { signerKeyFor, verifierKeyFor } from './tlog/note.ts'

export interface AuditKeys {
  /** Signs checkpoints (Ed25519). */
  readonly signing: KeyObject
  readonly verifying: KeyObject
  /** The 32-byte Ed25519 seed (RFC 8032 private key), for the note signer's key string. */
  readonly seed: Buffer
  /** Correlates secrets in events (HMAC-SHA256). */
  readonly hmacKey: Buffer
  /** MACs each record of the shared log (./record-mac.ts), derived from `hmacKey`. */
  readonly recordMacKey: Buffer
  /**
   * The log's origin line and key name, `strongroom/audit/<16 hex>`: derived from the public
   * key, so it is unique to the deployment and needs no state of its own.
   */
  readonly origin: string
  /** The C2SP verifier key (`origin+keyid+base64`): what `audit verify --public-key` reads. */
  readonly verifierKey: string
  /** The C2SP signer key for the note signer; secret. */
  readonly signerKey: string
}

export interface SystemSealer {
  sealSystemSecret(label: string, plaintext: Uint8Array): Buffer
  openSystemSecret(label: string, sealed: Uint8Array): Buffer
}

const LABEL = 'audit/keys'
/** PKCS#8 DER prefix of an Ed25519 private key: the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex')

export function ed25519FromSeed(seed: Uint8Array): { signing: KeyObject; verifying: KeyObject } {
  if (seed.length !== 32) throw new StrongroomError('INTERNAL', 'an Ed25519 seed is 32 bytes')
  const signing = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  return { signing, verifying: createPublicKey(signing) }
}

/**
 * Loads the audit keys, making them on first use: from DATA_DIR/audit/keys.sealed, or, when
 * gateways share the metadata database (`shared`), from it, so that every gateway signs and
 * correlates with the same keys (keys a data directory already had are moved in, not remade).
 */
export async function auditKeys(
  dataDir: string,
  sealer: SystemSealer,
  shared?: SystemValues,
): Promise<AuditKeys> {
  const file = join(dataDir, 'audit', 'keys.sealed')
  let sealed: Buffer
  if (shared === undefined) sealed = await fileKeys(file, sealer)
  else
    sealed =
      (await shared.getSystemValue(LABEL)) ??
      (await shared.keepSystemValue(
        LABEL,
        existsSync(file) ? await readFile(file) : sealer.sealSystemSecret(LABEL, randomBytes(64)),
      ))
  const where = shared === undefined ? file : 'the metadata database'
  let plain: Buffer
  try {
    plain = sealer.openSystemSecret(LABEL, sealed)
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `the audit keys kept in ${where} do not open under this installation's root key: they were replaced, or belong to another installation`,
      { cause: e },
    )
  }
  if (plain.length !== 64)
    throw new StrongroomError('INTERNAL', `${where} does not hold the audit keys`)
  const seed = Buffer.from(plain.subarray(0, 32))
  const hmacKey = Buffer.from(plain.subarray(32))
  plain.fill(0)
  const pair = ed25519FromSeed(seed)
  const raw = pair.verifying.export({ format: 'der', type: 'spki' }).subarray(-32)
  const origin = `strongroom/audit/${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`
  return {
    ...pair,
    seed,
    hmacKey,
    recordMacKey: recordMacKey(hmacKey),
    origin,
    verifierKey: verifierKeyFor(origin, raw),
    signerKey: signerKeyFor(origin, seed),
  }
}

/** The sealed keys in `file`, made there on first use. */
async function fileKeys(file: string, sealer: SystemSealer): Promise<Buffer> {
  if (existsSync(file)) return readFile(file)
  const dir = dirname(file)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const sealed = sealer.sealSystemSecret(LABEL, randomBytes(64))
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(sealed)
    await fh.sync()
  } finally {
    await fh.close()
  }
  // link, not rename: of two processes making the keys at once, the first wins and the
  // other uses its keys, so no record is ever signed or correlated under a key that is lost.
  try {
    await link(tmp, file)
    // Durable before any checkpoint is signed with it: a log must never outlive its key.
    const d = await open(dir, 'r')
    await d.sync().finally(() => d.close())
    return sealed
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    return await readFile(file)
  } finally {
    await rm(tmp, { force: true })
  }
}

/** What a log is opened with from the deployment's keys: its signer, verifier and origin. */
export function logIdentity(
  keys: AuditKeys,
): Pick<AuditKeys, 'signerKey' | 'verifierKey' | 'origin'> {
  return { signerKey: keys.signerKey, verifierKey: keys.verifierKey, origin: keys.origin }
}
