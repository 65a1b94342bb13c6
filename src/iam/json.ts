/**
 * A strict JSON reader for policy documents (RFC 8259). Unlike JSON.parse it
 * refuses duplicate object keys (JSON.parse keeps the last one silently,
 * which can turn a Deny into an Allow), bounds depth and size, and records
 * where every value starts so errors can name line:column.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue }

export interface Located {
  readonly line: number
  readonly column: number
}

export class JsonSyntaxError extends Error {
  readonly at: Located
  constructor(message: string, at: Located) {
    super(message)
    this.name = 'JsonSyntaxError'
    this.at = at
  }
}

export interface ParsedJson {
  readonly value: JsonValue
  /** Where each value starts, keyed by JSON path (`$.Statement[0].Effect`). */
  readonly positions: ReadonlyMap<string, Located>
}

export const JSON_LIMITS = { bytes: 1024 * 1024, depth: 64 } as const

/** Appends a member name to a JSON path, bracketing names that are not identifiers. */
export function pathKey(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

export function parseJson(text: string): ParsedJson {
  if (text.length > JSON_LIMITS.bytes) {
    throw new JsonSyntaxError(`document is larger than ${JSON_LIMITS.bytes} characters`, {
      line: 1,
      column: 1,
    })
  }
  const positions = new Map<string, Located>()
  let i = 0
  let line = 1
  let lineStart = 0
  const here = (): Located => ({ line, column: i - lineStart + 1 })
  const fail = (msg: string): never => {
    throw new JsonSyntaxError(msg, here())
  }
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x09 || c === 0x0d) i++
      else if (c === 0x0a) {
        i++
        line++
        lineStart = i
      } else return
    }
  }
  const str = (): string => {
    // text[i] is the opening quote
    i++
    let out = ''
    let start = i
    for (;;) {
      if (i >= text.length) fail('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        out += text.slice(start, i)
        i++
        return out
      }
      if (c < 0x20) fail('control character in string; escape it')
      if (c === 0x5c) {
        out += text.slice(start, i)
        const e = text[i + 1]
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        }
        const plain = e === undefined ? undefined : simple[e]
        if (plain !== undefined) {
          out += plain
          i += 2
        } else if (e === 'u') {
          const hex = text.slice(i + 2, i + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape')
          out += String.fromCharCode(parseInt(hex, 16))
          i += 6
        } else fail('bad escape in string')
        start = i
      } else i++
    }
  }
  const num = (): number => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (m === null) fail('bad number')
    const s = (m as RegExpExecArray)[0]
    i += s.length
    const n = Number(s)
    if (!Number.isFinite(n)) fail('number out of range')
    return n
  }
  const value = (path: string, depth: number): JsonValue => {
    if (depth > JSON_LIMITS.depth) fail(`nested deeper than ${JSON_LIMITS.depth} levels`)
    ws()
    positions.set(path, here())
    const c = text[i]
    if (c === '{') {
      i++
      const obj: { [k: string]: JsonValue } = Object.create(null) as { [k: string]: JsonValue }
      ws()
      if (text[i] === '}') {
        i++
        return obj
      }
      for (;;) {
        ws()
        if (text[i] !== '"') fail('expected a member name in double quotes')
        const at = here()
        const key = str()
        if (Object.hasOwn(obj, key)) {
          throw new JsonSyntaxError(
            `duplicate key ${JSON.stringify(key)} (JSON readers keep only one of them)`,
            at,
          )
        }
        ws()
        if (text[i] !== ':') fail('expected `:` after a member name')
        i++
        obj[key] = value(pathKey(path, key), depth + 1)
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return obj
        }
        fail('expected `,` or `}`')
      }
    }
    if (c === '[') {
      i++
      const arr: JsonValue[] = []
      ws()
      if (text[i] === ']') {
        i++
        return arr
      }
      for (;;) {
        arr.push(value(`${path}[${arr.length}]`, depth + 1))
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return arr
        }
        fail('expected `,` or `]`')
      }
    }
    if (c === '"') return str()
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num()
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length
        return v
      }
    }
    return fail(
      i >= text.length ? 'unexpected end of document' : `unexpected character ${JSON.stringify(c)}`,
    )
  }
  if (text.charCodeAt(0) === 0xfeff) i = 1
  const v = value('$', 0)
  ws()
  if (i < text.length) fail('unexpected text after the document')
  return { value: v, positions }
}
