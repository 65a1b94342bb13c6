/**
 * What IAM's declarations share: parameter checks with IAM's own ValidationError wording, the
 * ARNs decisions are made on, dates and policy documents as IAM writes them, tags, and
 * Marker/MaxItems pagination.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/CommonParameters.html
 */
import { StrongroomError } from '../../errors.ts'
import { roleArn } from '../../identity/roles.ts'
import type { TaggedKind, TagRecord } from '../../meta/iam.ts'
import type { RoleRecord, UserRecord } from '../../meta/identity.ts'
import type { QueryAuthorized } from '../authorized.ts'
import type { QueryOperation, ResourceLookup } from '../operation.ts'
import { memberStructs, members, param } from '../protocols/query.ts'
import type { Node } from '../xml.ts'

type Params = ReadonlyMap<string, string>

function invalid(value: string, field: string, constraint: string): StrongroomError {
  return new StrongroomError(
    'VALIDATION',
    `1 validation error detected: Value '${value.slice(0, 256)}' at '${field}' failed to satisfy constraint: Member must ${constraint}`,
  )
}

/**
 * A string parameter checked as IAM checks it: length, then pattern. `field` is the member's
 * name as IAM's messages write it (roleName).
 */
export function checked(
  value: string,
  field: string,
  max: number,
  pattern?: readonly [RegExp, string],
  min = 1,
): string {
  if (value.length < min) throw invalid(value, field, `have length greater than or equal to ${min}`)
  if (value.length > max) throw invalid(value, field, `have length less than or equal to ${max}`)
  if (pattern !== undefined && !pattern[0].test(value))
    throw invalid(value, field, `satisfy regular expression pattern: ${pattern[1]}`)
  return value
}

/** https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html */
export const NAME_PATTERN = [/^[\w+=,.@-]+$/, '[\\w+=,.@-]+'] as const
export const PATH_PATTERN = [
  /^(?:\/|\/[\x21-\x7e]*\/)$/,
  '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
] as const
const PREFIX_PATTERN = [/^\/[\x21-\x7e]*$/, '\\u002F[\\u0021-\\u007F]*'] as const
/** Description: printable characters and whitespace. */
const DESCRIPTION_PATTERN = [
  /^[\t\n\r\x20-\x7e\u00a1-\u00ff]*$/,
  '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*',
] as const

/** A required name parameter (RoleName, UserName, PolicyName…), at most `max` characters. */
export function nameParam(p: Params, name: string, max = 64): string {
  return checked(param(p, name), lowerFirst(name), max, NAME_PATTERN)
}

export function pathParam(p: Params, name = 'Path'): string {
  const v = p.get(name)
  return v === undefined ? '/' : checked(v, lowerFirst(name), 512, PATH_PATTERN)
}

export function pathPrefix(p: Params): string {
  const v = p.get('PathPrefix')
  return v === undefined ? '/' : checked(v, 'pathPrefix', 512, PREFIX_PATTERN)
}

export function description(p: Params, max = 1000): string | undefined {
  const v = p.get('Description')
  return v === undefined ? undefined : checked(v, 'description', max, DESCRIPTION_PATTERN, 0)
}

/** A policy document parameter: 1 to 131,072 characters (the service checks the grammar). */
export function documentParam(p: Params, name: string): string {
  return checked(param(p, name), lowerFirst(name), 131_072, undefined, 1)
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1)

/** An integer parameter; ValidationError when it is not one. */
export function intParam(p: Params, name: string): number | undefined {
  const v = p.get(name)
  if (v === undefined) return undefined
  if (!/^-?\d{1,10}$/.test(v)) throw invalid(v, lowerFirst(name), 'be a whole number')
  return Number(v)
}

export function boolParam(p: Params, name: string): boolean {
  const v = p.get(name)
  if (v === undefined || v === 'false') return false
  if (v === 'true') return true
  throw invalid(v, lowerFirst(name), 'be true or false')
}

// ---- what a decision is on

/** The role's ARN, with the path of the role of that name (`/` when there is none). */
export async function roleResource(p: Params, account: string, l: ResourceLookup): Promise<string> {
  const name = nameParam(p, 'RoleName')
  const role = await l.identity.findRole(account, name)
  return roleArn(account, role ?? { path: '/', name })
}

/**
 * The user's ARN: the one named, or the caller's own when the action lets UserName be left out.
 * Names are found regardless of case, so the ARN decided on is the stored user's, as it is
 * spelt: a Deny on user/admin must hold for UserName=ADMIN too.
 */
export async function userResource(p: Params, account: string, l: ResourceLookup): Promise<string> {
  const name = p.has('UserName') ? nameParam(p, 'UserName') : selfName(l.caller.userName)
  const user = await l.identity.findUser(account, name)
  return `arn:aws:iam::${account}:user/${user?.name ?? name}`
}

/**
 * The user an action without UserName means: the caller, which must be an IAM user
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html).
 */
export function selfName(userName: string | undefined): string {
  if (userName === undefined)
    throw new StrongroomError(
      'VALIDATION',
      'Must specify userName when calling with non-User credentials',
    )
  return userName
}

// ---- entities the handlers act on

export async function roleNamed(ctx: QueryAuthorized): Promise<RoleRecord> {
  const name = nameParam(ctx.params, 'RoleName')
  const role = await ctx.identity.findRole(ctx.tenant.id, name)
  if (role === undefined)
    throw new StrongroomError('NO_SUCH_ENTITY', `The role with name ${name} cannot be found.`)
  return role
}

