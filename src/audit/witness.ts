/**
 * A witness of audit logs (c2sp.org/tlog-witness): it keeps, for each log it is told to
 * trust, the newest checkpoint it cosigned, and cosigns a newer one only with an RFC 6962
 * consistency proof from that one. Run on a machine the log's operator does not control, it
 * makes a fork of the log visible: a checkpoint that does not extend what the witness saw gets
 * no cosignature (and is kept as evidence), so a verifier that asks for the witness's
 * cosignature (`audit verify --witness-key`) refuses it.
 *
 * The answers are those of the tlog-witness `add-checkpoint` call: 200 with the cosignature
 * line, 400 for a malformed request, 403 when no trusted key signed the checkpoint, 404 for
 * an unknown log, 409 (with the size the witness holds, `text/x.tlog.size`) when the request
 * does not start from it, 422 when the proof fails. Checking and recording a checkpoint is
 * one step per witness, so two requests cannot roll its state back; the state is on disk
 * (fsynced) before a cosignature leaves.
 */
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import { parseCheckpoint } from './tlog/checkpoint.ts'
import { cosign } from './tlog/cosignature.ts'
import { DurableBatch } from './tlog/files.ts'
import { HASH_SIZE, verifyConsistency } from './tlog/merkle.ts'
import {
  decodeBase64,
  MAX_NOTE_BYTES,
  verifyNote,
  type NoteSigner,
  type NoteVerifier,
} from './tlog/note.ts'

/** The old line, 63 hashes and a checkpoint note, with room to spare. */
export const MAX_ADD_CHECKPOINT_BYTES = MAX_NOTE_BYTES + 64 + 63 * 45
const MAX_HASHES = 63
/** Evidence files kept at most (the oldest go first). */
const MAX_EVIDENCE = 100

export interface AddCheckpoint {
  readonly old: number
  readonly hashes: readonly Buffer[]
  /** The checkpoint note, verbatim. */
  readonly checkpoint: string
}

type Fail = (offset: number, message: string) => Error

const lineAt = (text: string, offset: number) => text.slice(0, offset).split('\n').length

/**
 * The body of an `add-checkpoint` request: `old SIZE`, up to 63 base64 hashes, a blank line,
 * the checkpoint. Checks form only. `fail` words errors (by offset); by default "line N: …".
 */
export function parseAddCheckpoint(
  text: string,
  fail: Fail = (o, m) => new StrongroomError('INVALID_ARGUMENT', `line ${lineAt(text, o)}: ${m}`),
): AddCheckpoint {
  const blank = text.indexOf('\n\n')
  if (blank < 0) throw fail(0, 'the proof has no blank line before the checkpoint')
  const lines = text.slice(0, blank).split('\n')
  const old = /^old (0|[1-9][0-9]{0,15})$/.exec(lines[0] ?? '')?.[1]
  if (old === undefined) throw fail(0, 'expected `old` and the older tree size in decimal')
  if (lines.length - 1 > MAX_HASHES) throw fail(0, `the proof has over ${MAX_HASHES} hashes`)
  let offset = 0
  const hashes = lines.slice(1).map((l) => {
    offset = text.indexOf('\n', offset) + 1
    const h = decodeBase64(l)
    if (h?.length !== HASH_SIZE)
      throw fail(offset, `not a proof hash (base64 of ${HASH_SIZE} bytes): \`${l.slice(0, 60)}\``)
    return h
  })
  return { old: Number(old), hashes, checkpoint: text.slice(blank + 2) }
}

export interface WitnessAnswer {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422
  readonly contentType: string
  readonly body: string
}

interface Seen {
  readonly origin: string
  readonly size: number
  readonly root: string
}

const answer = (status: WitnessAnswer['status'], body: string): WitnessAnswer => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: body.endsWith('\n') ? body : `${body}\n`,
})

export class Witness {
  private readonly dir: string
  private readonly cosigner: NoteSigner
  private readonly logs: ReadonlyMap<string, NoteVerifier>
  private readonly seen = new Map<string, Seen>()
  private readonly onEvidence: (problem: string) => void
  private turn: Promise<unknown> = Promise.resolve()

  private constructor(
    dir: string,
    cosigner: NoteSigner,
    logs: readonly NoteVerifier[],
    onEvidence: (problem: string) => void,
  ) {
    this.dir = dir
    this.cosigner = cosigner
    this.logs = new Map(logs.map((l) => [l.name, l]))
    this.onEvidence = onEvidence
  }

