/**
 * Cosignatures (c2sp.org/tlog-cosignature, the Ed25519 `cosignature/v1` type): a witness's
 * statement that, as of a time, the checkpoint is the largest consistent tree head it has seen
 * of that log. A cosignature is a note signature line on the checkpoint,
 *
 *   — <witness name> base64(key ID ‖ u64 timestamp ‖ Ed25519 signature)
 *
 * the key ID being SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4] and the signed message
 * `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's text. Witness keys are
 * signed-note keys of type 0x04 (`name+keyid+base64(0x04 ‖ key)`), so they cannot be mistaken
 * for a log's key, nor a cosignature for the log's own signature.
 */
import { StrongroomError } from '../../errors.ts'
import {
  COSIGNATURE_V1,
  hex8,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  type NoteSigner,
  type NoteVerifier,
} from './note.ts'

/** How far in the future a cosignature's time may be (clocks differ), in seconds. */
const MAX_SKEW_S = 300

export const parseCosignerKey = (skey: string): NoteSigner => parseSignerKey(skey, COSIGNATURE_V1)
export const parseWitnessKey = (vkey: string): NoteVerifier =>
  parseVerifierKey(vkey, COSIGNATURE_V1)

const message = (text: string, time: number) =>
  Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8')

/** The cosignature line (ending in a newline) of `cosigner` on a checkpoint's text at `time`. */
export function cosign(text: string, cosigner: NoteSigner, time: number): string {
  if (cosigner.type !== COSIGNATURE_V1)
    throw new StrongroomError('INVALID_ARGUMENT', 'a cosignature is made with a witness key')
  if (!Number.isSafeInteger(time) || time < 0)
    throw new StrongroomError('INVALID_ARGUMENT', `a cosignature's time is seconds since 1970`)
  const head = Buffer.alloc(12)
  head.writeUInt32BE(cosigner.keyId, 0)
  head.writeBigUInt64BE(BigInt(time), 4)
  const line = Buffer.concat([head, cosigner.sign(message(text, time))]).toString('base64')
  return `\u2014 ${cosigner.name} ${line}\n`
}

/** A note with `lines` (signature lines) added to its own. */
export function withSignatures(note: string, lines: string): string {
  return note.endsWith('\n') ? `${note}${lines}` : `${note}\n${lines}`
}

/**
 * The time of `witness`'s cosignature on `note`, checked. WRONG_KEY when the witness did not
 * cosign it; SIGNATURE_DOES_NOT_MATCH when its cosignature fails (or claims a future time).
 */
export function verifyCosignature(note: string, witness: NoteVerifier, now = Date.now()): number {
  const { text, signatures } = parseNote(note)
  const mine = signatures.filter((s) => s.name === witness.name && s.keyId === witness.keyId)
  const id = `${witness.name}+${hex8(witness.keyId)}`
  if (mine.length === 0)
    throw new StrongroomError('WRONG_KEY', `the checkpoint has no cosignature by witness \`${id}\``)
  let newest = -1
  for (const s of mine) {
    const ok = s.signature.length === 8 + 64
    const time = ok ? s.signature.readBigUInt64BE(0) : 0n
    if (!ok || time > BigInt(Math.floor(now / 1000) + MAX_SKEW_S) || time > 2n ** 63n - 1n)
      throw new StrongroomError(
        'SIGNATURE_DOES_NOT_MATCH',
        `the cosignature by \`${id}\` is not a timestamp and an Ed25519 signature of a time that has come`,
      )
    if (!witness.verify(message(text, Number(time)), s.signature.subarray(8)))
      throw new StrongroomError(
        'SIGNATURE_DOES_NOT_MATCH',
        `the cosignature by \`${id}\` does not verify: the checkpoint was altered, or the cosignature forged`,
      )
    newest = Math.max(newest, Number(time))
  }
  return newest
}
