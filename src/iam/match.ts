/**
 * Matching primitives: wildcard patterns, ARN segment matching, IP ranges.
 *
 * A pattern is an array of codes: a character code for a literal, STAR for
 * `*` and ONE for `?`. Literals from `${*}`, `${?}` and substituted variable
 * values are plain character codes, so they never act as wildcards.
 * Matching is the two-pointer algorithm with one backtrack point: O(n·m) in
 * the worst case, never exponential, whatever the pattern.
 */

export const STAR = -1
export const ONE = -2
export type Pattern = readonly number[]

export function literalPattern(s: string): number[] {
  const out: number[] = new Array<number>(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** `*` and `?` are wildcards; everything else is literal. */
export function globPattern(s: string): number[] {
  const out = literalPattern(s)
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 42) out[i] = STAR
    else if (out[i] === 63) out[i] = ONE
  }
  return out
}

export function hasWildcard(p: Pattern): boolean {
  return p.includes(STAR) || p.includes(ONE)
}

export function lowerPattern(p: Pattern): number[] {
  return p.map((c) => (c >= 65 && c <= 90 ? c + 32 : c))
}

/** Does `s` (from index `from` to `to`) match pattern `p` (from `pf` to `pt`)? */
export function globMatch(
  p: Pattern,
  s: string,
  pf = 0,
  pt = p.length,
  from = 0,
  to = s.length,
): boolean {
  let pi = pf
  let si = from
  let starP = -1
  let starS = 0
  while (si < to) {
    const c = pi < pt ? p[pi] : undefined
    if (c === STAR) {
      starP = pi++
      starS = si
    } else if (c !== undefined && (c === ONE || c === s.charCodeAt(si))) {
      pi++
      si++
    } else if (starP >= 0) {
      pi = starP + 1
      si = ++starS
    } else return false
  }
  while (pi < pt && p[pi] === STAR) pi++
  return pi === pt
}

const COLON = 58

/**
 * ARN matching as IAM does it: the first five `:`-separated segments
 * (arn, partition, service, region, account) and the rest are matched
 * separately, so a wildcard never spans a segment boundary. A pattern without
 * any colon (such as a lone `*`) is matched as a whole; one with fewer than
 * six segments matches nothing.
 */
export function arnMatch(p: Pattern, s: string): boolean {
  const pCuts = cuts(p, (c) => c === COLON)
  if (pCuts === undefined) return !p.includes(COLON) && globMatch(p, s)
  return arnSegmentsMatch(p, pCuts, s)
}

export type Matcher = (s: string) => boolean

const anything: Matcher = () => true

/**
 * Compiles a pattern into the cheapest test that is exact for it: anything
 * (`*`), string equality (no wildcard), a prefix test (a literal followed by
 * one trailing `*`), or the general matcher. With `arn`, matching is segment
 * by segment; a prefix test is still exact there when the literal part
 * already holds the five colons that end the fixed segments.
 */
export function compileMatcher(p: Pattern, arn: boolean): Matcher {
  if (p.length === 1 && p[0] === STAR) return anything
  const wild = p.findIndex((c) => c === STAR || c === ONE)
  if (wild < 0) {
    const literal = String.fromCharCode(...p)
    return (s) => s === literal
  }
  const colons = p.slice(0, wild).filter((c) => c === COLON).length
  if (wild === p.length - 1 && p[wild] === STAR && (!arn || colons >= 5)) {
    const prefix = String.fromCharCode(...p.slice(0, wild))
    return (s) => s.startsWith(prefix)
  }
  if (!arn) return (s) => globMatch(p, s)
  const pCuts = cuts(p, (c) => c === COLON)
  if (pCuts === undefined) return p.includes(COLON) ? () => false : (s) => globMatch(p, s)
  return (s) => arnSegmentsMatch(p, pCuts, s)
}

let lastArn = ''
let lastCuts: number[] | undefined

/** The request ARN's separators, memoised: one request tests the same ARN against many patterns. */
function arnCuts(s: string): number[] | undefined {
  if (s !== lastArn) {
    lastArn = s
    lastCuts = cuts(literalView(s), (c) => c === COLON)
  }
  return lastCuts
}

function arnSegmentsMatch(p: Pattern, pCuts: readonly number[], s: string): boolean {
  const sCuts = arnCuts(s)
  if (sCuts === undefined) return false
  let ps = 0
  let ss = 0
  for (let k = 0; k < 6; k++) {
    const pe = k < 5 ? (pCuts[k] ?? p.length) : p.length
    const se = k < 5 ? (sCuts[k] ?? s.length) : s.length
    if (!globMatch(p, s, ps, pe, ss, se)) return false
    ps = pe + 1
    ss = se + 1
  }
  return true
}

/** Positions of the first five separators, or undefined when there are fewer. */
function cuts(
  p: { readonly length: number; at(i: number): number | undefined },
  isSep: (c: number) => boolean,
): number[] | undefined {
  const out: number[] = []
  for (let i = 0; i < p.length && out.length < 5; i++) {
    const c = p.at(i)
    if (c !== undefined && isSep(c)) out.push(i)
  }
  return out.length === 5 ? out : undefined
}

function literalView(s: string) {
  return { length: s.length, at: (i: number) => s.charCodeAt(i) }
}

// ---- IP addresses

export interface Cidr {
  readonly v6: boolean
  readonly base: bigint
  readonly bits: number
}

/** Parses an IPv4 or IPv6 address into a 32- or 128-bit integer. */
export function parseIp(s: string): { v6: boolean; value: bigint } | undefined {
  if (s.includes(':')) {
    const v = parseIpv6(s)
    return v === undefined ? undefined : { v6: true, value: v }
  }
  const v = parseIpv4(s)
  return v === undefined ? undefined : { v6: false, value: v }
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  let v = 0n
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined
    v = (v << 8n) | BigInt(p)
  }
  return v
}

function parseIpv6(s: string): bigint | undefined {
  if (s.length > 45) return undefined
  let head = s
  let tailV4: bigint | undefined
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.', lastColon)) {
    tailV4 = parseIpv4(s.slice(lastColon + 1))
    if (tailV4 === undefined) return undefined
    head = s.slice(0, lastColon + 1) + '0:0'
  }
  const halves = head.split('::')
  if (halves.length > 2) return undefined
  const group = (h: string) => (h === '' ? [] : h.split(':'))
  const left = group(halves[0] ?? '')
  const right = halves.length === 2 ? group(halves[1] ?? '') : []
  const missing = 8 - left.length - right.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right]
  let v = 0n
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    v = (v << 16n) | BigInt(parseInt(g, 16))
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4
  return v
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address meaning /32 or /128. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/')
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash))
  if (ip === undefined) return undefined
  const max = ip.v6 ? 128 : 32
  let bits = max
  if (slash >= 0) {
    const b = s.slice(slash + 1)
    if (!/^(0|[1-9]\d{0,2})$/.test(b) || Number(b) > max) return undefined
    bits = Number(b)
  }
  const shift = BigInt(max - bits)
  return { v6: ip.v6, base: (ip.value >> shift) << shift, bits }
}

export function cidrContains(c: Cidr, ip: { v6: boolean; value: bigint }): boolean {
  if (c.v6 !== ip.v6) return false
  const shift = BigInt((c.v6 ? 128 : 32) - c.bits)
  return (ip.value >> shift) << shift === c.base
}
