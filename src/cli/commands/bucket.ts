/**
 * Model scanning in the store, from the CLI: a bucket's scan policy, the
 * verdicts kept with its objects, and rescanning when the rules change.
 */
import type { ScanEvent } from '../../api/pipeline.ts'
import { quarantined } from '../../api/quarantine.ts'
import { scanVerdictEvent } from '../../audit/service-events.ts'
import { EventBatch } from '../../audit/submit.ts'
import type { App } from '../../app.ts'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { BucketRecord, ScanPolicy } from '../../meta/buckets.ts'
import type { ScanRecord } from '../../meta/verdicts.ts'
import { RULES_VERSION } from '../../scan/rules.ts'
import { stringOpt, withApp, type Command, type CommandContext } from '../command.ts'

const POLICIES: readonly ScanPolicy[] = ['off', 'report', 'enforce', 'reject']

async function mustBucket(app: App, name: string): Promise<BucketRecord> {
  try {
    return await app.buckets.require(name)
  } catch (e) {
    if (!isStrongroomError(e, 'BUCKET_NOT_FOUND')) throw e
    throw new StrongroomError('USAGE', `there is no bucket \`${name}\`; see \`aws s3 ls\``, {
      cause: e,
    })
  }
}

/**
 * Scans every version of the bucket that has no verdict (written while its
 * policy was `off`), reporting progress; under `enforce` each stays
 * quarantined until this gives it a clean verdict. Returns what it did.
 */
async function scanUnscanned(
  ctx: CommandContext,
  app: App,
  b: BucketRecord,
): Promise<{ scanned: unknown[]; failed: number }> {
  let total = 0
  for await (const v of app.objectMeta.allVersions(b.name)) if (v.scan === null) total++
  const scanned: unknown[] = []
  let failed = 0
  if (total === 0) return { scanned, failed }
  if (!ctx.json)
    ctx.write(
      `scanning ${total} unscanned object version${total === 1 ? '' : 's'} of ${b.name}${b.scanPolicy === 'enforce' ? ' (each stays quarantined until it is scanned clean)' : ''}\n`,
    )
  const objects = app.objects
  const config = ctx.config()
  const batch = new EventBatch(app)
  const audit = (e: ScanEvent) => batch.add(scanVerdictEvent(e, config.region))
  let n = 0
  for await (const v of app.objectMeta.allVersions(b.name)) {
    if (v.scan !== null) continue
    n++
    const at = `[${n}/${total}] ${v.key}${v.versionId === 'null' ? '' : ` [${v.versionId}]`}`
    let record: ScanRecord
    try {
      record = await objects.rescan(v)
    } catch (e) {
      // It stays unscanned, so under enforce it stays quarantined; `strongroom rescan` retries.
      failed++
      const message = e instanceof Error ? e.message : String(e)
      scanned.push({ Key: v.key, VersionId: v.versionId, Verdict: 'unscanned', Error: message })
      if (!ctx.json) ctx.write(`${at}: not scanned: ${message}\n`)
      continue
    }
    const outcome = quarantined(b, { scan: record }) ? 'quarantined' : 'stored'
    await audit({
      requestId: 'scan-policy',
      principal: 'strongroom bucket scan-policy',
      bucket: b.name,
      key: v.key,
      versionId: v.versionId,
      policy: b.scanPolicy,
      outcome,
      scan: record,
    })
    scanned.push({ Key: v.key, VersionId: v.versionId, Verdict: record.verdict })
    if (!ctx.json)
      ctx.write(`${at}: ${record.verdict}${outcome === 'quarantined' ? ' (quarantined)' : ''}\n`)
  }
  await batch.flush()
  if (!ctx.json)
    ctx.write(
      `scanned ${n - failed} of ${total} unscanned versions${failed > 0 ? `; ${failed} could not be scanned (run \`strongroom rescan ${b.name}\`)` : ''}\n`,
    )
  return { scanned, failed }
}

export const bucketScanPolicy: Command = {
  name: 'bucket scan-policy',
  summary:
    "Show or set a bucket's model-scan policy: report (record verdicts), enforce (also quarantine what is not clean), reject (refuse it), or off.",
  args: 'BUCKET [POLICY]',
  positionals: [1, 2],
  options: {
    'no-scan': {
      type: 'boolean',
      description:
        'set the policy without scanning what is unscanned now (`strongroom rescan BUCKET` does it later)',
    },
  },
  help: [
    'Under enforce, reading a quarantined object needs the IAM action',
    'strongroom:GetQuarantinedObject; an object with no verdict (written while the',
    'policy was off) is quarantined until it is scanned. Setting a policy other than',
    'off scans every such object version, with progress; the exit status is 1 when',
    'one could not be scanned. New buckets start with report.',
    '',
    'Example:',
    '  strongroom bucket scan-policy models enforce',
  ].join('\n'),
  async run(ctx) {
    const [name = '', policy] = ctx.positionals
    if (policy !== undefined && !POLICIES.includes(policy as ScanPolicy))
      throw new StrongroomError(
        'USAGE',
        `\`${policy}\` is not a scan policy: use ${POLICIES.join(', ')}`,
      )
    let failed = 0
    await withApp(ctx, async (app) => {
      const b = await mustBucket(app, name)
      if (policy !== undefined) await app.buckets.setScanPolicy(name, policy as ScanPolicy)
      const now = (policy as ScanPolicy | undefined) ?? b.scanPolicy
      if (!ctx.json)
        ctx.print(
          policy === undefined
            ? `bucket ${name}: scan policy ${now}`
            : `bucket ${name}: scan policy ${b.scanPolicy} -> ${now}`,
        )
      const skip = ctx.values['no-scan'] === true
      const r =
        policy === undefined || now === 'off' || skip
          ? { scanned: [], failed: 0 }
          : await scanUnscanned(ctx, app, { ...b, scanPolicy: now })
      if (skip && now === 'enforce' && !ctx.json) {
        let unscanned = 0
        for await (const v of app.objectMeta.allVersions(name)) if (v.scan === null) unscanned++
        if (unscanned > 0)
          ctx.write(
            `${unscanned} unscanned object version${unscanned === 1 ? '' : 's'} stay quarantined until \`strongroom rescan ${name}\` scans them\n`,
          )
      }
      failed = r.failed
      if (ctx.json) ctx.print('', { Bucket: name, ScanPolicy: now, Scanned: r.scanned })
    })
    return failed > 0 ? 1 : 0
  },
}

