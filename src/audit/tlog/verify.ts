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
 * still fails on the root. The log streams through in order, one bundle and one tile per
 * level at a time, with the next bundles read ahead while the current one is hashed.
 */
import { hash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { openCheckpoint, type Checkpoint } from './checkpoint.ts'
import { readLogFile } from './files.ts'
import {
  EMPTY_ROOT,
  foldBinary,
  fromBinary,
  HASH_SIZE,
  nodeHashBinary,
  verifyConsistency as consistent,
  type ProofCheck,
} from './merkle.ts'
import { parseVerifierKey, type NoteVerifier } from './note.ts'
import {
  bundleOffsets,
  bundlePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  TileReader,
  tilePath,
  tileWidth,
} from './tiles.ts'

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

const READ_AHEAD = 16

interface Bundle {
  readonly bytes: Buffer | undefined
  /** A partial bundle since removed, read from the full one: only its first records count. */
  readonly prefixOfFull: boolean
}

/** The bundle's bytes; a partial bundle since removed is read from the full one. */
async function readBundleBytes(dir: string, index: number, width: number): Promise<Bundle> {
  const own = await readLogFile(dir, bundlePath(index, width))
  if (own !== undefined || width === TILE_WIDTH) return { bytes: own, prefixOfFull: false }
  return { bytes: await readLogFile(dir, bundlePath(index)), prefixOfFull: true }
}

/** Records of bundle `b` still there when its checkpointed partial is gone: an older partial's. */
async function heldIn(dir: string, b: number, width: number): Promise<number> {
  const partials = bundlePath(b, 1).slice(0, -'/1'.length)
  const names = await readdir(join(dir, partials)).catch(() => [])
  const widths = names.filter((n) => /^[1-9][0-9]*$/.test(n)).map(Number)
  return Math.max(0, ...widths.filter((w) => w < width))
}

/** Leaf hashes of a bundle's records, hashed in place: each length's low byte becomes 0x00. */
function leafHashes(bytes: Buffer, starts: readonly number[], count: number): string[] {
  return starts.slice(0, count).map((s, i) => {
    const end = i + 1 < starts.length ? (starts[i + 1] as number) - 2 : bytes.length
    bytes[s - 1] = 0
    return hash('sha256', bytes.subarray(s - 1, end), 'binary')
  })
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
  const size = c.size
  const tiles = new TileReader(dir, size)
  const bundles = Math.ceil(size / TILE_WIDTH)
  /** The compact range: complete subtrees so far, left to right, with their heights. */
  const stack: { hash: string; level: number }[] = []
  /** Subtrees of height 8L (L ≥ 1) completed in this bundle, to check against tile level L. */
  let checks: { level: number; index: number; hash: string }[] = []
  let leaf = 0
  const push = (h: string) => {
    let node = h
    let level = 0
    for (let top = stack.at(-1); top?.level === level; top = stack.at(-1)) {
      stack.pop()
      node = nodeHashBinary(top.hash, node)
      level++
      if (level % TILE_HEIGHT === 0)
        checks.push({
          level: level / TILE_HEIGHT,
          index: Math.floor(leaf / 2 ** level),
          hash: node,
        })
    }
    stack.push({ hash: node, level })
    leaf++
  }
  // Reading is four round trips to the thread pool per file: keep plenty in flight.
  const ahead = new Map<number, Promise<[Bundle, Buffer | Error]>>()
  const fetch = (b: number) => {
    if (b >= bundles || ahead.has(b)) return
    const tile = tiles.readTile(0, b).catch((e: unknown) => (e instanceof Error ? e : Error()))
    const p = Promise.all([readBundleBytes(dir, b, tileWidth(size, 0, b)), tile])
    p.catch(() => undefined)
    ahead.set(b, p)
  }
  for (let b = 0; b < bundles; b++) {
    for (let k = b; k < b + READ_AHEAD; k++) fetch(k)
    const width = tileWidth(size, 0, b)
    const [{ bytes, prefixOfFull }, tile] = (await ahead.get(b)) ?? [{ bytes: undefined }, Error()]
    ahead.delete(b)
    const base = b * TILE_WIDTH
    if (bytes === undefined) {
      const later =
        b + 1 < bundles && (await readBundleBytes(dir, b + 1, tileWidth(size, 0, b + 1)))
      if (later !== false && later.bytes !== undefined)
        return fail(`deleted records: ${bundlePath(b, width)} is missing`, base)
      const held = base + (await heldIn(dir, b, width))
      return fail(
        `tail truncated behind the checkpoint: it covers ${size} records, the log holds ${held}`,
        held,
      )
    }
    const { starts, corrupt } = bundleOffsets(bytes)
    if (corrupt !== undefined)
      return fail(
        `modified record: ${bundlePath(b, width)} ends inside the record after ${base + starts.length - 1}`,
        base + starts.length,
      )
    const leaves = leafHashes(bytes, starts, prefixOfFull ? width : starts.length)
    if (tile instanceof Error) {
      if (isStrongroomError(tile, 'IO')) return fail(`hash tile ${tile.message}`, base)
      throw tile
    }
    const wrong = describe(b, leaves, tile.toString('latin1'), width, b === bundles - 1, size)
    if (wrong !== undefined) return wrong
    for (const h of leaves) push(h)
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
