/**
 * The lifecycle sweeper: applies every bucket's lifecycle rules
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html) at a
 * given time. It keeps no state of its own: the rules live with the buckets and every date it
 * needs (a version's creation, the creation of the version that replaced it, an upload's start)
 * with the rows, so a sweep after a restart does exactly what the missed one would have. As S3
 * does, a rule's N days end at the first midnight UTC after creation + N days.
 *
 * Removal goes through ObjectService, whose delete keeps every version that Object Lock holds:
 * lifecycle never removes a locked version (it is counted as kept and tried again next sweep).
 */
import type { Clock } from '../clock.ts'
import { isStrongroomError } from '../errors.ts'
import type { BucketStore } from '../meta/buckets.ts'
import type { MultipartStore, UploadCursor } from '../meta/multipart.ts'
import type {
  BucketRecord,
  LifecycleRule,
  ObjectRecord,
  ObjectStore,
  UploadRecord,
  VersionRecord,
} from '../meta/objects.ts'

const DAY = 86_400_000
const PAGE = 1000

/** The first midnight UTC at or after `t + days`. */
export function dueAt(t: number, days: number): number {
  const end = t + days * DAY
  return Math.ceil(end / DAY) * DAY
}

export interface SweepReport {
  /** Current versions expired (removed, or a delete marker put on top when versioned). */
  expired: number
  /** Noncurrent versions removed. */
  noncurrent: number
  /** Delete markers removed once nothing was left under them. */
  markers: number
  /** Unfinished multipart uploads aborted. */
  aborted: number
  /** Versions a rule selected that Object Lock keeps. */
  locked: number
}

export interface LifecycleTarget {
  readonly meta: Pick<BucketStore, 'bucketsWithLifecycle'> &
    Pick<ObjectStore, 'listVersions'> &
    Pick<MultipartStore, 'listUploads'>
  readonly objects: {
    delete(
      bucket: BucketRecord,
      key: string,
      versionId?: string,
      options?: { readonly onlyIf?: (o: ObjectRecord) => boolean },
    ): Promise<ObjectRecord | undefined>
    abort(upload: UploadRecord): Promise<void>
  }
}

function matches(rule: LifecycleRule, o: ObjectRecord): boolean {
  if (!rule.enabled || !o.key.startsWith(rule.prefix)) return false
  if (rule.sizeGreaterThan !== undefined && !(o.size > rule.sizeGreaterThan)) return false
  if (rule.sizeLessThan !== undefined && !(o.size < rule.sizeLessThan)) return false
  return rule.tags.every(([k, v]) => o.tags.some(([tk, tv]) => tk === k && tv === v))
}

/** Applies every bucket's rules as of `now`. */
export async function sweepLifecycle(t: LifecycleTarget, now: number): Promise<SweepReport> {
  const report: SweepReport = { expired: 0, noncurrent: 0, markers: 0, aborted: 0, locked: 0 }
  for (const bucket of await t.meta.bucketsWithLifecycle()) {
    const rules = (bucket.settings?.lifecycle ?? []).filter((r) => r.enabled)
    if (rules.length === 0) continue
    await sweepVersions(t, bucket, rules, now, report)
    await sweepUploads(t, bucket, rules, now, report)
  }
  return report
}

/** One removal; a version Object Lock keeps is counted and left. */
async function remove(
  t: LifecycleTarget,
  bucket: BucketRecord,
  listed: VersionRecord,
  versionId: string | undefined,
  report: SweepReport,
): Promise<boolean> {
  const key = listed.key
  try {
    // Only the version listed: a write that lands between the listing and the removal (in an
    // unversioned bucket it would be gone for good) is left for the next sweep to judge.
    await t.objects.delete(bucket, key, versionId, {
      onlyIf: (o) => o.versionId === listed.versionId && o.createdAt === listed.createdAt,
    })
    return true
  } catch (e) {
    if (isStrongroomError(e, 'PRECONDITION_FAILED')) return false
    if (!isStrongroomError(e, 'ACCESS_DENIED')) throw e
    report.locked++
    return false
  }
}

/** Every key's versions, newest first, a whole key at a time. */
async function* keys(t: LifecycleTarget, bucket: string): AsyncGenerator<VersionRecord[]> {
  let after = ''
  let limit = PAGE
  for (;;) {
    const page = await t.meta.listVersions(bucket, '', after, undefined, limit)
    if (page.length === 0) return
    const byKey: VersionRecord[][] = []
    for (const v of page) {
      const last = byKey.at(-1)
      if (last !== undefined && last[0]?.key === v.key) last.push(v)
      else byKey.push([v])
    }
    const full = page.length === limit
    // The last key of a full page may go on: it is read again, whole, with the next page.
    if (full && byKey.length === 1) {
      limit *= 2
      continue
    }
    const done = full ? byKey.slice(0, -1) : byKey
    for (const versions of done) yield versions
    if (!full) return
    after = done.at(-1)?.[0]?.key ?? after
    limit = PAGE
  }
}

