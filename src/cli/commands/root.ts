/**
 * `strongroom root migrate`: moves the installation's root to an external key store (a
 * PKCS#11 HSM, Vault/OpenBao Transit, AWS KMS) or from one to another.
 */
import { migrateRootTo } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { StrongroomError } from '../../errors.ts'
import type { Command } from '../command.ts'
import { isExternal } from '../../kms/external/install.ts'
import { shownSpec } from '../../kms/external/port.ts'

export const rootMigrate: Command = {
  name: 'root migrate',
  summary:
    'Move the root to another key store, re-wrapping every tenant key (object data is not touched).',
  args: '',
  positionals: [0, 0],
  options: {
    'to-key-provider': {
      type: 'string',
      value: 'KIND',
      description: 'the key store to move to: pkcs11, vault or awskms',
    },
    'to-key-store': {
      type: 'string',
      value: 'KEY',
      description: 'the key in it (same forms as --key-store)',
    },
  },
  help: `Stop every gateway first: one still running holds the old key store and cannot open
key versions re-wrapped under the new one. The current root is given as for any command
(STRONGROOM_ROOT_KEY, --root-key-file, --passphrase-file, or --key-provider/--key-store);
the new store's secrets come from the same variables as at init (STRONGROOM_PKCS11_PIN or
pin-source, VAULT_TOKEN, AWS credentials). An interrupted migration resumes where it stopped
when run again. Every key is then rotated, so that new data opens only through the new
store; the old root key still opens the installation's own secrets (access-key secrets, the
audit and CA keys): destroy every copy. See docs/keys.md.

Example:
  export STRONGROOM_PKCS11_PIN=...
  strongroom root migrate --root-key-file /etc/strongroom/root.key \\
    --to-key-provider pkcs11 \\
    --to-key-store 'pkcs11:token=Strongroom;object=strongroom-root?module-path=/usr/lib/softhsm/libsofthsm2.so'`,
  async run(ctx) {
    const kind = ctx.values['to-key-provider']
    const spec = ctx.values['to-key-store']
    if (typeof kind !== 'string' || typeof spec !== 'string')
      throw new StrongroomError('USAGE', 'give --to-key-provider and --to-key-store')
    if (kind === 'local')
      throw new StrongroomError(
        'USAGE',
        'a root kept in an external key store cannot be moved back to a local root key (not supported yet)',
      )
    // The target is parsed exactly as --key-provider/--key-store are, by the one config parser.
    const target = loadConfig({
      env: { ...ctx.env, STRONGROOM_CONFIG: undefined },
      flags: { 'key-provider': kind, 'key-store': spec },
    }).keyStore
    if (target === undefined)
      throw new StrongroomError('USAGE', '--to-key-provider must be pkcs11, vault or awskms')
    let last = 0
    const r = await migrateRootTo(ctx.config(), target, (done) => {
      if (done - last >= 100) {
        ctx.warn(`re-wrapped ${String(done)} key versions`)
        last = done
      }
    })
    ctx.print(
      [
        `the root is now kept in ${r.to} (was ${r.from}): ${String(r.rewrapped)} key versions re-wrapped` +
          (r.already > 0 ? `, ${String(r.already)} already there` : '') +
          (r.shredded > 0 ? `, ${String(r.shredded)} of deleted keys skipped` : '') +
          (r.stale.length > 0
            ? `; ${String(r.stale.length)} keys rotated, so that new data is sealed under versions only the new store opens`
            : ''),
        `start the gateways with --key-provider ${r.to} --key-store '${shownSpec(spec)}'` +
          (r.from === 'dev'
            ? `; the --dev root key file was removed from the data directory`
            : isExternal(r.from)
              ? `; the ${r.from} key the root was kept in opens nothing here any more`
              : `; the old root key opens no tenant key but still opens the installation's own secrets (access-key secrets, the audit and CA keys): destroy every copy of it`),
      ].join('\n'),
      {
        From: r.from,
        To: r.to,
        Rewrapped: r.rewrapped,
        Already: r.already,
        Shredded: r.shredded,
        Rotated: r.stale.length,
      },
    )
    return 0
  },
}
