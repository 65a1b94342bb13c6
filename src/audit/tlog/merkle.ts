/**
 * RFC 6962 Merkle trees, so that the audit log's proofs mean the same thing to every tool that
 * checks Certificate Transparency or C2SP logs: a leaf is SHA-256(0x00 ‖ record), an interior
 * node SHA-256(0x01 ‖ left ‖ right), and a tree of n leaves splits at the largest power of two
 * below n (https://www.rfc-editor.org/rfc/rfc6962#section-2.1). Proofs are generated as RFC 6962
 * §2.1.1 and §2.1.2 define them and verified with RFC 9162's iterative algorithms
 * (https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2, #section-2.1.4.2).
 *
 * Everything that needs stored hashes asks a `HashReader` for complete subtrees only, so a
 * proof over a log of a billion records reads a few dozen hashes from its tiles, never the log.
 *
 * Node's one-shot `crypto.hash` costs a third as much when it answers a string as when it
 * answers a Buffer, so the hot paths (writing and verifying whole logs) keep hashes as binary
 * strings (one char per byte, 'latin1'); the public functions speak Uint8Array.
 */
import { hash } from 'node:crypto'

export const HASH_SIZE = 32

/** The root of the empty tree: SHA-256 of nothing (RFC 6962 §2.1). */
export const EMPTY_ROOT: Uint8Array = hash('sha256', new Uint8Array(0), 'buffer')

/** The complete subtree of 2^level leaves that starts at leaf index × 2^level. */
export interface NodeId {
  readonly level: number
  readonly index: number
}

/** Where proofs get their hashes: tiles on disk, or a tree in memory. */
export interface HashReader {
  /** The hash of each node, in order; every node is a complete subtree inside the tree served. */
  readHashes(nodes: readonly NodeId[]): Promise<Uint8Array[]>
}

export type ProofCheck = { readonly ok: true } | { readonly ok: false; readonly problem: string }

export function leafHash(data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(data.length + 1)
  b[0] = 0
  b.set(data, 1)
  return hash('sha256', b, 'buffer')
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + 2 * HASH_SIZE)
  b[0] = 1
  b.set(left, 1)
  b.set(right, 1 + HASH_SIZE)
  return hash('sha256', b, 'buffer')
}

export function fromBinary(s: string): Buffer {
  return Buffer.from(s, 'latin1')
}

/** `count` hashes from hash `first` of a tile's bytes, as binary strings. */
export function splitBinary(tile: Buffer, first = 0, count = tile.length / HASH_SIZE): string[] {
  const out: string[] = []
  for (let i = first; i < first + count; i++)
    out.push(tile.toString('latin1', i * HASH_SIZE, (i + 1) * HASH_SIZE))
  return out
}

export function leafHashBinary(data: Uint8Array): string {
  const b = Buffer.allocUnsafe(data.length + 1)
  b[0] = 0
  b.set(data, 1)
  return hash('sha256', b, 'binary')
}

const scratch = Buffer.alloc(1 + 2 * HASH_SIZE, 1)

/** nodeHash over binary strings; both must be 32 chars (hashes this module made). */
export function nodeHashBinary(left: string, right: string): string {
  scratch.write(left, 1, 'latin1')
  scratch.write(right, 1 + HASH_SIZE, 'latin1')
  return hash('sha256', scratch, 'binary')
}

/**
 * A run of sibling subtrees of one height (leaf hashes, or a tile's row) as the complete
 * subtrees RFC 6962 splits it into: descending powers of two, left to right.
 */
export function runChunksBinary(
  hashes: readonly string[],
  start = 0,
  count = hashes.length,
): string[] {
  const chunks: string[] = []
  let at = start
  for (let rest = count; rest > 0;) {
    const size = highestPow2AtMost(rest)
    const row = hashes.slice(at, at + size)
    for (let w = size; w > 1; w /= 2)
      for (let i = 0; i < w / 2; i++)
        row[i] = nodeHashBinary(row[2 * i] ?? '', row[2 * i + 1] ?? '')
    chunks.push(row[0] ?? '')
    at += size
    rest -= size
  }
  return chunks
}