async function sweepVersions(
  t: LifecycleTarget,
  bucket: BucketRecord,
  rules: readonly LifecycleRule[],
  now: number,
  report: SweepReport,
): Promise<void> {
  for await (const versions of keys(t, bucket.name)) {
    const [current, ...older] = versions
    if (current === undefined) continue
    // Current version: expiration by days or date (a delete marker is not expired so).
    if (!current.deleteMarker && current.isLatest) {
      const rule = rules.find(
        (r) =>
          matches(r, current) &&
          ((r.expirationDays !== undefined && now >= dueAt(current.createdAt, r.expirationDays)) ||
            (r.expirationDate !== undefined && now >= r.expirationDate)),
      )
      if (rule !== undefined && (await remove(t, bucket, current, undefined, report)))
        report.expired++
    }
    // Noncurrent versions: N days after the version that replaced each, keeping the newest few.
    let left = older.length
    for (const [i, v] of older.entries()) {
      const replacedAt = (i === 0 ? current : older[i - 1])?.createdAt ?? v.createdAt
      const rule = rules.find(
        (r) =>
          r.noncurrentDays !== undefined &&
          matches(r, v) &&
          i >= (r.newerNoncurrentVersions ?? 0) &&
          now >= dueAt(replacedAt, r.noncurrentDays),
      )
      if (rule !== undefined && (await remove(t, bucket, v, v.versionId, report))) {
        report.noncurrent++
        left--
      }
    }
    // A delete marker with nothing left under it.
    if (
      current.deleteMarker &&
      left === 0 &&
      rules.some((r) => r.expiredObjectDeleteMarker === true && current.key.startsWith(r.prefix))
    ) {
      if (await remove(t, bucket, current, current.versionId, report)) report.markers++
    }
  }
}

async function sweepUploads(
  t: LifecycleTarget,
  bucket: BucketRecord,
  rules: readonly LifecycleRule[],
  now: number,
  report: SweepReport,
): Promise<void> {
  const aborting = rules.filter((r) => r.abortIncompleteDays !== undefined)
  if (aborting.length === 0) return
  // Collect first, then abort: the listing's cursor names an upload, which must still exist.
  const due: UploadRecord[] = []
  let after: UploadCursor | undefined
  for (;;) {
    const page = await t.meta.listUploads(bucket.name, '', after, PAGE)
    for (const u of page)
      if (
        aborting.some(
          (r) =>
            u.key.startsWith(r.prefix) && now >= dueAt(u.createdAt, r.abortIncompleteDays ?? 0),
        )
      )
        due.push(u)
    const last = page.at(-1)
    if (last === undefined || page.length < PAGE) break
    after = { key: last.key, uploadId: last.id }
  }
  for (const u of due) {
    await t.objects.abort(u)
    report.aborted++
  }
}

/** The app's stores and object service as the sweeper's target. */
export function lifecycleTarget(app: {
  readonly buckets: { withLifecycle(): Promise<BucketRecord[]> }
  readonly objectMeta: Pick<ObjectStore, 'listVersions'> & Pick<MultipartStore, 'listUploads'>
  readonly objects: LifecycleTarget['objects']
}): LifecycleTarget {
  return {
    meta: {
      bucketsWithLifecycle: () => app.buckets.withLifecycle(),
      listVersions: (b, p, k, v, n) => app.objectMeta.listVersions(b, p, k, v, n),
      listUploads: (b, p, a, n) => app.objectMeta.listUploads(b, p, a, n),
    },
    objects: app.objects,
  }
}

/**
 * Runs the sweep now and then every `intervalMs` until stopped; a sweep that fails is reported
 * and the next one tries again. The timer does not keep the process alive.
 */
export function startSweeper(
  t: LifecycleTarget,
  clock: Clock,
  intervalMs: number,
  onReport: (r: SweepReport | Error) => void,
): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve()
  const run = () => {
    running = running.then(() =>
      sweepLifecycle(t, clock.now()).then(onReport, (e: unknown) =>
        onReport(e instanceof Error ? e : new Error(String(e))),
      ),
    )
  }
  run()
  const timer = setInterval(run, intervalMs)
  timer.unref()
  return {
    stop: async () => {
      clearInterval(timer)
      await running
    },
  }
}
