/**
 * Put/Get/DeleteBucketLifecycleConfiguration
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html):
 * expiration of current versions (days or a date), of noncurrent versions (days, keeping the
 * newest N), of delete markers left alone, and the abort of unfinished multipart uploads. The
 * rules are run by the sweeper (src/store/lifecycle.ts). Transitions to other storage classes
 * are refused: Strongroom has one.
 */
import { StrongroomError } from '../../errors.ts'
import type { LifecycleRule } from '../../meta/objects.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { leaf, readXml, XML_BOUNDS, type Node, type XmlElement } from '../xml.ts'
import { onBucket } from './common.ts'
import { isoInstant } from './object-lock.ts'

const malformed = (why: string) =>
  new StrongroomError(
    'MALFORMED_XML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  )

const child = (el: XmlElement, name: string) => el.children.find((c) => c.name === name)

/**
 * Every element of a rule's parts must be one S3 defines: a misspelt `<Prefxi>` must not turn
 * a rule for `tmp/` into a rule for the whole bucket (S3 answers MalformedXML too).
 */
function only(el: XmlElement, allowed: readonly string[]): XmlElement {
  const odd = el.children.find((c) => !allowed.includes(c.name))
  if (odd !== undefined) throw malformed(`${el.name} cannot contain ${odd.name.slice(0, 64)}`)
  return el
}

function count(el: XmlElement, name: string, what: string, min = 0): number | undefined {
  const v = leaf(el, name)?.trim()
  if (v === undefined) return undefined
  if (!/^\d{1,9}$/.test(v) || Number(v) < min)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `${what} must be a whole number of at least ${String(min)}`,
    )
  return Number(v)
}

function tagOf(el: XmlElement): [string, string] {
  const k = leaf(el, 'Key')
  if (k === undefined || k === '') throw malformed('a Tag needs a Key')
  return [k, leaf(el, 'Value') ?? '']
}

/** The rule's filter: Filter (Prefix, Tag, size bounds, or And of them) or the older Prefix. */
function filterOf(
  rule: XmlElement,
): Pick<LifecycleRule, 'prefix' | 'tags' | 'sizeGreaterThan' | 'sizeLessThan'> {
  const f = child(rule, 'Filter')
  if (f === undefined) return { prefix: leaf(rule, 'Prefix') ?? '', tags: [] }
  const sizes = ['ObjectSizeGreaterThan', 'ObjectSizeLessThan']
  only(f, ['Prefix', 'Tag', 'And', ...sizes])
  if (f.children.length > 1) throw malformed('a Filter holds one condition; use And for several')
  const and = child(f, 'And')
  const src = and === undefined ? f : only(and, ['Prefix', 'Tag', ...sizes])
  const gt = count(src, 'ObjectSizeGreaterThan', 'ObjectSizeGreaterThan')
  const lt = count(src, 'ObjectSizeLessThan', 'ObjectSizeLessThan', 1)
  return {
    prefix: leaf(src, 'Prefix') ?? '',
    tags: src.children.filter((c) => c.name === 'Tag').map(tagOf),
    ...(gt === undefined ? {} : { sizeGreaterThan: gt }),
    ...(lt === undefined ? {} : { sizeLessThan: lt }),
  }
}

export function parseLifecycle(doc: XmlElement): LifecycleRule[] {
  if (doc.name !== 'LifecycleConfiguration')
    throw malformed('the root must be LifecycleConfiguration')
  const rules = doc.children.filter((c) => c.name === 'Rule')
  if (rules.length === 0 || rules.length > 1000) throw malformed('1 to 1000 rules')
  const ids = new Set<string>()
  return rules.map((r, i) => {
    only(r, [
      'ID',
      'Status',
      'Filter',
      'Prefix',
      'Expiration',
      'NoncurrentVersionExpiration',
      'AbortIncompleteMultipartUpload',
      'Transition',
      'NoncurrentVersionTransition',
    ])
    const id = leaf(r, 'ID') ?? `rule-${String(i + 1)}`
    if (id.length > 255)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'ID length should not exceed allowed limit of 255',
      )
    if (ids.has(id))
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'Rule ID must be unique. Found same ID for more than one rule',
      )
    ids.add(id)
    const status = leaf(r, 'Status')?.trim()
    if (status !== 'Enabled' && status !== 'Disabled')
      throw malformed('Status must be Enabled or Disabled')
    if (
      child(r, 'Transition') !== undefined ||
      child(r, 'NoncurrentVersionTransition') !== undefined
    )
      throw new StrongroomError(
        'INVALID_STORAGE_CLASS',
        'The storage class you specified is not valid: Strongroom has one storage class, so lifecycle transitions are not offered',
      )
    const exp = child(r, 'Expiration')
    const nc = child(r, 'NoncurrentVersionExpiration')
    const abort = child(r, 'AbortIncompleteMultipartUpload')
    const rule: { -readonly [K in keyof LifecycleRule]: LifecycleRule[K] } = {
      id,
      enabled: status === 'Enabled',
      ...filterOf(r),
    }
    if (exp !== undefined) only(exp, ['Days', 'Date', 'ExpiredObjectDeleteMarker'])
    if (nc !== undefined) only(nc, ['NoncurrentDays', 'NewerNoncurrentVersions'])
    if (abort !== undefined) only(abort, ['DaysAfterInitiation'])
    if (exp !== undefined) {
      const days = count(exp, 'Days', "'Days' in the Expiration action", 1)
      const date = leaf(exp, 'Date')?.trim()
      const marker = leaf(exp, 'ExpiredObjectDeleteMarker')?.trim()
      if ([days, date, marker].filter((x) => x !== undefined).length !== 1)
        throw malformed('Expiration takes one of Days, Date or ExpiredObjectDeleteMarker')
      if (days !== undefined) rule.expirationDays = days
      if (date !== undefined) {
        const t = isoInstant(date)
        if (t === undefined || t % 86_400_000 !== 0)
          throw new StrongroomError('INVALID_ARGUMENT', "'Date' must be at midnight GMT")
        rule.expirationDate = t
      }
      if (marker !== undefined && marker !== 'true' && marker !== 'false')
        throw malformed('ExpiredObjectDeleteMarker must be true or false')
      if (marker !== undefined) rule.expiredObjectDeleteMarker = marker === 'true'
    }
    if (nc !== undefined) {
      const days = count(nc, 'NoncurrentDays', "'NoncurrentDays' in NoncurrentVersionExpiration", 1)
      if (days === undefined) throw malformed('NoncurrentVersionExpiration needs NoncurrentDays')
      rule.noncurrentDays = days
      const keep = count(nc, 'NewerNoncurrentVersions', 'NewerNoncurrentVersions', 1)
      if (keep !== undefined) rule.newerNoncurrentVersions = keep
    }
    if (abort !== undefined) {
      const days = count(abort, 'DaysAfterInitiation', 'DaysAfterInitiation', 1)
      if (days === undefined)
        throw malformed('AbortIncompleteMultipartUpload needs DaysAfterInitiation')
      rule.abortIncompleteDays = days
    }
    if (exp === undefined && nc === undefined && abort === undefined)
      throw malformed('a rule needs at least one action')
    return rule
  })
}

