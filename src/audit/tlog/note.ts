/**
 * C2SP signed notes with Ed25519 (https://c2sp.org/signed-note, the format of Go's
 * golang.org/x/mod/sumdb/note): the envelope the audit log's checkpoints travel in, so that
 * witnesses, monitors and `go`'s own verifier read them without knowing Strongroom.
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
 * em dash (U+2014), space, key name, space, base64(4-byte key ID ‖ signature). Keys are
 * strings: a verifier key is `name+hexkeyid+base64(0x01 ‖ public key)` and a signer key
 * `PRIVATE+KEY+name+hexkeyid+base64(0x01 ‖ seed)`, the key ID being the first four bytes of
 * SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). Parsing is strict (canonical base64, bounded
 * sizes, no control characters) because a lenient parser is where two verifiers come to
 * disagree about what was signed; and as the spec says, signatures by other keys are
 * ignored, but one by the key asked about that does not verify rejects the whole note.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { StrongroomError } from '../../errors.ts'

/** Signature type byte for plain Ed25519 (signed-note, "Signature types"). */
export const ED25519 = 0x01
/** Signature type byte of an Ed25519 cosigner's key (c2sp.org/tlog-cosignature). */
export const COSIGNATURE_V1 = 0x04
export type KeyType = typeof ED25519 | typeof COSIGNATURE_V1
const TYPE_NAMES: Record<KeyType, string> = { 1: 'Ed25519 (1)', 4: 'an Ed25519 cosigner (4)' }
/** A note we read is at most this big: 16 post-quantum signatures fit, a flood does not. */
export const MAX_NOTE_BYTES = 256 << 10
/** Go's note.Open stops at 100 signatures; the spec asks verifiers to take at least 16. */
export const MAX_SIGNATURES = 100
const SIG_PREFIX = '\u2014 '
/** DER prefixes of Ed25519 PKCS#8 private and SPKI public keys (RFC 8410): 32 raw bytes follow. */
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI = Buffer.from('302a300506032b6570032100', 'hex')

export interface NoteSigner {
  readonly name: string
  readonly keyId: number
  readonly type: KeyType
  sign(message: Uint8Array): Uint8Array
}

export interface NoteVerifier {
  readonly name: string
  readonly keyId: number
  readonly type: KeyType
  readonly publicKey: Uint8Array
  verify(message: Uint8Array, signature: Uint8Array): boolean
}

/** One signature line of an opened note. */
export interface NoteSignature {
  readonly name: string
  readonly keyId: number
  /** The 4-byte key ID and the signature, base64, as on the line. */
  readonly base64: string
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string
  /** Every signature line, the verified one among them. */
  readonly signatures: readonly NoteSignature[]
}

const invalid = (message: string) => new StrongroomError('INVALID_ARGUMENT', message)

/** Non-empty, and neither Unicode white space nor `+` (Go's isValidName). */
export function isKeyName(name: string): boolean {
  return name !== '' && name.isWellFormed() && !/[\p{White_Space}+]/u.test(name)
}

/** Standard base64 (RFC 4648 §4) in its one canonical spelling, or undefined. */
export function decodeBase64(s: string): Buffer | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined
  const bytes = Buffer.from(s, 'base64')
  return bytes.toString('base64') === s ? bytes : undefined
}

export function keyId(name: string, publicKey: Uint8Array, type: KeyType = ED25519): number {
  const sum = createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.of(0x0a, type))
    .update(publicKey)
    .digest()
  return sum.readUInt32BE(0)
}

export const hex8 = (id: number) => id.toString(16).padStart(8, '0')

function checkName(name: string): void {
  if (!isKeyName(name))
    throw invalid(`\`${name.slice(0, 80)}\` is not a key name: it needs no spaces and no \`+\``)
}

function privateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8, seed]), format: 'der', type: 'pkcs8' })
}

function rawPublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI.length)
}

/** The verifier key string for an Ed25519 public key under `name`. */
export function verifierKeyFor(
  name: string,
  publicKey: Uint8Array,
  type: KeyType = ED25519,
): string {
  checkName(name)
  if (publicKey.length !== 32) throw invalid('an Ed25519 public key is 32 bytes')
  const b64 = Buffer.concat([Buffer.of(type), publicKey]).toString('base64')
  return `${name}+${hex8(keyId(name, publicKey, type))}+${b64}`
}

