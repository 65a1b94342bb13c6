/**
 * `strongroom audit query`: the audit log's events that match every filter given, oldest
 * first, as one line each or (--json) as CloudTrail records, one per line. Reads the log in
 * the audit directory (tiles and journal) and needs the root key only to turn a tenant's name
 * into its account.
 */
import { withAuditSource } from '../audit-source.ts'
import type { AuditEvent } from '../../audit/event.ts'
import { checkFilter, matches, parseTime, type EventFilter } from '../../audit/query.ts'
import { events } from '../../audit/read.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, withApp, type Command } from '../command.ts'

const DECISIONS = ['Allow', 'ExplicitDeny', 'ImplicitDeny', 'None'] as const

function line(e: AuditEvent): string {
  const who =
    'arn' in e.userIdentity
      ? e.userIdentity.arn
      : e.userIdentity.type === 'AWSService'
        ? 'strongroom'
        : 'anonymous'
  const what = e.resources.at(-1)?.ARN ?? ''
  const outcome = e.errorCode ?? 'ok'
  return `${e.eventTime} ${e.requestID || '-'} ${e.eventName} ${who} ${what} ${e.strongroom.decision} ${outcome} ${e.sourceIPAddress}`
}

export const auditQuery: Command = {
  name: 'audit query',
  summary: 'Show the audit events that match every filter given, oldest first.',
  args: '',
  positionals: [0, 0],
  options: {
    since: {
      type: 'string',
      value: 'TIME',
      description: 'at or after TIME (ISO 8601, or an age: 15m, 2h, 7d)',
    },
    until: { type: 'string', value: 'TIME', description: 'before TIME' },
    tenant: {
      type: 'string',
      value: 'NAME|ACCOUNT',
      description: 'made by, or on what belongs to, this tenant',
    },
    principal: {
      type: 'string',
      value: 'ARN',
      description: "the caller's ARN; a trailing * matches a prefix",
    },
    action: {
      type: 'string',
      value: 'NAME',
      description: 'the operation (GetObject) or an IAM action decided (s3:GetObject)',
    },
    resource: {
      type: 'string',
      value: 'PREFIX',
      description: 'a resource ARN prefix (arn:aws:s3:::models/llm/)',
    },
    decision: {
      type: 'string',
      value: 'DECISION',
      description: 'Allow, ExplicitDeny, ImplicitDeny or None',
    },
    'error-code': {
      type: 'string',
      value: 'CODE',
      description: 'the error answered (AccessDenied, ...)',
    },
    source: {
      type: 'string',
      value: 'IP|CIDR|VPCE',
      description: 'the source address, block or VPC endpoint',
    },
    limit: {
      type: 'string',
      value: 'N',
      description: 'at most N events (the newest N when --tail)',
    },
    tail: { type: 'boolean', description: 'with --limit: the last N matches, not the first' },
  },
  help: [
    'Each event is one line: time, request id, operation, caller, resource, decision, error',
    'code (ok) and source. --json prints the CloudTrail records themselves, one per line.',
    'Exit status 1 when nothing matched.',
    '',
    'Examples:',
    '  strongroom audit query --since 1h --decision ImplicitDeny',
    '  strongroom audit query --tenant vision --action s3:GetObject --resource arn:aws:s3:::models/',
    '  strongroom audit query --principal "arn:aws:iam::*" --source 10.0.0.0/8 --json',
  ].join('\n'),
  async run(ctx) {
    const now = Date.now()
    const decision = stringOpt(ctx, 'decision')
    if (decision !== undefined && !(DECISIONS as readonly string[]).includes(decision))
      throw new StrongroomError('USAGE', `--decision is one of ${DECISIONS.join(', ')}`)
    const limitText = stringOpt(ctx, 'limit')
    const limit = limitText === undefined ? Infinity : Number(limitText)
    if (!Number.isSafeInteger(limit) && limit !== Infinity)
      throw new StrongroomError('USAGE', '--limit is a whole number')
    if (limit < 1) throw new StrongroomError('USAGE', '--limit is at least 1')
    let account = stringOpt(ctx, 'tenant')
    if (account !== undefined && !/^\d{12}$/.test(account)) {
      const name = account
      const t = await withApp(ctx, (app) => app.identity.findTenant(name))
      if (t === undefined)
        throw new StrongroomError('USAGE', `there is no tenant \`${name.slice(0, 64)}\``)
      account = t.id
    }
    const since = stringOpt(ctx, 'since')
    const until = stringOpt(ctx, 'until')
    const f: EventFilter = checkFilter({
      ...(since === undefined ? {} : { since: parseTime(since, now) }),
      ...(until === undefined ? {} : { until: parseTime(until, now) }),
      ...(account === undefined ? {} : { account }),
      ...opt('principal', stringOpt(ctx, 'principal')),
      ...opt('action', stringOpt(ctx, 'action')),
      ...opt('resourcePrefix', stringOpt(ctx, 'resource')),
      ...(decision === undefined
        ? {}
        : { decision: decision as NonNullable<EventFilter['decision']> }),
      ...opt('errorCode', stringOpt(ctx, 'error-code')),
      ...opt('source', stringOpt(ctx, 'source')),
    })
    const tail = ctx.values.tail === true
    const kept: AuditEvent[] = []
    let n = 0
    await withAuditSource(ctx.config(), async (source) => {
      for await (const e of events(source)) {
        if (!matches(e, f)) continue
        n++
        if (tail) {
          kept.push(e)
          if (kept.length > limit) kept.shift()
          continue
        }
        ctx.write(`${ctx.json ? JSON.stringify(e) : line(e)}\n`)
        if (n >= limit) break
      }
    })
    for (const e of kept) ctx.write(`${ctx.json ? JSON.stringify(e) : line(e)}\n`)
    return n === 0 ? 1 : 0
  },
}

function opt<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, string>)
}
