/**
 * The log's side of c2sp.org/tlog-witness: a gateway sends each newer checkpoint it sees to
 * the witnesses it is configured with (`auditWitnesses`), with the RFC 6962 consistency proof
 * from the size each witness holds, and keeps the cosigned checkpoint it gets back in
 * DIR/witnessed/. A witness that refuses a checkpoint as inconsistent (422, or another root at
 * the same size) has seen a different history of this log: the database, or whoever runs it,
 * showed two histories, and the log refuses work (LOG_TAMPERED). A witness that cannot be
 * reached is reported and tried again with the next checkpoint; it never holds up a request.
 */
import { StrongroomError } from '../errors.ts'
import type { AuditStore } from '../meta/audit.ts'
import { verifyCosignature, withSignatures, parseWitnessKey } from './tlog/cosignature.ts'
import { DurableBatch } from './tlog/files.ts'
import { Frontier } from './tlog/frontier.ts'
import { TileReader } from './tlog/tiles.ts'
import { consistencyProof, leafHash, nodeHash, type NodeId } from './tlog/merkle.ts'
import type { NoteVerifier } from './tlog/note.ts'

/** A witness as configured: where it answers, and its cosigner key (`name+id+base64(0x04‖key)`). */
export interface WitnessTarget {
  readonly url: string
  readonly key: string
}

/** A checkpoint to send a witness that holds an older one, with the proof from that one. */
export interface Step {
  readonly note: string
  readonly size: number
  readonly hashes: readonly Uint8Array[]
}

/** What a witness client asks of its log. */
export interface ProofSource {
  /**
   * The step from a tree of `from` records towards the checkpoint `to`: `to` itself with its
   * consistency proof, or a checkpoint between (a witness far behind is brought up in steps);
   * undefined when the log holds no checkpoint of `from` records.
   */
  step(
    from: number,
    to: { readonly note: string; readonly size: number },
  ): Promise<Step | undefined>
  /** Whether the log holds a checkpoint of `size` records (a witness says it cosigned one). */
  holds(size: number): Promise<boolean>
}

const TIMEOUT_MS = 5000
const MAX_ANSWER_BYTES = 64 << 10

export class WitnessClient {
  readonly name: string
  private readonly url: string
  private readonly key: NoteVerifier
  private readonly dir: string
  /** The size the witness holds, as far as this gateway knows (0 before it asks). */
  private size = 0
  /** The newest checkpoint offered while a request was out: sent when it is answered. */
  private queued: { note: string; size: number } | undefined
  private running: Promise<void> | undefined

  constructor(target: WitnessTarget, dir: string) {
    this.key = parseWitnessKey(target.key)
    this.name = this.key.name
    this.url = `${target.url.replace(/\/+$/, '')}/add-checkpoint`
    this.dir = dir
  }

  /**
   * Asks the witness to cosign `note`, the log's checkpoint of `size` records, unless it holds
   * that or a newer one already; one request at a time, the newest offered meanwhile next.
   * Resolves when the witness has answered it. LOG_TAMPERED when it refuses the checkpoint as
   * another history than the one it cosigned; IO when it cannot be asked.
   */
  offer(note: string, size: number, proof: ProofSource): Promise<void> {
    if (size > this.size && size > (this.queued?.size ?? -1)) this.queued = { note, size }
    this.running ??= this.drain(proof).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async drain(proof: ProofSource): Promise<void> {
    try {
      for (let next = this.queued; next !== undefined; next = this.queued) {
        this.queued = undefined
        if (next.size > this.size) await this.submit(next.note, next.size, proof)
      }
    } catch (e) {
      // The next seal offers its checkpoint again.
      this.queued = undefined
      throw e
    }
  }

  private async submit(note: string, size: number, proof: ProofSource): Promise<void> {
    {
      for (let conflicts = 0; conflicts < 3;) {
        if (size < this.size) {
          // The witness holds a newer checkpoint: fine if this log holds it too (another
          // gateway sealed and sent it first), else the witness saw a history this log lacks.
          if (await proof.holds(this.size)) return
          throw tampered(
            this.name,
            `it cosigned a checkpoint of ${this.size} records, and this log holds none of that size`,
          )
        }
        const from = this.size
        const step =
          from === 0 || from === size
            ? { note, size, hashes: [] }
            : await proof.step(from, { note, size })
        if (step === undefined)
          throw tampered(
            this.name,
            `it cosigned a checkpoint of ${from} records, and this log holds none of that size`,
          )
        const lines = step.hashes.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')
        const { status, type, text } = await this.post(`old ${from}\n${lines}\n${step.note}`)
        if (status === 200) {
          // Only this witness's lines are kept: others would spoil the kept checkpoint.
          const own = text
            .split('\n')
            .filter((l) => l.startsWith(`\u2014 ${this.name} `))
            .map((l) => `${l}\n`)
            .join('')
          const cosigned = withSignatures(step.note, own)
          try {
            verifyCosignature(cosigned, this.key)
          } catch (e) {
            throw new StrongroomError(
              'IO',
              `witness \`${this.name}\` answered without a valid cosignature: ${(e as Error).message}`,
              { cause: e },
            )
          }
          this.size = step.size
          const file = new DurableBatch(this.dir)
          file.add(
            `${this.name.replace(/[^A-Za-z0-9._-]/g, '_')}.checkpoint`,
            Buffer.from(cosigned),
          )
          await file.sync()
          if (step.size >= size) return
          continue
        }
        const held = /^(0|[1-9][0-9]{0,15})\n$/.exec(text)?.[1]
        if (status === 409 && type.startsWith('text/x.tlog.size') && held !== undefined) {
          this.size = Number(held)
          conflicts++
          continue
        }
        if (status === 409 || status === 422) throw tampered(this.name, text.trim().slice(0, 300))
        throw new StrongroomError(
          'IO',
          `witness \`${this.name}\` answered ${status}: ${text.trim().slice(0, 300)}`,
        )
      }
      throw new StrongroomError('IO', `witness \`${this.name}\` keeps changing the size it holds`)
    }
  }

  private async post(body: string): Promise<{ status: number; type: string; text: string }> {
    let res: Response
    try {
      res = await fetch(this.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'error',
      })
    } catch (e) {
      throw new StrongroomError(
        'IO',
        `cannot reach witness \`${this.name}\` at ${this.url}: ${(e as Error).message}`,
        { cause: e },
      )
    }
    const bytes: Buffer[] = []
    let total = 0
    for await (const chunk of res.body ?? []) {
      total += (chunk as Uint8Array).length
      if (total > MAX_ANSWER_BYTES) {
        await res.body?.cancel()
        throw new StrongroomError(
          'IO',
          `witness \`${this.name}\` answered over ${MAX_ANSWER_BYTES} bytes`,
        )
      }
      bytes.push(Buffer.from(chunk as Uint8Array))
    }
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text: Buffer.concat(bytes).toString('utf8'),
    }
  }
}

