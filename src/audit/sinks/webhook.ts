/**
 * The webhook sink: batches of events POSTed over HTTPS (plain HTTP to loopback only, for local
 * relays and tests). One request:
 *
 *   POST <url>
 *   Content-Type: application/json
 *   X-Strongroom-Sequence: FIRST-LAST                 the seqs of the first and last event
 *   Authorization: Bearer <token>                     if a token is configured
 *   X-Strongroom-Signature: sha256=<hex>              if a secret is configured: HMAC-SHA256 of
 *                                                     the body bytes under it
 *   {"events":[{"seq":N,"event":{…}},…]}              seqs consecutive but for dropped events
 *
 * A batch is up to `maxEvents` events or `maxBytes` of body (a larger single event goes alone),
 * sent after `lingerMs` unless full sooner. A 2xx answer delivers the batch. Anything else is
 * retried with backoff, the same batch first: 408, 429, 5xx, timeouts and network errors as
 * passing trouble, honouring Retry-After; other answers too (a misconfigured receiver must not
 * lose events) but named in `lastError` as refusals. Delivery is at least once: a batch whose
 * answer was lost is sent again, and the receiver de-duplicates by seq.
 *
 * The token, the secret and the URL's path and query (webhook URLs often carry a key) never
 * appear in status or errors: those name the origin, the HTTP status or an error code only.
 */
import { createHmac } from 'node:crypto'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { StrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import { SpooledQueue } from './queue.ts'
import {
  DeliveryError,
  errorCode,
  formatter,
  type AuditSink,
  type SinkOptions,
  type SpoolEntry,
  type Transport,
} from './sink.ts'

export interface WebhookSinkOptions extends SinkOptions {
  /** https://…, or http:// to a loopback address; no credentials in it. */
  readonly url: string
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string
  /** Key for `X-Strongroom-Signature`. */
  readonly hmacSecret?: string | Uint8Array
  /** PEM certificates to trust instead of the system's (a private CA). */
  readonly ca?: string
  /** Events per request at most (default 500). */
  readonly maxEvents?: number
  /** Body bytes per request at most (default 1 MiB). */
  readonly maxBytes?: number
  /** How long a batch that is not full waits for more (default 1 s). */
  readonly lingerMs?: number
  /** Per request (default 10 s). */
  readonly timeoutMs?: number
}

/** Opens a webhook sink: CONFIG_INVALID for a URL, token or limit it cannot use. */
export async function openWebhookSink(o: WebhookSinkOptions): Promise<AuditSink> {
  const transport = new WebhookTransport(o)
  return SpooledQueue.open({
    ...o,
    transport,
    maxBatch: o.maxEvents ?? 500,
    lingerMs: o.lingerMs ?? 1000,
  })
}

export class WebhookTransport implements Transport {
  readonly target: string
  private readonly url: URL
  private readonly agent: HttpAgent
  private readonly token: string | undefined
  private readonly secret: string | Uint8Array | undefined
  private readonly format: (e: AuditEvent) => object
  private readonly maxBytes: number
  private readonly timeoutMs: number

  constructor(o: WebhookSinkOptions) {
    const bad = (why: string) =>
      new StrongroomError('CONFIG_INVALID', `audit sink \`${o.name}\`: ${why}`)
    let url: URL
    try {
      url = new URL(o.url)
    } catch {
      // Not echoed: the URL may carry a key.
      throw bad('the webhook `url` is not a URL')
    }
    if (url.username !== '' || url.password !== '')
      throw bad('the webhook `url` must not carry credentials: configure a `token`')
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback(url.hostname)))
      throw bad('the webhook `url` must be https (plain http only to a loopback address)')
    if (o.token !== undefined && !/^[\x21-\x7e]+$/.test(o.token))
      throw bad('the webhook `token` must be printable ASCII without spaces')
    for (const [key, min] of [
      ['maxBytes', 64],
      ['timeoutMs', 1],
    ] as const) {
      const v = o[key]
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
        throw bad(`\`${key}\` must be an integer of at least ${min}`)
    }
    this.url = url
    this.target = url.origin
    this.token = o.token
    this.secret = o.hmacSecret
    this.format = formatter(o)
    this.maxBytes = o.maxBytes ?? 1 << 20
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.agent =
      url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets: 1,
            minVersion: 'TLSv1.2',
            ...(o.ca === undefined ? {} : { ca: o.ca }),
          })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 })
  }

  async send(batch: readonly SpoolEntry[], signal: AbortSignal): Promise<number> {
    const { body, count } = encode(batch, this.format, this.maxBytes)
    const first = batch[0]?.seq ?? 0
    const last = batch[count - 1]?.seq ?? first
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Content-Length': String(body.length),
      'User-Agent': 'strongroom-audit',
      'X-Strongroom-Sequence': `${first}-${last}`,
    }
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`
    if (this.secret !== undefined)
      headers['X-Strongroom-Signature'] =
        `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`
    const { status, retryAfter } = await this.post(body, headers, signal)
    if (status >= 200 && status < 300) return count
    const retryAfterMs = parseRetryAfter(retryAfter, Date.now())
    const passing = status === 408 || status === 429 || status >= 500
    throw new DeliveryError(
      passing
        ? `${this.target} answered ${status}: retrying`
        : `${this.target} refused events ${first}-${last} with ${status}: retrying; check the receiver's configuration`,
      { retryAfterMs },
    )
  }

  close(): Promise<void> {
    this.agent.destroy()
    return Promise.resolve()
  }

  private post(
    body: Buffer,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number; retryAfter: string | undefined }> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        { method: 'POST', headers, agent: this.agent, signal: AbortSignal.any([signal, timeout]) },
        (res) => {
          // The answer's body is not read: it could echo what must not be shown.
          res.resume()
          res.on('error', () => {})
          const ra = res.headers['retry-after']
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: typeof ra === 'string' ? ra : undefined,
          })
        },
      )
      req.on('error', (e) => {
        reject(
          new DeliveryError(
            timeout.aborted
              ? `${this.target} did not answer within ${this.timeoutMs} ms`
              : `${this.target} could not be reached: ${errorCode(e)}`,
            { cause: e },
          ),
        )
      })
      req.end(body)
    })
  }
}

/** The body for the longest prefix of `batch` within `maxBytes` (one event at least). */
export function encode(
  batch: readonly SpoolEntry[],
  format: (e: AuditEvent) => object,
  maxBytes: number,
): { body: Buffer; count: number } {
  const items: string[] = []
  let bytes = '{"events":[]}'.length
  for (const e of batch) {
    const item = `{"seq":${e.seq},"event":${JSON.stringify(format(e.event))}}`
    const size = Buffer.byteLength(item) + (items.length > 0 ? 1 : 0)
    if (items.length > 0 && bytes + size > maxBytes) break
    items.push(item)
    bytes += size
  }
  return { body: Buffer.from(`{"events":[${items.join(',')}]}`), count: items.length }
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds to wait. */
export function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (v === undefined) return undefined
  const s = v.trim()
  if (/^\d{1,10}$/.test(s)) return Number(s) * 1000
  const at = Date.parse(s)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function loopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}
