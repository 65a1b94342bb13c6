/**
 * The gateway in this process, for fast tests that need no external tool: `strongroom serve
 * --dev --insecure-http --listen 127.0.0.1:0` run through the CLI's own entry point (main in
 * src/cli/main.ts), which composes the real app (openApp from src/app.ts, listen from
 * src/api/server.ts) on a fresh data directory. Going through the entry point, not through
 * the gateway's classes, keeps these tests valid while the request path behind it changes.
 *
 * Two tenants, as the e2e harness has them: vision (alice) and audio (bob), each user allowed
 * all of S3 and kms:Decrypt/GenerateDataKey by an identity policy; and the bootstrap admin.
 * Plain HTTP on loopback: the TLS listener is tested end to end (test/e2e, test/security).
 */
import { createHash, createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { main } from '../../src/cli/main.ts'

export interface Creds {
  readonly id: string
  readonly secret: string
}

export interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** The body as UTF-8. */
  readonly text: string
}

export interface RawRequest {
  readonly method: string
  /** Path and query, e.g. `/bucket?delete`, already percent-encoded. */
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: Buffer | string
}

export interface Gateway {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string
  readonly dataDir: string
  readonly admin: Creds
  /** tenant vision, user alice */
  readonly alice: Creds
  /** tenant audio, user bob */
  readonly bob: Creds
  /** The JSON lines the gateway logged (access log, alerts), oldest first. */
  logs(): Record<string, unknown>[]
  /** Runs a CLI command in this process against the gateway's data directory. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  /** An S3 client for these credentials (path style, one attempt: a refusal is not retried). */
  sdk(c: Creds): S3Client
  /**
   * The headers SigV4 signing adds to a request (the AWS SDK's signer): x-amz-date,
   * x-amz-content-sha256 (the body's SHA-256 unless given) and Authorization.
   */
  sign(c: Creds, r: RawRequest): Promise<Record<string, string>>
  /** Sends a request, header-signed with SigV4 by `c`, or anonymous. */
  call(c: Creds | undefined, r: RawRequest): Promise<Reply>
  /** Sends a request exactly as given. */
  send(r: RawRequest): Promise<Reply>
  /** A presigned URL (path and query) for a request. */
  presign(
    c: Creds,
    method: string,
    path: string,
    o?: { expiresIn?: number; signingDate?: Date },
  ): Promise<string>
  /** Stops the gateway as SIGTERM does, and removes its data directory. */
  stop(): Promise<void>
}

export const ADMIN: Creds = {
  id: 'AKIAGATEWAYADMIN0001',
  secret: 'gateway-admin-secret-0123456789',
}

/** Node's crypto as the hash constructor @smithy/signature-v4 wants. */
class Sha256 {
  private readonly h
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret))
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()))
  }
}

function toBytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d
  return ArrayBuffer.isView(d)
    ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
    : new Uint8Array(d)
}

const signer = (c: Creds) =>
  new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  })

/** Path and query of a request target, the query as the signer wants it (decoded, in order). */
function target(path: string): { pathname: string; query: Record<string, string> } {
  const url = new URL(path, 'http://x')
  return { pathname: url.pathname, query: Object.fromEntries(url.searchParams) }
}

function open(endpoint: string, agent: Agent, r: RawRequest): Promise<Reply> {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body)
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      new URL(r.path, endpoint),
      {
        method: r.method,
        headers: { 'content-length': String(body.length), ...r.headers },
        agent,
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => {
          const all = Buffer.concat(parts)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: all,
            text: all.toString('utf8'),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Strips the caller's STRONGROOM_* settings, so that only what a test passes configures the gateway. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STRONGROOM_')) env[k] = v
  return { ...env, ...extra }
}

/** JSON lines the gateway writes to stderr go to `sink`; anything else passes through. */
function captureLogs(sink: Record<string, unknown>[]): () => void {
  const original = process.stderr.write.bind(process.stderr)
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString()
    const lines = s.split('\n').filter((l) => l !== '')
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as unknown
      } catch {
        return undefined
      }
    })
    if (
      lines.length > 0 &&
      parsed.every((p) => typeof p === 'object' && p !== null && 'time' in p)
    ) {
      for (const p of parsed) sink.push(p)
      return true
    }
    return (original as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest)
  }
  process.stderr.write = write
  return () => {
    process.stderr.write = original
  }
}

