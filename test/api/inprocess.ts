/**
 * The gateway in-process on port 0 over plain HTTP, with a tenant, an administrator (allowed
 * everything) and a user without policies, and raw requests signed with the AWS SDK's own SigV4
 * signer, as test/security/http.ts does (its helpers are bound to the e2e harness's endpoint).
 */
import type { EventSink } from '../../src/api/audit-stage.ts'
import { createHash, createHmac } from 'node:crypto'
import { request } from 'node:http'
import { join } from 'node:path'
import { SignatureV4 } from '@smithy/signature-v4'
import { initDataDir, openApp, type App } from '../../src/app.ts'
import { S3Gateway } from '../../src/api/s3.ts'
import { auditKeys } from '../../src/audit/keys.ts'
import { openAuditLog, type AuditWriter } from '../../src/audit/open.ts'
import { decisionsOf, type DecisionView } from '../../src/audit/read.ts'
import type { AuditEvent } from '../../src/audit/event.ts'
import type { TenantRecord } from '../../src/meta/identity.ts'
import type { JsonOperation, Operation } from '../../src/api/operation.ts'
import { listen, type RunningServer } from '../../src/api/server.ts'
import { loadConfig } from '../../src/config.ts'

export interface Creds {
  readonly id: string
  readonly secret: string
}

export interface Sample {
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string
}

type Data = string | ArrayBuffer | ArrayBufferView
const bytes = (data: Data): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data)
export class Sha256 {
  private readonly h
  constructor(secret?: Data) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: Data): void {
    this.h.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()))
  }
}

/** Header-signs a request with the AWS SDK's own SigV4 signer. */
export async function signHeaders(
  c: Creds,
  method: string,
  url: URL,
  body: Buffer,
  extra: Record<string, string>,
  service = 's3',
) {
  const signer = new SignatureV4({
    service,
    region: 'us-east-1',
    credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  })
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: {
      host: url.host,
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      ...extra,
    },
  })
  return signed.headers
}

export interface InProcess {
  readonly app: App
  readonly gateway: S3Gateway
  readonly running: RunningServer
  /** The gateway's own audit log (undefined when `events` was given). */
  readonly audit: AuditWriter | undefined
  readonly admin: Creds
  readonly nobody: Creds
  send(c: Creds | undefined, s: Sample): Promise<{ status: number; body: string }>
  close(): Promise<void>
}

/**
 * Starts the gateway on `dir` with its audit log (as `strongroom serve` does); `wrap` may
 * replace the App the gateway sees (counting services); `decisions` receives every decision
 * once its event is durable.
 */
