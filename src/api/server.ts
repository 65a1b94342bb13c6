/**
 * The gateway's listener: HTTPS (TLS 1.2 minimum) or, only when asked, plain
 * HTTP. Request ids, structured JSON logs without secrets (no Authorization
 * header, no signatures, no keys), timeouts on slow headers and idle bodies,
 * bounded header size, a health endpoint, and a shutdown that lets in-flight
 * requests finish.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttps } from 'node:https'
import { join } from 'node:path'
import { ApiError, toApiError } from './errors.ts'
import { errorXml, newRequestId, type DecisionRecord, type S3Gateway } from './s3.ts'

export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** PEM key and certificate; absent = plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string }
  readonly log: (line: Record<string, unknown>) => void
}

export interface RunningServer {
  readonly server: Server
  readonly url: string
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>
}

export const HEALTH_PATH = '/_health'
/** Unread bodies up to this size are drained before an error reply, so the client reads the error. */
const DRAIN_LIMIT = 8 * 1024 * 1024

export async function listen(gateway: S3Gateway, o: ListenOptions): Promise<RunningServer> {
  let inFlight = 0
  let drained: (() => void) | undefined
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++
    const started = performance.now()
    const requestId = newRequestId()
    res.on('close', () => {
      inFlight--
      o.log({
        time: new Date().toISOString(),
        requestId,
        method: req.method,
        path: (req.url ?? '').split('?')[0]?.slice(0, 300),
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
        remote: req.socket.remoteAddress,
      })
      if (inFlight === 0) drained?.()
    })
    if (req.url === HEALTH_PATH && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n')
      return
    }
    gateway.handle(req, res, requestId).catch((e: unknown) => {
      const err = toApiError(e)
      if (err.code === 'InternalError')
        o.log({
          time: new Date().toISOString(),
          requestId,
          level: 'error',
          error: e instanceof Error ? e.message : String(e),
        })
      if (res.headersSent) {
        res.destroy()
        return
      }
      const body =
        err.status === 304 || req.method === 'HEAD'
          ? ''
          : errorXml(err, (req.url ?? '').split('?')[0] ?? '', requestId)
      res.statusCode = err.status
      res.setHeader('x-amz-request-id', requestId)
      if (body !== '') res.setHeader('Content-Type', 'application/xml')
      res.setHeader('Content-Length', String(Buffer.byteLength(body)))
      const reply = () => {
        if (!req.complete) res.setHeader('Connection', 'close')
        res.end(body)
      }
      // A client still sending its body would see the connection drop instead of the error:
      // read and discard what is left of a small body first (bounded in size and time). A
      // large one is cut off: the reply goes out and the connection closes.
      const declared = Number(
        req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? Number.NaN,
      )
      if (!req.complete && declared <= DRAIN_LIMIT) {
        const timer = setTimeout(reply, 5_000)
        req.once('end', () => {
          clearTimeout(timer)
          reply()
        })
        const abandon = () => {
          clearTimeout(timer)
          if (!req.complete) res.destroy()
        }
        req.once('error', abandon)
        req.once('close', abandon)
        req.resume()
      } else reply()
    })
  }
  const common = {
    maxHeaderSize: 16 * 1024,
    requestTimeout: 0,
    headersTimeout: 20_000,
    keepAliveTimeout: 5_000,
  }
  const server: Server =
    o.tls === undefined
      ? createHttp(common, handler)
      : createHttps({ ...common, key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.2' }, handler)
  // An idle socket (no bytes either way) is closed after two minutes.
  server.timeout = 120_000
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    o.log({
      time: new Date().toISOString(),
      level: 'warn',
      clientError: err.code ?? err.message,
    })
    if (!socket.writable) {
      socket.destroy()
      return
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
    const e = new ApiError(
      tooLarge ? 'InvalidRequest' : 'InvalidRequest',
      tooLarge
        ? 'Your request headers are too large (at most 16 KiB)'
        : 'Your request is not valid HTTP',
    )
    const body = errorXml(e, '', newRequestId())
    socket.end(
      `HTTP/1.1 ${tooLarge ? 431 : 400} Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : o.port
  const host = o.host.includes(':') ? `[${o.host}]` : o.host
  return {
    server,
    url: `${o.tls === undefined ? 'http' : 'https'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
        if (inFlight === 0) drained?.()
        drained = () => server.closeIdleConnections()
      }),
  }
}

/** Keeps every decision's trace where `strongroom explain REQUEST_ID` finds it. */
export function decisionLog(dataDir: string): (d: DecisionRecord) => void {
  const dir = join(dataDir, 'audit')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'decisions.jsonl')
  return (d) =>
    appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), ...d }) + '\n', {
      mode: 0o600,
    })
}
