/**
 * A consistency proof as a file an auditor can check offline: the proof that an older
 * checkpoint of the audit log is a prefix of a newer one. C2SP has a text format for a record's
 * inclusion (tlog-proof) but none for consistency, so this one is ours, made of C2SP parts:
 *
 *   strongroom/tlog-consistency@v1\n      the header line
 *   <older checkpoint>                    a signed note verbatim: origin, size, root, blank
 *                                         line, signature lines (c2sp.org/tlog-checkpoint)
 *   \n                                    a blank line
 *   old <older size>\n                    ┐ from here to the end, byte for byte the body of a
 *   <base64 hash>\n     (0 to 63 lines)   │ C2SP tlog-witness add-checkpoint request: the
 *   \n                                    │ RFC 6962 §2.1.2 proof from the older size to the
 *   <newer checkpoint>                    ┘ newer one, then the newer signed note verbatim
 *
 * Nothing in it is trusted: both checkpoints are opened with the log's key and the proof is
 * checked against their roots. Two checkpoints the key signed that fail the check are
 * evidence that the log showed two histories.
 */
import { StrongroomError } from '../../errors.ts'
import { openCheckpoint, parseCheckpoint, type Checkpoint } from '../../audit/tlog/checkpoint.ts'
import {
  consistencyProof,
  HASH_SIZE,
  verifyConsistency as consistentRoots,
  type ProofCheck,
} from '../../audit/tlog/merkle.ts'
import { MAX_NOTE_BYTES, parseNote, type NoteVerifier } from '../../audit/tlog/note.ts'
import { TileReader } from '../../audit/tlog/tiles.ts'
import { parseAddCheckpoint } from '../../audit/witness.ts'
import { verifyConsistency } from '../../audit/tlog/verify.ts'

export const CONSISTENCY_HEADER = 'strongroom/tlog-consistency@v1'
/** Two notes, the old line and 63 hashes of 44 characters and a newline. */
export const MAX_CONSISTENCY_BYTES = 2 * MAX_NOTE_BYTES + 64 + 63 * 45

export interface ConsistencyProof {
  /** The older signed checkpoint, verbatim. */
  readonly older: string
  /** The newer signed checkpoint, verbatim. */
  readonly newer: string
  readonly hashes: readonly Uint8Array[]
}

const invalid = (message: string) => new StrongroomError('INVALID_ARGUMENT', message)

/** The checkpoint in a note, its signatures not checked: to see what a file claims. */
export function peekCheckpoint(note: string | Uint8Array): Checkpoint {
  return parseCheckpoint(parseNote(note).text)
}

export function formatConsistency(p: ConsistencyProof): string {
  if (p.hashes.some((h) => h.length !== HASH_SIZE))
    throw invalid(`a proof hash is ${HASH_SIZE} bytes`)
  const old = peekCheckpoint(p.older).size
  const hashes = p.hashes.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')
  return `${CONSISTENCY_HEADER}\n${p.older}\nold ${old}\n${hashes}\n${p.newer}`
}

/** Line `n` (1-based) of the text is where `offset` falls. */
const lineAt = (text: string, offset: number) => text.slice(0, offset).split('\n').length

/**
 * Reads the format above; `name` (the file) starts every error, with the line at fault:
 * `proof.tlog-consistency:7: …`. Checks form only: signatures and hashes are for `verify`.
 */
