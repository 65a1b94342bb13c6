/**
 * The audit log of several gateways that share one metadata database (PostgreSQL): one log,
 * in one global order, whatever gateway wrote each record.
 *
 * Each gateway group-commits its records into the database (AuditStore: one transaction per
 * group, indexes handed out in commit order), so a record is durable, and placed, when
 * PostgreSQL acknowledges its commit. At least once a second any gateway may seal: it extends
 * the newest signed checkpoint's tree edge (./tlog/frontier.ts) with the records after it, in
 * index order, signs a checkpoint over them and stores it on condition that it still extends
 * the newest (of gateways sealing at once, one wins, the others find their work done). The
 * tiles are not kept in the database: they are a function of the records, written out by
 * `strongroom audit export` for any tlog-tiles verifier, and checked there against the signed
 * checkpoints. A checkpoint not signed by the deployment's key, or a tree edge that does not
 * hash to its checkpoint, or a gap in the indexes, is tampering: the log refuses work
 * (fail-closed requests answer 503) until an operator looks.
 *
 * Why a database sequence rather than per-gateway logs merged later: the order is fixed the
 * moment a record is written, the same for every gateway, and no merge step can reorder
 * records or lose those of a gateway that died before its turn.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import type { AuditCheckpointRecord, AuditStore } from '../meta/audit.ts'
import {
  GroupCommitLog,
  unavailable,
  type GroupCommitOptions,
  type Pending,
} from './group-commit.ts'
import { formatCheckpoint, openCheckpoint } from './tlog/checkpoint.ts'
import { DurableBatch } from './tlog/files.ts'
import { Frontier } from './tlog/frontier.ts'
import { signNote } from './tlog/note.ts'
import { checkRecordMac, recordMac } from './record-mac.ts'
import { sharedProofs } from './witness-client.ts'

export interface SharedAuditLogOptions extends GroupCommitOptions {
  readonly store: AuditStore
  /** This gateway's own directory: its sinks' spools and the detector's state. */
  readonly dir: string
  readonly signerKey: string
  readonly verifierKey: string
  readonly origin: string
  /** The key each record's MAC is made and checked with (./record-mac.ts). */
  readonly macKey: Buffer
  /** Most time between a record's commit and the checkpoint that covers it (default 1 s). */
  readonly checkpointMs?: number
  /** Records sealed, and records witnessed, per seal at most (default 262,144; the next takes the rest). */
  readonly sealMax?: number
  /**
   * Fail-closed work is refused while a record of this gateway's has waited longer than this
   * for a checkpoint in the database (sealing fails or is suppressed); default 10 checkpoint
   * intervals, at least 10 s.
   */
  readonly sealDeadlineMs?: number
}

/** What this gateway checks of its own records until a checkpoint it verified covers them. */
interface Own {
  /** The MAC it gave each record, by index: one replaced by another valid record is caught. */
  readonly macs: Map<number, Buffer>
  /** Every index below this one was read by a seal or a replay here. */
  replayed: number
}

const SEAL_MAX = 262_144
/** Records read per query. */
const PAGE = 2048

export class SharedAuditLog extends GroupCommitLog {
  readonly shared = true
  readonly dir: string
  private readonly o: SharedAuditLogOptions
  /** The next index this gateway knows of. */
  private n: number
  private lastNote: string
  private sealing: Promise<void> | undefined
  /** The newest checkpoint this gateway verified: what the database's must extend. */
  private seen: AuditCheckpointRecord | undefined
  /**
   * A newer checkpoint too far past `seen` to replay in one seal, and the tree replayed so far
   * from `seen` towards it: `seen` moves to `target` only once the replay hashes to its root.
   */
  private catchUp: { target: AuditCheckpointRecord; root: Buffer; edge: Frontier } | undefined
  private readonly own: Own = { macs: new Map(), replayed: 0 }
  /** The newest checkpoint this gateway stored itself (seen or not yet, during a catch-up). */
  private stored: AuditCheckpointRecord | undefined
  /** This gateway's committed groups not yet under a checkpoint in the database: end, when. */
  private unsealed: { end: number; at: number }[] = []

