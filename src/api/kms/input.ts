/**
 * The members of KMS's requests, checked as KMS checks them (ValidationException, naming the
 * member), and its lists' paging: Limit and an opaque Marker that names where the last page
 * stopped, so that a page after a deletion neither repeats nor skips an item.
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html
 */
import { StrongroomError } from '../../errors.ts'
import type { JsonAuthorized } from '../authorized.ts'
import type { Conditions, JsonOperation } from '../operation.ts'

export type Input = Readonly<Record<string, unknown>>

export const invalid = (m: string) => new StrongroomError('VALIDATION', m)

export function str(input: Input, name: string, max = 2048): string | undefined {
  const v = input[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.length < 1 || v.length > max)
    throw invalid(`${name} must be a string of 1 to ${String(max)} characters`)
  return v
}

export function required(input: Input, name: string, max?: number): string {
  const v = str(input, name, max)
  if (v === undefined) throw invalid(`${name} is required`)
  return v
}

export function int(input: Input, name: string, min: number, max: number): number | undefined {
  const v = input[name]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`${name} must be a whole number from ${String(min)} to ${String(max)}`)
  return v
}

/** A blob member: base64, as JSON 1.1 sends bytes, of `min` to `max` bytes. */
export function blob(input: Input, name: string, min: number, max: number): Buffer {
  const v = input[name]
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0)
    throw invalid(`${name} must be base64`)
  const b = Buffer.from(v, 'base64')
  if (b.length < min || b.length > max)
    throw invalid(`${name} must be ${String(min)} to ${String(max)} bytes`)
  return b
}

/** Seconds since the epoch, as JSON 1.1 sends timestamps. */
export const epoch = (ms: number) => ms / 1000

/**
 * One page of `items` (sorted by `sortKey`, ascending) after the request's Marker, at most
 * Limit (`max`, `fallback` when absent) long, as KMS answers it: `Truncated` and, when
 * truncated, `NextMarker`. A Marker this service did not make is InvalidMarkerException.
 */
export function page<T>(
  input: Input,
  items: readonly T[],
  sortKey: (item: T) => string,
  max: number,
  fallback: number,
  names: { readonly limit: string; readonly marker: string } = { limit: 'Limit', marker: 'Marker' },
): { items: T[]; Truncated: boolean; NextMarker?: string } {
  const limit = int(input, names.limit, 1, max) ?? fallback
  const m = input[names.marker]
  let after: string | undefined
  if (m !== undefined) {
    const raw = typeof m === 'string' && m.length <= 1024 ? Buffer.from(m, 'base64url') : undefined
    after = raw?.toString('utf8')
    if (raw === undefined || raw.length === 0 || raw.toString('base64url') !== m)
      throw new StrongroomError(
        'INVALID_MARKER',
        'The request was rejected because the marker that specifies where pagination should next begin is not valid.',
      )
  }
  const rest = after === undefined ? items : items.filter((i) => sortKey(i) > after)
  const out = rest.slice(0, limit)
  const last = out.at(-1)
  return rest.length > limit && last !== undefined
    ? {
        items: out,
        Truncated: true,
        NextMarker: Buffer.from(sortKey(last), 'utf8').toString('base64url'),
      }
    : { items: out, Truncated: false }
}

const keyId = (input: Input) => required(input, 'KeyId')

/** The resource of an operation decided on no key or alias: KMS's actions without a resource type. */
export const everything = () => '*'

/** A declaration on the key that KeyId names. */
export function onKey(
  name: string,
  members: readonly string[],
  handler: (ctx: JsonAuthorized) => Promise<Record<string, unknown>>,
  conditions?: (input: Input) => Conditions,
): JsonOperation {
  return {
    service: 'kms',
    name,
    action: `kms:${name}`,
    members: ['KeyId', ...members],
    resource: everything,
    key: keyId,
    ...(conditions === undefined ? {} : { conditions }),
    handler,
  }
}