function ruleXml(r: LifecycleRule): Node {
  const narrowed =
    r.tags.length +
      (r.sizeGreaterThan === undefined ? 0 : 1) +
      (r.sizeLessThan === undefined ? 0 : 1) >
    0
  const parts = {
    Prefix: r.prefix,
    Tag: r.tags.map(([Key, Value]) => ({ Key, Value })),
    ObjectSizeGreaterThan: r.sizeGreaterThan,
    ObjectSizeLessThan: r.sizeLessThan,
  }
  const many =
    r.tags.length +
      (r.prefix === '' ? 0 : 1) +
      (r.sizeGreaterThan === undefined ? 0 : 1) +
      (r.sizeLessThan === undefined ? 0 : 1) >
    1
  return {
    ID: r.id,
    Filter: !narrowed ? { Prefix: r.prefix } : many ? { And: parts } : parts,
    Status: r.enabled ? 'Enabled' : 'Disabled',
    Expiration:
      r.expirationDays === undefined &&
      r.expirationDate === undefined &&
      r.expiredObjectDeleteMarker === undefined
        ? undefined
        : {
            Days: r.expirationDays,
            Date:
              r.expirationDate === undefined ? undefined : new Date(r.expirationDate).toISOString(),
            ExpiredObjectDeleteMarker: r.expiredObjectDeleteMarker,
          },
    NoncurrentVersionExpiration:
      r.noncurrentDays === undefined
        ? undefined
        : { NoncurrentDays: r.noncurrentDays, NewerNoncurrentVersions: r.newerNoncurrentVersions },
    AbortIncompleteMultipartUpload:
      r.abortIncompleteDays === undefined
        ? undefined
        : { DaysAfterInitiation: r.abortIncompleteDays },
  }
}

async function putLifecycle(ctx: Authorized): Promise<void> {
  const rules = parseLifecycle(
    readXml('LifecycleConfiguration', await ctx.readBody(XML_BOUNDS.LifecycleConfiguration.bytes)),
  )
  await ctx.buckets.updateSettings(ctx.bucket.name, { lifecycle: rules })
  ctx.send(200)
}

function getLifecycle(ctx: Authorized): Promise<void> {
  const rules = ctx.bucket.settings?.lifecycle ?? []
  if (rules.length === 0)
    throw new StrongroomError(
      'NO_SUCH_LIFECYCLE_CONFIGURATION',
      'The lifecycle configuration does not exist',
      {
        details: { BucketName: ctx.bucket.name },
      },
    )
  ctx.sendXml(200, 'LifecycleConfiguration', { Rule: rules.map(ruleXml) })
  return Promise.resolve()
}

async function deleteLifecycle(ctx: Authorized): Promise<void> {
  await ctx.buckets.updateSettings(ctx.bucket.name, { lifecycle: null })
  ctx.send(204)
}

export const LIFECYCLE_OPERATIONS: readonly Operation[] = [
  onBucket(
    'PutBucketLifecycleConfiguration',
    'PUT',
    'lifecycle',
    's3:PutLifecycleConfiguration',
    putLifecycle,
  ),
  onBucket(
    'GetBucketLifecycleConfiguration',
    'GET',
    'lifecycle',
    's3:GetLifecycleConfiguration',
    getLifecycle,
  ),
  onBucket(
    'DeleteBucketLifecycle',
    'DELETE',
    'lifecycle',
    's3:PutLifecycleConfiguration',
    deleteLifecycle,
  ),
]