/** The signer key string for a 32-byte Ed25519 seed (RFC 8032 private key) under `name`. */
export function signerKeyFor(name: string, seed: Uint8Array, type: KeyType = ED25519): string {
  checkName(name)
  if (seed.length !== 32) throw invalid('an Ed25519 seed is 32 bytes')
  const pub = rawPublicKey(privateKey(seed))
  const b64 = Buffer.concat([Buffer.of(type), seed]).toString('base64')
  return `PRIVATE+KEY+${name}+${hex8(keyId(name, pub, type))}+${b64}`
}

/**
 * A fresh key pair for `name`: the signer key stays secret, the verifier key is published.
 * `type` COSIGNATURE_V1 makes a witness's (cosigner's) keys.
 */
export function generateKey(
  name: string,
  type: KeyType = ED25519,
): { signerKey: string; verifierKey: string } {
  const seed = randomBytes(32)
  const signerKey = signerKeyFor(name, seed, type)
  return { signerKey, verifierKey: verifierKeyFor(name, rawPublicKey(privateKey(seed)), type) }
}

/** `name+hexkeyid+base64key` into its parts, checked; `what` names the key in errors. */
function splitKey(
  what: string,
  rest: string,
  type: KeyType,
): { name: string; id: number; key: Buffer } {
  // The key's base64 may hold `+` itself: split at the first two only, as Go's chop does.
  const [, name, id16, b64] = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(rest) ?? []
  if (name === undefined || id16 === undefined || b64 === undefined)
    throw invalid(`a ${what} key has the form name+keyid+key`)
  checkName(name)
  if (!/^[0-9a-f]{8}$/.test(id16))
    throw invalid(`the ${what} key's ID \`${id16.slice(0, 20)}\` is not 8 lowercase hex digits`)
  const key = decodeBase64(b64)
  if (key === undefined || key.length === 0)
    throw invalid(`the ${what} key is not canonical base64`)
  if (key[0] !== type)
    throw new StrongroomError(
      'UNSUPPORTED_FORMAT',
      `the ${what} key has signature type ${key[0]}; only ${TYPE_NAMES[type]} is supported here`,
    )
  if (key.length !== 33) throw invalid(`the ${what} key is not 32 bytes after its type byte`)
  return { name, id: parseInt(id16, 16), key: key.subarray(1) }
}

export function parseVerifierKey(vkey: string, type: KeyType = ED25519): NoteVerifier {
  if (vkey.startsWith('PRIVATE+KEY+'))
    throw invalid('that is a signer key, which stays secret: verifying takes the verifier key')
  const { name, id, key } = splitKey('verifier', vkey, type)
  if (keyId(name, key, type) !== id)
    throw invalid(`the verifier key's ID ${hex8(id)} is not the ID of its name and public key`)
  const object = createPublicKey({ key: Buffer.concat([SPKI, key]), format: 'der', type: 'spki' })
  return {
    name,
    keyId: id,
    type,
    publicKey: key,
    verify: (message, signature) =>
      signature.length === 64 && verify(null, message, object, signature),
  }
}

export function parseSignerKey(skey: string, type: KeyType = ED25519): NoteSigner {
  if (!skey.startsWith('PRIVATE+KEY+'))
    throw invalid('a signer key starts with PRIVATE+KEY+ (was a verifier key given?)')
  const { name, id, key } = splitKey('signer', skey.slice('PRIVATE+KEY+'.length), type)
  const object = privateKey(key)
  if (keyId(name, rawPublicKey(object), type) !== id)
    throw invalid(`the signer key's ID ${hex8(id)} is not the ID of its name and public key`)
  return { name, keyId: id, type, sign: (message) => sign(null, message, object) }
}

/** Valid UTF-8, and no ASCII control characters but newline (signed-note, "Format"). */
function checkText(what: string, text: string): void {
  if (!text.isWellFormed()) throw invalid(`the ${what} is not valid UTF-8`)
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0009\u000b-\u001f]/.exec(text)
  if (bad !== null)
    throw invalid(
      `the ${what} holds control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${bad.index}`,
    )
}

