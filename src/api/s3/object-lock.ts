/**
 * Object Lock (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html): WORM
 * retention for model artifacts and audit exports. A bucket has it from CreateBucket
 * (x-amz-bucket-object-lock-enabled) or PutObjectLockConfiguration on a versioned bucket, and
 * keeps it; a version gets a retention (GOVERNANCE or COMPLIANCE until a date) and a legal hold
 * from its write's headers or the bucket's default retention, or later from PutObjectRetention
 * and PutObjectLegalHold. A locked version cannot be removed: ObjectService.delete checks the
 * lock in the transaction that would remove it, for every caller (the API, lifecycle, the CLI);
 * GOVERNANCE yields only to x-amz-bypass-governance-retention with
 * s3:BypassGovernanceRetention, COMPLIANCE to no one, the tenant's administrator included.
 */
import { StrongroomError } from '../../errors.ts'
import type { BucketObjectLock, BucketRecord, ObjectLock } from '../../meta/objects.ts'
import type { Operation, S3Request } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { leaf, readXml, XML_BOUNDS, type XmlElement } from '../xml.ts'
import { versioned, versionHeaders } from './common.ts'

const DAY = 86_400_000
type Mode = 'GOVERNANCE' | 'COMPLIANCE'

const malformed = (why: string) =>
  new StrongroomError(
    'MALFORMED_XML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  )

const missingConfiguration = () =>
  new StrongroomError('INVALID_REQUEST', 'Bucket is missing Object Lock Configuration')

function modeOf(v: string | undefined, what: string): Mode {
  if (v === 'GOVERNANCE' || v === 'COMPLIANCE') return v
  throw new StrongroomError(
    'INVALID_ARGUMENT',
    `${what} must be GOVERNANCE or COMPLIANCE, not ${v?.slice(0, 32) ?? '(none)'}`,
  )
}

/**
 * An ISO 8601 instant with its zone (`Z` or `±hh:mm`), whose calendar date exists: no
 * February 30 rolled into March, no local time, no years beyond four digits.
 */
export function isoInstant(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.exec(
    v,
  )
  if (m === null) return undefined
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const day = new Date(Date.UTC(y, mo - 1, d))
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59)
    return undefined
  const t = Date.parse(v)
  return Number.isNaN(t) ? undefined : t
}

function dateOf(v: string, now: number): number {
  const t = isoInstant(v)
  if (t === undefined)
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `The retain until date must be an ISO 8601 date and time with its zone (2030-01-31T00:00:00Z), not ${v.slice(0, 40)}`,
    )
  if (t <= now)
    throw new StrongroomError('INVALID_ARGUMENT', 'The retain until date must be in the future!')
  return t
}

/**
 * The lock a write asks for (x-amz-object-lock-mode, -retain-until-date, -legal-hold), else
 * the bucket's default retention; undefined when neither applies.
 */
export function writeLock(r: S3Request, bucket: BucketRecord, now: number): ObjectLock | undefined {
  const mode = r.header('x-amz-object-lock-mode')
  const until = r.header('x-amz-object-lock-retain-until-date')
  const hold = r.header('x-amz-object-lock-legal-hold')
  const config = bucket.settings?.objectLock
  if (mode === undefined && until === undefined && hold === undefined) {
    if (config?.mode === undefined) return undefined
    const days = config.days ?? (config.years ?? 0) * 365
    return { mode: config.mode, retainUntil: now + days * DAY }
  }
  if (config === undefined) throw missingConfiguration()
  if ((mode === undefined) !== (until === undefined))
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be given',
    )
  if (hold !== undefined && hold !== 'ON' && hold !== 'OFF')
    throw new StrongroomError('INVALID_ARGUMENT', 'x-amz-object-lock-legal-hold must be ON or OFF')
  const lock: { mode?: Mode; retainUntil?: number; legalHold?: boolean } = {}
  if (mode !== undefined && until !== undefined) {
    lock.mode = modeOf(mode, 'x-amz-object-lock-mode')
    lock.retainUntil = dateOf(until, now)
  } else if (config.mode !== undefined) {
    lock.mode = config.mode
    lock.retainUntil = now + (config.days ?? (config.years ?? 0) * 365) * DAY
  }
  if (hold === 'ON') lock.legalHold = true
  return Object.keys(lock).length === 0 ? undefined : lock
}

