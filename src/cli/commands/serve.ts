import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { initDataDir, META_FILE, openApp, type App } from '../../app.ts'
import { S3Gateway } from '../../api/s3.ts'
import type { ScanEvent } from '../../api/pipeline.ts'
import type { EventSink } from '../../api/audit-stage.ts'
import { startListeners } from './serve-listeners.ts'
import { listen, type RunningServer } from '../../api/server.ts'
import { auditKeys } from '../../audit/keys.ts'
import { openAuditLog, type AuditWriter } from '../../audit/open.ts'
import { LoggedRecords, scanVerdictEvent } from '../../audit/service-events.ts'
import { startAuditStream, type AuditStream } from '../../audit/stream.ts'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import type { NewAccessKey } from '../../identity/users.ts'
import type { Command } from '../command.ts'
import { ENDPOINT_FILE } from '../endpoint.ts'

export const DEFAULT_LISTEN = '127.0.0.1:9443'
/** How often a running gateway carries out due key rotations and deletions. */
import { lifecycleTarget, startSweeper } from '../../store/lifecycle.ts'

const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000
const ADMIN_TENANT = 'admin'
const ADMIN_USER = 'admin'
const ADMIN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
})

/** The bootstrap admin: tenant `admin`, user `admin` with AdministratorAccess, and its access key. */
async function bootstrapAdmin(app: App, env: NodeJS.ProcessEnv): Promise<NewAccessKey | undefined> {
  const given =
    env.STRONGROOM_ADMIN_ACCESS_KEY_ID !== undefined &&
    env.STRONGROOM_ADMIN_SECRET_ACCESS_KEY !== undefined
      ? {
          accessKeyId: env.STRONGROOM_ADMIN_ACCESS_KEY_ID,
          secretAccessKey: env.STRONGROOM_ADMIN_SECRET_ACCESS_KEY,
        }
      : undefined
  const identity = app.identity
  const tenant =
    (await identity.findTenant(ADMIN_TENANT)) ?? (await identity.createTenant(ADMIN_TENANT))
  let user = await identity.findUser(tenant.id, ADMIN_USER)
  const first = user === undefined
  user ??= await identity.createUser(tenant, ADMIN_USER)
  if (first) await identity.putUserPolicy(user, 'AdministratorAccess', ADMIN_POLICY)
  if (given !== undefined) {
    const existing = await identity.accessKey(given.accessKeyId)
    if (existing === undefined) await identity.createAccessKey(user, given)
    else {
      const secret = identity.secretOf(existing).toString('utf8')
      if (
        secret !== given.secretAccessKey ||
        existing.userName !== ADMIN_USER ||
        existing.tenantId !== tenant.id
      ) {
        throw new StrongroomError(
          'CONFIG_INVALID',
          'STRONGROOM_ADMIN_ACCESS_KEY_ID names an existing key with another secret or owner; choose another id',
        )
      }
    }
    return undefined
  }
  return first ? identity.createAccessKey(user) : undefined
}

