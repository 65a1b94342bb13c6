import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { initDataDir, META_FILE } from '../../app.ts'
import { openObject } from '../../crypto/range.ts'
import { encrypt } from '../../crypto/stream.ts'
import { StrongroomError } from '../../errors.ts'
import { headerDataKey, newDataKey, standaloneSealOptions } from '../../kms/envelope.ts'
import { withApp, type Command } from '../command.ts'

const TENANT = 'demo'
const ALIAS = 'alias/demo'

/** `npm start`: a working installation on embedded defaults, proven by one sealed round trip. */
export const quickstart: Command = {
  name: 'quickstart',
  summary:
    'Set up a development installation (a demo tenant and key) and prove a sealed round trip.',
  args: '',
  positionals: [0, 0],
  options: {},
  help: 'Uses --dev (a generated root key beside the data) when the data directory does not exist yet and no root key is configured.',
  async run(ctx) {
    const config = ctx.config()
    if (!existsSync(join(config.dataDir, META_FILE))) {
      const dev =
        config.rootKeyHex === undefined &&
        config.rootKeyFile === undefined &&
        config.passphraseFile === undefined
      await initDataDir(config, { dev })
      if (dev)
        ctx.warn(
          '--dev: the root key is stored in the data directory beside the data; for development only',
        )
    }
    const summary = await withApp(ctx, async (app) => {
      const tenant =
        (await app.identity.findTenant(TENANT)) ?? (await app.identity.createTenant(TENANT))
      const key =
        (await app.keys.byAlias(tenant, ALIAS)) ??
        (await app.keys.createKey(tenant, { alias: ALIAS }))
      const sample = randomBytes(3 << 20)
      const dk = await newDataKey(
        app.keyProvider,
        { tenant, keyId: key.id, keyVersion: key.currentVersion },
        { purpose: 'quickstart' },
      )
      const parts: Uint8Array[] = []
      for await (const p of encrypt(
        [sample],
        standaloneSealOptions(dk, sample.length, config.segmentSize),
      )) {
        parts.push(p)
      }
      dk.dataKey.fill(0)
      const sealed = Buffer.concat(parts)
      const obj = await openObject(
        { size: sealed.length, read: (at, n) => Promise.resolve(sealed.subarray(at, at + n)) },
        { dataKey: headerDataKey(app.keyProvider) },
      )
      const back: Uint8Array[] = []
      for await (const p of obj.range(0, sample.length - 1)) back.push(p)
      obj.close()
      if (!Buffer.concat(back).equals(sample))
        throw new StrongroomError('INTERNAL', 'quickstart round trip returned different bytes')
      return {
        dataDir: config.dataDir,
        tenant: tenant.name,
        tenantId: tenant.id,
        key: key.alias,
        keyId: key.id,
        roundTripBytes: sample.length,
      }
    })
    ctx.print(
      [
        `ready: ${summary.dataDir}`,
        `tenant ${summary.tenant} (account ${summary.tenantId}), key ${summary.key ?? ''} (${summary.keyId})`,
        `sealed and opened ${summary.roundTripBytes} bytes under it: every byte authenticated`,
        '',
        'try:',
        `  npm run strongroom -- encrypt --tenant ${TENANT} --key ${ALIAS} README.md README.md.sr`,
        '  npm run strongroom -- decrypt --range 0-99 README.md.sr -',
        `  npm run strongroom -- key rotate --tenant ${TENANT} --key ${ALIAS}`,
        '  npm run strongroom -- --help',
      ].join('\n'),
      summary,
    )
    return 0
  },
}
