/**
 * `strongroom audit export DIR`: the installation's shared audit log (gateways sharing a
 * PostgreSQL database) written out as a C2SP tlog-tiles directory for offline verification.
 */
import { exportSharedLog } from '../../audit/export.ts'
import { auditKeys } from '../../audit/keys.ts'
import { StrongroomError } from '../../errors.ts'
import { withApp, type Command } from '../command.ts'

export const auditExport: Command = {
  name: 'audit export',
  summary:
    'Write the shared audit log (gateways on PostgreSQL) out as tiles that `audit verify` and other tlog tools check offline.',
  args: 'DIR',
  positionals: [1, 1],
  options: {},
  help: [
    'Gateways that share a metadata database (`meta: postgres://…`) write one audit log there:',
    'its records in one order and checkpoints signed by the deployment. This writes it out as a',
    'C2SP tlog-tiles directory (`checkpoint`, `tile/`) up to the newest checkpoint (at most a',
    'second behind the newest record), recomputing the tree from the records and refusing',
    '(LOG_TAMPERED) when it does not hash to that signed checkpoint. Run it again on the same DIR',
    'to add the records since: the earlier tree must extend to the newer checkpoint, which',
    'proves the signed log was not rolled back or forked since; only a fresh export (a new DIR)',
    'reads every record again and so finds one rewritten in the database. Opens the installation',
    '(the audit keys are sealed under the root key). On a single machine the log is already such',
    'a directory: DATA_DIR/audit/log.',
    '',
    'Examples:',
    '  strongroom audit export --config cluster.json /srv/audit-export',
    '  strongroom audit public-key --config cluster.json > audit.pub',
    '  strongroom audit verify /srv/audit-export --public-key audit.pub',
  ].join('\n'),
  async run(ctx) {
    const dir = ctx.positionals[0] ?? ''
    return withApp(ctx, async (app) => {
      const store = app.shared
      if (store === undefined)
        throw new StrongroomError(
          'USAGE',
          `this installation keeps its audit log in files, already in tlog-tiles form: verify \`${app.config.auditDir}/log\` directly (audit export is for gateways sharing a PostgreSQL database)`,
        )
      const keys = await auditKeys(app.config.dataDir, app.sealer, store)
      let shown = Date.now()
      const r = await exportSharedLog(store, dir, {
        verifierKey: keys.verifierKey,
        origin: keys.origin,
        macKey: keys.recordMacKey,
        progress: (written, total) => {
          if (Date.now() - shown < 1000) return
          shown = Date.now()
          process.stderr.write(`exported ${written} of ${total} records\n`)
        },
      })
      ctx.print(
        `exported ${r.size - r.from} records to ${dir} (${r.size} in all, under the newest signed checkpoint)`,
        { dir, size: r.size, added: r.size - r.from, checkpoint: r.note },
      )
      return 0
    })
  },
}
