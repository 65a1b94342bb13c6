/** Composes an adapter's per-port modules into one MetadataStore object. */
import { StrongroomError } from '../errors.ts'

/**
 * One object with every method of `parts`, each bound to its module and never
 * throwing synchronously. Two
 * modules offering the same method name is a programming error, caught here
 * at start-up rather than by one silently shadowing the other.
 */
export function compose(parts: readonly object[], extra: Record<string, unknown>): object {
  const out: Record<string, unknown> = { ...extra }
  for (const part of parts) {
    const proto = Object.getPrototypeOf(part) as object
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue
      const fn = (part as Record<string, unknown>)[name]
      if (typeof fn !== 'function') continue
      if (Object.hasOwn(out, name))
        throw new StrongroomError('INTERNAL', `two metadata modules both define \`${name}\``)
      const method = fn as (...a: unknown[]) => unknown
      // A port method answers with a promise: a synchronous failure (SQLite's) becomes its rejection.
      out[name] = (...args: unknown[]) => {
        try {
          return method.apply(part, args)
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)))
        }
      }
    }
  }
  return out
}
