/**
 * What `strongroom audit verify` does, and the files it reads: the verifier key, the log's
 * directory, older checkpoints and proofs. Everything here is offline and distrusts what it
 * reads: sizes are bounded before reading, and a file that is not what it should be is named
 * with what it should look like (and the line at fault, for proofs).
 */
import { existsSync } from 'node:fs'
import { open, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openCheckpoint, type Checkpoint } from '../../audit/tlog/checkpoint.ts'
import { verifyCosignature } from '../../audit/tlog/cosignature.ts'
import { readLogFile } from '../../audit/tlog/files.ts'
import { consistencyProof, HASH_SIZE } from '../../audit/tlog/merkle.ts'
import {
  decodeBase64,
  ED25519,
  MAX_NOTE_BYTES,
  parseVerifierKey,
  type KeyType,
  type NoteVerifier,
} from '../../audit/tlog/note.ts'
import { parseProof, PROOF_HEADER, verifyProof, type RecordProof } from '../../audit/tlog/proof.ts'
import { MAX_ENTRY_BYTES, TileReader } from '../../audit/tlog/tiles.ts'
import { verifyConsistency, verifyLog } from '../../audit/tlog/verify.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, type CommandContext } from '../command.ts'
import {
  checkpointProblem,
  CONSISTENCY_HEADER,
  MAX_CONSISTENCY_BYTES,
  parseConsistency,
  peekCheckpoint,
  verifyConsistencyProof,
} from './audit-consistency.ts'

const MAX_KEY_BYTES = 4096
const KEY_FORM =
  'one line NAME+KEYID+BASE64 as `strongroom audit public-key` prints it, e.g. `strongroom/audit/0123456789abcdef+1a2b3c4d+AT…`'

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')

/** At most `max` bytes of `path`; `what` names the file in errors. */
export async function readBounded(path: string, what: string, max: number): Promise<Buffer> {
  let fh
  try {
    fh = await open(path, 'r')
    const buf = Buffer.alloc(max + 1)
    let n = 0
    for (let r = -1; r !== 0 && n <= max; n += r) r = (await fh.read(buf, n, max + 1 - n)).bytesRead
    if (n > max)
      throw new StrongroomError('LIMIT_EXCEEDED', `${what} \`${path}\` is over ${max} bytes`)
    return buf.subarray(0, n)
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    const code = (e as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : (e as Error).message
    throw new StrongroomError('IO', `cannot read ${what} \`${path}\`: ${why}`, { cause: e })
  } finally {
    await fh?.close()
  }
}

export async function writeOut(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text)
  } catch (e) {
    throw new StrongroomError('IO', `cannot write \`${path}\`: ${(e as Error).message}`, {
      cause: e,
    })
  }
}

/** A record index as given on the command line. */
export function parseIndex(s: string): number {
  const n = /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : NaN
  if (!Number.isSafeInteger(n))
    throw new StrongroomError(
      'USAGE',
      `--index takes a record number (0, 1, …), not \`${s.slice(0, 40)}\``,
    )
  return n
}

/** The verifier key in `file`, or an error saying what the file should hold. */
export async function readVerifierKey(
  file: string,
  type: KeyType = ED25519,
): Promise<NoteVerifier> {
  const text = (await readBounded(file, 'the public key file', MAX_KEY_BYTES))
    .toString('utf8')
    .trim()
  const bad = (why: string) =>
    new StrongroomError('INVALID_ARGUMENT', `\`${file}\` ${why}: it should hold ${KEY_FORM}`)
  if (text === '') throw bad('is empty')
  if (text.startsWith('-----BEGIN')) throw bad('holds a PEM key, not a C2SP verifier key')
  if (text.includes('\n\n\u2014 ')) throw bad('holds a signed note (a checkpoint?), not a key')
  if (text.includes('\n')) throw bad(`holds ${text.split('\n').length} lines`)
  try {
    return parseVerifierKey(text, type)
  } catch (e) {
    if (e instanceof StrongroomError)
      throw new StrongroomError(
        e.code,
        `\`${file}\` is not a verifier key (${e.message}): it should hold ${KEY_FORM}`,
      )
    throw e
  }
}

