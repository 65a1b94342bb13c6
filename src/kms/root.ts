/**
 * The root of trust: a 256-bit key that seals every tenant key's material.
 * It comes from STRONGROOM_ROOT_KEY (64 hex characters), a key file (32 raw
 * bytes or 64 hex characters), or a passphrase through scrypt (memory-hard;
 * its parameters are stored with the installation). Only `--dev` generates one
 * into the data directory. A keyed check value, stored at init, tells a wrong
 * root key or passphrase apart from corrupt data.
 */
import { createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { StrongroomError, type ErrorCode } from '../errors.ts'

export const ROOT_KEY_BYTES = 32

export interface ScryptParams {
  readonly alg: 'scrypt'
  readonly N: number
  readonly r: number
  readonly p: number
  /** Hex. */
  readonly salt: string
}

/** 2^17 × 8 × 128 B = 128 MiB of memory per derivation, about half a second. */
export const DEFAULT_SCRYPT: Omit<ScryptParams, 'salt'> = { alg: 'scrypt', N: 1 << 17, r: 8, p: 1 }

const HEX_KEY = /^[0-9a-fA-F]{64}$/

export function rootKeyFromHex(hex: string, where: string): Buffer {
  const t = hex.trim()
  if (!HEX_KEY.test(t)) {
    throw new StrongroomError(
      'ROOT_KEY_INVALID',
      `${where} must hold 64 hexadecimal characters (a 256-bit key); generate one with \`openssl rand -hex 32\``,
    )
  }
  return Buffer.from(t, 'hex')
}

/**
 * A small file holding a secret or a setting (a root key, a passphrase, a PIN, a CA bundle):
 * at most `max` bytes are read, whatever the file is (a device such as /dev/zero is refused
 * after `max` + 1 bytes, never read until memory runs out); a pipe, as from the shell's
 * `<(command)`, is read to its end. Failures are `code`, naming the file and what is wrong.
 */
export function readSmallFile(path: string, what: string, max: number, code: ErrorCode): Buffer {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const st = fstatSync(fd)
    const tooBig = () =>
      new StrongroomError(code, `${what} \`${path}\` holds more than ${max} bytes`)
    if (st.isDirectory()) throw new StrongroomError(code, `${what} \`${path}\` is a directory`)
    if (st.isFile() && st.size > max) throw tooBig()
    const buf = Buffer.alloc(max + 1)
    let n = 0
    for (let got = -1; got !== 0 && n <= max; n += got)
      got = readSync(fd, buf, n, max + 1 - n, null)
    if (n > max) throw tooBig()
    return buf.subarray(0, n)
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    const errno = (e as NodeJS.ErrnoException).code
    throw new StrongroomError(
      code,
      errno === 'ENOENT'
        ? `${what} \`${path}\` does not exist`
        : `cannot read ${what} \`${path}\` (${errno ?? 'error'})`,
      { cause: e },
    )
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function readSecretFile(path: string, what: string): Promise<Buffer> {
  return new Promise((resolve) => resolve(readSmallFile(path, what, 4096, 'ROOT_KEY_MISSING')))
}

/** A key file holds 32 raw bytes, or 64 hex characters with optional surrounding whitespace. */
export async function readRootKeyFile(path: string): Promise<Buffer> {
  const raw = await readSecretFile(path, 'root key file')
  if (raw.length === ROOT_KEY_BYTES) return raw
  if (raw.length > 256) {
    throw new StrongroomError(
      'ROOT_KEY_INVALID',
      `root key file \`${path}\` is ${raw.length} bytes; expected 32 raw bytes or 64 hex characters`,
    )
  }
  try {
    return rootKeyFromHex(raw.toString('latin1'), `root key file \`${path}\``)
  } finally {
    raw.fill(0)
  }
}

export async function readPassphraseFile(path: string): Promise<Buffer> {
  const raw = await readSecretFile(path, 'passphrase file')
  // One trailing newline is the editor's, not the passphrase's.
  let end = raw.length
  if (raw[end - 1] === 0x0a) end--
  if (raw[end - 1] === 0x0d) end--
  const pass = Buffer.from(raw.subarray(0, end))
  raw.fill(0)
  if (pass.length < 12 || pass.length > 1024) {
    pass.fill(0)
    throw new StrongroomError(
      'ROOT_KEY_INVALID',
      `the passphrase in \`${path}\` must be 12 to 1024 bytes long`,
    )
  }
  return pass
}

export function newScryptParams(): ScryptParams {
  return { ...DEFAULT_SCRYPT, salt: randomBytes(16).toString('hex') }
}

/** Parses stored KDF parameters; bounded so that a doctored database cannot demand unbounded memory. */
export function parseScryptParams(json: string): ScryptParams {
  let v: unknown
  try {
    v = JSON.parse(json)
  } catch (e) {
    throw new StrongroomError(
      'DATA_DIR_FOREIGN',
      'the stored passphrase parameters are not valid scrypt parameters: not JSON',
      { cause: e },
    )
  }
  const p = v as Partial<ScryptParams> | undefined
  const pow2 = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0
  if (
    p?.alg !== 'scrypt' ||
    !pow2(p.N) ||
    p.N > 1 << 20 ||
    typeof p.r !== 'number' ||
    p.r < 1 ||
    p.r > 32 ||
    typeof p.p !== 'number' ||
    p.p < 1 ||
    p.p > 16 ||
    typeof p.salt !== 'string' ||
    !/^[0-9a-f]{32,128}$/.test(p.salt)
  ) {
    throw new StrongroomError(
      'DATA_DIR_FOREIGN',
      'the stored passphrase parameters are not valid scrypt parameters',
    )
  }
  return { alg: 'scrypt', N: p.N, r: p.r, p: p.p, salt: p.salt }
}

export function deriveRootKey(passphrase: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase,
      Buffer.from(params.salt, 'hex'),
      ROOT_KEY_BYTES,
      {
        N: params.N,
        r: params.r,
        p: params.p,
        maxmem: 256 * params.N * params.r + 16 * 1024 * 1024,
      },
      (err, key) => {
        if (err) reject(new StrongroomError('ROOT_KEY_INVALID', `scrypt failed: ${err.message}`))
        else resolve(key)
      },
    )
  })
}

