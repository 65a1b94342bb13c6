/**
 * Checking a whole tiled log against its signed checkpoint, the way an auditor would who
 * trusts nothing but the log's public key: the checkpoint's signature, then every record
 * rehashed from the entry bundles, every tile rebuilt from those hashes, and the root. The
 * answer names the first bad record and what happened to it in words (modified, deleted,
 * inserted, reordered, the tail cut off behind the checkpoint, a forged or replaced
 * checkpoint), because "hash mismatch" sends an incident responder to the wrong place.
 *
 * The stored tiles are not trusted, only used to say where things went wrong: a record whose
 * hash differs from its level-0 tile entry is pinpointed; records rewritten together with
 * their tile are caught one level up (the span of that tile); a log rewritten top to bottom
 * still fails on the root. The log streams through in order: the records of the next few
 * bundles are hashed (in a worker thread and this one, bundle-hash.ts) while this thread
 * checks the current one against its tiles, so memory holds a bounded window of hashes and a
 * tile per level, never the log.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { openCheckpoint, type Checkpoint } from './checkpoint.ts'
import { BundleHasher, hashBundle, type BundleHashes } from './bundle-hash.ts'
import { readLogFile } from './files.ts'
import {
  EMPTY_ROOT,
  foldBinary,
  fromBinary,
  HASH_SIZE,
  nodeHashBinary,
  splitBinary,
  verifyConsistency as consistent,
  type ProofCheck,
} from './merkle.ts'
import { parseVerifierKey, type NoteVerifier } from './note.ts'
import { bundlePath, TILE_HEIGHT, TILE_WIDTH, TileReader, tilePath, tileWidth } from './tiles.ts'

export type LogCheck =
  | { readonly ok: true; readonly size: number; readonly root: Uint8Array }
  | { readonly ok: false; readonly problem: string; readonly index?: number }

const fail = (problem: string, index?: number): LogCheck =>
  index === undefined ? { ok: false, problem } : { ok: false, problem, index }

/** The checkpoint, opened with the log's key; or the problem with it, in words. */
async function checkpointOf(
  dir: string,
  key: string | NoteVerifier,
  origin: string | undefined,
): Promise<Checkpoint | LogCheck> {
  const note = await readLogFile(dir, 'checkpoint')
  if (note === undefined) return fail('the log has no checkpoint')
  try {
    return openCheckpoint(note, key, origin)
  } catch (e) {
    if (isStrongroomError(e, 'WRONG_KEY'))
      return fail(`replaced checkpoint: not signed by the log's key (${e.message})`)
    if (isStrongroomError(e, 'SIGNATURE_DOES_NOT_MATCH'))
      return fail(`forged checkpoint: ${e.message}`)
    if (e instanceof StrongroomError) return fail(`the checkpoint is malformed: ${e.message}`)
    throw e
  }
}

/** Bundles submitted ahead of the one being checked: bounds the memory the pipeline holds. */
const READ_AHEAD = 16
/**
 * Logs of fewer bytes (guessed from the first bundle) are hashed on this thread alone: a
 * worker takes a hundred milliseconds or more to start, about what hashing this much costs.
 */
const WORKERS_FROM = 2 ** 27

/** The bundle's bytes; a partial bundle since removed is read from the full one. */
async function readBundleBytes(
  dir: string,
  index: number,
  width: number,
): Promise<Buffer | undefined> {
  const own = await readLogFile(dir, bundlePath(index, width))
  if (own !== undefined || width === TILE_WIDTH) return own
  return readLogFile(dir, bundlePath(index))
}

/** Records of bundle `b` still there when its checkpointed partial is gone: an older partial's. */
async function heldIn(dir: string, b: number, width: number): Promise<number> {
  const partials = bundlePath(b, 1).slice(0, -'/1'.length)
  const names = await readdir(join(dir, partials)).catch(() => [])
  const widths = names.filter((n) => /^[1-9][0-9]*$/.test(n)).map(Number)
  return Math.max(0, ...widths.filter((w) => w < width))
}