/** That `dir` is a log's directory; answers whether it has a checkpoint. */
async function checkLogDir(dir: string): Promise<boolean> {
  const info = await stat(dir).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StrongroomError('IO', `cannot read \`${dir}\`: ${(e as Error).message}`, { cause: e })
  })
  if (info === undefined)
    throw new StrongroomError('IO', `no log at \`${dir}\`: the directory does not exist`)
  if (!info.isDirectory())
    throw new StrongroomError(
      'IO',
      `\`${dir}\` is not a directory: give the log's directory, the one holding \`checkpoint\` and \`tile/\``,
    )
  if (existsSync(join(dir, 'checkpoint'))) return true
  for (const [what, log] of [
    ['a data directory', join(dir, 'audit', 'log')],
    ['an audit directory', join(dir, 'log')],
  ] as const)
    if (existsSync(join(log, 'checkpoint')))
      throw new StrongroomError('USAGE', `\`${dir}\` is ${what}: its audit log is \`${log}\``)
  if (!existsSync(join(dir, 'tile')))
    throw new StrongroomError(
      'IO',
      `no log in \`${dir}\`: it has no \`checkpoint\` and no \`tile/\` (on a server the log is DATA_DIR/audit/log)`,
    )
  return false
}

/** The signed checkpoint of the log in `dir`, as text; an error when there is none. */
export async function readLogCheckpoint(dir: string): Promise<string> {
  const note = (await checkLogDir(dir)) ? await readLogFile(dir, 'checkpoint') : undefined
  if (note === undefined)
    throw new StrongroomError('IO', `the log in \`${dir}\` has tiles but no checkpoint`)
  return note.toString('utf8')
}

/** A key for another log is the caller's mistake (or a replaced log): said before anything else. */
function sameOrigin(key: NoteVerifier, origin: string, where: string): void {
  if (origin !== key.name)
    throw new StrongroomError(
      'WRONG_KEY',
      `the public key is for log \`${key.name}\`, but ${where} is of log \`${origin.slice(0, 80)}\`: give that log's key`,
    )
}

/** The checkpoint a note claims to be, its signature not checked; undefined when it does not parse. */
function claimedCheckpoint(note: string | Uint8Array): Checkpoint | undefined {
  try {
    return peekCheckpoint(note)
  } catch {
    return undefined
  }
}

/** Lines of progress on stderr while a big log is checked, once a second. */
function progressLine(ctx: CommandContext, size: number): () => void {
  if (ctx.json) return () => undefined
  const start = Date.now()
  const tty = process.stderr.isTTY
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - start) / 1000)
    process.stderr.write(
      `${tty ? '\r' : ''}strongroom: checking ${size} records… ${s} s${tty ? '' : '\n'}`,
    )
  }, 1000)
  return () => {
    clearInterval(timer)
    if (tty && Date.now() - start >= 1000) process.stderr.write('\n')
  }
}

function verdict(
  ctx: CommandContext,
  ok: boolean,
  lines: readonly string[],
  data: unknown,
): number {
  if (ctx.json) ctx.print('', data)
  else for (const l of lines) ctx.print(l)
  return ok ? 0 : 1
}

/** An older checkpoint the caller kept, as text: read, and checked to be one of this key's log. */
async function readOlder(file: string, key: NoteVerifier): Promise<string> {
  const note = (await readBounded(file, 'the older checkpoint', MAX_NOTE_BYTES)).toString('utf8')
  let origin: string
  try {
    origin = peekCheckpoint(note).origin
  } catch (e) {
    if (e instanceof StrongroomError)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `\`${file}\` is not a signed checkpoint: ${e.message}`,
      )
    throw e
  }
  sameOrigin(key, origin, `\`${file}\``)
  return note
}

