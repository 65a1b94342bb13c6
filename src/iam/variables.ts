/**
 * Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, with a
 * default (`${aws:PrincipalTag/team, 'company-wide'}`), and the escapes
 * `${*}`, `${?}` and `${$}`. They are substituted only in policies of Version
 * 2012-10-17; elsewhere the text is literal. A substituted value is always
 * literal: a tag value of `*` is not a wildcard. A variable whose key is
 * absent (and has no default) makes the comparison unresolvable.
 */
import {
  arnMatch,
  compileMatcher,
  globMatch,
  globPattern,
  literalPattern,
  type Matcher,
  type Pattern,
} from './match.ts'

export type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'escape'; readonly char: '*' | '?' | '$' }
  | { readonly kind: 'var'; readonly key: string; readonly fallback: string | undefined }

/** Context as the engine sees it: lower-cased keys, every value a list. */
export type Context = ReadonlyMap<string, readonly string[]>

const VAR = /\$\{([^}]*)\}/g
const KEY = /^[A-Za-z0-9_.:/-]+$/
const DEFAULT = /^([A-Za-z0-9_.:/-]+)\s*,\s*'([^']*)'$/

/** Splits a value into parts; throws a message string for a malformed variable. */
export function parseTemplate(s: string): Part[] {
  const parts: Part[] = []
  let last = 0
  for (const m of s.matchAll(VAR)) {
    if (m.index > last) parts.push({ kind: 'text', text: s.slice(last, m.index) })
    last = m.index + m[0].length
    const body = (m[1] ?? '').trim()
    if (body === '*' || body === '?' || body === '$') parts.push({ kind: 'escape', char: body })
    else if (KEY.test(body))
      parts.push({ kind: 'var', key: body.toLowerCase(), fallback: undefined })
    else {
      const d = DEFAULT.exec(body)
      if (d === null)
        throw new Error(
          `\`\${${m[1] ?? ''}}\` is not a policy variable: use \${key} or \${key, 'default'}`,
        )
      parts.push({ kind: 'var', key: (d[1] ?? '').toLowerCase(), fallback: d[2] ?? '' })
    }
  }
  if (s.indexOf('${', last) >= 0) throw new Error(`an unclosed \`\${\` in \`${s.slice(0, 80)}\``)
  if (last < s.length) parts.push({ kind: 'text', text: s.slice(last) })
  return parts
}

/**
 * A policy value compiled once: constant when it has no variables (or the
 * policy version does not substitute), else resolved per request.
 */
export class Template {
  readonly source: string
  private readonly parts: readonly Part[] | undefined
  private readonly constString: string
  private readonly constGlob: Pattern
  readonly hasVariables: boolean
  private arnTest: Matcher | undefined
  private globTest: Matcher | undefined

  constructor(source: string, substitute: boolean) {
    this.source = source
    const parts = substitute && source.includes('${') ? parseTemplate(source) : undefined
    this.hasVariables = parts?.some((p) => p.kind === 'var') === true
    this.parts = this.hasVariables ? parts : undefined
    if (parts === undefined) {
      this.constString = source
      this.constGlob = globPattern(source)
    } else {
      this.constString = parts
        .map((p) => (p.kind === 'text' ? p.text : p.kind === 'escape' ? p.char : ''))
        .join('')
      this.constGlob = parts.flatMap((p) =>
        p.kind === 'text' ? globPattern(p.text) : p.kind === 'escape' ? literalPattern(p.char) : [],
      )
    }
  }

  /** The value as a literal string, or undefined when a variable is absent. */
  string(ctx: Context): string | undefined {
    if (this.parts === undefined) return this.constString
    let out = ''
    for (const p of this.parts) {
      if (p.kind === 'text') out += p.text
      else if (p.kind === 'escape') out += p.char
      else {
        const v = lookup(ctx, p)
        if (v === undefined) return undefined
        out += v
      }
    }
    return out
  }

  /** The value as a wildcard pattern (variables literal), or undefined when a variable is absent. */
  glob(ctx: Context): Pattern | undefined {
    if (this.parts === undefined) return this.constGlob
    const out: number[] = []
    for (const p of this.parts) {
      if (p.kind === 'text') out.push(...globPattern(p.text))
      else if (p.kind === 'escape') out.push(p.char.charCodeAt(0))
      else {
        const v = lookup(ctx, p)
        if (v === undefined) return undefined
        out.push(...literalPattern(v))
      }
    }
    return out
  }

  /** Does ARN `s` match this value as a pattern (segment by segment)? False when a variable is absent. */
  matchArn(s: string, ctx: Context): boolean {
    if (this.parts === undefined) return (this.arnTest ??= compileMatcher(this.constGlob, true))(s)
    const p = this.glob(ctx)
    return p !== undefined && arnMatch(p, s)
  }

  /** Does `s` match this value as a wildcard pattern? False when a variable is absent. */
  matchGlob(s: string, ctx: Context): boolean {
    if (this.parts === undefined)
      return (this.globTest ??= compileMatcher(this.constGlob, false))(s)
    const p = this.glob(ctx)
    return p !== undefined && globMatch(p, s)
  }

  /** Keys of the variables it reads. */
  keys(): string[] {
    return (this.parts ?? []).flatMap((p) => (p.kind === 'var' ? [p.key] : []))
  }
}

function lookup(
  ctx: Context,
  p: { key: string; fallback: string | undefined },
): string | undefined {
  const v = ctx.get(p.key)
  // A multi-valued key cannot stand in one place; like an absent key, it resolves only to the default.
  if (v?.length === 1) return v[0]
  return p.fallback
}
