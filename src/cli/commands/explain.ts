import { createReadStream, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { DecisionRecord } from '../../api/pipeline.ts'
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
    const file = join(ctx.config().dataDir, 'audit', 'decisions.jsonl')
    if (!existsSync(file))
      throw new StrongroomError(
        'IO',
        `no decisions recorded in \`${file}\`; has this data directory served requests?`,
      )
    const found: (DecisionRecord & { time: string })[] = []
    for await (const line of createInterface({ input: createReadStream(file) })) {
      if (!line.includes(id)) continue
      const d = JSON.parse(line) as DecisionRecord & { time: string }
      if (d.requestId === id) found.push(d)
    }
    if (found.length === 0)
      throw new StrongroomError('IO', `no decision recorded for request ${id}`)
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
                : [
                    '  no trace was recorded for this decision (older gateways kept traces only for denials)',
                  ]),
          ].join('\n'),
        )
        .join('\n'),
      found,
    )
    return found.every((d) => d.decision === 'Allow') ? 0 : 1
  },
}