/** In words: how the records of bundle `b` differ from the hashes its level-0 tile holds. */
function describe(
  b: number,
  leaves: readonly string[],
  tile: string,
  width: number,
  last: boolean,
  size: number,
): LogCheck | undefined {
  const at = (i: number) => tile.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE)
  const base = b * TILE_WIDTH
  const count = leaves.length
  let i = 0
  while (i < Math.min(count, width) && leaves[i] === at(i)) i++
  if (i === count && count === width) return undefined
  const path = tilePath(0, b, width)
  if (count < width && i === count)
    return last
      ? fail(
          `tail truncated behind the checkpoint: it covers ${size} records, the log holds ${base + count}`,
          base + count,
        )
      : fail(
          `deleted records: ${bundlePath(b)} ends after record ${base + count - 1}`,
          base + count,
        )
  if (count < width && i + 1 < width && leaves[i] === at(i + 1))
    return fail(
      `deleted record: record ${base + i} is gone and the ones after it moved up`,
      base + i,
    )
  if (count > width && i === width)
    return fail(
      `inserted record: bundle ${b} holds ${count} records, the log has ${width}`,
      base + i,
    )
  if (count > width && leaves[i + 1] === at(i))
    return fail(`inserted record: a record was inserted before record ${base + i}`, base + i)
  for (let j = 0; j < width; j++)
    if (j !== i && leaves[i] === at(j))
      return fail(
        `reordered records: record ${base + i} holds what ${path} says is record ${base + j}`,
        base + i,
      )
  return fail(`modified record: record ${base + i} does not match its hash in ${path}`, base + i)
}

/**
 * Verifies the log in `dir` with its verifier key: the checkpoint's signature and origin (the
 * key's name unless `origin` is given), then every record, tile and the root. Reads the
 * checkpoint's tree only; records appended after it are not looked at. A malformed key
 * throws (it is the caller's mistake); everything wrong with the log is an answer.
 */
export async function verifyLog(
  dir: string,
  key: string | NoteVerifier,
  options: { readonly origin?: string } = {},
): Promise<LogCheck> {
  const v = typeof key === 'string' ? parseVerifierKey(key) : key
  const c = await checkpointOf(dir, v, options.origin)
  if ('ok' in c) return c
  const workers: { hasher?: BundleHasher } = {}
  try {
    return await checkTree(dir, c, workers)
  } finally {
    await workers.hasher?.close()
  }
}

/** hashBundle as a promise, its throw a rejection for whoever awaits it (maybe no one). */
function inline(dir: string, index: number, width: number): Promise<BundleHashes> {
  try {
    return Promise.resolve(hashBundle(dir, index, width))
  } catch (e) {
    const p = Promise.reject(e instanceof Error ? e : Error(String(e)))
    p.catch(() => undefined)
    return p
  }
}