/** x-amz-bypass-governance-retention: true (its permission is decided by the declaration). */
export const bypassing = (r: S3Request): boolean =>
  r.header('x-amz-bypass-governance-retention')?.toLowerCase() === 'true'

/** The s3:BypassGovernanceRetention decision a request that asks to bypass needs. */
export const bypassAction = (r: S3Request): readonly string[] =>
  bypassing(r) ? ['s3:BypassGovernanceRetention'] : []

function parseConfiguration(doc: XmlElement): BucketObjectLock {
  if (leaf(doc, 'ObjectLockEnabled')?.trim() !== 'Enabled')
    throw malformed('ObjectLockEnabled must be Enabled')
  const rules = doc.children.filter((c) => c.name === 'Rule')
  if (rules.length > 1) throw malformed('at most one Rule')
  const rule = rules[0]
  if (rule === undefined) return {}
  const d = rule.children.find((c) => c.name === 'DefaultRetention')
  if (d === undefined) throw malformed('a Rule needs a DefaultRetention')
  const mode = modeOf(leaf(d, 'Mode')?.trim(), 'Mode')
  const days = leaf(d, 'Days')?.trim()
  const years = leaf(d, 'Years')?.trim()
  if ((days === undefined) === (years === undefined))
    throw malformed('DefaultRetention needs Days or Years, not both')
  const n = Number(days ?? years)
  if (!/^\d{1,5}$/.test(days ?? years ?? '') || n < 1 || n > (days !== undefined ? 36_500 : 100))
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      'Default retention period must be a positive integer value (at most 36500 days or 100 years)',
    )
  return days !== undefined ? { mode, days: n } : { mode, years: n }
}

async function putConfiguration(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  const config = parseConfiguration(
    readXml(
      'ObjectLockConfiguration',
      await ctx.readBody(XML_BOUNDS.ObjectLockConfiguration.bytes),
    ),
  )
  if (b.versioning !== 'Enabled')
    throw new StrongroomError(
      'INVALID_BUCKET_STATE',
      'Versioning must be Enabled on the bucket to apply an Object Lock configuration',
    )
  await ctx.buckets.updateSettings(b.name, { objectLock: config })
  ctx.send(200)
}

function getConfiguration(ctx: Authorized): Promise<void> {
  const config = ctx.bucket.settings?.objectLock
  if (config === undefined)
    throw new StrongroomError(
      'OBJECT_LOCK_CONFIGURATION_NOT_FOUND',
      'Object Lock configuration does not exist for this bucket',
      { details: { BucketName: ctx.bucket.name } },
    )
  ctx.sendXml(200, 'ObjectLockConfiguration', {
    ObjectLockEnabled: 'Enabled',
    Rule:
      config.mode === undefined
        ? undefined
        : { DefaultRetention: { Mode: config.mode, Days: config.days, Years: config.years } },
  })
  return Promise.resolve()
}

function lockedBucket(ctx: Authorized): void {
  if (ctx.bucket.settings?.objectLock === undefined) throw missingConfiguration()
}

/**
 * PutObjectRetention: extending is always allowed; COMPLIANCE cannot be shortened, removed or
 * turned into GOVERNANCE by anyone; GOVERNANCE can, only when the request bypasses it.
 */
async function putRetention(ctx: Authorized): Promise<void> {
  lockedBucket(ctx)
  const { bucket, object } = ctx
  const now = ctx.objects.clock.now()
  const doc = readXml('Retention', await ctx.readBody(XML_BOUNDS.Retention.bytes))
  const modeText = leaf(doc, 'Mode')?.trim()
  const untilText = leaf(doc, 'RetainUntilDate')?.trim()
  const asked =
    modeText === undefined && untilText === undefined
      ? undefined
      : { mode: modeOf(modeText, 'Mode'), retainUntil: dateOf(untilText ?? '', now) }
  const bypass = bypassing(ctx.request)
  // Checked against the lock as stored when the change commits, not as read before the body
  // arrived: a retention set meanwhile is the one that binds.
  await ctx.objectMeta.updateObjectLock(bucket.name, object.key, object.versionId, (held) => {
    const active = held?.retainUntil !== undefined && held.retainUntil > now
    if (active) {
      const weaker =
        asked === undefined ||
        asked.retainUntil < (held.retainUntil ?? 0) ||
        (held.mode === 'COMPLIANCE' && asked.mode !== 'COMPLIANCE')
      if (weaker && (held.mode === 'COMPLIANCE' || !bypass))
        throw new StrongroomError(
          'ACCESS_DENIED',
          held.mode === 'COMPLIANCE'
            ? 'Access Denied: a COMPLIANCE retention can only be extended'
            : 'Access Denied: shortening or removing a GOVERNANCE retention needs x-amz-bypass-governance-retention and s3:BypassGovernanceRetention',
        )
    }
    return { ...(asked ?? {}), ...(held?.legalHold === true ? { legalHold: true } : {}) }
  })
  versionHeaders(ctx.res, bucket, object)
  ctx.send(200)
}