/**
 * A log's witnesses: each newer checkpoint is offered to every one of them, in the background
 * (one request out per witness at a time); a refusal as another history goes to `onTampered`,
 * anything else (a witness down, misconfigured) to `onProblem`.
 */
export class Witnesses {
  private readonly clients: WitnessClient[]
  private readonly proofs: ProofSource
  private readonly onTampered: (problem: string) => void
  private readonly onProblem: (problem: string) => void
  private pending: Promise<unknown> = Promise.resolve()

  constructor(
    targets: readonly WitnessTarget[],
    dir: string,
    proofs: ProofSource,
    onTampered: (problem: string) => void,
    onProblem: (problem: string) => void,
  ) {
    this.clients = targets.map((t) => new WitnessClient(t, dir))
    this.proofs = proofs
    this.onTampered = onTampered
    this.onProblem = onProblem
  }

  /** Offers the checkpoint `note` of `size` records to every witness. */
  offer(note: string, size: number): void {
    if (this.clients.length === 0) return
    const all = this.clients.map((c) =>
      c.offer(note, size, this.proofs).catch((e: unknown) => {
        if (e instanceof StrongroomError && e.code === 'LOG_TAMPERED') this.onTampered(e.message)
        else this.onProblem((e as Error).message)
      }),
    )
    this.pending = Promise.all([this.pending, ...all]).then(() => undefined)
  }

  /** Waits for the requests offered so far to be answered. */
  async settled(): Promise<void> {
    await this.pending
  }
}

const tampered = (name: string, why: string) =>
  new StrongroomError(
    'LOG_TAMPERED',
    `witness \`${name}\` refuses this log's checkpoint as another history than the one it cosigned (${why}): the log was forked or rolled back`,
  )

/**
 * Consistency proofs of the shared log from its database: the older tree's nodes are its
 * checkpoint's stored edge (a consistency proof needs no other node of the older tree), the
 * newer ones are hashed from the records after it.
 */
export function sharedProofs(store: AuditStore, most = 262_144): ProofSource {
  const step = async (from: number, target: { note: string; size: number }) => {
    const old = await store.auditCheckpointAtMost(from)
    if (old?.size !== from) return undefined
    const edge = Frontier.decode(from, old.frontier)
    // A witness far behind is brought up a checkpoint at a time: the records read are bounded.
    const between =
      target.size - from > most ? await store.auditCheckpointAtMost(from + most) : undefined
    const next = between !== undefined && between.size > from ? between : target
    const to = next.size
    const leaves: Buffer[] = []
    while (from + leaves.length < to) {
      const at = from + leaves.length
      const page = await store.auditRecords(at, Math.min(2048, to - at))
      if (page[0]?.index !== at) break
      for (const r of page) {
        if (r.index !== from + leaves.length) break
        leaves.push(leafHash(r.record))
      }
    }
    if (leaves.length !== to - from)
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the shared audit log holds ${from + leaves.length} records under a checkpoint of ${to}`,
      )
    const subtree = (start: number, end: number): Buffer => {
      if (end - start === 1) return leaves[start - from] as Buffer
      const mid = start + (end - start) / 2
      return nodeHash(subtree(start, mid), subtree(mid, end))
    }
    const hashes = await consistencyProof(
      {
        readHashes: (nodes: readonly NodeId[]) =>
          Promise.resolve(
            nodes.map(({ level, index }) => {
              const start = index * 2 ** level
              if (start >= from) return subtree(start, start + 2 ** level)
              const h = edge.node(level)
              if (h === undefined || index !== Math.floor(from / 2 ** level) - 1)
                throw new RangeError(`node ${level}/${index} is not on the edge of ${from}`)
              return h
            }),
          ),
      },
      from,
      to,
    )
    return { note: next.note, size: to, hashes }
  }
  return {
    step,
    holds: async (size) => (await store.auditCheckpointAtMost(size))?.size === size,
  }
}

/**
 * Consistency proofs of a machine's own log, from its tiles (`tiles`, the tlog-tiles root);
 * `size` is the log's. Its witnesses cannot honestly hold a newer checkpoint than the log.
 */
export function tileProofs(tiles: string, size: () => number): ProofSource {
  return {
    step: async (from, to) => ({
      ...to,
      hashes: await consistencyProof(new TileReader(tiles, to.size), from, to.size),
    }),
    holds: (n) => Promise.resolve(n <= size()),
  }
}
