/**
 * Raw HTTPS requests to the gateway the e2e harness starts, signed (or not) with the AWS SDK's
 * own SigV4 signer (@smithy/signature-v4), so that a test can send what no well-behaved client
 * would: an oversized body, an extra unsigned header, a malformed x-amz-content-sha256.
 */
import { createHash, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { SignatureV4 } from '@smithy/signature-v4'
import { ca, endpoint, type Creds } from '../e2e/harness.ts'

type Data = string | ArrayBuffer | ArrayBufferView

const bytes = (data: Data): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data)

/** The hash constructor the signer wants, on node:crypto. */
class Sha256 {
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

function signer(c: Creds): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  })
}

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

export interface RawRequest {
  readonly method: string
  /** Path and query, e.g. `/bucket?delete`. */
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: Buffer
  /** Sent without Content-Length (Transfer-Encoding: chunked), in pieces of this many bytes. */
  readonly chunked?: number
}

/** Header-signs a request (SigV4, the payload's SHA-256 unless x-amz-content-sha256 is given). */
export async function signHeaders(c: Creds, r: RawRequest): Promise<Record<string, string>> {
  const url = new URL(r.path, endpoint)
  const body = r.body ?? Buffer.alloc(0)
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    ...r.headers,
  }
  const signed = await signer(c).sign({
    method: r.method,
    protocol: 'https:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
  })
  return signed.headers
}

/** A presigned URL (SigV4 query) for the request; `headers` are signed as headers. */
export async function presign(
  c: Creds,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const url = new URL(path, endpoint)
  const signed = await signer(c).presign(
    {
      method,
      protocol: 'https:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      // As the SDK's S3 presigner does: the payload line is UNSIGNED-PAYLOAD, and the
      // header that says so is neither signed nor hoisted into the query.
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
    },
    {
      expiresIn: 300,
      unhoistableHeaders: new Set([...Object.keys(headers), 'x-amz-content-sha256']),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    },
  )
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(signed.query ?? {}))
    for (const one of Array.isArray(v) ? v : [v]) if (one !== null) q.append(k, one)
  return `${endpoint}${url.pathname}?${q.toString().replace(/\+/g, '%20')}`
}

/**
 * Sends one request on its own connection and resolves with the reply. A server that answers
 * before the whole body is sent, then closes, still yields its reply; a connection that ends
 * without any reply rejects.
 */
export function send(r: RawRequest & { readonly url?: string }): Promise<Reply> {
  const url = new URL(r.url ?? r.path, endpoint)
  const body = r.body ?? Buffer.alloc(0)
  const headers: Record<string, string> = { ...r.headers }
  if (r.chunked === undefined) headers['content-length'] = String(body.length)
  return new Promise<Reply>((resolve, reject) => {
    let reply: Reply | undefined
    const req = request(
      url,
      {
        method: r.method,
        headers,
        ca: readFileSync(ca),
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => {
          reply = {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString('utf8'),
          }
          resolve(reply)
        })
        res.on('error', (e) => (reply === undefined ? reject(e) : undefined))
      },
    )
    // Writing after the server has answered and closed fails (EPIPE, ECONNRESET): only a
    // connection that never produced a reply is an error.
    req.on('error', (e) => {
      if (reply === undefined) setTimeout(() => (reply === undefined ? reject(e) : undefined), 500)
    })
    if (r.chunked === undefined) req.end(body)
    else {
      const step = r.chunked
      let at = 0
      const pump = () => {
        while (at < body.length) {
          const piece = body.subarray(at, at + step)
          at += step
          if (!req.write(piece)) {
            req.once('drain', pump)
            return
          }
        }
        req.end()
      }
      pump()
    }
  })
}

/** Sends the request header-signed by `c`, or anonymously when `c` is undefined. */
export async function call(c: Creds | undefined, r: RawRequest): Promise<Reply> {
  const headers = c === undefined ? { ...r.headers } : await signHeaders(c, r)
  delete headers.host
  return send({ ...r, headers })
}

/** The <Code> and <Message> of an S3 error document. */
export function errorOf(body: string): { code: string | undefined; message: string | undefined } {
  return {
    code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1],
  }
}
