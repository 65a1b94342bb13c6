/**
 * The clock every time Strongroom records comes from (creation and
 * modification times, key rotation and deletion dates, bucket-name holds).
 * app.ts passes one clock to everything it composes; tests give a fixed one.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that reads `at` until it is moved: for tests. */
export function fixedClock(
  at: number,
): Clock & { set(ms: number): void; advance(ms: number): void } {
  let t = at
  return {
    now: () => t,
    set(ms: number) {
      t = ms
    },
    advance(ms: number) {
      t += ms
    },
  }
}
