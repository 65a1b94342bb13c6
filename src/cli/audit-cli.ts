/**
 * The admin CLI's own audit events: every command that opens the deployment (with the root key)
 * but the `audit` commands (which read the log itself) is one event in the audit log, as every
 * request to the gateway is: who ran it (the operating
 * system's user, on which host), the command, its arguments and options (never a secret: the
 * values of options that name one are left out), and how it ended. While a gateway holds the
 * log, the event goes through its inbox (../audit/log.ts). A log that cannot take the event is
 * reported on stderr and does not fail a command that has already done its work.
 */
import { randomUUID } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import type { App } from '../app.ts'
import { EVENT_VERSION, eventTime, type AuditEvent } from '../audit/event.ts'
import { EventBatch } from '../audit/submit.ts'
import { isStrongroomError } from '../errors.ts'
import { COMMON_OPTIONS, type CommandContext } from './command.ts'

export const CLI_SOURCE = 'cli.strongroom.internal'
const READ_ONLY = /\b(list|show|describe|verdicts|whoami|query|public-key|get|explain)\b/
/** Options whose values are never recorded. */
const SECRET = /secret|password|passphrase|token|private/i

const pascal = (command: string) =>
  command
    .split(/[\s-]+/)
    .map((w) => (w[0] ?? '').toUpperCase() + w.slice(1))
    .join('')

function operator(): string {
  try {
    return userInfo().username
  } catch {
    return String(process.getuid?.() ?? 'unknown')
  }
}

export function cliEvent(
  command: string,
  ctx: Pick<CommandContext, 'values' | 'positionals'>,
  region: string,
  started: number,
  error: unknown,
): AuditEvent {
  const options = Object.fromEntries(
    Object.entries(ctx.values)
      .filter(([k, v]) => v !== undefined && !(k in COMMON_OPTIONS) && k !== 'json')
      .map(([k, v]) => [k, SECRET.test(k) ? '(not recorded)' : JSON.stringify(v).slice(0, 256)]),
  )
  const code = isStrongroomError(error) ? error.code : error === undefined ? undefined : 'INTERNAL'
  return {
    eventVersion: EVENT_VERSION,
    eventTime: eventTime(started),
    eventSource: CLI_SOURCE,
    eventName: pascal(command),
    awsRegion: region,
    sourceIPAddress: hostname().slice(0, 255),
    userAgent: 'strongroom-cli',
    userIdentity: { type: 'AWSService', invokedBy: CLI_SOURCE },
    requestParameters: {
      command: `strongroom ${command}`,
      operator: operator(),
      arguments: ctx.positionals.map((p) => p.slice(0, 256)).slice(0, 32),
      options,
    },
    responseElements: null,
    requestID: '',
    eventID: randomUUID(),
    readOnly: READ_ONLY.test(command),
    resources: [],
    eventType: 'AwsApiCall',
    recipientAccountId: '',
    ...(code === undefined
      ? {}
      : {
          errorCode: code,
          errorMessage: error instanceof Error ? error.message.slice(0, 1024) : '',
        }),
    strongroom: {
      decision: 'None',
      statements: [],
      bytesIn: 0,
      bytesOut: 0,
      latencyMs: Math.round((Date.now() - started) * 10) / 10,
      status: code === undefined ? 0 : 1,
    },
  }
}

/** Records the command's event in the audit log; a failure to record is a warning only. */
export async function recordCommand(
  ctx: CommandContext,
  app: App,
  started: number,
  error: unknown,
): Promise<void> {
  // The audit commands read the log: recording them would change what an auditor is reading
  // (a copy taken after `audit public-key` would always be one record longer).
  if (ctx.command === undefined || ctx.command.startsWith('audit ')) return
  try {
    const batch = new EventBatch(app)
    await batch.add(cliEvent(ctx.command, ctx, app.config.region, started, error))
    await batch.flush()
  } catch (e) {
    ctx.warn(`this command could not be recorded in the audit log: ${(e as Error).message}`)
  }
}
