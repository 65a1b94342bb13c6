/**
 * The plaintext of a multipart object: its parts, each a sealed body of its
 * own, read as one. A byte range maps onto the parts it covers; each part is
 * checked (its header against its row, its binding to the upload and part
 * number, its data key, its size) before the range's first byte goes out, so
 * a part swapped, rolled back or truncated on disk fails the read before it
 * starts; then the parts are read one at a time, each opened when the range
 * reaches it and closed when it leaves it.
 */
import { StrongroomError } from '../errors.ts'
import { resolveRange } from '../crypto/range.ts'
import type { OpenedStoredObject, PlainBody } from './scanning.ts'

export interface PartOpener {
  /** The part's plaintext length, from its row. */
  readonly size: number
  open(): Promise<OpenedStoredObject>
}

/**
 * Opens a multipart body: parts open as ranges reach them. An empty body
 * opens (and so verifies) each of its empty parts now.
 */
export async function openParts(parts: readonly PartOpener[]): Promise<OpenedStoredObject> {
  const starts: number[] = []
  let total = 0
  for (const p of parts) {
    starts.push(total)
    total += p.size
  }
  if (total === 0) await checkParts(parts, 0, parts.length - 1)
  /**
   * The index of the part holding byte `position` (< total): the last part
   * starting at or before it, which is never an empty one (an empty part
   * starts where the next one does).
   */
  const partAt = (position: number): number => {
    let lo = 0
    let hi = parts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((starts[mid] ?? 0) <= position) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  const body: PlainBody = {
    plaintextLength: total,
    async *range(first: number, last: number): AsyncGenerator<Buffer> {
      const [a, b] = resolveRange(first, last, total)
      const from = partAt(a)
      // Through the last part when the range reaches the end (trailing empty parts included).
      const to = b === total - 1 ? parts.length - 1 : partAt(b)
      const pending = new Map<number, Promise<OpenedStoredObject>>()
      const openAt = (i: number): Promise<OpenedStoredObject> => {
        let p = pending.get(i)
        if (p === undefined) {
          const part = parts[i]
          if (part === undefined) throw new StrongroomError('INTERNAL', `no part at ${i}`)
          p = part.open()
          p.catch(() => undefined)
          pending.set(i, p)
        }
        return p
      }
      try {
        await openAt(from)
        await checkParts(parts, from + 1, to)
        for (let i = from; i <= to; i++) {
          const opened = await openAt(i)
          pending.delete(i)
          // One part of open-ahead: the next part's header and key are ready when this one ends.
          if (i + 1 <= to) void openAt(i + 1)
          try {
            const start = starts[i] ?? 0
            const size = parts[i]?.size ?? 0
            if (size > 0)
              yield* opened.object.range(
                Math.max(a, start) - start,
                Math.min(b, start + size - 1) - start,
              )
          } finally {
            await opened.close()
          }
        }
      } finally {
        for (const p of pending.values()) void p.then((o) => o.close()).catch(() => undefined)
      }
    },
  }
  return { object: body, close: () => Promise.resolve() }
}

/** Opens (so checks) and closes parts [from, to], a few at a time. */
async function checkParts(parts: readonly PartOpener[], from: number, to: number): Promise<void> {
  let next = from
  const worker = async () => {
    for (let i = next++; i <= to; i = next++) {
      const part = parts[i]
      if (part !== undefined) await (await part.open()).close()
    }
  }
  await Promise.all(Array.from({ length: Math.min(CHECK_PARALLEL, to - from + 1) }, worker))
}

const CHECK_PARALLEL = 8