export const serve: Command = {
  name: 'serve',
  summary:
    'Serve the data directory as an S3-compatible endpoint: SigV4, IAM policies, every object sealed under its tenant key.',
  args: '',
  positionals: [0, 0],
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: `address to listen on (default ${DEFAULT_LISTEN}, or STRONGROOM_LISTEN)`,
    },
    dev: {
      type: 'boolean',
      description:
        'initialise the data directory with a generated root key if it does not exist (development only)',
    },
    'max-in-flight': {
      type: 'string',
      value: 'N',
      description:
        'requests handled at once; more wait, then get 503 SlowDown (default from memory, or STRONGROOM_MAX_IN_FLIGHT)',
    },
    'max-buffered': {
      type: 'string',
      value: 'SIZE',
      description:
        'memory the requests in flight may buffer, e.g. 256MiB (default memory/16 within 32-256 MiB, or STRONGROOM_MAX_BUFFERED)',
    },
    'admission-queue': {
      type: 'string',
      value: 'N',
      description:
        'requests that may wait for room before 503 SlowDown (default 8 x --max-in-flight, or STRONGROOM_ADMISSION_QUEUE)',
    },
    'admission-wait': {
      type: 'string',
      value: 'SECONDS',
      description:
        'how long a request may wait for room before 503 SlowDown (default 2, or STRONGROOM_ADMISSION_WAIT)',
    },
    'insecure-http': {
      type: 'boolean',
      description: 'serve plain HTTP instead of HTTPS (never over a network)',
    },
  },
  help: `HTTPS uses a certificate from Strongroom's own CA, created on first start; its certificate is
written to DATA_DIR/ca.pem (point AWS_CA_BUNDLE at it). The first start creates the admin user
and prints its access key once, unless STRONGROOM_ADMIN_ACCESS_KEY_ID and
STRONGROOM_ADMIN_SECRET_ACCESS_KEY give it.

Example:
  export STRONGROOM_ROOT_KEY=$(openssl rand -hex 32)
  strongroom serve --data-dir ./strongroom-data --listen 127.0.0.1:9443`,
  async run(ctx) {
    const config = ctx.config()
    const { host, port } = config.listen
    const insecure = ctx.values['insecure-http'] === true
    const dev = ctx.values.dev === true
    const rootGiven =
      dev ||
      config.rootKeyHex !== undefined ||
      config.rootKeyFile !== undefined ||
      config.passphraseFile !== undefined
    // A first start initialises: the data directory's own database, or PostgreSQL's when
    // `meta` names one and holds no installation yet. A gateway joining a PostgreSQL
    // installation that exists needs only a data directory of its own (its server certificate,
    // its sinks' spools; the CA and the audit log are the installation's, in PostgreSQL).
    const initialised =
      config.meta === undefined
        ? existsSync(join(config.dataDir, META_FILE))
        : existsSync(config.dataDir)
    if (!initialised) {
      if (!rootGiven) {
        throw new StrongroomError(
          'DATA_DIR_MISSING',
          `no data directory at \`${config.dataDir}\`; run \`strongroom init\` first, or \`strongroom serve --dev\` for a development server`,
        )
      }
      try {
        await initDataDir(config, { dev })
        if (dev)
          ctx.warn(
            '--dev: the root key is stored in the data directory beside the data; for development only',
          )
      } catch (e) {
        if (config.meta === undefined || !isStrongroomError(e, 'DATA_DIR_EXISTS')) throw e
        await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
      }
    }
    // One scan worker streams large uploads through the scanner as they arrive.
    const app = await openApp(config, { scanWorkers: 1 })
    let running: RunningServer | undefined
    let audit: AuditWriter | undefined
    let stream: AuditStream | undefined
    try {
      const admin = await bootstrapAdmin(app, ctx.env)
      const objects = app.objects
      // Shared stores (PostgreSQL, a backend bucket) may hold another gateway's put in flight.
      const orphans = await objects.removeOrphans(config.meta === undefined ? 0 : 3600_000)
      const log = (line: Record<string, unknown>) =>
        process.stderr.write(JSON.stringify(line) + '\n')
      if (orphans > 0)
        log({
          time: new Date().toISOString(),
          level: 'info',
          message: `removed ${orphans} orphaned blobs left by an interrupted write`,
        })
      const keys = await auditKeys(config.dataDir, app.sealer, app.shared)
      audit = await openAuditLog(app, keys, {
        onAlert: (problem) =>
          log({ time: new Date().toISOString(), level: 'alert', audit: problem }),
      })
      // Sinks and detection follow the log; started before requests, so nothing is missed.
      stream = await startAuditStream(audit, {
        sinks: config.auditSinks,
        rules: config.auditRules,
        env: ctx.env,
        onAlert: (line) => log({ time: new Date().toISOString(), level: 'alert', detection: line }),
      })
      const events: EventSink = {
        log: audit,
        hmacKey: keys.hmacKey,
        region: config.region,
        reads: config.auditReads,
      }
      const scans = new LoggedRecords<ScanEvent>(audit, (e) => scanVerdictEvent(e, config.region))
      const gateway = new S3Gateway({
        app,
        objects,
        now: () => app.clock.now(),
        scans,
        onAlert: log,
      })
      let tls: { key: string; cert: string } | undefined
      let [renewAt, tlsNames] = [0, [] as string[]]
      if (insecure && config.listeners.length > 0)
        throw new StrongroomError(
          'USAGE',
          'the listeners setting starts HTTPS listeners only: drop --insecure-http, or the listeners',
        )
      if (insecure)
        ctx.warn(
          '--insecure-http: requests and credentials travel unencrypted; use HTTPS on anything but loopback',
        )
      else {
        const names = [
          ...new Set(
            ['localhost', '127.0.0.1', '::1', host, ...config.listeners.map((l) => l.host)].filter(
              (n) => n !== '0.0.0.0' && n !== '::',
            ),
          ),
        ]
        const id = await app.pki.serverIdentity(names)
        tls = { key: id.keyPem, cert: id.certPem }
        renewAt = id.renewAt
        tlsNames = names
      }
      try {
        running = await listen(gateway, {
          host,
          port,
          ...(tls ? { tls } : {}),
          log,
          headerTimeoutMs: config.headerTimeout * 1000,
          idleTimeoutMs: config.idleTimeout * 1000,
          admission: config.admission,
          segmentSize: config.segmentSize,
          events,
        })
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code === 'EADDRINUSE')
          throw new StrongroomError(
            'IO',
            `${host}:${port} is already in use; stop what listens there or choose another address with --listen HOST:PORT`,
          )
        if (code === 'EACCES')
          throw new StrongroomError(
            'IO',
            `not allowed to listen on ${host}:${port}; choose a port above 1023`,
          )
        throw e
      }
      const server = running
      const extras =
        tls === undefined
          ? undefined
          : await startListeners(app, gateway, config, {
              tls,
              log,
              events,
              admission: running.admission,
            })
      // The server certificate is renewed at two thirds of its life, without a restart: new
      // connections get the new one. A failed renewal is retried every minute (and logged).
      let renewal: NodeJS.Timeout | undefined
      const renewLater = (at: number) => {
        const wait = Math.min(Math.max(at - app.clock.now(), 1000), 2 ** 31 - 1)
        renewal = setTimeout(() => void renew(), wait)
        renewal.unref()
      }
      const renew = async () => {
        try {
          const id = await app.pki.serverIdentity(tlsNames)
          server.setTls({ key: id.keyPem, cert: id.certPem })
          extras?.setCertificate({ key: id.keyPem, cert: id.certPem })
          log({
            time: new Date().toISOString(),
            level: 'info',
            message: `server certificate renewed, valid until ${new Date(id.notAfter).toISOString()}`,
          })
          renewLater(id.renewAt)
        } catch (e) {
          log({
            time: new Date().toISOString(),
            level: 'error',
            message: `server certificate renewal failed (retried in a minute): ${(e as Error).message}`,
          })
          renewLater(app.clock.now() + 60_000)
        }
      }
      if (tls !== undefined) renewLater(renewAt)
      log({
        time: new Date().toISOString(),
        level: 'info',
        message: 'admission limits (docs/gateway.md, "Admission control")',
        ...config.admission,
      })
      // SIGINT or SIGTERM stops gracefully: no new connections, requests in flight finish.
      // The handlers are in place before `ready` is printed, so a signal sent on seeing it is
      // never met by the default action.
      // A second signal (Ctrl-C reaches both npm and the server, and npm passes it on) must
      // not cut those requests off, so the handlers stay until the server has closed.
      let stop = () => {}
      const stopped = new Promise<void>((resolve) => {
        let asked = false
        stop = () => {
          if (asked) return
          asked = true
          clearTimeout(renewal)
          void Promise.all([server.close(), extras?.close()]).then(() => resolve())
        }
      })
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      const ca = join(config.dataDir, 'ca.pem')
      if (admin !== undefined) {
        ctx.write(
          [
            'admin access key (shown once; keep it safe):',
            `  AWS_ACCESS_KEY_ID=${admin.accessKeyId}`,
            `  AWS_SECRET_ACCESS_KEY=${admin.secretAccessKey}`,
            'try:',
            `  AWS_ACCESS_KEY_ID=${admin.accessKeyId} AWS_SECRET_ACCESS_KEY=${admin.secretAccessKey} ${tls ? `AWS_CA_BUNDLE=${ca} ` : ''}AWS_DEFAULT_REGION=${config.region} aws --endpoint-url ${running.url} s3 mb s3://models`,
            '',
          ].join('\n'),
        )
      }
      // `strongroom run` finds the gateway here (a wildcard listen as loopback, which the
      // certificate names), with this process id to tell a live gateway from a crashed one.
      const endpointFile = join(config.dataDir, ENDPOINT_FILE)
      const reachable = running.url
        .replace('://0.0.0.0:', '://127.0.0.1:')
        .replace('://[::]:', '://[::1]:')
      writeFileSync(endpointFile, `${reachable}\n${String(process.pid)}\n`, { mode: 0o600 })
      ctx.write(`strongroom: ready at ${running.url}${tls ? ` (CA certificate: ${ca})` : ''}\n`)
      for (const l of extras?.described ?? []) ctx.write(`strongroom: also at ${l}\n`)
      // npx and other launchers do not all pass SIGTERM on: say which process to signal.
      ctx.write(
        `strongroom: process ${process.pid}; Ctrl-C or \`kill ${process.pid}\` stops it gracefully\n`,
      )
      // Scheduled key rotations and deletions fall due while the gateway runs, not only at start.
      const maintenance = setInterval(() => {
        app.keys.maintain().then(
          (r) => {
            if (r.rotated.length + r.deleted.length > 0)
              log({
                time: new Date().toISOString(),
                level: 'info',
                message: 'key maintenance',
                rotated: r.rotated.length,
                deleted: r.deleted.length,
              })
          },
          (e: unknown) =>
            log({
              time: new Date().toISOString(),
              level: 'error',
              message: `key maintenance failed: ${(e as Error).message}`,
            }),
        )
      }, MAINTENANCE_INTERVAL_MS)
      maintenance.unref()
      // Lifecycle rules (src/store/lifecycle.ts): at start, then hourly, from the rows alone.
      const sweeper = startSweeper(
        lifecycleTarget(app),
        app.clock,
        MAINTENANCE_INTERVAL_MS,
        (r) => {
          if (r instanceof Error)
            log({
              time: new Date().toISOString(),
              level: 'error',
              message: `lifecycle sweep failed: ${r.message}`,
            })
          else if (r.expired + r.noncurrent + r.markers + r.aborted + r.locked > 0)
            log({ time: new Date().toISOString(), level: 'info', message: 'lifecycle sweep', ...r })
        },
      )
      await stopped
      rmSync(endpointFile, { force: true })
      await sweeper.stop()
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      clearInterval(maintenance)
      ctx.write('strongroom: stopped\n')
      return 0
    } finally {
      // The audit records still queued reach the disk, under a checkpoint, before the process
      // ends; then the sinks get what they can within a few seconds (the rest waits in their spools).
      await audit?.flush()
      await stream?.close().catch((e: unknown) => ctx.warn((e as Error).message))
      await audit?.close().catch((e: unknown) => ctx.warn((e as Error).message))
      await app.close()
    }
  },
}
