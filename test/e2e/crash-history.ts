/**
 * What a crash test may see afterwards, from what it wrote: per key, every write with its
 * interval on one logical clock (start, and end: its acknowledgement, or for a write a kill cut
 * off, the kill). A write may be the one visible unless some acknowledged write to the key
 * started after it ended: that write committed later and replaced it. Overlapping writes may
 * commit in either order, even when acknowledged in the other order (a shared group commit).
 * Used by the single-gateway crash test and the cluster's.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'

interface Write {
  readonly v: number
  readonly start: number
  end: number
  acked: boolean
}

export class CrashHistory {
  private readonly writes = new Map<string, Write[]>()
  private clock = 0
  private version = 0
  readonly everAcked = new Set<string>()
  attempted = 0
  acknowledged = 0

  /** A write of `key` starting now; answers its version (its content is `content(key, v)`). */
  begin(key: string): { readonly v: number; ack(): void } {
    const w: Write = {
      v: ++this.version,
      start: ++this.clock,
      end: Number.POSITIVE_INFINITY,
      acked: false,
    }
    const ws = this.writes.get(key) ?? []
    this.writes.set(key, ws)
    ws.push(w)
    this.attempted++
    return {
      v: w.v,
      ack: () => {
        w.end = ++this.clock
        w.acked = true
        this.acknowledged++
        this.everAcked.add(key)
      },
    }
  }

  /** A kill happened: writes not acknowledged by now ended, at the latest, now. */
  killed(): void {
    const at = ++this.clock
    for (const ws of this.writes.values()) for (const w of ws) if (w.end > at) w.end = at
  }

  /**
   * Fails unless `body` (undefined: the key reads as NoSuchKey) is what `key` may show: no
   * object only if no write of it was ever acknowledged, else one of the allowed versions.
   */
  assertVisible(key: string, body: Buffer | undefined): void {
    if (body === undefined) {
      assert.equal(this.everAcked.has(key), false, `${key}: an acknowledged object is missing`)
      return
    }
    const allowed = this.allowed(key)
    assert.ok(
      allowed.some((v) => content(key, v).equals(body)),
      `${key}: the content is none of the versions that may be visible (${allowed.join(', ')})`,
    )
  }

  /** The versions of `key` that may be the visible one. */
  allowed(key: string): number[] {
    const ws = this.writes.get(key) ?? []
    return ws.filter((w) => !ws.some((a) => a.acked && a.start > w.end)).map((w) => w.v)
  }
}

/** Deterministic content of version `v` of `key`: 0 to `max` bytes of AES-CTR keystream. */
export function content(key: string, v: number, max = 400_000): Buffer {
  const seed = createHash('sha256')
    .update(`${key}:${String(v)}`)
    .digest()
  const size = seed.readUInt32BE(0) % max
  return createCipheriv('aes-128-ctr', seed.subarray(0, 16), Buffer.alloc(16)).update(
    Buffer.alloc(size),
  )
}

/** mulberry32 from a seed: a small, well-mixed 32-bit generator for choosing moments and keys. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