/** `text` (ending in a newline) signed by `signer`: the note, ready to write. */
export function signNote(text: string, signer: NoteSigner | string): string {
  const s = typeof signer === 'string' ? parseSignerKey(signer) : signer
  if (s.type !== ED25519) throw invalid('a cosigner key signs only cosignatures (cosign)')
  checkName(s.name)
  checkText('note text', text)
  if (!text.endsWith('\n')) throw invalid('a note text ends with a newline')
  const id = Buffer.alloc(4)
  id.writeUInt32BE(s.keyId)
  const signature = Buffer.concat([id, s.sign(Buffer.from(text, 'utf8'))])
  return `${text}\n${SIG_PREFIX}${s.name} ${signature.toString('base64')}\n`
}

/** Splits and checks a note's form; verifies nothing. */
export function parseNote(note: string | Uint8Array): {
  text: string
  signatures: (NoteSignature & { signature: Buffer })[]
} {
  const size = typeof note === 'string' ? Buffer.byteLength(note, 'utf8') : note.length
  if (size > MAX_NOTE_BYTES)
    throw new StrongroomError('LIMIT_EXCEEDED', `the note is ${size} bytes, over ${MAX_NOTE_BYTES}`)
  let s: string
  try {
    s = typeof note === 'string' ? note : new TextDecoder('utf-8', { fatal: true }).decode(note)
  } catch {
    throw invalid('the note is not valid UTF-8')
  }
  checkText('note', s)
  const split = s.lastIndexOf('\n\n')
  if (split < 0) throw invalid('the note has no blank line before its signatures')
  const block = s.slice(split + 2)
  if (block === '' || !block.endsWith('\n'))
    throw invalid('the note does not end with a signature line and a newline')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_SIGNATURES)
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `the note has ${lines.length} signatures, over ${MAX_SIGNATURES}`,
    )
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX))
      throw invalid(`signature line ${i + 1} does not start with an em dash and a space`)
    const rest = line.slice(SIG_PREFIX.length)
    const space = rest.indexOf(' ')
    const name = space < 0 ? rest : rest.slice(0, space)
    const b64 = space < 0 ? '' : rest.slice(space + 1)
    if (!isKeyName(name)) throw invalid(`signature line ${i + 1} has no valid key name`)
    const bytes = decodeBase64(b64)
    if (bytes === undefined || bytes.length < 5)
      throw invalid(`signature line ${i + 1} (\`${name}\`) is not base64 of key ID and signature`)
    return { name, keyId: bytes.readUInt32BE(0), base64: b64, signature: bytes.subarray(4) }
  })
  return { text: s.slice(0, split + 1), signatures }
}

/**
 * Opens `note` with one trusted key: answers its text when a signature by that key verifies.
 * WRONG_KEY when the key did not sign it, SIGNATURE_DOES_NOT_MATCH when its signature fails.
 */
export function verifyNote(note: string | Uint8Array, key: string | NoteVerifier): OpenedNote {
  const v = typeof key === 'string' ? parseVerifierKey(key) : key
  if (v.type !== ED25519)
    throw invalid('a cosigner key checks only cosignatures (verifyCosignature)')
  const { text, signatures } = parseNote(note)
  const mine = signatures.filter((s) => s.name === v.name && s.keyId === v.keyId)
  if (mine.length === 0) {
    const by = signatures.map((s) => `${s.name}+${hex8(s.keyId)}`).join(', ')
    throw new StrongroomError(
      'WRONG_KEY',
      `the note is not signed by \`${v.name}+${hex8(v.keyId)}\`; it is signed by \`${by}\``,
    )
  }
  const message = Buffer.from(text, 'utf8')
  for (const s of mine)
    if (!v.verify(message, s.signature))
      throw new StrongroomError(
        'SIGNATURE_DOES_NOT_MATCH',
        `the signature by \`${v.name}+${hex8(v.keyId)}\` does not verify: the note was altered or forged`,
      )
  return {
    text,
    signatures: signatures.map(({ name, keyId, base64 }) => ({ name, keyId, base64 })),
  }
}