/** Whether the tree verifyLog checked (`newer`) extends the kept checkpoint `note`, with a proof from the tiles. */
async function extendsOlder(
  dir: string,
  key: NoteVerifier,
  note: string,
  newer: Checkpoint,
): Promise<{ ok: true; older: Checkpoint } | { ok: false; problem: string }> {
  let older: Checkpoint
  try {
    older = openCheckpoint(note, key)
  } catch (e) {
    return { ok: false, problem: checkpointProblem(e) }
  }
  if (older.size > newer.size)
    return {
      ok: false,
      problem: `the log was rolled back: its checkpoint covers ${newer.size} records, the older one ${older.size}`,
    }
  const proof = await consistencyProof(new TileReader(dir, newer.size), older.size, newer.size)
  const r = verifyConsistency(older, newer, proof)
  return r.ok ? { ok: true, older } : r
}

/** The whole log in `dir`; with `oldFile`, also that the log extends that older checkpoint. */
export async function verifyWholeLog(
  ctx: CommandContext,
  key: NoteVerifier,
  dir: string,
  oldFile: string | undefined,
  witnesses: readonly NoteVerifier[] = [],
): Promise<number> {
  const note = (await checkLogDir(dir)) ? await readLogFile(dir, 'checkpoint') : undefined
  const claimed = note === undefined ? undefined : claimedCheckpoint(note)
  if (claimed !== undefined) sameOrigin(key, claimed.origin, `the checkpoint in \`${dir}\``)
  const old = oldFile === undefined ? undefined : await readOlder(oldFile, key)
  // The kept checkpoint must carry each witness's cosignature: the log then extends a history
  // that someone outside its operator's reach saw.
  for (const w of witnesses)
    try {
      verifyCosignature(old ?? '', w)
    } catch (e) {
      const problem = `${oldFile ?? ''}: ${(e as Error).message}`
      return verdict(ctx, false, [`FAILED: ${problem}`], { ok: false, problem })
    }
  const stop = progressLine(ctx, claimed?.size ?? 0)
  let r
  try {
    r = await verifyLog(dir, key)
  } finally {
    stop()
  }
  if (!r.ok) {
    const data = r.index === undefined ? { ok: false, problem: r.problem } : { ...r }
    return verdict(ctx, false, [`FAILED: ${r.problem}`], data)
  }
  const root = b64(r.root)
  const line = `OK: ${r.size} records, root ${root}`
  if (old === undefined || oldFile === undefined)
    return verdict(ctx, true, [line], { ok: true, size: r.size, root })
  // The tree verifyLog checked, not the checkpoint file again: a running server may have moved it on.
  const newer: Checkpoint = { origin: key.name, size: r.size, root: r.root, extensions: [] }
  const check = await extendsOlder(dir, key, old, newer)
  if (!check.ok) {
    const problem = `${oldFile}: ${check.problem}`
    const data = { ok: false, size: r.size, root, problem }
    return verdict(ctx, false, [line, `FAILED: ${problem}`], data)
  }
  const was = { file: oldFile, size: check.older.size, root: b64(check.older.root) }
  return verdict(
    ctx,
    true,
    [line, `OK: consistent with ${oldFile}: ${was.size} records, root ${was.root}`],
    { ok: true, size: r.size, root, older: was },
  )
}

/** The line of a tlog-proof that parseProof refused, found by the same rules; or undefined. */
function proofLine(text: string): number | undefined {
  const blank = text.indexOf('\n\n')
  if (blank < 0) return undefined
  const lines = text.slice(0, blank).split('\n')
  if (lines[0] !== PROOF_HEADER) return 1
  let at = 1
  if (lines[1]?.startsWith('extra ') === true) {
    if (decodeBase64(lines[1].slice('extra '.length)) === undefined) return 2
    at = 2
  }
  if (!/^index (0|[1-9][0-9]*)$/.test(lines[at] ?? '')) return at + 1
  const bad = lines.slice(at + 1).findIndex((l) => decodeBase64(l)?.length !== HASH_SIZE)
  if (bad >= 0) return at + 2 + bad
  return lines.length + 2
}