export async function startInProcess(
  dir: string,
  o: {
    operations?: readonly Operation[]
    /** The JSON 1.1 operations served (default: CloudTrail's). */
    jsonOperations?: readonly JsonOperation[]
    wrap?: (app: App) => App
    decisions?: DecisionView[]
    /** A postgres:// URL: the metadata on PostgreSQL instead of SQLite. */
    meta?: string
    /**
     * Another gateway of an installation a first one made (same data directory and `meta`):
     * nothing is initialised or created; its administrator's and nobody's keys are these.
     */
    joins?: Pick<InProcess, 'admin' | 'nobody'>
    /** Where each request's audit event goes (default: the audit log in the data directory). */
    events?: EventSink
    /** Serve HTTPS with this key and certificate (`send` speaks plain HTTP only). */
    tls?: { key: string; cert: string }
  } = {},
): Promise<InProcess> {
  const config = loadConfig({
    env: o.meta === undefined ? {} : { STRONGROOM_META: o.meta },
    flags: { 'data-dir': join(dir, 'data') },
  })
  if (o.joins === undefined) await initDataDir(config, { dev: true })
  const app = await openApp(config)
  const { admin, nobody } = o.joins ?? (await bootstrap(app))
  const objects = app.objects
  const gateway = new S3Gateway({
    app: o.wrap?.(app) ?? app,
    objects,
    ...(o.operations === undefined ? {} : { operations: o.operations }),
    ...(o.jsonOperations === undefined ? {} : { jsonOperations: o.jsonOperations }),
  })
  let audit: AuditWriter | undefined
  let events = o.events
  if (events === undefined) {
    const keys = await auditKeys(config.dataDir, app.sealer, app.shared)
    // Gateways sharing a data directory each have a directory of their own for the log (a
    // machine's own) or for its spools (the shared log's).
    audit = await openAuditLog(
      app,
      keys,
      o.joins === undefined ? {} : { dir: `${config.auditDir}-${String(process.hrtime.bigint())}` },
    )
    const into = o.decisions
    if (into !== undefined)
      audit.subscribe((_, r) => into.push(...decisionsOf(JSON.parse(r.toString()) as AuditEvent)))
    events = { log: audit, hmacKey: keys.hmacKey, region: config.region }
  }
  const running = await listen(gateway, {
    host: '127.0.0.1',
    port: 0,
    log: () => undefined,
    events,
    ...(o.tls === undefined ? {} : { tls: o.tls }),
  })
  const send = async (c: Creds | undefined, s: Sample) => {
    const url = `${running.url}${s.path}`
    const body = Buffer.from(s.body ?? '')
    const headers =
      c === undefined
        ? { ...s.headers }
        : await signHeaders(c, s.method, new URL(url), body, s.headers ?? {})
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        url,
        { method: s.method, headers: { ...headers, 'content-length': String(body.length) } },
        (res) => {
          const parts: Buffer[] = []
          res.on('data', (d: Buffer) => parts.push(d))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }),
          )
          // An answer the server cut off (its event could not be recorded) rejects.
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }
  return {
    app,
    gateway,
    running,
    audit,
    admin,
    nobody,
    send,
    close: async () => {
      await running.close()
      await audit?.close()
      await app.close()
    },
  }
}

/** Statements that allow everything. */
export const ALLOW_ALL = [{ Effect: 'Allow', Action: '*', Resource: '*' }]

/** A user of `tenant` whose one inline policy (`policyName`) holds `statements`, and its access key. */
export async function userWith(
  app: App,
  tenant: TenantRecord,
  name: string,
  statements: readonly unknown[],
  policyName = 'p',
): Promise<Creds> {
  const u = await app.identity.createUser(tenant, name)
  await app.identity.putUserPolicy(
    u,
    policyName,
    JSON.stringify({ Version: '2012-10-17', Statement: statements }),
  )
  const k = await app.identity.createAccessKey(u)
  return { id: k.accessKeyId, secret: k.secretAccessKey }
}

/** Tenant `acme` with `admin` (allowed everything) and `nobody` (no policy), and a key each. */
async function bootstrap(app: App): Promise<{ admin: Creds; nobody: Creds }> {
  const tenant = await app.identity.createTenant('acme')
  const admin = await userWith(app, tenant, 'admin', ALLOW_ALL, 'all')
  const k2 = await app.identity.createAccessKey(await app.identity.createUser(tenant, 'nobody'))
  return { admin, nobody: { id: k2.accessKeyId, secret: k2.secretAccessKey } }
}

export interface JsonAnswer {
  readonly status: number
  /** x-amzn-ErrorType. */
  readonly type: string | undefined
  readonly body: Record<string, unknown>
}

/**
 * One JSON 1.1 call (CloudTrail, KMS) to the gateway at `url`: `target` is X-Amz-Target,
 * signed for `service` unless `c` is undefined; `raw` replaces the JSON of `input`.
 */
export async function callJson(
  url: string,
  c: Creds | undefined,
  service: string,
  target: string,
  input: unknown,
  raw?: string,
): Promise<JsonAnswer> {
  const at = new URL(`${url}/`)
  const body = Buffer.from(raw ?? JSON.stringify(input))
  const extra = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }
  const headers = c === undefined ? extra : await signHeaders(c, 'POST', at, body, extra, service)
  return new Promise((resolve, reject) => {
    const req = request(
      at,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => {
          const text = Buffer.concat(parts).toString()
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['x-amzn-errortype'] as string | undefined,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
