/**
 * C2SP tlog-proof (https://c2sp.org/tlog-proof): one record's proof of inclusion as a
 * self-contained text an auditor can check offline with nothing but the log's public key.
 * The first line is `c2sp.org/tlog-proof@v1`; then optionally `extra <base64>` (opaque, not
 * authenticated), `index <n>`, the RFC 6962 audit path one base64 hash per line from the
 * leaf's sibling up, a blank line, and the signed checkpoint verbatim. transparency-dev's
 * merkle module (proof/tlog_proof.go) writes the same bytes.
 */
import { StrongroomError } from '../../errors.ts'
import { openCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.ts'
import { readLogFile } from './files.ts'
import { HASH_SIZE, inclusionProof, leafHash, verifyInclusion } from './merkle.ts'
import {
  decodeBase64,
  MAX_NOTE_BYTES,
  parseNote,
  parseVerifierKey,
  type NoteVerifier,
} from './note.ts'
import { TileReader } from './tiles.ts'

export const PROOF_HEADER = 'c2sp.org/tlog-proof@v1'
/** Extra data, index and 63 hashes around the largest note we read. */
const MAX_PROOF_BYTES = MAX_NOTE_BYTES + (64 << 10) + 64 * 46
const MAX_HASHES = 63

export interface RecordProof {
  readonly index: number
  /** The audit path, from the leaf's sibling up to a child of the root. */
  readonly hashes: readonly Uint8Array[]
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string
  /** Opaque data the proof carries unauthenticated. */
  readonly extra?: Uint8Array
}

const invalid = (message: string) => new StrongroomError('INVALID_ARGUMENT', message)

export function formatProof(p: RecordProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw invalid(`bad record index ${p.index}`)
  if (p.hashes.some((h) => h.length !== HASH_SIZE))
    throw invalid(`a proof hash is ${HASH_SIZE} bytes`)
  if (!p.checkpoint.endsWith('\n')) throw invalid('a signed checkpoint ends with a newline')
  const lines = [PROOF_HEADER]
  if (p.extra !== undefined) lines.push(`extra ${Buffer.from(p.extra).toString('base64')}`)
  lines.push(`index ${p.index}`)
  for (const h of p.hashes) lines.push(Buffer.from(h).toString('base64'))
  return `${lines.join('\n')}\n\n${p.checkpoint}`
}

export function parseProof(text: string): RecordProof {
  if (Buffer.byteLength(text, 'utf8') > MAX_PROOF_BYTES)
    throw new StrongroomError('LIMIT_EXCEEDED', `a proof is at most ${MAX_PROOF_BYTES} bytes`)
  const blank = text.indexOf('\n\n')
  if (blank < 0) throw invalid('the proof has no blank line before its checkpoint')
  const lines = text.slice(0, blank).split('\n')
  const checkpoint = text.slice(blank + 2)
  if (lines[0] !== PROOF_HEADER)
    throw lines[0]?.startsWith('c2sp.org/tlog-proof@') === true
      ? new StrongroomError('UNSUPPORTED_FORMAT', `\`${lines[0].slice(0, 60)}\` is not supported`)
      : invalid(`a proof starts with the line ${PROOF_HEADER}`)
  let at = 1
  let extra: Buffer | undefined
  if (lines[at]?.startsWith('extra ') === true) {
    extra = decodeBase64((lines[at] ?? '').slice('extra '.length))
    if (extra === undefined) throw invalid('the extra data is not canonical base64')
    at++
  }
  const index = /^index (0|[1-9][0-9]*)$/.exec(lines[at] ?? '')?.[1]
  if (index === undefined || !Number.isSafeInteger(Number(index)))
    throw invalid(`line ${at + 1} of the proof is not \`index\` and a decimal record index`)
  const hashes = lines.slice(at + 1).map((l, i) => {
    const h = decodeBase64(l)
    if (h?.length !== HASH_SIZE)
      throw invalid(`proof hash ${i} is not base64 of ${HASH_SIZE} bytes: \`${l.slice(0, 60)}\``)
    return h
  })
  if (hashes.length > MAX_HASHES) throw invalid(`the proof has over ${MAX_HASHES} hashes`)
  if (checkpoint === '') throw invalid('the proof has no checkpoint')
  const proof = { index: Number(index), hashes, checkpoint }
  return extra === undefined ? proof : { ...proof, extra }
}

export type RecordCheck =
  | { readonly ok: true; readonly index: number; readonly checkpoint: Checkpoint }
  | { readonly ok: false; readonly problem: string }

/**
 * Whether proof `text` shows `record` in the log whose key is `key` (origin: its name). A
 * malformed key throws; everything wrong with the proof is an answer.
 */
export function verifyProof(
  text: string,
  record: Uint8Array,
  key: string | NoteVerifier,
  origin?: string,
): RecordCheck {
  const v = typeof key === 'string' ? parseVerifierKey(key) : key
  let p: RecordProof
  let c: Checkpoint
  try {
    p = parseProof(text)
    c = openCheckpoint(p.checkpoint, v, origin)
  } catch (e) {
    if (e instanceof StrongroomError) return { ok: false, problem: e.message }
    throw e
  }
  const r = verifyInclusion(leafHash(record), p.index, c.size, p.hashes, c.root)
  return r.ok
    ? { ok: true, index: p.index, checkpoint: c }
    : { ok: false, problem: `record ${p.index} is not in the checkpointed log: ${r.problem}` }
}

/** The tlog-proof of record `index` against the log's current checkpoint in `dir`. */
export async function proveRecord(dir: string, index: number, extra?: Uint8Array): Promise<string> {
  const note = await readLogFile(dir, 'checkpoint')
  if (note === undefined) throw new StrongroomError('IO', `the log in \`${dir}\` has no checkpoint`)
  const checkpoint = note.toString('utf8')
  const { size } = parseCheckpoint(parseNote(checkpoint).text)
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw invalid(`record ${index} is not in the checkpointed log of ${size}`)
  const hashes = await inclusionProof(new TileReader(dir, size), index, size)
  return formatProof(
    extra === undefined ? { index, hashes, checkpoint } : { index, hashes, checkpoint, extra },
  )
}
