/**
 * The record hashing of verifyLog, which is most of its work: an entry bundle read, its records
 * split and hashed as RFC 6962 leaves, compared with the level-0 tile that should hold them,
 * and for a full bundle the root of its 256 leaves (the level-8 node, 255 more hashes). It
 * needs only the directory and the bundle's index, so it runs the same inline or in a worker
 * thread (bundle-worker.ts), where the worker reads the files itself and only the hashes, 8 KiB
 * a bundle, cross back. Nothing here decides that the log is bad: when the tile does not agree,
 * or cannot be read here, the verifier reads it again itself and says what is wrong.
 */
import { hash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ERROR_CODES, StrongroomError } from '../../errors.ts'
import { readLogFileSync } from './files.ts'
import { HASH_SIZE, runRootBinary } from './merkle.ts'
import { bundleOffsets, bundlePath, TILE_WIDTH, tilePath } from './tiles.ts'

export type BundleHashes =
  /** Neither the bundle nor (for a partial one) its full bundle is there. */
  | { readonly kind: 'missing' }
  /** The bundle ends inside a record: `records` whole records come before it. */
  | { readonly kind: 'corrupt'; readonly records: number }
  /**
   * `leaves`: the leaf hashes, 32 chars each as binary strings ('latin1'), joined; `root`: the
   * level-8 node over them when there are exactly 256; `agrees`: whether the level-0 tile at
   * the bundle's own path holds exactly these hashes; `bytes`: the bundle file's size.
   */
  | {
      readonly kind: 'hashed'
      readonly bytes: number
      readonly leaves: string
      readonly root: string | undefined
      readonly agrees: boolean
    }

/** One buffer per file kind, reused: see readLogFileSync. Jobs run one at a time per thread. */
const reuse = () => {
  let buffer = Buffer.alloc(0)
  return (size: number) => {
    if (buffer.length < size) buffer = Buffer.allocUnsafe(Math.max(size, 2 * buffer.length))
    return buffer.subarray(0, size)
  }
}
const bundleRoom = reuse()
const tileRoom = reuse()

/**
 * The hashes of bundle `index` of a tree whose level-0 tile `index` is `width` wide. A partial
 * bundle since removed is read from the full one, and only its first `width` records count.
 * Throws IO as readLogFile does when a file is there but cannot be read as a log file.
 */
export function hashBundle(dir: string, index: number, width: number): BundleHashes {
  let bytes = readLogFileSync(dir, bundlePath(index, width), bundleRoom)
  let count = Infinity
  if (bytes === undefined && width < TILE_WIDTH) {
    bytes = readLogFileSync(dir, bundlePath(index), bundleRoom)
    count = width
  }
  if (bytes === undefined) return { kind: 'missing' }
  const { starts, corrupt } = bundleOffsets(bytes)
  if (corrupt !== undefined) return { kind: 'corrupt', records: starts.length }
  // Hashed in place: the byte before each record (its length's low byte) becomes the 0x00 prefix.
  const leaves: string[] = []
  for (let i = 0; i < Math.min(count, starts.length); i++) {
    const s = starts[i] as number
    const end = i + 1 < starts.length ? (starts[i + 1] as number) - 2 : bytes.length
    bytes[s - 1] = 0
    leaves.push(hash('sha256', bytes.subarray(s - 1, end), 'binary'))
  }
  const joined = leaves.join('')
  const root = leaves.length === TILE_WIDTH ? runRootBinary(leaves) : undefined
  const agrees = tileHolds(dir, index, width, joined)
  return { kind: 'hashed', bytes: bytes.length, leaves: joined, root, agrees }
}

/** Whether level-0 tile `index`, `width` wide, is exactly `leaves`; false too when unreadable. */
function tileHolds(dir: string, index: number, width: number, leaves: string): boolean {
  if (leaves.length !== width * HASH_SIZE) return false
  try {
    const tile = readLogFileSync(dir, tilePath(0, index, width), tileRoom)
    return tile?.length === leaves.length && tile.toString('latin1') === leaves
  } catch {
    return false
  }
}

export interface HashJob {
  readonly id: number
  readonly dir: string
  readonly index: number
  readonly width: number
}

