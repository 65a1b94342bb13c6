/**
 * C2SP checkpoints (https://c2sp.org/tlog-checkpoint): the signed statement "this log, at this
 * many records, has this RFC 6962 root". The note text is the origin line, the tree size in
 * decimal without leading zeroes, the root in base64, then optional non-empty extension lines.
 * Parsing refuses anything a stricter verifier would, so that what Strongroom accepts, every
 * verifier accepts, and two parsers can never read different sizes out of one signed text.
 */
import { StrongroomError } from '../../errors.ts'
import { HASH_SIZE } from './merkle.ts'
import { decodeBase64, parseVerifierKey, verifyNote, type NoteVerifier } from './note.ts'

export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly root: Uint8Array
  /** Opaque lines after the root; the spec does not recommend them. */
  readonly extensions: readonly string[]
}

const invalid = (message: string) => new StrongroomError('INVALID_ARGUMENT', message)

/** The note text of a checkpoint, final newline included. */
export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin === '' || c.origin.includes('\n'))
    throw invalid('a checkpoint origin is one non-empty line')
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    throw invalid(`a tree size is a whole number from 0 to 2^53, not ${c.size}`)
  if (c.root.length !== HASH_SIZE) throw invalid(`a root hash is ${HASH_SIZE} bytes`)
  for (const e of c.extensions)
    if (e === '' || e.includes('\n')) throw invalid('an extension line is one non-empty line')
  const root = Buffer.from(c.root).toString('base64')
  return [c.origin, String(c.size), root, ...c.extensions].map((l) => `${l}\n`).join('')
}

/** A checkpoint's note text (already verified) into its parts. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw invalid('a checkpoint ends with a newline')
  const lines = text.slice(0, -1).split('\n')
  const [origin, size, root, ...extensions] = lines
  if (origin === undefined || size === undefined || root === undefined)
    throw invalid('a checkpoint has at least three lines: origin, tree size, root hash')
  if (origin === '') throw invalid('the checkpoint origin is empty')
  if (!/^(0|[1-9][0-9]*)$/.test(size))
    throw invalid(`the tree size \`${size.slice(0, 40)}\` is not a decimal without leading zeroes`)
  const n = Number(size)
  if (!Number.isSafeInteger(n)) throw invalid(`the tree size ${size} is over 2^53`)
  const hash = decodeBase64(root)
  if (hash?.length !== HASH_SIZE)
    throw invalid(`the root hash \`${root.slice(0, 60)}\` is not base64 of ${HASH_SIZE} bytes`)
  if (extensions.includes('')) throw invalid('the checkpoint has an empty extension line')
  return { origin, size: n, root: hash, extensions }
}

/**
 * A signed checkpoint note opened with the log's key: the signature (signed-note) and then the
 * body (tlog-checkpoint). The origin must be `origin` when given, else the key's name, which
 * the spec says it should match: a key that signs for two logs cannot pass one off as the other.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  key: string | NoteVerifier,
  origin?: string,
): Checkpoint {
  const v = typeof key === 'string' ? parseVerifierKey(key) : key
  const c = parseCheckpoint(verifyNote(note, v).text)
  const want = origin ?? v.name
  if (c.origin !== want)
    throw invalid(`the checkpoint is for log \`${c.origin.slice(0, 80)}\`, not \`${want}\``)
  return c
}
