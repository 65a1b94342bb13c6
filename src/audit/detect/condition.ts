/**
 * Conditions over one event (the `where:` of a rule). A leaf holds when any value of its field
 * satisfies it; `all`, `any` and `not` combine leaves. Evaluation reads only the fields the
 * condition names, and short-circuits.
 */
import type { EventView } from './fields.ts'
import type { Condition } from './rules.ts'

/**
 * Whether `c` holds for `ev`. `notes` receives the name of each list entry that matched
 * (`Kali Linux`), for the alert's summary.
 */
export function holds(c: Condition, ev: EventView, notes?: string[]): boolean {
  switch (c.op) {
    case 'equals':
      return ev.scalars(c.field).some((v) => v === c.value)
    case 'in':
      return ev.scalars(c.field).some((v) => c.values.includes(v))
    case 'regex':
      return ev.scalars(c.field).some((v) => typeof v === 'string' && c.regex.test(v))
    case 'exists':
      return ev.values(c.field).length > 0 === c.exists
    case 'inList': {
      for (const v of ev.scalars(c.field)) {
        if (typeof v !== 'string') continue
        const hit = c.entries.find((e) => e.pattern.test(v))
        if (hit !== undefined) {
          notes?.push(hit.name)
          return true
        }
      }
      return false
    }
    case 'all':
      return c.of.every((x) => holds(x, ev, notes))
    case 'any':
      return c.of.some((x) => holds(x, ev, notes))
    case 'not':
      return !holds(c.of, ev)
  }
}
