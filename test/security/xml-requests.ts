/**
 * Raw S3 requests with a body of our own choosing (an XML document written the
 * way Go, .NET or a person writes it), signed with SigV4 by the AWS SDK's own
 * signer (@smithy/signature-v4), so the gateway reads exactly the bytes a test
 * sends and nothing in between re-encodes them.
 */
import { createHash, createHmac } from 'node:crypto'
import { request } from 'node:https'
import { readFileSync } from 'node:fs'
import { SignatureV4 } from '@smithy/signature-v4'
import { ca, endpoint, type Creds } from '../e2e/harness.ts'

type SourceData = string | ArrayBuffer | ArrayBufferView

const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength)

/** The Checksum shape @smithy/signature-v4 hashes with: SHA-256, or HMAC-SHA256 given a secret. */
class Sha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: SourceData): void {
    this.h.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.h.digest())
  }
  reset(): void {
    throw new Error('not used by the signer')
  }
}

export interface RawResponse {
  readonly status: number
  readonly body: string
  readonly headers: Record<string, string | string[] | undefined>
}

/**
 * Sends `body` to the gateway as `creds` (or anonymously with `creds` undefined),
 * signed over its SHA-256. `path` is already percent-encoded; `query` is the raw query.
 */
export async function s3Request(
  creds: Creds | undefined,
  method: string,
  path: string,
  query: Record<string, string>,
  body: string | Buffer = '',
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const url = new URL(endpoint)
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  let req = {
    method,
    protocol: 'https:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: {
      host: url.host,
      'content-length': String(bytes.length),
      'x-amz-content-sha256': createHash('sha256').update(bytes).digest('hex'),
      ...headers,
    } as Record<string, string>,
    body: bytes,
  }
  if (creds !== undefined) {
    const signer = new SignatureV4({
      credentials: { accessKeyId: creds.id, secretAccessKey: creds.secret },
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
    })
    req = (await signer.sign(req)) as typeof req
  }
  const qs = new URLSearchParams(query).toString().replace(/=(&|$)/g, '$1')
  return new Promise((resolve, reject) => {
    const r = request(
      {
        method,
        host: url.hostname,
        port: url.port,
        path: qs === '' ? path : `${path}?${qs}`,
        headers: req.headers,
        ca: readFileSync(ca),
        // No keep-alive: an idle pooled connection would hold the gateway's shutdown open.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        )
        res.on('error', reject)
      },
    )
    r.on('error', reject)
    r.end(bytes)
  })
}

/** The Code of an S3 error body, or undefined. */
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
}