export type HashReply =
  | { readonly id: number; readonly hashes: BundleHashes }
  | { readonly id: number; readonly error: { readonly code?: string; readonly message: string } }

/** Jobs given to one worker before it answers: enough that it never waits for the next. */
const PER_WORKER = 4
/** More would only wait for the caller's thread, which checks every answer in order. */
const MAX_WORKERS = 3

interface Slot {
  readonly worker: Worker
  ready: boolean
  busy: number
}

interface Pending {
  readonly job: HashJob
  readonly resolve: (h: BundleHashes) => void
  readonly reject: (e: Error) => void
}

/**
 * Worker threads that hash bundles, one fewer than the cores (the caller's thread is the last
 * hasher). Jobs wait in a queue: the workers take them from its front, and the caller, rather
 * than wait, hashes some inline, from its back (`steal`), or one no worker has taken yet
 * (`claim`). So the first bundles are hashed while a worker starts (a hundred milliseconds or
 * more: it loads TypeScript), and no core idles. The caller bounds how many jobs it submits
 * ahead, which bounds memory.
 */
export class BundleHasher {
  private readonly slots: Slot[] = []
  private readonly queue = new Map<number, Pending>()
  private readonly sent = new Map<number, Pending>()
  private nextId = 0
  private failure: Error | undefined

  constructor(threads = Math.min(Math.max(availableParallelism() - 1, 1), MAX_WORKERS)) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./bundle-worker.ts', import.meta.url))
      const slot: Slot = { worker, ready: false, busy: 0 }
      worker.on('message', (m: HashReply | 'ready') => {
        if (m === 'ready') slot.ready = true
        else {
          slot.busy--
          this.settle(m)
        }
        this.pump()
      })
      worker.on('error', (e: Error) => this.fail(e))
      worker.on('exit', (code) => this.fail(Error(`a hashing worker exited (code ${code})`)))
      this.slots.push(slot)
    }
  }

  /** Bundle `index`'s hashes, from a worker; `claim(id)` takes the job back while it waits. */
  submit(dir: string, index: number, width: number): { id: number; hashes: Promise<BundleHashes> } {
    const id = this.nextId++
    const hashes = new Promise<BundleHashes>((resolve, reject) => {
      if (this.failure !== undefined) reject(this.failure)
      else this.queue.set(id, { job: { id, dir, index, width }, resolve, reject })
    })
    hashes.catch(() => undefined)
    this.pump()
    return { id, hashes }
  }

  /** Whether job `id` was still waiting and is now the caller's to do (its promise never settles). */
  claim(id: number): boolean {
    return this.queue.delete(id)
  }

  /** The waiting job furthest back, now the caller's to do; undefined when none waits. */
  steal(): HashJob | undefined {
    let last: number | undefined
    for (const id of this.queue.keys()) last = id
    const p = last === undefined ? undefined : this.queue.get(last)
    if (last !== undefined) this.queue.delete(last)
    return p?.job
  }

  /** Whether job `id` is still to be answered by a worker. */
  pending(id: number): boolean {
    return this.queue.has(id) || this.sent.has(id)
  }

  async close(): Promise<void> {
    this.failure ??= Error('the hashing workers were closed')
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }

  private pump(): void {
    for (const [id, p] of this.queue) {
      const slot = this.slots.find((s) => s.ready && s.busy < PER_WORKER)
      if (slot === undefined) return
      this.queue.delete(id)
      this.sent.set(id, p)
      slot.busy++
      slot.worker.postMessage(p.job)
    }
  }

  private settle(m: HashReply): void {
    const p = this.sent.get(m.id)
    this.sent.delete(m.id)
    if (p === undefined) return
    if ('hashes' in m) p.resolve(m.hashes)
    else {
      const code = ERROR_CODES.find((c) => c === m.error.code)
      p.reject(
        code === undefined ? Error(m.error.message) : new StrongroomError(code, m.error.message),
      )
    }
  }

  private fail(e: Error): void {
    if (this.failure !== undefined) return
    this.failure = e
    for (const p of [...this.queue.values(), ...this.sent.values()]) p.reject(e)
    this.queue.clear()
    this.sent.clear()
  }
}
