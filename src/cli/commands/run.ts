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
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { StrongroomError } from '../../errors.ts'
import { RENEW_BEFORE_MS, serveCredentials } from '../../sts/credentials-endpoint.ts'
import { serveInstanceMetadata } from '../../sts/imds.ts'
import { SESSION_NAME } from '../../sts/limits.ts'
import { accountMayAssume } from '../../sts/trust.ts'
import { requireOpt, stringOpt, withApp, type Command } from '../command.ts'
import { gatewayUrl } from '../endpoint.ts'
import { parseDuration } from './role.ts'

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
    imds: {
      type: 'boolean',
      description:
        'serve the credentials as the EC2 instance metadata service (IMDSv2) instead, for tools that know only that',
    },
  },
  help: [
    'The job sees AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE),',
    'AWS_ENDPOINT_URL, AWS_REGION (and AWS_CA_BUNDLE over TLS), and an AWS_CONFIG_FILE saying the',
    'same; boto3, the AWS SDK for JavaScript and the aws CLI find the credentials with no code.',
    'With --imds it sees AWS_EC2_METADATA_SERVICE_ENDPOINT instead: an IMDSv2-compatible endpoint',
    'serving the role, for tools that read credentials only from the instance metadata service.',
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
      // The role must trust its account: the operator acts for the account, and a role whose
      // trust policy refuses that is not handed to a job.
      const trust = accountMayAssume(role, sessionName, app.clock.now())
      if (trust.decision !== 'Allow')
        throw new StrongroomError(
          'ACCESS_DENIED',
          `role \`${role.name}\` does not trust its account (arn:aws:iam::${tenant.id}:root) with sts:AssumeRole: ${trust.reason}; name the account in its trust policy to run jobs as it`,
        )
      const token = randomBytes(32).toString('base64url')
      const imds = ctx.values.imds === true
      const common = {
        accountId: tenant.id,
        // A short session is renewed once two thirds of it are gone, not on every request.
        renewBefore: Math.min(RENEW_BEFORE_MS, (duration * 1000) / 3),
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
      }
      const credentials = imds
        ? await serveInstanceMetadata({
            ...common,
            region: config.region,
            roleName: role.name,
            roleId: role.id,
          })
        : await serveCredentials({ ...common, token })
      // mkdtemp makes the directory 0700; the files in it are 0600.
      const dir = mkdtempSync(join(tmpdir(), 'strongroom-run-'))
      try {
        const tokenFile = join(dir, 'token')
        if (!imds) writeFileSync(tokenFile, token, { mode: 0o600 })
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
        Object.assign(
          env,
          imds
            ? // The SDKs' chain ends with the instance metadata service; they find it here.
              { AWS_EC2_METADATA_SERVICE_ENDPOINT: credentials.url }
            : {
                AWS_CONTAINER_CREDENTIALS_FULL_URI: credentials.url,
                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
                // SDKs from before the _FILE variant (botocore before 1.31, the aws CLI v2
                // before 2.14) read the token itself; it opens only this job's endpoint.
                AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
                AWS_EC2_METADATA_DISABLED: 'true',
              },
        )
        Object.assign(env, {
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: config.region,
          AWS_DEFAULT_REGION: config.region,
          AWS_CONFIG_FILE: configFile,
          AWS_SHARED_CREDENTIALS_FILE: empty,
          // Node's own TLS (the AWS SDK for JavaScript reads no AWS_CA_BUNDLE) trusts it too.
          ...(tls ? { AWS_CA_BUNDLE: ca, NODE_EXTRA_CA_CERTS: ca } : {}),
        })
        return await child(command, args, env, (line) => {
          ctx.warn(line)
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
        await credentials.close()
      }
    })
  },
}

/**
 * Runs the job with the terminal; its exit status as a shell gives it (128 + signal; 127 for a
 * command not found, 126 for one that cannot be run, as env(1) answers). SIGTERM and SIGHUP
 * sent to this process are passed on. SIGINT is not: Ctrl-C reaches the job from the terminal
 * itself (the same process group), and a second one would cut its cleanup short.
 */
function child(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(command, args, { stdio: 'inherit', env })
    const pass = (signal: NodeJS.Signals) => () => p.kill(signal)
    const term = pass('SIGTERM')
    const hup = pass('SIGHUP')
    const int = () => {}
    process.on('SIGINT', int)
    process.on('SIGTERM', term)
    process.on('SIGHUP', hup)
    const done = () => {
      process.off('SIGINT', int)
      process.off('SIGTERM', term)
      process.off('SIGHUP', hup)
    }
    p.on('error', (e: NodeJS.ErrnoException) => {
      done()
      const missing = e.code === 'ENOENT'
      warn(missing ? `command \`${command}\` not found` : `cannot run \`${command}\`: ${e.message}`)
      resolve(missing ? 127 : 126)
    })
    p.on('exit', (code, signal) => {
      done()
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]))
    })
  })
}