function getRetention(ctx: Authorized): Promise<void> {
  lockedBucket(ctx)
  const lock = ctx.object.lock
  if (lock?.mode === undefined || lock.retainUntil === undefined)
    throw new StrongroomError(
      'NO_SUCH_OBJECT_LOCK_CONFIGURATION',
      'The specified object does not have a ObjectLock configuration',
    )
  ctx.sendXml(200, 'Retention', {
    Mode: lock.mode,
    RetainUntilDate: new Date(lock.retainUntil).toISOString(),
  })
  return Promise.resolve()
}

async function putLegalHold(ctx: Authorized): Promise<void> {
  lockedBucket(ctx)
  const { bucket, object } = ctx
  const status = leaf(
    readXml('LegalHold', await ctx.readBody(XML_BOUNDS.LegalHold.bytes)),
    'Status',
  )?.trim()
  if (status !== 'ON' && status !== 'OFF') throw malformed('Status must be ON or OFF')
  // Only the hold changes; the retention is kept as stored when the change commits.
  await ctx.objectMeta.updateObjectLock(bucket.name, object.key, object.versionId, (held) => {
    const kept: ObjectLock = {
      ...(held?.mode === undefined ? {} : { mode: held.mode }),
      ...(held?.retainUntil === undefined ? {} : { retainUntil: held.retainUntil }),
    }
    const next = status === 'ON' ? { ...kept, legalHold: true } : kept
    return Object.keys(next).length === 0 ? undefined : next
  })
  versionHeaders(ctx.res, bucket, object)
  ctx.send(200)
}

function getLegalHold(ctx: Authorized): Promise<void> {
  lockedBucket(ctx)
  ctx.sendXml(200, 'LegalHold', { Status: ctx.object.lock?.legalHold === true ? 'ON' : 'OFF' })
  return Promise.resolve()
}

const onObject = (
  name: string,
  method: 'GET' | 'PUT',
  sub: string,
  plain: string,
  handler: (ctx: Authorized) => Promise<void>,
  also?: (r: S3Request) => readonly string[],
): Operation => ({
  name,
  match: { method, on: 'object', sub },
  // S3 names these actions the same with or without a versionId.
  action: versioned(plain, plain),
  resource: 'object',
  target: 'object',
  ...(also === undefined ? {} : { also }),
  handler,
})

export const OBJECT_LOCK_OPERATIONS: readonly Operation[] = [
  {
    name: 'PutObjectLockConfiguration',
    match: { method: 'PUT', on: 'bucket', sub: 'object-lock' },
    action: 's3:PutBucketObjectLockConfiguration',
    resource: 'bucket',
    target: 'bucket',
    handler: putConfiguration,
  },
  {
    name: 'GetObjectLockConfiguration',
    match: { method: 'GET', on: 'bucket', sub: 'object-lock' },
    action: 's3:GetBucketObjectLockConfiguration',
    resource: 'bucket',
    target: 'bucket',
    handler: getConfiguration,
  },
  onObject(
    'PutObjectRetention',
    'PUT',
    'retention',
    's3:PutObjectRetention',
    putRetention,
    bypassAction,
  ),
  onObject('GetObjectRetention', 'GET', 'retention', 's3:GetObjectRetention', getRetention),
  onObject('PutObjectLegalHold', 'PUT', 'legal-hold', 's3:PutObjectLegalHold', putLegalHold),
  onObject('GetObjectLegalHold', 'GET', 'legal-hold', 's3:GetObjectLegalHold', getLegalHold),
]