/** MTH over a run of sibling subtrees: its chunks folded from the right. */
export function runRootBinary(hashes: readonly string[], start = 0, count = hashes.length): string {
  return foldRight(runChunksBinary(hashes, start, count), nodeHashBinary)
}

/** The root over complete subtrees given left to right (largest first), binary strings. */
export function foldBinary(parts: readonly string[]): string {
  return foldRight(parts, nodeHashBinary)
}

function foldRight<T>(parts: readonly T[], join: (l: T, r: T) => T): T {
  let h = parts[parts.length - 1]
  if (h === undefined) throw new RangeError('nothing to fold')
  for (let i = parts.length - 2; i >= 0; i--) h = join(parts[i] as T, h)
  return h
}

function highestPow2AtMost(n: number): number {
  let k = 1
  while (k * 2 <= n) k *= 2
  return k
}

function largestPow2Below(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

type Range = readonly [number, number]

/** The complete subtrees that make up leaves [lo, hi), left to right; lo is aligned as in proofs. */
function rangeNodes([lo, hi]: Range): NodeId[] {
  const out: NodeId[] = []
  for (let at = lo; at < hi;) {
    let size = highestPow2AtMost(hi - at)
    while (at % size !== 0) size /= 2
    let level = 0
    for (let s = size; s > 1; s /= 2) level++
    out.push({ level, index: at / size })
    at += size
  }
  return out
}

/** MTH of each range, reading every node they need in one call. */
async function rangeHashes(reader: HashReader, ranges: readonly Range[]): Promise<Uint8Array[]> {
  const perRange = ranges.map(rangeNodes)
  const hashes = await reader.readHashes(perRange.flat())
  let at = 0
  return perRange.map((nodes) => {
    const mine = hashes.slice(at, at + nodes.length)
    at += nodes.length
    return foldRight(mine, nodeHash)
  })
}

function checkSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${what} must be a whole number from 0 to 2^53, got ${n}`)
}

export async function rootHash(reader: HashReader, size: number): Promise<Uint8Array> {
  checkSize('the tree size', size)
  if (size === 0) return EMPTY_ROOT
  const [root] = await rangeHashes(reader, [[0, size]])
  return root ?? EMPTY_ROOT
}

/** RFC 6962 §2.1.1 PATH(m, D[lo:hi]), as leaf ranges, from the leaf's sibling up. */
function pathRanges(m: number, lo: number, hi: number, out: Range[]): Range[] {
  if (hi - lo <= 1) return out
  const k = largestPow2Below(hi - lo)
  if (m < lo + k) {
    pathRanges(m, lo, lo + k, out)
    out.push([lo + k, hi])
  } else {
    pathRanges(m, lo + k, hi, out)
    out.push([lo, lo + k])
  }
  return out
}

/** RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b), as leaf ranges. */
function subproofRanges(m: number, lo: number, hi: number, b: boolean, out: Range[]): Range[] {
  const n = hi - lo
  if (m === n) {
    if (!b) out.push([lo, hi])
    return out
  }
  const k = largestPow2Below(n)
  if (m <= k) {
    subproofRanges(m, lo, lo + k, b, out)
    out.push([lo + k, hi])
  } else {
    subproofRanges(m - k, lo + k, hi, false, out)
    out.push([lo, lo + k])
  }
  return out
}

/** The audit path of leaf `index` in the tree of the first `size` leaves. */
export async function inclusionProof(
  reader: HashReader,
  index: number,
  size: number,
): Promise<Uint8Array[]> {
  checkSize('the tree size', size)
  checkSize('the leaf index', index)
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size} leaves`)
  return rangeHashes(reader, pathRanges(index, 0, size, []))
}

/** The proof that the tree of `size1` leaves is a prefix of the tree of `size2`. */
export async function consistencyProof(
  reader: HashReader,
  size1: number,
  size2: number,
): Promise<Uint8Array[]> {
  checkSize('the old tree size', size1)
  checkSize('the new tree size', size2)
  if (size1 > size2) throw new RangeError(`a tree of ${size1} is not a prefix of one of ${size2}`)
  if (size1 === 0 || size1 === size2) return []
  return rangeHashes(reader, subproofRanges(size1, 0, size2, true, []))
}

