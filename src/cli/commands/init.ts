import { initDataDir } from '../../app.ts'
import type { Command } from '../command.ts'

export const init: Command = {
  name: 'init',
  summary: 'Create a data directory, sealed under a root key that lives elsewhere.',
  args: '',
  positionals: [0, 0],
  options: {
    dev: {
      type: 'boolean',
      description:
        'generate a throwaway root key and store it in the data directory (development only)',
    },
  },
  help: `The root key comes from exactly one of:
  STRONGROOM_ROOT_KEY=<64 hex characters>   e.g. export STRONGROOM_ROOT_KEY=$(openssl rand -hex 32)
  --root-key-file FILE                      32 raw bytes or 64 hex characters, kept outside the data directory
  --passphrase-file FILE                    a passphrase stretched with scrypt (128 MiB, parameters stored)
  --dev                                     a generated key stored beside the data: never for real data
or it is kept in an external key store, whose key never leaves it (docs/keys.md):
  --key-provider pkcs11 --key-store 'pkcs11:token=T;object=K?module-path=/usr/lib/softhsm/libsofthsm2.so'
                                            an HSM; the PIN from STRONGROOM_PKCS11_PIN (the key is made if absent)
  --key-provider vault --key-store https://vault:8200/v1/transit/keys/strongroom
                                            Vault / OpenBao Transit; the token from VAULT_TOKEN
  --key-provider awskms --key-store arn:aws:kms:REGION:ACCOUNT:key/ID
                                            AWS KMS; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY

Example:
  export STRONGROOM_ROOT_KEY=$(openssl rand -hex 32)
  strongroom init --data-dir ./strongroom-data`,
  async run(ctx) {
    const dev = ctx.values.dev === true
    const r = await initDataDir(ctx.config(), { dev })
    if (dev) {
      ctx.warn(
        '--dev: the root key is stored in the data directory beside the data it protects; use it for development only',
      )
    }
    ctx.print(
      [
        `initialised ${r.dataDir} (installation ${r.installationId}, root key: ${r.rootMode})`,
        'next: strongroom tenant create NAME, then strongroom key create --tenant NAME --alias ALIAS',
      ].join('\n'),
      r,
    )
    return 0
  },
}
