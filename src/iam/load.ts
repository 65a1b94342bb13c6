/**
 * Loading a stored policy: a bucket policy, an identity policy, a key policy.
 * A stored policy was valid when it was saved, but the row may since have been
 * corrupted, or the parser made stricter. Dropping it would fail open (a Deny
 * it held would vanish), so a policy that cannot be loaded becomes an
 * `UnloadablePolicy`: the engine treats it as an explicit Deny of every
 * request that reads it, and the trace names it. Pure: no I/O.
 */
import { createHash } from 'node:crypto'
import { parsePolicyText, type Policy, type PolicyKind } from './policy.ts'

/** A stored policy that does not load; it denies every request that would have read it. */
export interface UnloadablePolicy {
  readonly kind: 'unloadable'
  /** What the policy was meant to be. */
  readonly intended: PolicyKind
  readonly name: string
  /** Why it does not load: the first error's code and position, never the policy's text. */
  readonly reason: string
  /** SHA-256 of the stored text, hex: one alert per distinct text. */
  readonly digest: string
}

/** What a policy set holds: a compiled policy, or one that could not be loaded. */
export type LoadedPolicy = Policy | UnloadablePolicy

export function isUnloadable(p: LoadedPolicy): p is UnloadablePolicy {
  return p.kind === 'unloadable'
}

/** Parses a stored policy; one that does not parse is returned as an `UnloadablePolicy`, never dropped. */
export function loadStoredPolicy(text: string, kind: PolicyKind, name: string): LoadedPolicy {
  let reason: string
  try {
    const r = parsePolicyText(text, kind, name, { lint: false })
    if (r.policy !== undefined) return r.policy
    const e = r.errors[0]
    reason =
      e === undefined
        ? 'it does not parse'
        : `${e.code} at ${e.path} (${e.line}:${e.column})${r.errors.length > 1 ? ` and ${r.errors.length - 1} more errors` : ''}`
  } catch (e) {
    // The parser throws only on its own bugs; a stored policy must still deny, not crash or vanish.
    reason = `the parser failed: ${e instanceof Error ? e.name : 'error'}`
  }
  return {
    kind: 'unloadable',
    intended: kind,
    name,
    reason,
    digest: createHash('sha256').update(text).digest('hex'),
  }
}

/** The one-line alert an operator sees for an unloadable policy (no policy text, no secrets). */
export function unloadableAlert(p: UnloadablePolicy): string {
  return `stored ${p.intended} policy \`${p.name}\` cannot be loaded (${p.reason}): every request that reads it is denied until it is replaced or deleted`
}
