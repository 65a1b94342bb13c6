/**
 * Filters over audit events, for `strongroom audit query` (and the LookupEvents API to come):
 * a time range, tenant (account), principal, action, resource prefix, decision, error code and
 * source. Every filter given must hold; an empty filter matches everything. Times compare as
 * CloudTrail writes them (whole seconds, UTC).
 */
import { StrongroomError } from '../errors.ts'
import type { AuditEvent } from './event.ts'

export interface EventFilter {
  /** Events at or after (ms since the epoch). */
  readonly since?: number
  /** Events before. */
  readonly until?: number
  /** The account (tenant) that made the request or owns what it was on. */
  readonly account?: string
  /** The caller's ARN, exactly or as a prefix ending in `*`. */
  readonly principal?: string
  /** The operation (`GetObject`) or the IAM action (`s3:GetObject`) of one of its decisions. */
  readonly action?: string
  /** A prefix of one of the event's resource ARNs (`arn:aws:s3:::models/llm/`). */
  readonly resourcePrefix?: string
  readonly decision?: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' | 'None'
  readonly errorCode?: string
  /** The source: an IP address, a CIDR block, or a VPC endpoint id. */
  readonly source?: string
}

const invalid = (m: string) => new StrongroomError('USAGE', m)

/** A time as the CLI takes it: ISO 8601, or an age such as `15m`, `2h`, `7d` before `now`. */
export function parseTime(text: string, now: number): number {
  const age = /^(\d{1,6})([smhd])$/.exec(text)
  if (age !== null) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[age[2] as 's' | 'm' | 'h' | 'd']
    return now - Number(age[1]) * unit
  }
  const t = Date.parse(text)
  // A time without its zone would be read in the machine's local time: refused, not guessed.
  const zoned = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/.test(text)
  if (!zoned || Number.isNaN(t))
    throw invalid(
      `\`${text.slice(0, 40)}\` is not a time: give 2026-12-01T10:00:00Z (with its zone), a date, or an age such as 15m, 2h, 7d`,
    )
  return t
}

function ipv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return parts.reduce((a, p) => a * 256 + p, 0)
}

/** Whether `ip` is the source `want` names: the same address, inside the CIDR block, or the endpoint. */
export function sourceMatches(want: string, ip: string, endpoint: string | undefined): boolean {
  if (want === endpoint || want === ip) return true
  const [net, bits] = want.split('/')
  const base = ipv4(net ?? '')
  const addr = ipv4(ip)
  const n = Number(bits)
  if (base === undefined || addr === undefined || !Number.isInteger(n) || n < 0 || n > 32)
    return false
  const size = 2 ** (32 - n)
  return Math.floor(base / size) === Math.floor(addr / size)
}

/** Checks a filter's values; USAGE naming the first bad one. */
export function checkFilter(f: EventFilter): EventFilter {
  if (f.since !== undefined && f.until !== undefined && f.since >= f.until)
    throw invalid('--since must be before --until')
  const bits = Number(f.source?.split('/')[1])
  if (
    f.source?.includes('/') === true &&
    (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(f.source) || bits > 32)
  )
    throw invalid(`\`${f.source.slice(0, 60)}\` is not an IPv4 CIDR block such as 10.0.0.0/8`)
  return f
}

export function matches(e: AuditEvent, f: EventFilter): boolean {
  const time = Date.parse(e.eventTime)
  if (f.since !== undefined && !(time >= Math.floor(f.since / 1000) * 1000)) return false
  if (f.until !== undefined && !(time < f.until)) return false
  const id = e.userIdentity
  const arn = 'arn' in id ? id.arn : ''
  if (f.account !== undefined) {
    const caller = 'accountId' in id ? id.accountId : ''
    const owners = [caller, e.recipientAccountId, ...e.resources.map((r) => r.accountId)]
    if (!owners.includes(f.account)) return false
  }
  if (f.principal !== undefined) {
    const p = f.principal
    if (p.endsWith('*') ? !arn.startsWith(p.slice(0, -1)) : arn !== p) return false
  }
  if (f.action !== undefined) {
    const actions = (e.strongroom.evaluations ?? []).map((d) => d.action)
    if (e.eventName !== f.action && !actions.includes(f.action)) return false
  }
  if (f.resourcePrefix !== undefined) {
    const prefix = f.resourcePrefix
    if (!e.resources.some((r) => r.ARN.startsWith(prefix))) return false
  }
  if (f.decision !== undefined && e.strongroom.decision !== f.decision) return false
  if (f.errorCode !== undefined && e.errorCode !== f.errorCode) return false
  if (f.source !== undefined && !sourceMatches(f.source, e.sourceIPAddress, e.vpcEndpointId))
    return false
  return true
}