/** The user named by UserName, or with `self`, the caller when it is left out. */
export async function userNamed(ctx: QueryAuthorized, self = false): Promise<UserRecord> {
  const p = ctx.params
  const name = self && !p.has('UserName') ? selfName(ctx.caller.userName) : nameParam(p, 'UserName')
  const user = await ctx.identity.findUser(ctx.tenant.id, name)
  if (user === undefined)
    throw new StrongroomError('NO_SUCH_ENTITY', `The user with name ${name} cannot be found.`)
  return user
}

// ---- how IAM writes values

/** ISO 8601 to the second, as IAM writes dates (2026-12-02T11:00:00Z). */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * A policy document as IAM returns it: URL-encoded (RFC 3986), which the SDKs and the aws CLI
 * decode (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html).
 */
export function encodedDocument(document: string): string {
  return encodeURIComponent(document)
}

// ---- lists

/** A list parameter (`Name.member.N`), numbered without gaps, at most `max` members. */
export function listParam(p: Params, name: string, max: number): string[] {
  return members(p, name, max)
}

// ---- tags

export const TAG_PARAMS = ['Tags.']
const TAG_KEY = [/^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+'] as const
const TAG_VALUE = [/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*'] as const

/** The `Tags.member.N.Key/Value` of a request: at most 50, keys once each, none under aws:. */
export function tagsParam(p: Params): TagRecord[] {
  const out: TagRecord[] = []
  const seen = new Set<string>()
  const given = memberStructs(p, 'Tags', ['Key', 'Value'] as const, 50)
  given.forEach((t, i) => {
    const key = checked(t.Key ?? '', `tags.${i + 1}.member.key`, 128, TAG_KEY)
    const value = checked(t.Value ?? '', `tags.${i + 1}.member.value`, 256, TAG_VALUE, 0)
    if (key.toLowerCase().startsWith('aws:'))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        'Tag keys starting with aws: are reserved for use by AWS.',
      )
    if (seen.has(key.toLowerCase()))
      throw new StrongroomError(
        'INVALID_PARAMETER_VALUE',
        'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
      )
    seen.add(key.toLowerCase())
    out.push({ key, value })
  })
  return out
}

/** The `TagKeys.member.N` of an Untag… request. */
export function tagKeysParam(p: Params): string[] {
  return listParam(p, 'TagKeys', 50).map((k, i) =>
    checked(k, `tagKeys.${i + 1}.member`, 128, TAG_KEY),
  )
}

/** Tags as IAM writes them; undefined (no element) when there are none. */
export function tagsNode(tags: readonly TagRecord[]): Node {
  return tags.length === 0
    ? undefined
    : { member: tags.map((t) => ({ Key: t.key, Value: t.value })) }
}

/** Aws:RequestTag/… and aws:TagKeys of a request that tags (CreateRole, TagRole…). */
export function tagConditions(p: Params): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const tags = memberStructs(p, 'Tags', ['Key', 'Value'] as const, 50)
  for (const t of tags) if (t.Key !== undefined) out[`aws:RequestTag/${t.Key}`] = t.Value ?? ''
  const keys = [...tags.map((t) => t.Key ?? ''), ...members(p, 'TagKeys', 50)]
  if (keys.length > 0) out['aws:TagKeys'] = keys
  return out
}

/** The three tag actions of a kind of resource (TagRole, UntagRole, ListRoleTags). */
export interface TagTarget {
  readonly kind: TaggedKind
  /** The entity's name as stored (its case), after NoSuchEntity for one that is not there. */
  readonly name: (ctx: QueryAuthorized) => Promise<string>
}

// ---- pagination

/**
 * One page of a list in name order: Marker (the last name of the page before, opaque to
 * clients) and MaxItems (1 to 1,000, 100 by default), as IAM pages every List… action.
 */
export function page<T>(
  p: Params,
  items: readonly T[],
  keyOf: (t: T) => string,
): { readonly items: T[]; readonly truncated: boolean; readonly marker: string | undefined } {
  const max = intParam(p, 'MaxItems') ?? 100
  if (max < 1 || max > 1000) throw invalid(String(max), 'maxItems', 'have value between 1 and 1000')
  const marker = p.get('Marker')
  const sorted = [...items].sort((a, b) => compareNames(keyOf(a), keyOf(b)))
  let from = 0
  if (marker !== undefined) {
    checked(marker, 'marker', 320, [/^[\x20-\x7e]+$/, '[\\u0020-\\u00FF]+'])
    const after = Buffer.from(marker, 'base64url').toString('utf8')
    from = sorted.findIndex((t) => compareNames(keyOf(t), after) > 0)
    if (from < 0) from = sorted.length
  }
  const out = sorted.slice(from, from + max)
  const truncated = from + max < sorted.length
  const last = out.at(-1)
  return {
    items: out,
    truncated,
    marker:
      truncated && last !== undefined
        ? Buffer.from(keyOf(last), 'utf8').toString('base64url')
        : undefined,
  }
}

/** The one order every list is paged in: by name regardless of case, then by case. */
export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0
}

/** A page's IsTruncated and Marker, beside its list element. */
export function pageNode(
  list: string,
  nodes: Node[],
  pg: { truncated: boolean; marker: string | undefined },
): Node {
  return { [list]: { member: nodes }, IsTruncated: pg.truncated, Marker: pg.marker }
}

/**
 * The declarations of actions on one kind of entity, named by `param` (RoleName, UserName,
 * GroupName) and decided on `resource`: `(name, params, handler)` makes one.
 */
export function onEntity(
  param: string,
  resource: QueryOperation['resource'],
): (name: string, params: readonly string[], handler: QueryOperation['handler']) => QueryOperation {
  return (name, params, handler) => ({
    service: 'iam',
    name,
    action: `iam:${name}`,
    params: [param, ...params],
    resource,
    handler,
  })
}
