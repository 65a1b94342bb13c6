/**
 * The C2SP tiled-log layout (https://c2sp.org/tlog-tiles) read from a directory: the Merkle
 * tree stored as tiles of 256 hashes (tree height 8 each), `tile/<L>/<N>[.p/<W>]`, and the
 * records themselves as entry bundles, `tile/entries/<N>[.p/<W>]`, each record a big-endian
 * uint16 length and its bytes. These are the files any tlog client fetches, so the directory
 * can be served over HTTP as it is and checked by tools that have never heard of Strongroom.
 *
 * Nothing here needs the whole log in memory: a proof or a root reads the few tiles on its
 * path, and the reader keeps a handful of recent tiles. The writer keeps only the right edge
 * of the tree (the partial tile of each level and the partial bundle), writes each full tile
 * once, and rewrites only partial ones; every file goes down durably before `checkpoint`
 * renames the signed checkpoint into place, so a checkpoint never names a tile a crash lost.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../../errors.ts'
import { formatCheckpoint, parseCheckpoint } from './checkpoint.ts'
import { DurableBatch, readLogFile } from './files.ts'
import {
  EMPTY_ROOT,
  foldBinary,
  fromBinary,
  HASH_SIZE,
  leafHashBinary,
  runChunksBinary,
  runRootBinary,
  splitBinary,
  type HashReader,
  type NodeId,
} from './merkle.ts'
import { parseNote, signNote, type NoteSigner } from './note.ts'

export const TILE_HEIGHT = 8
export const TILE_WIDTH = 256
/** The largest record a bundle can hold: its length is a uint16. */
export const MAX_ENTRY_BYTES = 0xffff