export const bucketDeletePolicy: Command = {
  name: 'bucket delete-policy',
  summary: "Remove a bucket's policy: the operator's way back in when a policy locks everyone out.",
  args: 'BUCKET',
  positionals: [1, 1],
  options: {},
  help: [
    "Works on the data directory directly, whatever the policy says: the bucket's owning",
    "tenant keeps only what its users' own policies give them. The removed policy is printed",
    '(and returned as Policy with --json) so that it can be mended and put back.',
    '',
    'Example:',
    '  strongroom bucket delete-policy vision-models',
  ].join('\n'),
  async run(ctx) {
    const [name = ''] = ctx.positionals
    await withApp(ctx, async (app) => {
      const b = await mustBucket(app, name)
      await app.buckets.deletePolicy(name)
      ctx.print(
        b.policy === null
          ? `bucket ${name} had no policy`
          : `removed the policy of bucket ${name}; it was:\n${b.policy}`,
        { Bucket: name, Policy: b.policy },
      )
    })
    return 0
  },
}

const VERDICTS = ['clean', 'suspicious', 'malicious', 'unscanned'] as const

export const bucketVerdicts: Command = {
  name: 'bucket verdicts',
  summary:
    "List the model scanner's verdict on each object version in a bucket, and which versions are quarantined.",
  args: 'BUCKET',
  positionals: [1, 1],
  options: {
    prefix: { type: 'string', value: 'PREFIX', description: 'only keys starting with PREFIX' },
    verdict: {
      type: 'string',
      value: 'VERDICT',
      description: `only versions with this verdict: ${VERDICTS.join(', ')}`,
    },
    quarantined: {
      type: 'boolean',
      description:
        'only quarantined versions: those the gateway serves only with strongroom:GetQuarantinedObject',
    },
  },
  help: `A version is quarantined while the bucket's scan policy is enforce and its verdict is not
clean. Exit status 1 when any listed version is suspicious or malicious.

Example:
  strongroom bucket verdicts models --quarantined`,
  async run(ctx) {
    const [name = ''] = ctx.positionals
    const prefix = typeof ctx.values.prefix === 'string' ? ctx.values.prefix : ''
    const only = stringOpt(ctx, 'verdict')
    if (only !== undefined && !(VERDICTS as readonly string[]).includes(only))
      throw new StrongroomError(
        'USAGE',
        `--verdict must be one of ${VERDICTS.join(', ')}, got \`${only.slice(0, 40)}\``,
      )
    const onlyQuarantined = ctx.values.quarantined === true
    let worst = 0
    await withApp(ctx, async (app) => {
      const b = await mustBucket(app, name)
      const rows: string[] = []
      const data: unknown[] = []
      for await (const v of app.objectMeta.allVersions(name, prefix)) {
        const verdict = v.scan?.verdict ?? 'unscanned'
        const held = quarantined(b, v)
        if ((only !== undefined && verdict !== only) || (onlyQuarantined && !held)) continue
        if (verdict === 'suspicious' || verdict === 'malicious') worst = 1
        const first = v.scan?.findings[0]
        const stale = v.scan !== null && v.scan.rules !== RULES_VERSION ? ' (older rules)' : ''
        rows.push(
          `${verdict.padEnd(10)} ${held ? 'quarantined ' : ''}${v.key}${v.versionId === 'null' ? '' : ` [${v.versionId}]`}${stale}${first === undefined ? '' : `  ${first.rule}: ${first.reason}`}`,
        )
        data.push({
          Key: v.key,
          VersionId: v.versionId,
          IsLatest: v.isLatest,
          Verdict: verdict,
          Quarantined: held,
          Rules: v.scan?.rules ?? null,
          Findings: v.scan?.findings ?? [],
        })
      }
      const filter = [
        ...(onlyQuarantined ? ['quarantined'] : []),
        ...(only === undefined ? [] : [only]),
      ]
      ctx.print(
        [
          `bucket ${name} (scan policy ${b.scanPolicy}):`,
          ...(rows.length === 0
            ? [`  no ${filter.length === 0 ? 'object versions' : `${filter.join(' ')} versions`}`]
            : rows),
        ].join('\n'),
        {
          Bucket: name,
          ScanPolicy: b.scanPolicy,
          Versions: data,
        },
      )
    })
    return worst
  },
}

