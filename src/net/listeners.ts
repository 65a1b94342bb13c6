/**
 * The `listeners` setting: HTTPS listeners beside the main one (`listen`), each with its own
 * address, TLS profile and client-certificate mode. A JSON list:
 *
 *   [{ "listen": "127.0.0.1:9444", "tlsProfile": "modern", "clientCertificates": "required" }]
 *
 * - `tlsProfile`: `intermediate` (default) or `modern` (tls.ts); there is no weaker choice.
 * - `clientCertificates`: `none` (default), `optional` (asked for; a client without one still
 *   connects, one with a certificate the CA did not issue is refused) or `required` (a client
 *   without a certificate from the built-in CA, or with a revoked one, is refused in the
 *   handshake).
 */
import type { TlsProfileName } from './tls.ts'

export type ClientCertificates = 'none' | 'optional' | 'required'

export interface ListenerSpec {
  readonly host: string
  readonly port: number
  readonly tlsProfile: TlsProfileName
  readonly clientCertificates: ClientCertificates
}

const MAX_LISTENERS = 16
const KEYS = new Set(['listen', 'tlsProfile', 'clientCertificates'])

/** `HOST:PORT` or `[V6]:PORT` into its parts, or undefined. */
export function hostPort(raw: unknown): { host: string; port: number } | undefined {
  const m =
    typeof raw === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(raw) : null
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  return host !== undefined && port <= 65535 ? { host, port } : undefined
}

/** The parsed list, or undefined (the setting's `accepted` text then says what is). */
export function parseListeners(raw: unknown): ListenerSpec[] | undefined {
  if (!Array.isArray(raw) || raw.length > MAX_LISTENERS) return undefined
  const out: ListenerSpec[] = []
  for (const item of raw as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined
    const o = item as Record<string, unknown>
    if (Object.keys(o).some((k) => !KEYS.has(k))) return undefined
    const at = hostPort(o.listen)
    const profile = o.tlsProfile ?? 'intermediate'
    const certs = o.clientCertificates ?? 'none'
    if (at === undefined) return undefined
    if (profile !== 'intermediate' && profile !== 'modern') return undefined
    if (certs !== 'none' && certs !== 'optional' && certs !== 'required') return undefined
    out.push({ ...at, tlsProfile: profile, clientCertificates: certs })
  }
  return out
}

/** SPIFFE-ID 2.1: a trust domain is lowercase letters, digits, dots, dashes and underscores. */
export const checkTrustDomain = (td: string) =>
  /^[a-z0-9._-]{1,255}$/.test(td) && !/^\.|\.\.|\.$/.test(td) ? td : undefined