  private constructor(o: SharedAuditLogOptions, size: number, note: string) {
    super(o, 'database')
    this.o = o
    this.dir = o.dir
    this.n = size
    this.lastNote = note
    this.witnessWith(o.dir, sharedProofs(o.store))
    this.timer = setInterval(() => void this.seal(), o.checkpointMs ?? 1000)
    this.timer.unref()
  }

  /**
   * Opens the shared log and seals what waits: LOG_TAMPERED when its newest checkpoint is not
   * this deployment's, when it does not extend the newest this gateway saw before (kept in
   * DIR/witness.json across restarts), or when an index is missing.
   */
  static async open(o: SharedAuditLogOptions): Promise<SharedAuditLog> {
    await mkdir(o.dir, { recursive: true, mode: 0o700 })
    const last = await o.store.latestAuditCheckpoint()
    if (last !== undefined) opened(last, o)
    const log = new SharedAuditLog(o, await o.store.auditRecordCount(), last?.note ?? '')
    const kept = await readWitness(o.dir, (p) => log.alert(p))
    log.seen = kept?.checkpoint
    // Records it saw committed before it stopped, sealed or not, must still be there.
    log.n = Math.max(log.n, kept?.count ?? 0)
    await log.checkpoint()
    if (log.broken !== undefined) {
      await log.close()
      throw new StrongroomError('LOG_TAMPERED', log.broken)
    }
    return log
  }

  /** Records in the log as this gateway last saw it (the next record's index, at least). */
  get size(): number {
    return this.n
  }

  /** The newest checkpoint this gateway wrote or read (a signed note). */
  get checkpointNote(): string {
    return this.lastNote
  }

  /** Resolves when the log can take a record now. */
  ready(): Promise<void> {
    const refused = this.problem()
    return refused === undefined ? Promise.resolve() : Promise.reject(unavailable(refused))
  }

  /** Every record of the log, every gateway's, oldest first, with its index. */
  async *records(): AsyncGenerator<[number, Buffer]> {
    yield* sharedRecords(this.o.store)
  }

  /** Keeps, on the way out, how many records the log held: a restart finding fewer refuses. */
  protected async release(): Promise<void> {
    if (this.seen !== undefined) await writeWitness(this.dir, this.seen, this.n)
  }

  /** Refuses fail-closed work while this gateway's records wait too long for a checkpoint. */
  protected override transient(): string | undefined {
    const oldest = this.unsealed[0]
    const every = this.o.checkpointMs ?? 1000
    const limit = this.o.sealDeadlineMs ?? Math.max(10_000, 10 * every)
    if (oldest === undefined || Date.now() - oldest.at <= limit) return undefined
    return `this gateway's audit records have waited over ${Math.round(limit / 1000)} s for a signed checkpoint: sealing fails`
  }

  protected async commit(batch: readonly Pending[]): Promise<number> {
    const key = this.o.macKey
    // Every index at or past this count is free: the database's counter only goes up.
    const floor = this.n
    const macs = new Map<number, Buffer>()
    let first: number
    try {
      first = await this.o.store.appendAuditRecords(
        batch.map((p) => p.bytes),
        (i, r) => {
          const mac = recordMac(key, i, r)
          macs.set(i, mac)
          return mac
        },
      )
      if (first < floor)
        throw new StrongroomError(
          'LOG_TAMPERED',
          `the shared audit log handed out index ${first}, below the ${floor} records this gateway already saw: its counter was set back, and records written now may be lost`,
        )
    } catch (e) {
      if (e instanceof StrongroomError && e.code === 'LOG_TAMPERED') this.fail(e.message)
      throw e
    }
    await this.keepOwn(first, batch.length, macs)
    this.n = Math.max(this.n, first + batch.length)
    return first
  }

  protected committed(): Promise<void> {
    return Promise.resolve()
  }