export async function startGateway(extraEnv: Record<string, string> = {}): Promise<Gateway> {
  const work = mkdtempSync(join(tmpdir(), 'sr-gateway-'))
  const dataDir = join(work, 'data')
  const env = cleanEnv({
    STRONGROOM_ADMIN_ACCESS_KEY_ID: ADMIN.id,
    STRONGROOM_ADMIN_SECRET_ACCESS_KEY: ADMIN.secret,
    ...extraEnv,
  })
  const logs: Record<string, unknown>[] = []
  const restore = captureLogs(logs)
  const before = new Set(process.listeners('SIGTERM'))
  let out = ''
  let err = ''
  let ready: (url: string) => void = () => {}
  const url = new Promise<string>((resolve) => (ready = resolve))
  const serving = main(
    ['serve', '--dev', '--insecure-http', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    {
      stdout: (s) => {
        out += s
        const m = /ready at (http:\/\/\S+)/.exec(out)
        if (m?.[1] !== undefined) ready(m[1])
      },
      stderr: (s) => (err += s),
      env,
    },
  )
  const endpoint = await Promise.race([
    url,
    serving.then((code) => {
      restore()
      throw new Error(`serve exited with ${String(code)}: ${err}`)
    }),
  ])
  const stopServe = process.listeners('SIGTERM').find((l) => !before.has(l))
  if (stopServe === undefined) throw new Error('serve installed no SIGTERM handler')

  const cli = async (...args: string[]) => {
    let stdout = ''
    let stderr = ''
    const code = await main([...args, '--data-dir', dataDir], {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      env: cleanEnv({}),
    })
    return { code, stdout, stderr }
  }
  const must = async (...args: string[]) => {
    const r = await cli(...args)
    if (r.code !== 0) throw new Error(`strongroom ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const users: Creds[] = []
  for (const [tenant, user] of [
    ['vision', 'alice'],
    ['audio', 'bob'],
  ] as const) {
    await must('tenant', 'create', tenant)
    await must('user', 'create', '--tenant', tenant, user)
    const doc = join(work, `${user}.json`)
    writeFileSync(
      doc,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:*', Resource: '*' },
          { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
        ],
      }),
    )
    await must(
      'user',
      'put-policy',
      '--tenant',
      tenant,
      '--user',
      user,
      '--name',
      'all-s3',
      '--document',
      doc,
    )
    const k = JSON.parse(
      await must('access-key', 'create', '--tenant', tenant, '--user', user, '--json'),
    ) as { AccessKeyId: string; SecretAccessKey: string }
    users.push({ id: k.AccessKeyId, secret: k.SecretAccessKey })
  }
  const [alice, bob] = users as [Creds, Creds]

  const agent = new Agent({ keepAlive: true })
  const clients: S3Client[] = []
  const send = (r: RawRequest) => open(endpoint, agent, r)
  const sign = async (c: Creds, r: RawRequest) => {
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body)
    const { pathname, query } = target(r.path)
    const signed = await signer(c).sign({
      method: r.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: pathname,
      query,
      headers: {
        host: new URL(endpoint).host,
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        ...r.headers,
      },
    })
    const headers: Record<string, string> = { ...signed.headers }
    delete headers.host
    return headers
  }
  return {
    endpoint,
    dataDir,
    admin: ADMIN,
    alice,
    bob,
    logs: () => [...logs],
    cli,
    sdk(c) {
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
      })
      clients.push(client)
      return client
    },
    send,
    sign,
    async call(c, r) {
      if (c === undefined) return send(r)
      return send({ ...r, headers: await sign(c, r) })
    },
    async presign(c, method, path, o = {}) {
      const { pathname, query } = target(path)
      const signed = await signer(c).presign(
        {
          method,
          protocol: 'http:',
          hostname: '127.0.0.1',
          path: pathname,
          query,
          // As the SDK's S3 presigner does: the payload line is UNSIGNED-PAYLOAD, and the
          // header that says so is neither signed nor hoisted into the query.
          headers: { host: new URL(endpoint).host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        },
        {
          unhoistableHeaders: new Set(['x-amz-content-sha256']),
          unsignableHeaders: new Set(['x-amz-content-sha256']),
          expiresIn: o.expiresIn ?? 300,
          ...(o.signingDate === undefined ? {} : { signingDate: o.signingDate }),
        },
      )
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries(signed.query ?? {}))
        for (const one of Array.isArray(v) ? v : [v]) if (one !== null) q.append(k, one)
      return `${pathname}?${q.toString().replace(/\+/g, '%20')}`
    },
    async stop() {
      for (const c of clients) c.destroy()
      agent.destroy()
      ;(stopServe as () => void)()
      const code = await serving
      restore()
      rmSync(work, { recursive: true, force: true })
      if (code !== 0) throw new Error(`serve stopped with ${String(code)}: ${err}`)
    },
  }
}

/** The <Code>, <Message> and every other element of an S3 error document. */
export function errorOf(xml: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of xml.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) out[m[1] ?? ''] = m[2] ?? ''
  return out
}