export function parseConsistency(text: string, name: string): ConsistencyProof {
  const at = (offset: number, message: string) =>
    invalid(`${name}:${lineAt(text, offset)}: ${message}`)
  if (Buffer.byteLength(text, 'utf8') > MAX_CONSISTENCY_BYTES)
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `${name}: a consistency proof is at most ${MAX_CONSISTENCY_BYTES} bytes`,
    )
  const first = text.indexOf('\n')
  if (first < 0 || text.slice(0, first) !== CONSISTENCY_HEADER)
    throw at(0, `a consistency proof starts with the line ${CONSISTENCY_HEADER}`)
  // The older note: its text, a blank line, signature lines (never empty), a blank line.
  const start = first + 1
  const textEnd = text.indexOf('\n\n', start)
  const noteEnd = textEnd < 0 ? -1 : text.indexOf('\n\n', textEnd + 2)
  if (noteEnd < 0)
    throw at(start, 'the older checkpoint is not followed by a blank line and the `old` line')
  const older = text.slice(start, noteEnd + 1)
  let oldSize: number
  try {
    oldSize = peekCheckpoint(older).size
  } catch (e) {
    if (e instanceof StrongroomError) throw at(start, `the older checkpoint: ${e.message}`)
    throw e
  }
  const body = noteEnd + 2
  const tail = parseAddCheckpoint(text.slice(body), (o, m) => at(body + o, m))
  if (tail.old !== oldSize)
    throw at(body, `\`old ${tail.old}\` is not the size of the older checkpoint, ${oldSize}`)
  const newer = tail.checkpoint
  const hashes = tail.hashes
  const blank = text.length - newer.length - 2
  try {
    peekCheckpoint(newer)
  } catch (e) {
    if (e instanceof StrongroomError) throw at(blank + 2, `the newer checkpoint: ${e.message}`)
    throw e
  }
  return { older, newer, hashes }
}

/**
 * The consistency proof from `older` (a checkpoint note the caller kept) to the current
 * checkpoint of the log in `dir`, from its tiles; and whether it holds, roots only (no key
 * here: a proof that fails is still written, as evidence).
 */
export async function proveConsistency(
  dir: string,
  older: string,
  newer: string,
): Promise<{ text: string; from: Checkpoint; to: Checkpoint; check: ProofCheck }> {
  const from = peekCheckpoint(older)
  const to = peekCheckpoint(newer)
  if (from.origin !== to.origin)
    throw invalid(
      `the older checkpoint is of log \`${from.origin.slice(0, 80)}\`, the log in \`${dir}\` is \`${to.origin.slice(0, 80)}\``,
    )
  if (from.size > to.size)
    throw invalid(
      `the older checkpoint covers ${from.size} records, the log in \`${dir}\` ${to.size}: the log was rolled back, so no proof exists`,
    )
  const hashes = await consistencyProof(new TileReader(dir, to.size), from.size, to.size)
  const check = consistentRoots(from.size, from.root, to.size, to.root, hashes)
  return { text: formatConsistency({ older, newer, hashes }), from, to, check }
}

/** Why a checkpoint did not open with the log's key, in the words verifyLog uses. */
export function checkpointProblem(e: unknown): string {
  if (e instanceof StrongroomError) {
    if (e.code === 'WRONG_KEY')
      return `replaced checkpoint: not signed by the log's key (${e.message})`
    if (e.code === 'SIGNATURE_DOES_NOT_MATCH') return `forged checkpoint: ${e.message}`
    return `the checkpoint is malformed: ${e.message}`
  }
  throw e
}

export type ConsistencyCheck =
  | { readonly ok: true; readonly older: Checkpoint; readonly newer: Checkpoint }
  | { readonly ok: false; readonly problem: string }

/** Whether a parsed proof shows, under the log's key, that its older checkpoint is a prefix of its newer. */
export function verifyConsistencyProof(p: ConsistencyProof, key: NoteVerifier): ConsistencyCheck {
  const open = (note: string, which: string): Checkpoint | string => {
    try {
      return openCheckpoint(note, key)
    } catch (e) {
      return `the ${which} checkpoint: ${checkpointProblem(e)}`
    }
  }
  const older = open(p.older, 'older')
  if (typeof older === 'string') return { ok: false, problem: older }
  const newer = open(p.newer, 'newer')
  if (typeof newer === 'string') return { ok: false, problem: newer }
  const r = verifyConsistency(older, newer, p.hashes)
  return r.ok ? { ok: true, older, newer } : r
}
