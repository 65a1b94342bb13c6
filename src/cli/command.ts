/**
 * What every command shares: its declaration (name, usage, options), the
 * common flags, argument parsing through node:util's parseArgs, `--help`
 * text generated from the declaration, and output helpers.
 */
import { parseArgs } from 'node:util'
import { openApp, type App } from '../app.ts'
import { loadConfig, type Config } from '../config.ts'
import { StrongroomError } from '../errors.ts'
import { recordCommand } from './audit-cli.ts'

export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly multiple?: boolean
  readonly value?: string
  readonly description: string
}

export interface CommandContext {
  /** The command's name (`key rotate`), for its audit event; absent in contexts made by hand. */
  readonly command?: string
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>
  readonly positionals: readonly string[]
  readonly json: boolean
  readonly env: NodeJS.ProcessEnv
  config(): Config
  /** Writes a line of human output, or the value as JSON with --json. */
  print(human: string, data?: unknown): void
  /** Writes text to stdout as it is (for line-oriented output such as JSON Lines). */
  write(text: string): void
  warn(line: string): void
}

export interface Command {
  /** Words after `strongroom`, e.g. `key create`. */
  readonly name: string
  readonly summary: string
  /** Positional part of the usage line, e.g. `IN OUT`. */
  readonly args: string
  readonly positionals: readonly [min: number, max: number]
  readonly options: Readonly<Record<string, OptionSpec>>
  /** Extra paragraphs for --help: details and examples. */
  readonly help?: string
  run(ctx: CommandContext): Promise<number>
}

export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'data-dir': {
    type: 'string',
    value: 'DIR',
    description: 'data directory (default ./strongroom-data, or STRONGROOM_DATA_DIR)',
  },
  config: { type: 'string', value: 'FILE', description: 'JSON config file (or STRONGROOM_CONFIG)' },
  'root-key-file': {
    type: 'string',
    value: 'FILE',
    description: 'root key: 32 raw bytes or 64 hex characters (or STRONGROOM_ROOT_KEY)',
  },
  'passphrase-file': {
    type: 'string',
    value: 'FILE',
    description: 'derive the root key from the passphrase in FILE',
  },
  'key-provider': {
    type: 'string',
    value: 'KIND',
    description: 'where the root is kept: local (default), pkcs11, vault or awskms',
  },
  'key-store': {
    type: 'string',
    value: 'KEY',
    description: 'the key in that store: a PKCS#11 URI, a Vault Transit key URL, a KMS key ARN',
  },
  region: {
    type: 'string',
    value: 'REGION',
    description: 'region used in ARNs (default us-east-1)',
  },
  json: { type: 'boolean', description: 'print results as JSON' },
  debug: { type: 'boolean', description: 'print stack traces of errors' },
  help: { type: 'boolean', description: 'show this help' },
}

export function usageLine(cmd: Command): string {
  return `strongroom ${cmd.name}${cmd.args === '' ? '' : ' ' + cmd.args} [options]`
}

export function helpText(cmd: Command): string {
  const opts = { ...cmd.options, ...COMMON_OPTIONS }
  const rows = Object.entries(opts).map(
    ([name, o]) =>
      [`--${name}${o.value === undefined ? '' : ' ' + o.value}`, o.description] as const,
  )
  const width = Math.max(...rows.map(([l]) => l.length)) + 2
  return [
    `Usage: ${usageLine(cmd)}`,
    '',
    cmd.summary,
    ...(cmd.help === undefined ? [] : ['', cmd.help.trimEnd()]),
    '',
    'Options:',
    ...rows.map(([l, d]) => `  ${l.padEnd(width)}${d}`),
    '',
    'Exit status: 0 ok, 1 failed (a check failed or access was denied), 2 usage error.',
  ].join('\n')
}

export interface Io {
  readonly stdout: (s: string) => void
  readonly stderr: (s: string) => void
  readonly env: NodeJS.ProcessEnv
}

/** Parses argv for one command and builds its context. */
export function parseCommand(
  cmd: Command,
  argv: readonly string[],
  io: Io,
): CommandContext & { help: boolean } {
  const options = Object.fromEntries(
    Object.entries({ ...cmd.options, ...COMMON_OPTIONS }).map(([k, o]) => [
      k,
      { type: o.type, multiple: o.multiple === true },
    ]),
  )
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new StrongroomError(
      'USAGE',
      `${(e as Error).message.split('\n')[0] ?? ''}; see \`strongroom ${cmd.name} --help\``,
      { cause: e },
    )
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>
  const help = values.help === true
  const [min, max] = cmd.positionals
  if (!help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    throw new StrongroomError(
      'USAGE',
      `expected ${cmd.args === '' ? 'no arguments' : cmd.args}; usage: ${usageLine(cmd)}`,
    )
  }
  const json = values.json === true
  let config: Config | undefined
  return {
    command: cmd.name,
    help,
    values,
    positionals: parsed.positionals,
    json,
    env: io.env,
    config: () =>
      (config ??= loadConfig({
        configFile: typeof values.config === 'string' ? values.config : undefined,
        env: io.env,
        flags: values,
      })),
    print(human, data) {
      if (json) io.stdout(JSON.stringify(data ?? null, null, 2) + '\n')
      else io.stdout(human + '\n')
    },
    write(text) {
      io.stdout(text)
    },
    warn(line) {
      io.stderr(`strongroom: warning: ${line}\n`)
    },
  }
}

export function stringOpt(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

export function requireOpt(ctx: CommandContext, name: string, cmd: Command): string {
  const v = stringOpt(ctx, name)
  if (v === undefined || v === '')
    throw new StrongroomError('USAGE', `--${name} is required; usage: ${usageLine(cmd)}`)
  return v
}

export function listOpt(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name]
  return Array.isArray(v) ? v : []
}

/** Opens the data directory for the length of `fn`, and always closes it (zeroing keys). */
/** Runs `fn` with the deployment open; the command is an event in the audit log (audit-cli.ts). */
export async function withApp<T>(ctx: CommandContext, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(ctx.config())
  const started = Date.now()
  let failure: unknown
  try {
    return await fn(app)
  } catch (e) {
    failure = e
    throw e
  } finally {
    await recordCommand(ctx, app, started, failure)
    await app.close()
  }
}
