/**
 * The right edge of an RFC 6962 tree: the roots of its complete subtrees, largest first, one
 * for each set bit of its size. It is all an appender needs to extend the tree and compute its
 * root, so a log whose records live elsewhere (the shared log's database) is sealed by
 * keeping ⌈log2 n⌉ hashes, not its tiles.
 */
import { StrongroomError } from '../../errors.ts'
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from './merkle.ts'

export class Frontier {
  private n: number
  /** Subtree roots, largest (leftmost) first. */
  private readonly roots: Buffer[]

  private constructor(size: number, roots: Buffer[]) {
    this.n = size
    this.roots = roots
  }

  static empty(): Frontier {
    return new Frontier(0, [])
  }

  /** The edge of a tree of `size` records from `encode`'s bytes; LOG_TAMPERED when they disagree. */
  static decode(size: number, bytes: Uint8Array): Frontier {
    const count = popcount(size)
    if (!Number.isSafeInteger(size) || size < 0 || bytes.length !== count * HASH_SIZE)
      throw new StrongroomError(
        'LOG_TAMPERED',
        `the tree edge of a log of ${size} records is ${count} hashes, not ${bytes.length} bytes`,
      )
    const roots = Array.from({ length: count }, (_, i) =>
      Buffer.from(bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)),
    )
    return new Frontier(size, roots)
  }

  get size(): number {
    return this.n
  }

  /** Appends one record. */
  push(record: Uint8Array): void {
    let node = leafHash(record)
    // Each trailing set bit of the old size is a subtree the new leaf completes.
    for (let s = this.n; s % 2 === 1; s = Math.floor(s / 2))
      node = nodeHash(this.roots.pop() as Buffer, node)
    this.roots.push(node)
    this.n++
  }

  /** The tree's root (RFC 6962 MTH). */
  root(): Buffer {
    if (this.roots.length === 0) return Buffer.from(EMPTY_ROOT)
    let node = this.roots[this.roots.length - 1] as Buffer
    for (let i = this.roots.length - 2; i >= 0; i--) node = nodeHash(this.roots[i] as Buffer, node)
    return node
  }

  /** The root of the edge's complete subtree of 2^level records, if the size has that bit. */
  node(level: number): Buffer | undefined {
    if (Math.floor(this.n / 2 ** level) % 2 === 0) return undefined
    return this.roots[popcount(Math.floor(this.n / 2 ** (level + 1)))]
  }

  encode(): Buffer {
    return Buffer.concat(this.roots)
  }
}

function popcount(n: number): number {
  let c = 0
  for (let s = n; s > 0; s = Math.floor(s / 2)) c += s % 2
  return c
}
