/**
 * What follows the audit log once an event is durable: every configured SIEM sink gets it
 * (./sinks/, each with its own queue and spool, never blocking the log), and the detector
 * (./detect/) watches it live; an alert is itself an event, appended to the log, so it reaches
 * the sinks and the log's proofs like any other. At start, each sink is first given what the
 * log holds beyond what it had accepted (what a crash took from its memory), in order, before
 * live events flow; the detector's state is kept in DIR/detector.json across restarts.
 *
 * Sinks are configured in the config file's `auditSinks`, secrets by the name of the
 * environment variable that holds them, never by value:
 *   [{ "type": "file", "dir": "/var/log/strongroom", "format": "ocsf" },
 *    { "type": "webhook", "url": "https://siem.example/ingest", "tokenEnv": "SIEM_TOKEN" },
 *    { "type": "syslog", "host": "siem.example", "port": 6514, "caFile": "/etc/ssl/siem-ca.pem" }]
 */
import { readFileSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'
import { Detector } from './detect/engine.ts'
import { message } from './detect/alert.ts'
import { loadRules } from './detect/load.ts'
import type { AuditEvent } from './event.ts'
import type { AuditWriter } from './open.ts'
import { toOcsf } from './ocsf.ts'
import { openFileSink } from './sinks/file.ts'
import type { SinkSpec } from './sinks/config.ts'
import type { AuditSink } from './sinks/sink.ts'
import { openSyslogSink } from './sinks/syslog.ts'
import { openWebhookSink } from './sinks/webhook.ts'

async function openSink(
  s: SinkSpec,
  auditDir: string,
  env: NodeJS.ProcessEnv,
  startSeq: number,
): Promise<AuditSink> {
  const common = {
    name: s.name,
    format: s.format,
    toOcsf,
    spoolDir: join(auditDir, 'spool', s.name),
    startSeq,
  }
  const secret = (name: string | undefined) => {
    if (name === undefined) return {}
    const v = env[name]
    if (v === undefined || v === '')
      throw new StrongroomError(
        'CONFIG_INVALID',
        `audit sink \`${s.name}\`: the environment variable ${name} is not set`,
      )
    return { value: v }
  }
  if (s.type === 'file') return openFileSink({ ...common, dir: s.dir })
  const ca = s.caFile === undefined ? {} : { ca: readFileSync(s.caFile, 'utf8') }
  if (s.type === 'webhook') {
    const token = secret(s.tokenEnv).value
    const hmac = secret(s.hmacSecretEnv).value
    return openWebhookSink({
      ...common,
      url: s.url,
      ...ca,
      ...(token === undefined ? {} : { token }),
      ...(hmac === undefined ? {} : { hmacSecret: hmac }),
    })
  }
  return openSyslogSink({
    ...common,
    host: s.host,
    ...ca,
    ...(s.port === undefined ? {} : { port: s.port }),
    ...(s.facility === undefined ? {} : { facility: s.facility }),
  })
}

export interface AuditStream {
  readonly sinks: readonly AuditSink[]
  readonly detector: Detector | undefined
  close(): Promise<void>
}

/**
 * Connects the sinks and the detector to `log`; call before the gateway takes requests, so
 * that the catch-up from the log and the live events meet in order.
 */
export async function startAuditStream(
  log: AuditWriter,
  o: {
    readonly sinks: readonly SinkSpec[]
    /** A rules file, `off`, or undefined for the default rules. */
    readonly rules: string | undefined
    readonly env: NodeJS.ProcessEnv
    readonly onAlert: (line: string) => void
  },
): Promise<AuditStream> {
  const sinks: AuditSink[] = []
  try {
    // A new sink of a gateway on the shared log starts at its end: what other gateways wrote
    // before is theirs to deliver. On a machine's own log it starts at the beginning.
    const start = log.shared ? log.size : 0
    for (const s of o.sinks) sinks.push(await openSink(s, log.dir, o.env, start))
  } catch (e) {
    await Promise.all(sinks.map((s) => s.close()))
    throw e
  }
  // What each sink missed (a crash took it from memory), from the log, in order.
  const from = Math.min(...sinks.map((s) => s.highestAccepted() + 1), log.size)
  if (sinks.length > 0 && from < log.size)
    for await (const [i, r] of log.records()) {
      if (i < from) continue
      const e = JSON.parse(r.toString('utf8')) as AuditEvent
      for (const s of sinks) if (i > s.highestAccepted()) s.offer(i, e)
    }
  const detector = o.rules === 'off' ? undefined : new Detector(loadRules(o.rules))
  const stateFile = join(log.dir, 'detector.json')
  if (detector !== undefined) {
    const saved = await readFile(stateFile, 'utf8').catch(() => undefined)
    if (saved !== undefined)
      try {
        detector.restore(JSON.parse(saved))
      } catch (e) {
        o.onAlert(
          `detector state in ${stateFile} not restored (baselines start afresh): ${(e as Error).message}`,
        )
      }
  }
  const unsubscribe = log.subscribe((index, record) => {
    const e = JSON.parse(record.toString('utf8')) as AuditEvent
    for (const s of sinks) s.offer(index, e)
    for (const alert of detector?.observe(e) ?? []) {
      log.enqueue(Buffer.from(JSON.stringify(alert)))
      o.onAlert(message(alert))
    }
  })
  const save = async () => {
    if (detector === undefined) return
    const tmp = `${stateFile}.tmp`
    await writeFile(tmp, JSON.stringify(detector.snapshot()), { mode: 0o600 })
    await rename(tmp, stateFile)
  }
  const timer = setInterval(() => void save().catch(() => undefined), 60_000)
  timer.unref()
  return {
    sinks,
    detector,
    close: async () => {
      clearInterval(timer)
      unsubscribe()
      await save().catch((e: unknown) =>
        o.onAlert(`detector state not saved: ${(e as Error).message}`),
      )
      await Promise.all(sinks.map((s) => s.flush(5_000).catch(() => undefined)))
      await Promise.all(sinks.map((s) => s.close()))
    },
  }
}