export const rescan: Command = {
  name: 'rescan',
  summary:
    'Scan stored objects again: every version whose verdict came from older scanner rules (or all with --all).',
  args: '[BUCKET…]',
  positionals: [0, Number.MAX_SAFE_INTEGER],
  options: {
    all: { type: 'boolean', description: 'rescan every version, not only those of older rules' },
  },
  help: 'Without BUCKET, every bucket of every tenant. Each new verdict is an event in the\naudit log (ScanVerdict).\n\nExample:\n  strongroom rescan models',
  async run(ctx) {
    const all = ctx.values.all === true
    const config = ctx.config()
    let changed = 0
    let seen = 0
    let worst = 0
    await withApp(ctx, async (app) => {
      const objects = app.objects
      const batch = new EventBatch(app)
      const audit = (e: ScanEvent) => batch.add(scanVerdictEvent(e, config.region))
      const buckets: BucketRecord[] = []
      if (ctx.positionals.length > 0)
        for (const n of ctx.positionals) buckets.push(await mustBucket(app, n))
      else
        for (const t of await app.identity.listTenants())
          buckets.push(...(await app.buckets.list(t)))
      for (const b of buckets) {
        if (b.scanPolicy === 'off') continue
        for await (const v of app.objectMeta.allVersions(b.name)) {
          seen++
          if (!all && v.scan?.rules === RULES_VERSION) continue
          const before = v.scan?.verdict ?? 'unscanned'
          const record = await objects.rescan(v)
          changed++
          if (record.verdict !== 'clean') worst = 1
          await audit({
            requestId: 'rescan',
            principal: 'strongroom rescan',
            bucket: b.name,
            key: v.key,
            versionId: v.versionId,
            policy: b.scanPolicy,
            outcome: quarantined(b, { scan: record }) ? 'quarantined' : 'stored',
            scan: record,
          })
          if (before !== record.verdict || ctx.json)
            ctx.write(
              ctx.json
                ? `${JSON.stringify({ Bucket: b.name, Key: v.key, VersionId: v.versionId, Before: before, Verdict: record.verdict })}\n`
                : `${b.name}/${v.key}: ${before} -> ${record.verdict}\n`,
            )
        }
      }
      await batch.flush()
    })
    if (!ctx.json)
      ctx.write(`rescanned ${changed} of ${seen} object versions (rules ${RULES_VERSION})\n`)
    return worst
  },
}