  /**
   * Remembers the MACs of records first.. for the seals to check. Those a seal or replay here
   * already read (it passed them while this commit was being acknowledged) are read back and
   * checked now instead.
   */
  private async keepOwn(first: number, count: number, macs: Map<number, Buffer>): Promise<void> {
    const passed = Math.min(this.own.replayed, first + count)
    // The records are committed whatever happens here: a check that cannot run is reported,
    // never thrown (a thrown commit would be retried, and its records written twice).
    if (first < passed)
      try {
        for (const r of await this.o.store.auditRecords(first, passed - first))
          if (!(macs.get(r.index)?.equals(r.mac) ?? true))
            this.fail(
              `audit record ${r.index}, which this gateway wrote, was replaced in the shared log by another`,
            )
      } catch (e) {
        this.alert(`cannot read back this gateway's audit records: ${(e as Error).message}`)
      }
    for (let i = Math.max(first, passed); i < first + count; i++)
      this.own.macs.set(i, macs.get(i) as Buffer)
    for (const [i] of this.own.macs) {
      if (this.own.macs.size <= (this.o.sealMax ?? SEAL_MAX)) break
      // Sealing has fallen far behind: the oldest are left to the checkpoints' own checks.
      this.own.macs.delete(i)
      this.alert(`the audit log is not sealed in time; fewer of this gateway's records are re-read`)
    }
    const tail = this.unsealed.at(-1)
    // Bounded: past 10,000 groups the newest joins the last (which keeps its older time).
    if (tail !== undefined && this.unsealed.length >= 10_000) tail.end = first + count
    else this.unsealed.push({ end: first + count, at: Date.now() })
  }

  /** Forgets the groups a checkpoint of `size` records covers. */
  private sealedTo(size: number): void {
    while ((this.unsealed[0]?.end ?? Infinity) <= size) this.unsealed.shift()
  }

  /**
   * Commits what is queued and seals until a checkpoint in the database covers every record this
   * gateway committed: a seal already under way when it is called (begun before the last
   * commit), one lost to another gateway's smaller checkpoint, or one cut at `sealMax` is
   * followed by another.
   */
  override async checkpoint(): Promise<string> {
    await this.flush()
    for (let i = 0; i < 16; i++) {
      await this.seal()
      if (this.unsealed.length === 0 || this.broken !== undefined || this.closed) break
    }
    return this.checkpointNote
  }

  /** One seal at a time in this gateway; others may seal at once, and one of them wins. */
  protected seal(): Promise<void> {
    if (this.broken !== undefined || this.closed) return Promise.resolve()
    this.sealing ??= this.sealOnce()
      .catch((e: unknown) => {
        if (e instanceof StrongroomError && e.code === 'LOG_TAMPERED') this.fail(e.message)
        else this.alert(`cannot checkpoint the audit log: ${(e as Error).message}`)
      })
      .finally(() => {
        this.sealing = undefined
      })
    return this.sealing
  }