  /**
   * A witness keeping its state in `dir` (made if missing), cosigning with `cosigner` the
   * checkpoints of `logs` (each log's origin is its key's name). `onEvidence` hears of every
   * checkpoint refused as inconsistent.
   */
  static async open(
    dir: string,
    cosigner: NoteSigner,
    logs: readonly NoteVerifier[],
    onEvidence: (problem: string) => void = (p) => process.stderr.write(`witness: ${p}\n`),
  ): Promise<Witness> {
    await mkdir(join(dir, 'logs'), { recursive: true, mode: 0o700 })
    const w = new Witness(dir, cosigner, logs, onEvidence)
    for (const name of await readdir(join(dir, 'logs'))) {
      if (!name.endsWith('.json')) continue
      const file = join(dir, 'logs', name)
      let s: Seen
      try {
        s = JSON.parse(await readFile(file, 'utf8')) as Seen
        if (typeof s.origin !== 'string' || !Number.isSafeInteger(s.size) || s.size < 0)
          throw new Error('not an origin, a size and a root')
        if (decodeBase64(s.root)?.length !== HASH_SIZE) throw new Error('its root is not a hash')
      } catch (e) {
        // The witness's own memory is damaged: cosigning from scratch would let a fork through.
        throw new StrongroomError(
          'CONFIG_INVALID',
          `${file} is not a checkpoint this witness kept (${(e as Error).message}): restore it from a backup, or remove it to start witnessing that log afresh`,
          { cause: e },
        )
      }
      w.seen.set(s.origin, s)
    }
    return w
  }

  /** The size this witness last cosigned for `origin` (0 when none). */
  sizeOf(origin: string): number {
    return this.seen.get(origin)?.size ?? 0
  }

  /** Answers one `add-checkpoint` request body; one at a time per witness. */
  addCheckpoint(body: Uint8Array, now = Date.now()): Promise<WitnessAnswer> {
    const run = this.turn.then(() => this.add(body, now))
    this.turn = run.catch(() => undefined)
    return run
  }

  private async add(body: Uint8Array, now: number): Promise<WitnessAnswer> {
    if (body.length > MAX_ADD_CHECKPOINT_BYTES)
      return answer(400, `the request is over ${MAX_ADD_CHECKPOINT_BYTES} bytes`)
    let req: AddCheckpoint
    let text: string
    let origin: string
    let size: number
    let root: Buffer
    try {
      req = parseAddCheckpoint(new TextDecoder('utf-8', { fatal: true }).decode(body))
      const split = req.checkpoint.indexOf('\n\n')
      const c = parseCheckpoint(split < 0 ? req.checkpoint : req.checkpoint.slice(0, split + 1))
      ;({ origin, size } = c)
      root = Buffer.from(c.root)
    } catch (e) {
      return answer(400, (e as Error).message)
    }
    const key = this.logs.get(origin)
    if (key === undefined)
      return answer(404, `this witness does not witness the log \`${origin.slice(0, 100)}\``)
    try {
      text = verifyNote(req.checkpoint, key).text
    } catch (e) {
      return answer(403, (e as Error).message)
    }
    if (req.old > size) return answer(400, `old ${req.old} is past the checkpoint's size, ${size}`)
    const seen = this.seen.get(origin)
    const have = seen?.size ?? 0
    if (req.old !== have) return { status: 409, contentType: 'text/x.tlog.size', body: `${have}\n` }
    if (seen !== undefined && size === seen.size) {
      if (root.toString('base64') !== seen.root) {
        await this.evidence(origin, body, `two checkpoints of ${size} records with different roots`)
        return answer(409, `this witness cosigned another root at size ${size}: the log forked`)
      }
    } else {
      const check =
        req.old === 0
          ? req.hashes.length === 0
            ? { ok: true as const }
            : { ok: false as const, problem: 'a proof from size 0 is empty' }
          : verifyConsistency(
              req.old,
              Buffer.from(seen?.root ?? '', 'base64'),
              size,
              root,
              req.hashes,
            )
      if (!check.ok) {
        await this.evidence(
          origin,
          body,
          `the checkpoint of ${size} records does not extend the one of ${req.old} this witness cosigned: ${check.problem}`,
        )
        return answer(
          422,
          `the consistency proof from ${req.old} to ${size} does not verify: ${check.problem}`,
        )
      }
      const next = { origin, size, root: root.toString('base64') }
      const file = new DurableBatch(this.dir)
      file.add(join('logs', `${digest(origin)}.json`), Buffer.from(JSON.stringify(next)))
      await file.sync()
      this.seen.set(origin, next)
    }
    return answer(200, cosign(text, this.cosigner, Math.floor(now / 1000)))
  }

  /** Keeps a refused request (a log's own signature on an inconsistent view) as evidence. */
  private async evidence(origin: string, body: Uint8Array, problem: string): Promise<void> {
    const dir = join(this.dir, 'evidence')
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const kept = (await readdir(dir)).sort()
    const file = new DurableBatch(dir)
    for (const old of kept.slice(0, Math.max(0, kept.length - MAX_EVIDENCE + 1)))
      await file.remove(old)
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${digest(origin).slice(0, 12)}.txt`
    file.add(name, body)
    await file.sync()
    this.onEvidence(`log \`${origin}\`: ${problem} (request kept in ${join(dir, name)})`)
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex')
