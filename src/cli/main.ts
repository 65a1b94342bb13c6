/**
 * The `strongroom` command: finds the command named by the leading words,
 * runs it, and turns every failure into one line on stderr and an exit code
 * (0 ok, 1 failed, 2 usage). Stack traces only with --debug.
 */
import { readFileSync } from 'node:fs'
import { isStrongroomError, StrongroomError } from '../errors.ts'
import { helpText, parseCommand, type Command, type Io } from './command.ts'
import { auditProve, auditPublicKey, auditVerify } from './commands/audit.ts'
import { auditQuery } from './commands/audit-query.ts'
import { auditExport } from './commands/audit-export.ts'
import { auditWitnessKey, auditWitnessServe } from './commands/audit-witness.ts'
import { decrypt, encrypt } from './commands/crypt.ts'
import { explain } from './commands/explain.ts'
import { scanCommand } from './commands/scan.ts'
import { bucketDeletePolicy, bucketScanPolicy, bucketVerdicts, rescan } from './commands/bucket.ts'
import { init } from './commands/init.ts'
import { serve } from './commands/serve.ts'
import { policySimulate, policyValidate } from './commands/policy.ts'
import { quickstart } from './commands/quickstart.ts'
import {
  keyCancelDeletion,
  keyCreate,
  keyGetPolicy,
  keyPutPolicy,
  keyDescribe,
  keyDisable,
  keyDisableRotation,
  keyEnable,
  keyEnableRotation,
  keyList,
  keyRotate,
  keyScheduleDeletion,
} from './commands/key.ts'
import { roleCreate, roleList, rolePutPolicy, roleRevokeSessions } from './commands/role.ts'
import { whoami } from './commands/whoami.ts'
import { migrate } from './commands/migrate.ts'
import { rootMigrate } from './commands/root.ts'
import { doctor } from './commands/doctor.ts'
import { certBundle, certCrl, certIssue, certList, certRevoke } from './commands/cert.ts'
import {
  groupAddUser,
  groupCreate,
  policyAttach,
  policyCreate,
  roleAttachPolicy,
} from './commands/iam.ts'
import { oidcProviderCreate, oidcProviderList } from './commands/oidc.ts'
import { run } from './commands/run.ts'
import { tenantCreate, tenantList } from './commands/tenant.ts'
import {
  accessKeyCreate,
  accessKeyDelete,
  accessKeyList,
  accessKeyUpdate,
  accessKeyDeactivate,
  userCreate,
  userPutPolicy,
} from './commands/user.ts'

export const COMMANDS: readonly Command[] = [
  init,
  tenantCreate,
  tenantList,
  keyCreate,
  keyList,
  keyDescribe,
  keyRotate,
  keyEnable,
  keyDisable,
  keyEnableRotation,
  keyDisableRotation,
  keyScheduleDeletion,
  keyCancelDeletion,
  keyPutPolicy,
  keyGetPolicy,
  encrypt,
  decrypt,
  userCreate,
  userPutPolicy,
  accessKeyCreate,
  accessKeyList,
  accessKeyUpdate,
  accessKeyDeactivate,
  accessKeyDelete,
  roleCreate,
  rolePutPolicy,
  roleList,
  roleRevokeSessions,
  roleAttachPolicy,
  policyCreate,
  policyAttach,
  groupCreate,
  groupAddUser,
  oidcProviderCreate,
  oidcProviderList,
  certIssue,
  certList,
  certRevoke,
  certCrl,
  certBundle,
  whoami,
  migrate,
  rootMigrate,
  doctor,
  run,
  policyValidate,
  policySimulate,
  serve,
  explain,
  scanCommand,
  bucketScanPolicy,
  bucketDeletePolicy,
  bucketVerdicts,
  rescan,
  auditPublicKey,
  auditVerify,
  auditProve,
  auditQuery,
  auditExport,
  auditWitnessKey,
  auditWitnessServe,
  quickstart,
]

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'Usage: strongroom COMMAND [options]',
    '',
    'Strongroom keeps ML artifacts (models, datasets, checkpoints) sealed under per-team keys.',
    '',
    'Commands:',
    ...COMMANDS.map(
      (c) => `  ${c.name.padEnd(width)}${c.summary.split('. ')[0]?.replace(/\.$/, '') ?? ''}`,
    ),
    '',
    'Run `strongroom COMMAND --help` for its options. `strongroom --version` prints the version.',
    'Exit status: 0 ok, 1 failed (a check failed or access was denied), 2 usage error.',
  ].join('\n')
}

/** Longest match of leading words against command names. */
function findCommand(argv: readonly string[]): [Command, string[]] | undefined {
  for (const words of [3, 2, 1]) {
    const name = argv.slice(0, words).join(' ')
    const cmd = COMMANDS.find((c) => c.name === name)
    if (cmd !== undefined) return [cmd, argv.slice(words)]
  }
  return undefined
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug')
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout(overview() + '\n')
      return argv.length === 0 ? 2 : 0
    }
    if (argv[0] === '--version' || argv[0] === '-V') {
      io.stdout(`strongroom ${version()}\n`)
      return 0
    }
    const found = findCommand(argv)
    if (found === undefined) {
      const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0] ?? ''} `))
      // `GROUP --help`, or a nested one (`audit witness --help`): the commands under it.
      const words = argv.slice(0, -1)
      const under = COMMANDS.filter((c) => c.name.startsWith(`${words.join(' ')} `))
      const last = argv[argv.length - 1]
      if (under.length > 0 && words.length > 0 && (last === '--help' || last === '-h')) {
        const width = Math.max(...under.map((c) => c.name.length))
        io.stdout(
          [
            `Usage: strongroom ${words.join(' ')} COMMAND [options]`,
            '',
            ...under.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
            '',
            `Run \`strongroom ${words.join(' ')} COMMAND --help\` for one command's options.`,
          ].join('\n') + '\n',
        )
        return 0
      }
      throw new StrongroomError(
        'USAGE',
        group.length > 0
          ? `\`${argv.slice(0, 2).join(' ')}\` is not a command; \`${argv[0] ?? ''}\` takes ${group.map((c) => c.name.split(' ').slice(1).join(' ')).join(', ')}`
          : `unknown command \`${argv[0] ?? ''}\`; run \`strongroom --help\` for the list`,
      )
    }
    const [cmd, rest] = found
    const ctx = parseCommand(cmd, rest, io)
    if (ctx.help) {
      io.stdout(helpText(cmd) + '\n')
      return 0
    }
    return await cmd.run(ctx)
  } catch (e) {
    if (isStrongroomError(e)) {
      io.stderr(`strongroom: ${e.message} [${e.code}]\n`)
      if (debug && e.stack !== undefined) io.stderr(e.stack + '\n')
      return e.code === 'USAGE' || e.code === 'CONFIG_INVALID' ? 2 : 1
    }
    io.stderr(
      `strongroom: internal error: ${e instanceof Error ? e.message : String(e)}${debug ? '' : ' (run with --debug for details)'}\n`,
    )
    if (debug && e instanceof Error && e.stack !== undefined) io.stderr(e.stack + '\n')
    return 1
  }
}