function badHashes(proof: readonly Uint8Array[]): string | undefined {
  const i = proof.findIndex((h) => h.length !== HASH_SIZE)
  return i < 0 ? undefined : `proof hash ${i} is ${proof[i]?.length} bytes, not ${HASH_SIZE}`
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b)

/** RFC 9162 §2.1.3.2: does `proof` lead from leaf `index`'s hash to `root` at `size`? */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): ProofCheck {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return { ok: false, problem: `leaf ${index} is not in a tree of ${size} leaves` }
  const bad = badHashes([leaf, root, ...proof])
  if (bad !== undefined) return { ok: false, problem: bad }
  const want = pathRanges(index, 0, size, []).length
  if (proof.length !== want)
    return {
      ok: false,
      problem: `the proof has ${proof.length} hashes; leaf ${index} of ${size} needs ${want}`,
    }
  let fn = index
  let sn = size - 1
  let r: Uint8Array = leaf
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else r = nodeHash(r, p)
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && same(r, root)
    ? { ok: true }
    : { ok: false, problem: `the proof does not lead from leaf ${index} to the root of ${size}` }
}

/** RFC 9162 §2.1.4.2: is the tree (size1, root1) a prefix of the tree (size2, root2)? */
export function verifyConsistency(
  size1: number,
  root1: Uint8Array,
  size2: number,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): ProofCheck {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0)
    return { ok: false, problem: `tree sizes ${size1} and ${size2} are not tree sizes` }
  if (size2 < size1)
    return { ok: false, problem: `the newer tree (${size2}) is smaller than the older (${size1})` }
  const bad = badHashes([root1, root2, ...proof])
  if (bad !== undefined) return { ok: false, problem: bad }
  if (size1 === size2 || size1 === 0) {
    if (proof.length !== 0)
      return { ok: false, problem: `a proof from ${size1} to ${size2} is empty` }
    if (size1 === 0 && !same(root1, EMPTY_ROOT))
      return { ok: false, problem: 'the root of the empty tree is not SHA-256 of nothing' }
    return size1 !== size2 || same(root1, root2)
      ? { ok: true }
      : { ok: false, problem: `two different roots for the same tree size ${size1}` }
  }
  const want = subproofRanges(size1, 0, size2, true, []).length
  if (proof.length !== want)
    return {
      ok: false,
      problem: `the proof has ${proof.length} hashes; ${size1} to ${size2} needs ${want}`,
    }
  const path = size1 === highestPow2AtMost(size1) ? [root1, ...proof] : [...proof]
  let fn = size1 - 1
  let sn = size2 - 1
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  let fr = path[0] as Uint8Array
  let sr = fr
  for (const c of path.slice(1)) {
    if (sn === 0) return { ok: false, problem: 'the proof is longer than the trees are deep' }
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else sr = nodeHash(sr, c)
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  if (sn !== 0 || !same(fr, root1))
    return { ok: false, problem: `the proof does not lead to the older root (size ${size1})` }
  if (!same(sr, root2))
    return { ok: false, problem: `the proof does not lead to the newer root (size ${size2})` }
  return { ok: true }
}

/** A whole tree in memory, every complete subtree stored: for tests and small logs. */
export class MemoryTree implements HashReader {
  private readonly levels: Uint8Array[][] = [[]]

  get size(): number {
    return this.levels[0]?.length ?? 0
  }

  append(data: Uint8Array): void {
    this.appendHash(leafHash(data))
  }

  appendHash(h: Uint8Array): void {
    let node: Uint8Array = Buffer.from(h)
    for (let level = 0; ; level++) {
      const row = (this.levels[level] ??= [])
      row.push(node)
      if (row.length % 2 === 1) return
      node = nodeHash(row[row.length - 2] as Uint8Array, node)
    }
  }

  readHashes(nodes: readonly NodeId[]): Promise<Uint8Array[]> {
    return Promise.resolve(
      nodes.map(({ level, index }) => {
        const h = this.levels[level]?.[index]
        if (h === undefined) throw new RangeError(`no complete subtree at ${level}/${index}`)
        return h
      }),
    )
  }
}
