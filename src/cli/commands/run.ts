/**
 * `strongroom run`: a job with a role and no long-lived key. The job gets a credentials
 * endpoint of its own (src/sts/credentials-endpoint.ts) through the variables the AWS SDKs'
 * container credentials provider reads, the gateway's URL, region and CA, and nothing else of
 * ours: every AWS_* and STRONGROOM_* variable of the caller is dropped, so neither an access
 * key nor the root key reaches it. The token file and the configuration written for it are
 * removed when it ends.
 *
 * The command opens the data directory (it holds the root key the session token key derives
 * from), so it runs with the operator's authority, as an orchestrator's agent does for the
 * task role it hands out.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StrongroomError } from '../../errors.ts'
import { serveCredentials } from '../../sts/credentials-endpoint.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'
import { parseDuration } from './role.ts'

/** Where a running `serve` writes its URL in the data directory. */
export const ENDPOINT_FILE = 'endpoint'
/** https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html: RoleSessionName. */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/

export const run: Command = {
  name: 'run',
  summary:
    'Run a job as a role: short-lived credentials from a local endpoint the AWS SDKs find, and no long-lived key in its environment.',
  args: '-- COMMAND [ARG...]',
  positionals: [1, Number.MAX_SAFE_INTEGER],
  options: {
    tenant: { type: 'string', value: 'NAME', description: 'the tenant of the role' },
    role: { type: 'string', value: 'ROLE', description: 'the role the job acts as' },
    duration: {
      type: 'string',
      value: 'DURATION',
      description:
        'length of each session, 15m to the role maximum (default 1h); renewed as it ends',
    },
    'session-name': {
      type: 'string',
      value: 'NAME',
      description: 'the session name in the job’s ARN and the audit log (default run-PID)',
    },
    endpoint: {
      type: 'string',
      value: 'URL',
      description:
        'the gateway (default STRONGROOM_ENDPOINT, else the address a running `serve` recorded)',
    },
  },
  help: [
    'The job sees AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE),',
    'AWS_ENDPOINT_URL, AWS_REGION (and AWS_CA_BUNDLE over TLS), and an AWS_CONFIG_FILE saying the',
    'same; boto3, the AWS SDK for JavaScript and the aws CLI find the credentials with no code.',
    'Its exit status is this command’s.',
    '',
    'Example:',
    '  strongroom run --tenant vision --role trainer -- python3 train.py',
  ].join('\n'),
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', run)
    const roleName = requireOpt(ctx, 'role', run)
    const [command = '', ...args] = ctx.positionals
    const sessionName = stringOpt(ctx, 'session-name') ?? `run-${String(process.pid)}`
    if (!SESSION_NAME.test(sessionName))
      throw new StrongroomError(
        'USAGE',
        `--session-name \`${sessionName.slice(0, 80)}\` is not valid: 2 to 64 of letters, digits and + = , . @ _ -`,
      )
    const duration = parseDuration(stringOpt(ctx, 'duration') ?? '1h', 'duration')
    const config = ctx.config()
    const endpoint = gatewayUrl(
      stringOpt(ctx, 'endpoint') ?? ctx.env.STRONGROOM_ENDPOINT,
      config.dataDir,
    )
    return withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const role = await app.identity.role(tenant, roleName)
      if (duration < 900 || duration > role.maxSessionSeconds)
        throw new StrongroomError(
          'USAGE',
          `--duration is ${String(duration)} seconds: it must be 900 (15m) to the role's maximum session of ${String(role.maxSessionSeconds)} seconds`,
        )
      const token = randomBytes(32).toString('base64url')
      const credentials = await serveCredentials({
        token,
        accountId: tenant.id,
        issue: () => {
          const now = app.clock.now()
          return app.sessions.issue({
            tenantId: tenant.id,
            kind: 'role',
            name: role.name,
            principalId: role.id,
            sessionName,
            issuedAt: now,
            expiresAt: now + duration * 1000,
          })
        },
      })
      // mkdtemp makes the directory 0700; the files in it are 0600.
      const dir = mkdtempSync(join(tmpdir(), 'strongroom-run-'))
      try {
        const tokenFile = join(dir, 'token')
        writeFileSync(tokenFile, token, { mode: 0o600 })
        const ca = join(config.dataDir, 'ca.pem')
        const tls = endpoint.startsWith('https:') && existsSync(ca)
        const configFile = join(dir, 'config')
        writeFileSync(
          configFile,
          `[default]\nregion = ${config.region}\nendpoint_url = ${endpoint}\n${tls ? `ca_bundle = ${ca}\n` : ''}s3 =\n  addressing_style = path\n`,
          { mode: 0o600 },
        )
        // An empty shared credentials file: a key in ~/.aws/credentials would come first in
        // the SDKs' chain and the job would not act as the role.
        const empty = join(dir, 'credentials')
        writeFileSync(empty, '', { mode: 0o600 })
        const env: NodeJS.ProcessEnv = {}
        for (const [k, v] of Object.entries(ctx.env))
          if (!/^(AWS_|STRONGROOM_)/i.test(k)) env[k] = v
        Object.assign(env, {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: credentials.url,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
          // SDKs from before the _FILE variant (botocore before 1.31, the aws CLI v2 before
          // 2.14) read the token itself; it opens only this job's endpoint, which ends with it.
          AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: config.region,
          AWS_DEFAULT_REGION: config.region,
          AWS_CONFIG_FILE: configFile,
          AWS_SHARED_CREDENTIALS_FILE: empty,
          AWS_EC2_METADATA_DISABLED: 'true',
          // Node's own TLS (the AWS SDK for JavaScript reads no AWS_CA_BUNDLE) trusts it too.
          ...(tls ? { AWS_CA_BUNDLE: ca, NODE_EXTRA_CA_CERTS: ca } : {}),
        })
        return await child(command, args, env)
      } finally {
        rmSync(dir, { recursive: true, force: true })
        await credentials.close()
      }
    })
  },
}

