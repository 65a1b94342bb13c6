import { withAuditSource } from '../audit-source.ts'
import type { AuditEvent } from '../../audit/event.ts'
import { decisionsOf, events } from '../../audit/read.ts'
import { StrongroomError } from '../../errors.ts'
import { renderTrace } from './policy.ts'
import type { Command } from '../command.ts'

export const explain: Command = {
  name: 'explain',
  summary:
    'Show why a request was allowed or denied: every decision the gateway made for that request id, with its trace.',
  args: 'REQUEST_ID',
  positionals: [1, 1],
  options: {},
  help: `The request id is in every S3 response (header x-amz-request-id) and error body (<RequestId>):
the aws CLI prints it with --debug, boto3 has it in ResponseMetadata.RequestId. An allowed
request shows the statements that allowed it; a denied one, every statement and why it did not apply.
Exit status 1 when any decision for the request was a denial.

Example:
  strongroom explain 3F8289E29493835A`,
  async run(ctx) {
    const id = (ctx.positionals[0] ?? '').toUpperCase()
    if (!/^[0-9A-F]{16}$/.test(id))
      throw new StrongroomError(
        'USAGE',
        `\`${id.slice(0, 40)}\` is not a request id (16 hexadecimal characters)`,
      )
    const seen: AuditEvent[] = []
    await withAuditSource(ctx.config(), async (source) => {
      for await (const e of events(source)) if (e.requestID === id) seen.push(e)
    })
    const found = seen.flatMap(decisionsOf)
    if (seen.length === 0) throw new StrongroomError('IO', `no request ${id} in the audit log`)
    if (found.length === 0) {
      // Refused before any policy was evaluated (a bad signature, an unknown key, a malformed request).
      ctx.print(
        seen
          .map(
            (e) =>
              `${e.eventTime} ${e.eventName}: refused before authorization: ${e.errorCode ?? 'no decision'}${e.errorMessage === undefined || e.errorMessage === '' ? '' : ` (${e.errorMessage})`}`,
          )
          .join('\n'),
        seen,
      )
      return seen.some((e) => e.errorCode !== undefined) ? 1 : 0
    }
    ctx.print(
      found
        .map((d) =>
          [
            `${d.time} ${d.operation}: ${d.decision} for ${d.principal}`,
            `  ${d.action} on ${d.resource}`,
            ...(d.trace !== undefined
              ? renderTrace(d.trace)
              : d.principal === '*'
                ? [
                    '  anonymous request: refused before any policy was evaluated (sign it with AWS Signature Version 4)',
                  ]
                : ['  no trace was kept for this decision (it did not fit in one audit record)']),
          ].join('\n'),
        )
        .join('\n'),
      found,
    )
    return found.every((d) => d.decision === 'Allow') ? 0 : 1
  },
}