/**
 * Keys derived from the root key, one per use: the raw root key is never a
 * MAC key and, for anything sealed since format 2, never a cipher key.
 *
 *   seal  = HKDF-SHA256(IKM = root key, salt = "strongroom/root/v2", info = "seal", 32)
 *   check = HKDF-SHA256(IKM = root key, salt = "strongroom/root/v2", info = "check", 32)
 */
export interface RootKeys {
  /** AES-256-GCM key for secrets sealed under the root (key material, system secrets): format 2. */
  readonly seal: Buffer
  /** HMAC-SHA256 key for the installation's check value. */
  readonly check: Buffer
}

const ROOT_SALT = Buffer.from('strongroom/root/v2')

export function deriveRootKeys(rootKey: Uint8Array): RootKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', rootKey, ROOT_SALT, info, 32))
  return { seal: derive('seal'), check: derive('check') }
}

/**
 * A key of the system for one use, derived the same way on every replica:
 * HKDF-SHA256(IKM = root key, salt = "strongroom/root/v2", info = "system-key/" ‖ label, 32).
 * Labels never collide with "seal" and "check".
 */
export function deriveSystemKey(rootKey: Uint8Array, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootKey, ROOT_SALT, `system-key/${label}`, 32))
}

/** What the check value binds besides the key: the installation and how its root key is obtained. */
export interface RootBinding {
  readonly installationId: string
  readonly rootMode: string
  /** The stored KDF parameters (JSON), or null when the root key is given directly. */
  readonly rootKdf: string | null
}

/** The check value's format-2 marker byte (format 1 was a bare 32-byte HMAC under the raw root key). */
export const CHECK_V2 = 2

/** Canonical text of the KDF parameters, so that the same parameters always MAC the same way. */
function kdfText(rootKdf: string | null): string {
  if (rootKdf === null) return 'none'
  const p = parseScryptParams(rootKdf)
  return `${p.alg};N=${p.N};r=${p.r};p=${p.p};salt=${p.salt}`
}

/**
 * The check value, format 2: 0x02 ‖ HMAC-SHA256(check key, "strongroom/root-check/v2" 0x00
 * installation id 0x00 root mode 0x00 KDF parameters). Binding the KDF parameters means
 * that parameters altered in the database are refused even where they would not change the
 * derived key.
 */
export function rootCheck(rootKey: Uint8Array, binding: RootBinding): Buffer {
  const { check } = deriveRootKeys(rootKey)
  try {
    const mac = createHmac('sha256', check)
      .update(
        `strongroom/root-check/v2\0${binding.installationId}\0${binding.rootMode}\0${kdfText(binding.rootKdf)}`,
      )
      .digest()
    return Buffer.concat([Buffer.from([CHECK_V2]), mac])
  } finally {
    check.fill(0)
  }
}

/** Format 1 (installations before format 2): HMAC-SHA256(raw root key, label ‖ installation id). */
function legacyRootCheck(rootKey: Uint8Array, installationId: string): Buffer {
  return createHmac('sha256', rootKey)
    .update(`strongroom/root-check/v1\0${installationId}`)
    .digest()
}

/**
 * Proves the root key belongs to this installation (and, format 2, that its KDF
 * parameters are the ones stored at init). Returns true when the stored value is
 * format 1: the caller then replaces it with `rootCheck` (the key was just proven).
 */
export function verifyRootCheck(
  rootKey: Uint8Array,
  binding: RootBinding,
  stored: Uint8Array,
  passphrase: boolean,
): { legacy: boolean } {
  const legacy = stored.byteLength === 32
  const check = legacy
    ? legacyRootCheck(rootKey, binding.installationId)
    : rootCheck(rootKey, binding)
  if (stored.byteLength !== check.length || !timingSafeEqual(check, stored)) {
    throw new StrongroomError(
      'ROOT_KEY_WRONG',
      passphrase
        ? 'wrong passphrase for this data directory (or its stored passphrase parameters were altered)'
        : 'the root key does not belong to this data directory (it was initialised with another key)',
    )
  }
  return { legacy }
}
