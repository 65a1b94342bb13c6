/**
 * `strongroom migrate`: brings the metadata database (the data directory's SQLite file, or the
 * PostgreSQL database `meta` names) to this build's schema. Every command and `serve` do the
 * same as they open it; this does it alone, without the root key, for an upgrade done before the
 * gateways restart.
 */
import { migrateMetadata } from '../../app.ts'
import type { Command } from '../command.ts'

export const migrate: Command = {
  name: 'migrate',
  summary: "Bring the metadata database to this build's schema (no root key needed).",
  args: '',
  positionals: [0, 0],
  options: {},
  help: [
    'Several gateways (or operators) at once migrate once: PostgreSQL takes a lock first.',
    '',
    'Examples:',
    '  strongroom migrate --data-dir /srv/strongroom',
    '  STRONGROOM_META=postgres://strongroom@db/strongroom strongroom migrate',
  ].join('\n'),
  async run(ctx) {
    const r = await migrateMetadata(ctx.config())
    ctx.print(`metadata (${r.backend}) is at schema ${String(r.version)}`, {
      Backend: r.backend,
      SchemaVersion: r.version,
    })
    return 0
  },
}