  private async sealOnce(): Promise<void> {
    const store = this.o.store
    // Read before the database is: every record this gateway knows of by now is in its count.
    const known = this.n
    const last = await store.latestAuditCheckpoint()
    const count = await store.auditRecordCount()
    if (count < known)
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the shared audit log holds ${count} records, fewer than the ${known} this gateway saw: records were removed, or the database was rolled back`,
      )
    const edge = last === undefined ? Frontier.empty() : opened(last, this.o)
    await this.witness(last, edge)
    this.n = Math.max(this.n, count)
    this.sealedTo(last?.size ?? 0)
    // What this gateway is shown goes to the witnesses: two gateways shown two histories
    // cannot both have theirs cosigned.
    if (last !== undefined) this.offer(last.note, last.size)
    if (last !== undefined && count <= last.size) return
    const end = Math.min(count, edge.size + (this.o.sealMax ?? SEAL_MAX))
    await extend(store, edge, end, count, this.o.macKey, this.own)
    const note = signNote(
      formatCheckpoint({
        origin: this.o.origin,
        size: edge.size,
        root: edge.root(),
        extensions: [],
      }),
      this.o.signerKey,
    )
    const next = { size: edge.size, note, frontier: edge.encode() }
    if (!(await store.addAuditCheckpoint(last?.size ?? -1, next))) {
      // Lost to another gateway's seal, which is fine; or refused with none in its place.
      const now = await store.latestAuditCheckpoint()
      if ((now?.size ?? -1) <= (last?.size ?? -1))
        this.alert(
          `the database refused this gateway's checkpoint of ${next.size} records, and no other took its place`,
        )
      return
    }
    this.stored = next
    this.sealedTo(next.size)
    this.offer(next.note, next.size)
    // A checkpoint of its own is seen at once, unless older history still waits to be replayed.
    if (this.catchUp === undefined) await this.remember(next)
    else this.lastNote = next.note
  }

  /**
   * Checks that `last`, the database's newest checkpoint, extends the newest this gateway saw:
   * never smaller, the same note at the same size, and the records between them, appended to
   * the tree this gateway saw, hash to its root. Every gateway is so a witness of the others'
   * checkpoints, and of the database: a rollback, a removed checkpoint or a rewritten record
   * since it last looked is LOG_TAMPERED. A gap longer than one seal's work (a gateway back
   * after a long stop) is replayed over several seals; the gateway works meanwhile, and moves
   * its witness on only once the replay hashes to the checkpoint it was aiming at.
   */
  private async witness(last: AuditCheckpointRecord | undefined, edge: Frontier): Promise<void> {
    const seen = this.seen
    if (last === undefined) {
      if (seen === undefined) return
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the shared audit log's checkpoints are gone, though this gateway saw one of ${seen.size} records: the database was emptied or rolled back`,
      )
    }
    if (seen === undefined) return this.remember(last)
    // The newest this gateway knows of: verified, aimed at, or stored by itself.
    const newest = [this.catchUp?.target, this.stored].reduce<AuditCheckpointRecord>(
      (a, c) => (c !== undefined && c.size > a.size ? c : a),
      seen,
    )
    if (last.size < newest.size || (last.size === newest.size && last.note !== newest.note))
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the shared audit log's newest checkpoint (${last.size} records) does not extend the one of ${newest.size} records this gateway saw: the database was rolled back, or its checkpoints replaced`,
      )
    let budget = this.o.sealMax ?? SEAL_MAX
    while (this.seen !== undefined && this.seen.size < last.size && budget > 0) {
      const from = this.seen
      const aim = this.catchUp ?? {
        target: last,
        root: edge.root(),
        edge: Frontier.decode(from.size, from.frontier),
      }
      const end = Math.min(aim.target.size, aim.edge.size + budget)
      budget -= end - aim.edge.size
      await extend(this.o.store, aim.edge, end, last.size, this.o.macKey, this.own)
      if (aim.edge.size < aim.target.size) {
        this.catchUp = aim
        this.alert(
          `replaying the shared audit log since the checkpoint this gateway last saw (${from.size} records), a seal's worth at a time: it refuses work if they do not hash to the newer checkpoints`,
        )
        return
      }
      this.catchUp = undefined
      if (!aim.edge.root().equals(aim.root))
        throw new StrongroomError(
          'LOG_TAMPERED',
          `the shared audit log's records ${from.size} to ${aim.target.size - 1} do not hash to the checkpoint that covers them: a record was changed or the log forked since this gateway saw it`,
        )
      await this.remember(aim.target)
    }
  }

  /**
   * Keeps `c` as the newest checkpoint seen, here and in DIR/witness.json (with the records
   * counted so far), and forgets the MACs of its own records it covers: they were checked.
   */
  private async remember(c: AuditCheckpointRecord): Promise<void> {
    this.seen = { size: c.size, note: c.note, frontier: Buffer.from(c.frontier) }
    this.lastNote = c.note
    for (const [i] of this.own.macs) {
      if (i >= c.size) break
      this.own.macs.delete(i)
    }
    await writeWitness(this.dir, this.seen, this.n)
  }
}

/**
 * Appends to `edge` the records up to index `end` (the log holds `count`), each checked against
 * its MAC and, for those this gateway wrote, against the MAC it gave them (then forgotten); a
 * gap, a record no gateway wrote or one put in another's place is LOG_TAMPERED.
 */