/** One proof file, inclusion or consistency by its first line. */
export async function verifyProofFile(
  ctx: CommandContext,
  key: NoteVerifier,
  file: string,
  dir: string | undefined,
): Promise<number> {
  const text = (await readBounded(file, 'the proof', MAX_CONSISTENCY_BYTES)).toString('utf8')
  const header = text.slice(0, Math.max(0, text.indexOf('\n')))
  if (header === CONSISTENCY_HEADER) {
    for (const o of ['record', 'index'])
      if (ctx.values[o] !== undefined)
        throw new StrongroomError(
          'USAGE',
          `--${o} is for an inclusion proof; \`${file}\` is a consistency proof`,
        )
    if (dir !== undefined)
      throw new StrongroomError(
        'USAGE',
        `\`${file}\` is a consistency proof: it carries both checkpoints, so DIR is not read; leave it out`,
      )
    return verifyConsistencyFile(ctx, key, file, text)
  }
  if (header !== PROOF_HEADER)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `${file}:1: not a proof: one starts with the line ${PROOF_HEADER} (audit prove --index) or ${CONSISTENCY_HEADER} (audit prove --from)`,
    )
  let p: RecordProof
  try {
    p = parseProof(text)
  } catch (e) {
    if (!(e instanceof StrongroomError)) throw e
    const line = proofLine(text)
    throw new StrongroomError(
      e.code,
      `${file}${line === undefined ? '' : `:${line}`}: ${e.message}`,
    )
  }
  const wanted = stringOpt(ctx, 'index')
  const want = wanted === undefined ? undefined : parseIndex(wanted)
  const claimed = claimedCheckpoint(p.checkpoint)
  if (claimed !== undefined) sameOrigin(key, claimed.origin, `the checkpoint in \`${file}\``)
  const fail = (problem: string) =>
    verdict(ctx, false, [`FAILED: ${problem}`], { ok: false, problem })
  if (want !== undefined && want !== p.index)
    return fail(`\`${file}\` is the proof of record ${p.index}, not ${want}`)
  let c: Checkpoint
  try {
    c = openCheckpoint(p.checkpoint, key)
  } catch (e) {
    return fail(checkpointProblem(e))
  }
  const record = await recordFor(ctx, p.index, c.size, dir)
  const r = verifyProof(text, record, key)
  if (!r.ok) return fail(r.problem)
  const root = b64(c.root)
  return verdict(
    ctx,
    true,
    [`OK: record ${p.index} is in the log: checkpoint of ${c.size} records, root ${root}`],
    { ok: true, index: p.index, size: c.size, root },
  )
}

/** The record an inclusion proof is about: --record FILE, else read from the log in DIR. */
async function recordFor(
  ctx: CommandContext,
  index: number,
  size: number,
  dir: string | undefined,
): Promise<Uint8Array> {
  const file = stringOpt(ctx, 'record')
  if (file !== undefined) return readBounded(file, 'the record', MAX_ENTRY_BYTES)
  if (dir === undefined)
    throw new StrongroomError(
      'USAGE',
      `an inclusion proof is checked against the record: give --record FILE (its bytes), or the log DIR to read record ${index} from`,
    )
  await checkLogDir(dir)
  // Out of the tree: no record to read, and verifyProof says why the proof fails.
  if (index >= size) return new Uint8Array(0)
  try {
    return await new TileReader(dir, size).readEntry(index)
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `cannot read record ${index} from the log in \`${dir}\`: ${(e as Error).message}`,
      { cause: e },
    )
  }
}

function verifyConsistencyFile(
  ctx: CommandContext,
  key: NoteVerifier,
  file: string,
  text: string,
): number {
  const p = parseConsistency(text, file)
  sameOrigin(key, peekCheckpoint(p.older).origin, `the older checkpoint in \`${file}\``)
  const r = verifyConsistencyProof(p, key)
  if (!r.ok) return verdict(ctx, false, [`FAILED: ${r.problem}`], { ok: false, problem: r.problem })
  const [older, newer] = [r.older, r.newer].map((c) => ({ size: c.size, root: b64(c.root) }))
  return verdict(
    ctx,
    true,
    [
      `OK: the checkpoint of ${older?.size} records (root ${older?.root}) is consistent with the checkpoint of ${newer?.size} records (root ${newer?.root})`,
    ],
    { ok: true, older, newer },
  )
}