/** Every record, tile and the root of the checkpoint's tree; a large log's records in `workers`. */
async function checkTree(
  dir: string,
  c: Checkpoint,
  workers: { hasher?: BundleHasher },
): Promise<LogCheck> {
  let hasher: BundleHasher | undefined
  const size = c.size
  const tiles = new TileReader(dir, size)
  const bundles = Math.ceil(size / TILE_WIDTH)
  /** The compact range: complete subtrees so far, left to right, with their heights. */
  const stack: { hash: string; level: number }[] = []
  /** Subtrees of height 8L (L ≥ 1) completed in this bundle, to check against tile level L. */
  let checks: { level: number; index: number; hash: string }[] = []
  let leaves = 0
  /** Adds the subtree `h` of height `height` (0, a record; 8, a full bundle) on the right. */
  const push = (h: string, height: number) => {
    leaves += 2 ** height
    const last = leaves - 1
    let node = h
    let level = height
    const check = () => {
      if (level > 0 && level % TILE_HEIGHT === 0)
        checks.push({
          level: level / TILE_HEIGHT,
          index: Math.floor(last / 2 ** level),
          hash: node,
        })
    }
    check()
    for (let top = stack.at(-1); top?.level === level; top = stack.at(-1)) {
      stack.pop()
      node = nodeHashBinary(top.hash, node)
      level++
      check()
    }
    stack.push({ hash: node, level })
  }
  // The records are hashed (and compared with their level-0 tile) a few bundles ahead, by the
  // workers, or inline for a job none has taken yet; a bound on how far keeps memory bounded.
  const ahead = new Map<number, { id: number; hashes: Promise<BundleHashes> }>()
  const submit = (b: number) => {
    if (hasher === undefined || b >= bundles || ahead.has(b)) return
    ahead.set(b, hasher.submit(dir, b, tileWidth(size, 0, b)))
  }
  /** Job `id`'s answer; until it comes, this thread hashes the jobs furthest ahead itself. */
  const answer = async (pool: BundleHasher, id: number, hashes: Promise<BundleHashes>) => {
    while (pool.pending(id)) {
      const job = pool.steal()
      if (job === undefined) break
      ahead.set(job.index, { id: job.id, hashes: inline(dir, job.index, job.width) })
      // Lets the workers' answers in before deciding whether to take another.
      await new Promise(setImmediate)
    }
    return hashes
  }
  for (let b = 0; b < bundles; b++) {
    for (let k = b; k < b + READ_AHEAD; k++) submit(k)
    const width = tileWidth(size, 0, b)
    const job = ahead.get(b)
    ahead.delete(b)
    const got =
      hasher === undefined || job === undefined || hasher.claim(job.id)
        ? hashBundle(dir, b, width)
        : await answer(hasher, job.id, job.hashes)
    const base = b * TILE_WIDTH
    if (got.kind === 'missing') {
      const later =
        b + 1 < bundles && (await readBundleBytes(dir, b + 1, tileWidth(size, 0, b + 1)))
      if (later !== false && later !== undefined)
        return fail(`deleted records: ${bundlePath(b, width)} is missing`, base)
      const held = base + (await heldIn(dir, b, width))
      return fail(
        `tail truncated behind the checkpoint: it covers ${size} records, the log holds ${held}`,
        held,
      )
    }
    if (got.kind === 'corrupt')
      return fail(
        `modified record: ${bundlePath(b, width)} ends inside the record after ${base + got.records - 1}`,
        base + got.records,
      )
    if (b === 0 && got.bytes * bundles >= WORKERS_FROM) hasher = workers.hasher = new BundleHasher()
    const count = got.leaves.length / HASH_SIZE
    if (!got.agrees || count !== width) {
      // Not the tile the records hash to, or not at its own path: read it as any reader would.
      const tile = await tiles
        .readTile(0, b)
        .catch((e: unknown) => (e instanceof Error ? e : Error()))
      if (tile instanceof Error) {
        if (isStrongroomError(tile, 'IO')) return fail(`hash tile ${tile.message}`, base)
        throw tile
      }
      const leaves = splitBinary(Buffer.from(got.leaves, 'latin1'))
      const wrong = describe(b, leaves, tile.toString('latin1'), width, b === bundles - 1, size)
      if (wrong !== undefined) return wrong
    }
    if (got.root !== undefined && width === TILE_WIDTH) push(got.root, TILE_HEIGHT)
    else
      for (let i = 0; i < count; i++) push(got.leaves.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE), 0)
    for (const { level, index, hash: h } of checks) {
      const t = Math.floor(index / TILE_WIDTH)
      const span = TILE_WIDTH ** level
      let stored: string
      try {
        const bytes = await tiles.readTile(level, t)
        const at = (index % TILE_WIDTH) * HASH_SIZE
        stored = bytes.toString('latin1', at, at + HASH_SIZE)
      } catch (e) {
        if (isStrongroomError(e, 'IO')) return fail(`hash tile ${e.message}`, index * span)
        throw e
      }
      if (stored !== h)
        return fail(
          `modified record: records ${index * span} to ${(index + 1) * span - 1} were rewritten together with their hash tiles, which ${tilePath(level, t, tileWidth(size, level, t))} contradicts`,
          index * span,
        )
    }
    checks = []
  }
  const root = size === 0 ? EMPTY_ROOT : fromBinary(foldBinary(stack.map((s) => s.hash)))
  if (!Buffer.from(root).equals(c.root))
    return fail(
      'modified records: the records and hash tiles agree with each other but not with the signed checkpoint, so both were rewritten',
    )
  return { ok: true, size, root }
}

/**
 * Whether `newer` extends `older` (RFC 9162 §2.1.4.2): both opened checkpoints of one log, the
 * proof from the log (consistencyProof over its tiles). Two checkpoints that fail this are
 * proof the log showed different histories: a split view.
 */
export function verifyConsistency(
  older: Checkpoint,
  newer: Checkpoint,
  proof: readonly Uint8Array[],
): ProofCheck {
  if (older.origin !== newer.origin)
    return {
      ok: false,
      problem: `the checkpoints are of different logs: \`${older.origin}\` and \`${newer.origin}\``,
    }
  const r = consistent(older.size, older.root, newer.size, newer.root, proof)
  return r.ok
    ? r
    : {
        ok: false,
        problem: `inconsistent checkpoints (${older.size} → ${newer.size}): ${r.problem}`,
      }
}