async function extend(
  store: AuditStore,
  edge: Frontier,
  end: number,
  count: number,
  macKey: Buffer,
  own: Own,
) {
  while (edge.size < end) {
    const page = await store.auditRecords(edge.size, Math.min(PAGE, end - edge.size))
    if (page.length === 0 || page[0]?.index !== edge.size)
      throw new StrongroomError(
        'LOG_TAMPERED',
        `audit record ${edge.size} is missing from the shared log, which holds ${count}`,
      )
    // Marked before the page is checked, with no wait in between: a commit of this gateway's
    // acknowledged meanwhile either had its MACs kept already or reads its records back.
    own.replayed = Math.max(own.replayed, (page.at(-1)?.index ?? 0) + 1)
    for (const r of page) {
      if (r.index !== edge.size) break
      checkRecordMac(macKey, r)
      const mac = own.macs.get(r.index)
      if (mac !== undefined && !mac.equals(r.mac))
        throw new StrongroomError(
          'LOG_TAMPERED',
          `audit record ${r.index}, which this gateway wrote, was replaced in the shared log by another`,
        )
      edge.push(r.record)
    }
  }
}

const WITNESS = 'witness.json'

/**
 * The newest checkpoint this gateway saw before it stopped, and the records it had counted,
 * if it kept them.
 */
async function readWitness(
  dir: string,
  alert: (problem: string) => void,
): Promise<{ checkpoint: AuditCheckpointRecord; count: number } | undefined> {
  const text = await readFile(join(dir, WITNESS), 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as {
      size?: unknown
      note?: unknown
      frontier?: unknown
      count?: unknown
    }
    if (typeof v.size !== 'number' || typeof v.note !== 'string' || typeof v.frontier !== 'string')
      throw new Error('not a size, a note and a tree edge')
    const frontier = Buffer.from(v.frontier, 'base64')
    Frontier.decode(v.size, frontier)
    const count = typeof v.count === 'number' && v.count >= v.size ? v.count : v.size
    return { checkpoint: { size: v.size, note: v.note, frontier }, count }
  } catch (e) {
    alert(
      `${join(dir, WITNESS)} is not a checkpoint this gateway kept, so it is ignored: ${(e as Error).message}`,
    )
    return undefined
  }
}

/** Writes `c` and `count` to DIR/witness.json durably (fsynced, renamed, its directory fsynced). */
async function writeWitness(dir: string, c: AuditCheckpointRecord, count: number): Promise<void> {
  const file = new DurableBatch(dir)
  file.add(
    WITNESS,
    Buffer.from(
      JSON.stringify({
        size: c.size,
        note: c.note,
        frontier: Buffer.from(c.frontier).toString('base64'),
        count,
      }),
    ),
  )
  await file.sync()
}

/**
 * The tree edge a checkpoint stored in the database extends, after checking that the
 * deployment's key signed it and that the edge hashes to its root. LOG_TAMPERED otherwise.
 */
function opened(
  last: AuditCheckpointRecord,
  o: Pick<SharedAuditLogOptions, 'verifierKey' | 'origin'>,
): Frontier {
  try {
    const c = openCheckpoint(last.note, o.verifierKey, o.origin)
    const edge = Frontier.decode(c.size, last.frontier)
    if (c.size !== last.size || !edge.root().equals(c.root))
      throw new Error(`its stored tree edge does not hash to its root`)
    return edge
  } catch (e) {
    throw new StrongroomError(
      'LOG_TAMPERED',
      `the shared audit log's checkpoint at size ${last.size} is not the one this deployment signed: ${(e as Error).message}`,
      { cause: e },
    )
  }
}

/** Every record of the shared log in `store`, oldest first, with its index. */
export async function* sharedRecords(store: AuditStore): AsyncGenerator<[number, Buffer]> {
  for (let from = 0; ;) {
    const page = await store.auditRecords(from, PAGE)
    for (const { index, record } of page) {
      if (index !== from)
        throw new StrongroomError('LOG_TAMPERED', `audit record ${from} is missing`)
      yield [index, record]
      from++
    }
    if (page.length < PAGE) return
  }
}
