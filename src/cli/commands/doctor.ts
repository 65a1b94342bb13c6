/**
 * `strongroom doctor`: checks what a gateway needs (metadata, blobs, root key, CA, clocks) and
 * says, one line each, what it saw and what to do. Changes nothing but a probe blob it deletes.
 */
import { diagnose } from '../../doctor.ts'
import type { Command } from '../command.ts'

export const doctor: Command = {
  name: 'doctor',
  summary: 'Check the metadata database, blob store, root key, CA and clocks.',
  args: '',
  positionals: [0, 0],
  options: {
    gateway: {
      type: 'string',
      multiple: true,
      value: 'URL',
      description: 'a gateway to compare clocks with (repeat for each)',
    },
  },
  help: [
    'Exits 0 when every check is ok or warns, 1 when one fails. It does not migrate the schema:',
    'a database behind this build is reported with the command that upgrades it.',
    '',
    'Examples:',
    '  strongroom doctor --data-dir /srv/strongroom',
    '  strongroom doctor --config cluster.json --gateway https://10.0.0.11:9443 --gateway https://10.0.0.12:9443',
  ].join('\n'),
  async run(ctx) {
    const gateways = (ctx.values.gateway as string[] | undefined) ?? []
    const findings = await diagnose(ctx.config(), gateways)
    const failed = findings.filter((f) => f.status === 'fail').length
    if (ctx.json) ctx.print('', { Findings: findings, Failed: failed })
    else
      for (const f of findings)
        ctx.print(`${f.status.padEnd(4)}  ${f.check.padEnd(8)}  ${f.detail}`)
    return failed === 0 ? 0 : 1
  },
}