/** The gateway's URL: given, else the one a running `serve` recorded in the data directory. */
function gatewayUrl(given: string | undefined, dataDir: string): string {
  let url = given
  if (url === undefined || url === '') {
    try {
      url = readFileSync(join(dataDir, ENDPOINT_FILE), 'utf8').trim()
    } catch {
      throw new StrongroomError(
        'USAGE',
        `no gateway to send the job to: start \`strongroom serve\` on ${dataDir}, or pass --endpoint URL (or set STRONGROOM_ENDPOINT)`,
      )
    }
  }
  if (!/^https?:\/\/[^\s/]+\/?$/.test(url))
    throw new StrongroomError('USAGE', `the endpoint \`${url.slice(0, 80)}\` is not an http(s) URL`)
  return url.replace(/\/$/, '')
}

/** Runs the job with the terminal, passing Ctrl-C and SIGTERM on; its exit status (128+signal). */
function child(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: 'inherit', env })
    const pass = (signal: NodeJS.Signals) => () => p.kill(signal)
    const int = pass('SIGINT')
    const term = pass('SIGTERM')
    process.on('SIGINT', int)
    process.on('SIGTERM', term)
    const done = () => {
      process.off('SIGINT', int)
      process.off('SIGTERM', term)
    }
    p.on('error', (e: NodeJS.ErrnoException) => {
      done()
      reject(
        new StrongroomError(
          'USAGE',
          e.code === 'ENOENT' ? `command \`${command}\` not found` : `cannot run \`${command}\``,
          { cause: e },
        ),
      )
    })
    p.on('exit', (code, signal) => {
      done()
      resolve(code ?? 128 + (signal === null ? 0 : signalNumber(signal)))
    })
  })
}

const SIGNALS: Readonly<Record<string, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

function signalNumber(signal: NodeJS.Signals): number {
  return SIGNALS[signal] ?? 1
}