/** `N` as the spec spells it: 3-digit groups, all but the last prefixed `x` (x001/x234/067). */
export function tileIndexPath(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad tile index ${index}`)
  const groups: string[] = []
  let n = index
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'))
    n = Math.floor(n / 1000)
  } while (n > 0)
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')
}

const suffix = (width: number) => {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw new RangeError(`bad tile width ${width}`)
  return width === TILE_WIDTH ? '' : `.p/${width}`
}

/** `tile/<L>/<N>[.p/<W>]`, relative to the log's directory. */
export function tilePath(level: number, index: number, width = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > 63)
    throw new RangeError(`bad level ${level}`)
  return `tile/${level}/${tileIndexPath(index)}${suffix(width)}`
}

/** `tile/entries/<N>[.p/<W>]`, relative to the log's directory. */
export function bundlePath(index: number, width = TILE_WIDTH): string {
  return `tile/entries/${tileIndexPath(index)}${suffix(width)}`
}

/** Hashes at tile level `level` that a tree of `size` records has: floor(size / 256^level). */
export function levelWidth(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level)
}

/** How many hashes tile (level, index) holds at `size`: 256, fewer (partial), or 0 (none). */
export function tileWidth(size: number, level: number, index: number): number {
  const row = levelWidth(size, level)
  return Math.max(0, Math.min(TILE_WIDTH, row - index * TILE_WIDTH))
}

function checkSizes(entries: readonly Uint8Array[]): void {
  const big = entries.find((e) => e.length > MAX_ENTRY_BYTES)
  if (big !== undefined)
    throw new StrongroomError(
      'LIMIT_EXCEEDED',
      `a log record is at most ${MAX_ENTRY_BYTES} bytes, not ${big.length}`,
    )
}

export function encodeBundle(entries: readonly Uint8Array[]): Buffer {
  checkSizes(entries)
  let total = 0
  for (const e of entries) total += 2 + e.length
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const e of entries) {
    out.writeUInt16BE(e.length, at)
    out.set(e, at + 2)
    at += 2 + e.length
  }
  return out
}

/** Where each record's bytes start and end in a bundle; `corrupt` when it ends inside one. */
export function bundleOffsets(bundle: Uint8Array): { starts: number[]; corrupt?: number } {
  const starts: number[] = []
  let at = 0
  while (at < bundle.length) {
    if (at + 2 > bundle.length) return { starts, corrupt: at }
    const len = ((bundle[at] ?? 0) << 8) | (bundle[at + 1] ?? 0)
    if (at + 2 + len > bundle.length) return { starts, corrupt: at }
    starts.push(at + 2)
    at += 2 + len
  }
  return { starts }
}

export function decodeBundle(bundle: Uint8Array): Buffer[] {
  const { starts, corrupt } = bundleOffsets(bundle)
  if (corrupt !== undefined)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `the entry bundle ends inside the record at byte ${corrupt}`,
    )
  const b = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength)
  return starts.map((s) => b.subarray(s, s + b.readUInt16BE(s - 2)))
}

/**
 * The full tile (or bundle) at `base`, else its narrowest partial wider than `width`: a reader
 * of an older checkpoint takes the prefix it needs, as the spec lets clients do.
 */
async function widerThan(dir: string, base: string, width: number): Promise<Buffer | undefined> {
  const full = await readLogFile(dir, base)
  if (full !== undefined) return full
  const names = await readdir(join(dir, `${base}.p`)).catch(() => [] as string[])
  const wider = names
    .filter((n) => /^[1-9][0-9]{0,2}$/.test(n))
    .map(Number)
    .filter((w) => w > width && w < TILE_WIDTH)
    .sort((a, b) => a - b)
  for (const w of wider) {
    const bytes = await readLogFile(dir, `${base}.p/${String(w)}`)
    if (bytes !== undefined) return bytes
  }
  return undefined
}

/**
 * The tiles and bundles of the tree of the first `size` records of the log in `dir` (the size
 * of a checkpoint the caller trusts). A partial tile that was removed because its full tile
 * now exists is read from the full tile's prefix, as the spec lets clients do.
 */
export class TileReader implements HashReader {
  readonly dir: string
  readonly size: number
  private readonly cache = new Map<string, Buffer>()

  constructor(dir: string, size: number) {
    this.dir = dir
    this.size = size
  }

  /** The tile's bytes, exactly width × 32 of them; IO when missing or the wrong length. */
  async readTile(level: number, index: number): Promise<Buffer> {
    const width = tileWidth(this.size, level, index)
    if (width === 0)
      throw new RangeError(`tile ${level}/${index} is beyond the tree of ${this.size}`)
    const path = tilePath(level, index, width)
    const hit = this.cache.get(path)
    if (hit !== undefined) return hit
    let bytes = await readLogFile(this.dir, path)
    if (bytes === undefined && width < TILE_WIDTH) {
      const full = await widerThan(this.dir, tilePath(level, index), width)
      bytes = full?.subarray(0, width * HASH_SIZE)
    }
    if (bytes === undefined) throw new StrongroomError('IO', `${path} is missing`)
    if (bytes.length !== width * HASH_SIZE)
      throw new StrongroomError(
        'IO',
        `${path} is ${bytes.length} bytes, not ${width} hashes (${width * HASH_SIZE} bytes)`,
      )
    if (this.cache.size >= 64) this.cache.delete(this.cache.keys().next().value ?? '')
    this.cache.set(path, bytes)
    return bytes
  }

  /** The records of bundle `index` at this size (a partial bundle for the last one). */
  async readBundle(index: number): Promise<Buffer[]> {
    const width = tileWidth(this.size, 0, index)
    if (width === 0) throw new RangeError(`bundle ${index} is beyond the tree of ${this.size}`)
    const path = bundlePath(index, width)
    let bytes = await readLogFile(this.dir, path)
    let entries = bytes === undefined ? undefined : decodeBundle(bytes)
    if (bytes === undefined && width < TILE_WIDTH) {
      bytes = await widerThan(this.dir, bundlePath(index), width)
      entries = bytes === undefined ? undefined : decodeBundle(bytes).slice(0, width)
    }
    if (entries === undefined) throw new StrongroomError('IO', `${path} is missing`)
    if (entries.length !== width)
      throw new StrongroomError('IO', `${path} holds ${entries.length} records, not ${width}`)
    return entries
  }

  async readEntry(index: number): Promise<Buffer> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size)
      throw new RangeError(`record ${index} is not in a log of ${this.size}`)
    const bundle = await this.readBundle(Math.floor(index / TILE_WIDTH))
    return bundle[index % TILE_WIDTH] as Buffer
  }

  async readHashes(nodes: readonly NodeId[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for (const { level, index } of nodes) {
      const tileLevel = Math.floor(level / TILE_HEIGHT)
      const count = 2 ** (level % TILE_HEIGHT)
      const first = index * count
      const tile = Math.floor(first / TILE_WIDTH)
      const at = first % TILE_WIDTH
      if (tileWidth(this.size, tileLevel, tile) < at + count)
        throw new RangeError(`node ${level}/${index} is not complete in the tree of ${this.size}`)
      const bytes = await this.readTile(tileLevel, tile)
      if (count === 1) {
        out.push(bytes.subarray(at * HASH_SIZE, (at + 1) * HASH_SIZE))
        continue
      }
      out.push(fromBinary(runRootBinary(splitBinary(bytes, at, count))))
    }
    return out
  }
}

const CALLER_ERRORS = new Set(['INVALID_ARGUMENT', 'UNSUPPORTED_FORMAT', 'LIMIT_EXCEEDED'])

/** Files written per durable batch while a long append runs: bounds memory, not durability. */
const BATCH_FILES = 64

/**
 * Appends records to the tiled log in `dir` and signs checkpoints over it. One writer per
 * directory; its calls run one at a time. `open` continues where the last checkpoint left
 * off (appends that no checkpoint covered are overwritten), after checking that the partial
 * tiles it builds on still hash to that checkpoint's root.
 */
export class TileWriter {
  readonly dir: string
  private n: number
  /** The partial tile of each level, as binary-string hashes: the right edge of the tree. */
  private readonly edge: string[][]
  /** edge[0], the leaf hashes of the partial level-0 tile. */
  private readonly leaves: string[]
  private bundle: Buffer[]
  private readonly files: DurableBatch
  /** Partial tiles and bundles whose full tile was written since the last checkpoint. */
  private superseded: string[] = []
  /** The partial widths written of each tile still partial, oldest first (two are kept). */
  private readonly partials = new Map<string, number[]>()
  private lock: Promise<unknown> = Promise.resolve()
  private failed: unknown

  private constructor(dir: string, size: number, edge: string[][], bundle: Buffer[]) {
    this.dir = dir
    this.n = size
    this.leaves = edge[0] ?? []
    this.edge = [this.leaves, ...edge.slice(1)]
    this.bundle = bundle
    this.files = new DurableBatch(dir)
  }

  /**
   * The log in `dir`, made when the directory has no log yet. Checkpoint a new log at once
   * (size 0): a directory with tiles and no checkpoint is refused, since it is also what a
   * log whose checkpoint was deleted looks like, and continuing would rewrite its history.
   */
  static async open(dir: string): Promise<TileWriter> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const note = await readLogFile(dir, 'checkpoint')
    if (note === undefined) {
      if (existsSync(join(dir, 'tile')))
        throw new StrongroomError(
          'IO',
          `the log in \`${dir}\` has tiles but no checkpoint: restore its checkpoint, or remove its tile directory if it never had one`,
        )
      return new TileWriter(dir, 0, [[]], [])
    }
    const c = parseCheckpoint(parseNote(note).text)
    const reader = new TileReader(dir, c.size)
    const edge: string[][] = [[]]
    for (let level = 0; levelWidth(c.size, level) > 0; level++) {
      const row = levelWidth(c.size, level)
      edge[level] =
        row % TILE_WIDTH === 0
          ? []
          : splitBinary(await reader.readTile(level, Math.floor(row / TILE_WIDTH)))
    }
    const bundle =
      c.size % TILE_WIDTH === 0 ? [] : await reader.readBundle(Math.floor(c.size / TILE_WIDTH))
    const leaves = bundle.map(leafHashBinary)
    const writer = new TileWriter(dir, c.size, edge, bundle)
    if (leaves.join('') !== (edge[0] ?? []).join('') || !writer.root().equals(c.root))
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the last tiles of the log in \`${dir}\` do not hash to its checkpoint: run verifyLog to find what changed`,
      )
    return writer
  }

  /** Records appended so far (checkpointed or not). */
  get size(): number {
    return this.n
  }

  /** The RFC 6962 root of everything appended so far. */
  root(): Buffer {
    if (this.n === 0) return Buffer.from(EMPTY_ROOT)
    const chunks: string[] = []
    for (let level = this.edge.length - 1; level >= 0; level--)
      chunks.push(...runChunksBinary(this.edge[level] ?? []))
    return fromBinary(foldBinary(chunks))
  }

  /** Reads the tree as appended so far, e.g. for proofs. */
  reader(): TileReader {
    return new TileReader(this.dir, this.n)
  }

  /** Appends `entries` durably; answers the index of the first. */
  append(entries: readonly Uint8Array[]): Promise<number> {
    checkSizes(entries)
    return this.exclusive(async () => {
      const before = this.n
      for (const e of entries) {
        this.bundle.push(Buffer.from(e))
        this.leaves.push(leafHashBinary(e))
        this.n++
        if (this.bundle.length === TILE_WIDTH) {
          const index = this.n / TILE_WIDTH - 1
          this.files.add(bundlePath(index), encodeBundle(this.bundle))
          this.superseded.push(`${bundlePath(index)}.p`)
          this.partials.delete(bundlePath(index))
          this.bundle = []
          this.fullTile(0, index)
          if (this.files.pending >= BATCH_FILES) await this.files.sync()
        }
      }
      this.edge.forEach((row, level) => {
        const width = levelWidth(this.n, level)
        if (row.length > 0 && width !== levelWidth(before, level))
          this.partial(
            tilePath(level, Math.floor(width / TILE_WIDTH)),
            row.length,
            Buffer.from(row.join(''), 'latin1'),
          )
      })
      if (this.bundle.length > 0 && this.n !== before)
        this.partial(
          bundlePath(Math.floor(this.n / TILE_WIDTH)),
          this.bundle.length,
          encodeBundle(this.bundle),
        )
      await this.files.sync()
      return before
    })
  }

  /**
   * Writes a partial tile or bundle. Of one tile's partials the last two are kept (a reader of
   * an older checkpoint reads the prefix of a wider one); the others go after the next
   * checkpoint, so that partials of a tile that fills slowly never pile up (each would hold
   * every record before it: a square's worth of bytes).
   */
  private partial(base: string, width: number, data: Buffer): void {
    this.files.add(`${base}.p/${String(width)}`, data)
    const widths = this.partials.get(base) ?? []
    widths.push(width)
    while (widths.length > 2) this.superseded.push(`${base}.p/${String(widths.shift())}`)
    this.partials.set(base, widths)
  }

  /** Writes full tile (level, index) from the edge and carries its hash a level up. */
  private fullTile(level: number, index: number): void {
    const row = (this.edge[level] ?? []).splice(0)
    this.files.add(tilePath(level, index), Buffer.from(row.join(''), 'latin1'))
    this.superseded.push(`${tilePath(level, index)}.p`)
    this.partials.delete(tilePath(level, index))
    const up = (this.edge[level + 1] ??= [])
    up.push(runRootBinary(row))
    if (up.length === TILE_WIDTH) this.fullTile(level + 1, Math.floor(index / TILE_WIDTH))
  }

  /**
   * Signs a checkpoint for everything appended and writes it last, durably; answers the note.
   * Then removes the partial tiles that full ones replaced, which the spec allows.
   */
  checkpoint(
    signer: NoteSigner | string,
    origin: string,
    extensions: readonly string[] = [],
  ): Promise<string> {
    return this.exclusive(async () => {
      const body = formatCheckpoint({ origin, size: this.n, root: this.root(), extensions })
      const note = signNote(body, signer)
      await this.writeCheckpoint(note)
      return note
    })
  }

  /**
   * Writes a checkpoint signed elsewhere (the shared log's, from the database), which must be
   * of exactly the tree appended here: LOG_TAMPERED when its size or root differ.
   */
  adopt(note: string): Promise<void> {
    return this.exclusive(async () => {
      const c = parseCheckpoint(parseNote(note).text)
      if (c.size !== this.n || !this.root().equals(c.root))
        throw new StrongroomError(
          'LOG_TAMPERED',
          `the records do not hash to the signed checkpoint of ${c.size} records (${this.n} read): a record was changed, removed or added since it was signed`,
        )
      await this.writeCheckpoint(note)
    })
  }

  private async writeCheckpoint(note: string): Promise<void> {
    this.files.add('checkpoint', Buffer.from(note, 'utf8'))
    await this.files.sync()
    const done = this.superseded
    this.superseded = []
    for (const p of done) await this.files.remove(p)
  }

  /** Runs `fn` after every earlier call; a failed write leaves the writer refusing further work. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      if (this.failed !== undefined)
        throw new StrongroomError(
          'IO',
          'an earlier write to this log failed: open the log again to continue from its checkpoint',
          { cause: this.failed },
        )
      try {
        return await fn()
      } catch (e) {
        // Bad arguments fail before anything changes; anything else may leave the edge ahead of the disk.
        if (!(e instanceof StrongroomError && CALLER_ERRORS.has(e.code))) this.failed = e
        throw e
      }
    })
    this.lock = run.catch(() => undefined)
    return run
  }
}
