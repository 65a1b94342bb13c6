/**
 * The `auditSinks` setting: where audit events are exported (./file.ts, ./webhook.ts,
 * ./syslog.ts), checked strictly when the configuration loads. Secrets (a webhook's token or
 * signing key) are named by the environment variable that holds them, never given as values.
 */
import { StrongroomError } from '../../errors.ts'
import type { AuditFormat } from './sink.ts'

export type SinkSpec =
  | {
      readonly type: 'file'
      readonly name: string
      readonly format: AuditFormat
      readonly dir: string
    }
  | {
      readonly type: 'webhook'
      readonly name: string
      readonly format: AuditFormat
      readonly url: string
      readonly tokenEnv?: string
      readonly hmacSecretEnv?: string
      readonly caFile?: string
    }
  | {
      readonly type: 'syslog'
      readonly name: string
      readonly format: AuditFormat
      readonly host: string
      readonly port?: number
      readonly caFile?: string
      readonly facility?: number
    }

const FIELDS: Record<SinkSpec['type'], readonly string[]> = {
  file: ['type', 'name', 'format', 'dir'],
  webhook: ['type', 'name', 'format', 'url', 'tokenEnv', 'hmacSecretEnv', 'caFile'],
  syslog: ['type', 'name', 'format', 'host', 'port', 'caFile', 'facility'],
}

/** The `auditSinks` setting, checked: a list of sinks; the first problem is a CONFIG_INVALID. */
export function parseSinkSpecs(raw: unknown): SinkSpec[] {
  const bad = (i: number, what: string) =>
    new StrongroomError('CONFIG_INVALID', `\`auditSinks[${i}]\`: ${what}`)
  if (!Array.isArray(raw) || raw.length > 16)
    throw new StrongroomError('CONFIG_INVALID', '`auditSinks` is a list of at most 16 sinks')
  const names = new Set<string>()
  return raw.map((s: unknown, i): SinkSpec => {
    if (typeof s !== 'object' || s === null) throw bad(i, 'each sink is an object')
    const o = s as Record<string, unknown>
    const type = o.type
    if (type !== 'file' && type !== 'webhook' && type !== 'syslog')
      throw bad(i, '`type` is `file`, `webhook` or `syslog`')
    const unknown = Object.keys(o).find((k) => !FIELDS[type].includes(k))
    if (unknown !== undefined)
      throw bad(
        i,
        `\`${unknown.slice(0, 40)}\` is not a setting of a ${type} sink (${FIELDS[type].join(', ')})`,
      )
    const text = (k: string, required: boolean): string | undefined => {
      const v = o[k]
      if (v === undefined && !required) return undefined
      if (typeof v !== 'string' || v === '' || v.length > 2048)
        throw bad(i, `\`${k}\` is a non-empty string`)
      return v
    }
    const name = text('name', false) ?? `${type}-${i}`
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name) || names.has(name))
      throw bad(i, '`name` is unique, letters, digits, `-` and `_`')
    names.add(name)
    const format = text('format', false) ?? 'cloudtrail'
    if (format !== 'cloudtrail' && format !== 'ocsf')
      throw bad(i, '`format` is `cloudtrail` or `ocsf`')
    const env = (k: string) => {
      const v = text(k, false)
      if (v !== undefined && !/^[A-Z_][A-Z0-9_]{0,127}$/.test(v))
        throw bad(i, `\`${k}\` names an environment variable (such as SIEM_TOKEN), not a value`)
      return v === undefined ? {} : { [k]: v }
    }
    const file = (k: string) => {
      const v = text(k, false)
      return v === undefined ? {} : { [k]: v }
    }
    if (type === 'file') return { type, name, format, dir: text('dir', true) ?? '' }
    if (type === 'webhook')
      return {
        type,
        name,
        format,
        url: text('url', true) ?? '',
        ...env('tokenEnv'),
        ...env('hmacSecretEnv'),
        ...file('caFile'),
      }
    const port = o.port
    if (
      port !== undefined &&
      (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    )
      throw bad(i, '`port` is a whole number from 1 to 65535')
    const facility = o.facility
    if (
      facility !== undefined &&
      (!Number.isInteger(facility) || (facility as number) < 0 || (facility as number) > 23)
    )
      throw bad(i, '`facility` is a whole number from 0 to 23')
    return {
      type,
      name,
      format,
      host: text('host', true) ?? '',
      ...(port === undefined ? {} : { port: port as number }),
      ...(facility === undefined ? {} : { facility: facility as number }),
      ...file('caFile'),
    }
  })
}
