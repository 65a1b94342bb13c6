/**
 * The gateway's listener: HTTPS (Mozilla's intermediate TLS profile, ../net/tls.ts)
 * or, only when asked, plain HTTP. Request ids, structured JSON logs without secrets (no Authorization
 * header, no signatures, no keys), timeouts on slow headers and idle bodies,
 * bounded header size, a health endpoint, admission control (./admission.ts: beyond its
 * bounds a request waits briefly, then gets 503 SlowDown with Retry-After; the health
 * endpoint is never held back), and a shutdown that lets in-flight requests finish.
 * No request can end the process: whatever escapes a request's handling fails that request
 * alone with InternalError and a logged stack.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttps, Server as HttpsServer } from 'node:https'
import type { TLSSocket, TlsOptions } from 'node:tls'
import type { Socket } from 'node:net'
import { DEFAULT_SEGMENT_SIZE } from '../crypto/header.ts'
import { profileOptions, type TlsProfileName } from '../net/tls.ts'
import type { ClientCertificates } from '../net/listeners.ts'
import { StrongroomError } from '../errors.ts'
import {
  availableMemory,
  chargeOf,
  createAdmission,
  defaultLimits,
  type Admission,
  type AdmissionLimits,
} from './admission.ts'
import {
  beginNote,
  connectionOf,
  dropNote,
  holdUntilRecorded,
  noteError,
  recordRefused,
  recordUnanswered,
  type EventSink,
} from './audit-stage.ts'
import { errorXml, toApiError } from './errors.ts'
import { encodeQueryError, queryServiceOfRequest } from './protocols/query.ts'
import { encodeJsonError, JSON_CONTENT_TYPE, jsonServiceOfRequest } from './protocols/json.ts'
import { encodeError } from './protocols/rest-xml.ts'
import { newRequestId, type S3Gateway } from './s3.ts'
import { XML_BOUNDS } from './xml.ts'

export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** PEM key and certificate (chain), the TLS profile and client certificates; absent = plain HTTP. */
  readonly tls?: ListenerTls
  readonly log: (line: Record<string, unknown>) => void
  /** How long a client may take to send its headers (default 20 s). */
  readonly headerTimeoutMs?: number
  /** How long a connection may stay silent, mid-body included, before it is closed (default 120 s). */
  readonly idleTimeoutMs?: number
  /** Bounds on requests in flight and bytes they buffer (default: derived from memory). */
  readonly admission?: AdmissionLimits
  /** Another listener's admission control, so that a gateway's listeners share one bound. */
  readonly sharedAdmission?: Admission
  /** The segment size objects are sealed with, for the admission charge (default 1 MiB). */
  readonly segmentSize?: number
  /** Where each request's audit event goes (audit-stage.ts); none without it. */
  readonly events?: EventSink
}

export interface ListenerTls {
  readonly key: string
  readonly cert: string
  /** Default intermediate. */
  readonly profile?: TlsProfileName
  /** Default none. With optional or required, `ca` and `crl` are what client certificates are checked against. */
  readonly clientCertificates?: ClientCertificates
  readonly ca?: string
  readonly crl?: readonly string[]
}

/** The secure-context options of a listener. */
function tlsOptions(t: ListenerTls): TlsOptions {
  const asks = (t.clientCertificates ?? 'none') !== 'none'
  if (asks && (t.ca === undefined || t.crl === undefined))
    throw new Error('a listener that asks for client certificates needs the CA and its CRLs')
  return {
    key: t.key,
    cert: t.cert,
    ...profileOptions(t.profile ?? 'intermediate'),
    ...(asks
      ? {
          requestCert: true,
          // Required: Node ends a handshake whose client certificate is missing or does not verify.
          // Optional: a connection without one proceeds; one that does not verify is ended in
          // the secureConnection handler below.
          rejectUnauthorized: t.clientCertificates === 'required',
          ca: t.ca,
          crl: [...(t.crl ?? [])],
        }
      : {}),
  }
}

export interface RunningServer {
  readonly server: Server
  readonly url: string
  /** The admission control in front of the gateway: its limits and its current load. */
  readonly admission: Admission
  /**
   * Replaces the certificate (chain) and key, or the CRLs client certificates are checked
   * against, for new connections; the profile and the rest stay.
   */
  setTls(change: Partial<Pick<ListenerTls, 'key' | 'cert' | 'crl'>>): void
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>
}

export const HEALTH_PATH = '/_health'
/** Seconds a refused client is asked to wait before retrying (SDKs wait at least this long). */
export const RETRY_AFTER_SECONDS = 1
/** Stream error codes that mean the client closed or reset the connection (Node's `aborted` is ECONNRESET). */
const CLIENT_GONE = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE'])
/**
 * Unread bodies up to this size are drained before an error reply, so the client reads the
 * error: twice the largest request document, so that a document just over its bound (a
 * client's mistake, or an anonymous caller refused before its body) is answered, not reset.
 */
const DRAIN_LIMIT = 2 * Math.max(...Object.values(XML_BOUNDS).map((b) => b.bytes))

/** The request an asynchronous callback belongs to, so an error thrown there fails that request only. */
interface InFlight {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly requestId: string
  /** Answers the request with this error (or cuts it off if the answer has begun); never throws. */
  readonly fail: (e: unknown) => void
}

export async function listen(gateway: S3Gateway, o: ListenOptions): Promise<RunningServer> {
  let inFlight = 0
  let drained: (() => void) | undefined
  /** The response each socket owes, for the idle-timeout reply. */
  const pending = new WeakMap<Socket, ServerResponse>()
  const current = new AsyncLocalStorage<InFlight>()
  /** Each connection's byte counts when its last response closed. */
  const counted = new WeakMap<Socket, readonly [number, number]>()
  const admission =
    o.sharedAdmission ?? createAdmission(o.admission ?? defaultLimits(availableMemory()))
  const segmentSize = o.segmentSize ?? DEFAULT_SEGMENT_SIZE
  const logError = (requestId: string | undefined, e: unknown, where: string) => {
    try {
      o.log({
        time: new Date().toISOString(),
        ...(requestId === undefined ? {} : { requestId }),
        level: 'error',
        where,
        error: e instanceof Error ? e.message : String(e),
        stack: e instanceof Error ? e.stack : undefined,
        causes: causesOf(e),
      })
    } catch {
      // A log that cannot be written must not take the server down with it.
    }
  }
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++
    const started = performance.now()
    const requestId = newRequestId()
    // Read once: once the socket is destroyed, req.socket may be null.
    const socket = req.socket as Socket | null
    const remote = socket?.remoteAddress
    if (socket !== null) pending.set(socket, res)
    // One request at a time per connection: what the socket counted since the last response
    // closed is this request's (its headers are read before it gets here).
    const bytesAtStart = (socket === null ? undefined : counted.get(socket)) ?? [0, 0]
    const wallStart = Date.now()
    beginNote(requestId, connectionOf(req))
    // A client that sent `Expect: 100-continue` sends its body only once told to: only once the
    // request is admitted, so that a refused upload costs no bytes on the wire.
    const expectsContinue = /^100-continue$/i.test(req.headers.expect ?? '')
    let continued = false
    let failed = false
    const fail = (e: unknown): void => {
      if (failed) return
      failed = true
      try {
        answerError(e)
      } catch (again) {
        logError(requestId, again, 'error reply')
        res.destroy()
      }
    }
    // A stream error (a client that resets mid-body) is this request's failure, not the process's.
    // A client that goes away mid-body is not the server's error: noted, no stack.
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (CLIENT_GONE.has(e.code ?? '')) {
        failed = true
        o.log({
          time: new Date().toISOString(),
          requestId,
          level: 'info',
          clientGone: e.code ?? e.message,
        })
        res.destroy()
        return
      }
      if (!res.headersSent && !res.writableEnded) fail(e)
    })
    res.on('error', (e) => logError(requestId, e, 'response stream'))
    const facts = (bytesOut: number) => ({
      req,
      res,
      started: wallStart,
      latencyMs: performance.now() - started,
      bytesIn: (socket?.bytesRead ?? 0) - bytesAtStart[0],
      bytesOut,
    })
    // The events refuse work they cannot record (fail-closed); reads may be best-effort.
    /** The handler's work, settled however it ends. */
    let handling: Promise<void> = Promise.resolve()
    const health = req.url === HEALTH_PATH && req.method === 'GET'
    if (health) dropNote(requestId)
    const events = health ? undefined : o.events
    // A read is an S3 GET or HEAD: IAM and STS take GET too, for writes (GET /?Action=CreateUser).
    const reading =
      (req.method === 'GET' || req.method === 'HEAD') && !/[?&]Action=/i.test(req.url ?? '')
    const refused =
      events === undefined || (reading && events.reads === 'best-effort')
        ? undefined
        : events.log.problem()
    if (events !== undefined && refused === undefined)
      holdUntilRecorded(requestId, res, events, facts, (e) => {
        try {
          answerError(e)
        } catch (again) {
          logError(requestId, again, 'error reply')
          res.destroy()
        }
      })
    res.on('close', () => {
      inFlight--
      try {
        if (events !== undefined) {
          // A handler may still be at work after its client went away (a DELETE whose client
          // hung up still deletes): the event waits for it, so it says what was done.
          const f = facts((socket?.bytesWritten ?? 0) - bytesAtStart[1])
          void handling.then(() => {
            try {
              recordUnanswered(requestId, events, f)
            } catch (e) {
              logError(requestId, e, 'audit event')
            }
          })
        }
        if (socket !== null) counted.set(socket, [socket.bytesRead, socket.bytesWritten])
      } catch (e) {
        logError(requestId, e, 'audit event')
      }
      try {
        if (socket !== null) pending.delete(socket)
        o.log({
          time: new Date().toISOString(),
          requestId,
          method: req.method,
          path: (req.url ?? '').split('?')[0]?.slice(0, 300),
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          remote,
        })
      } catch (e) {
        logError(requestId, e, 'access log')
      }
      if (inFlight === 0) drained?.()
    })
    const answerError = (e: unknown) => {
      // A query-protocol (IAM, STS) or JSON (CloudTrail) request is answered in its
      // protocol's error shape.
      const service = queryServiceOfRequest(req)
      const json = jsonServiceOfRequest(req)
      const { code, status, body } =
        service !== undefined
          ? encodeQueryError(e, service, requestId)
          : json !== undefined
            ? encodeJsonError(e, json)
            : s3Error(e, req, requestId)
      if (code === 'InternalError' || code === 'InternalFailure') logError(requestId, e, 'request')
      noteError(
        requestId,
        code,
        code === 'InternalError' || code === 'InternalFailure' ? '' : errorText(e),
      )
      if (res.headersSent || res.destroyed) {
        res.destroy()
        return
      }
      res.statusCode = status
      const s3 = service === undefined && !json
      res.setHeader(s3 ? 'x-amz-request-id' : 'x-amzn-RequestId', requestId)
      if (json) res.setHeader('x-amzn-ErrorType', code)
      if (body !== '')
        res.setHeader(
          'Content-Type',
          json ? JSON_CONTENT_TYPE : service === undefined ? 'application/xml' : 'text/xml',
        )
      res.setHeader('Content-Length', String(Buffer.byteLength(body)))
      const reply = () => {
        if (res.writableEnded || res.destroyed) return
        if (!req.complete) res.setHeader('Connection', 'close')
        res.end(body)
      }
      // A client still sending its body would see the connection drop instead of the error:
      // read and discard what is left of it first, up to DRAIN_LIMIT bytes (declared or, for a
      // body without a length, counted) and 5 seconds. Beyond that the reply goes out and the
      // connection closes.
      const declared = Number(
        req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? Number.NaN,
      )
      // A client still waiting for 100 Continue has sent no body: nothing to drain.
      const noBodyComing = expectsContinue && !continued
      if (req.complete || req.destroyed || declared > DRAIN_LIMIT || noBodyComing) {
        reply()
        return
      }
      // A refused request (SlowDown) of a declared length within the limit is answered at once,
      // keeping the connection: Node reads and discards the rest of its body before the next
      // request on it, so a client still sending reads the answer, and one holding its body
      // back gets it too (the idle timeout ends its connection).
      if ((code === 'SlowDown' || code === 'Throttling') && declared <= DRAIN_LIMIT) {
        res.end(body)
        return
      }
      let seen = 0
      const done = () => {
        clearTimeout(timer)
        req.off('data', count)
        reply()
      }
      const count = (c: Buffer) => {
        seen += c.length
        if (seen > DRAIN_LIMIT) {
          req.pause()
          done()
        }
      }
      const timer = setTimeout(done, 5_000)
      req.on('data', count)
      req.once('end', done)
      req.once('close', () => {
        clearTimeout(timer)
        if (!req.complete) res.destroy()
      })
      req.resume()
    }
    current.run({ req, res, requestId, fail }, () => {
      try {
        if (health) {
          // A gateway that cannot record requests is not healthy: a load balancer sends them elsewhere.
          const problem = o.events?.log.problem()
          res
            .writeHead(problem === undefined ? 200 : 503, { 'Content-Type': 'text/plain' })
            .end(problem === undefined ? 'ok\n' : `audit log: ${problem}\n`)
          return
        }
        if (refused !== undefined) {
          fail(
            new StrongroomError(
              'SERVICE_UNAVAILABLE',
              `The audit log cannot record this request, so it was not carried out: ${refused}`,
            ),
          )
          return
        }
        admit(req, res, fail, () => {
          if (expectsContinue) {
            continued = true
            res.writeContinue()
          }
          // A write runs only once the log is known to be able to record it.
          const writes = events !== undefined && !reading
          handling = (writes ? events.log.ready() : Promise.resolve())
            .then(() => gateway.handle(req, res, requestId))
            .catch(fail)
        })
      } catch (e) {
        fail(e)
      }
    })
  }
  /**
   * Runs `handle` once the request is admitted; its slot is released when the response closes,
   * which it does on every path: finished, failed, aborted by the client, timed out. A request
   * refused (queue full, waited too long) is answered 503 SlowDown with Retry-After.
   */
  const admit = (
    req: IncomingMessage,
    res: ServerResponse,
    fail: (e: unknown) => void,
    handle: () => void,
  ) => {
    const gone = new AbortController()
    const onClose = () => gone.abort()
    res.once('close', onClose)
    admission
      .admit(chargeOf(req.method, req.headers, segmentSize), gone.signal)
      .then((a) => {
        res.off('close', onClose)
        if ('release' in a) {
          if (res.destroyed) {
            a.release()
            return
          }
          res.once('close', a.release)
          handle()
        } else if (a.refused !== 'gone') {
          // S3's throttling reply (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
          res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS))
          fail(new StrongroomError('SLOW_DOWN', 'Please reduce your request rate.'))
        }
      })
      .catch(fail)
  }
  // Node answers `Expect: 100-continue` itself unless told not to; admission decides instead.
  const onCheckContinue = (req: IncomingMessage, res: ServerResponse) => handler(req, res)
  // The last line of defence: an exception or rejection that escapes a request's own handling
  // (an event callback, a promise nobody awaited) fails the request it came from, found through
  // its async context, with InternalError and a logged stack. The process keeps serving.
  const onUncaught = (e: unknown) => {
    const r = current.getStore()
    logError(r?.requestId, e, 'uncaught')
    // Whatever escapes is a bug, answered as one: InternalError, whatever the error says.
    r?.fail(new StrongroomError('INTERNAL', 'an error escaped the request handling', { cause: e }))
  }
  const headerTimeout = o.headerTimeoutMs ?? 20_000
  const common = {
    maxHeaderSize: 16 * 1024,
    requestTimeout: 0,
    headersTimeout: headerTimeout,
    // Node checks header deadlines on this interval; it bounds how late the check fires.
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headerTimeout / 4))),
    keepAliveTimeout: 5_000,
  }
  const server: Server =
    o.tls === undefined
      ? createHttp(common, handler)
      : createHttps({ ...common, ...tlsOptions(o.tls) }, handler)
  let tls = o.tls
  if (tls?.clientCertificates === 'optional')
    server.on('secureConnection', (s: TLSSocket) => {
      // A client that sent a certificate it cannot prove is refused; one that sent none is not.
      const sent = Object.keys(s.getPeerCertificate()).length > 0
      if (sent && !s.authorized) s.destroy()
    })
  server.on('checkContinue', onCheckContinue)
  // Any other Expect value (an empty one included) Node answers 417 itself; S3 ignores it and
  // serves the request, and so does the gateway (no 100 Continue is sent for it).
  server.on('checkExpectation', onCheckContinue)
  // A silent socket is closed; a request still waiting for its body gets S3's RequestTimeout
  // first. The upload it carried is abandoned whole: nothing half-written becomes visible.
  server.timeout = o.idleTimeoutMs ?? 120_000
  server.on('timeout', (socket: Socket) => {
    try {
      onTimeout(socket)
    } catch (e) {
      logError(undefined, e, 'timeout')
      socket.destroy()
    }
  })
  const onTimeout = (socket: Socket) => {
    const res = pending.get(socket)
    if (res !== undefined && !res.headersSent) {
      const e = new StrongroomError(
        'REQUEST_TIMEOUT',
        'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
      )
      const body = errorXml(toApiError(e), '', newRequestId())
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
      setTimeout(() => socket.destroy(), 1_000).unref()
    } else socket.destroy()
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    try {
      onClientError(err, socket)
    } catch (e) {
      logError(undefined, e, 'client error')
      socket.destroy()
    }
  })
  const onClientError = (err: NodeJS.ErrnoException, socket: Socket) => {
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
    const slow = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const e = slow
      ? new StrongroomError(
          'REQUEST_TIMEOUT',
          `Your request headers did not arrive within ${headerTimeout / 1000} seconds. Idle connections will be closed.`,
        )
      : new StrongroomError(
          'INVALID_REQUEST',
          tooLarge
            ? 'Your request headers are too large (at most 16 KiB)'
            : 'Your request is not valid HTTP',
        )
    const requestId = newRequestId()
    const body = errorXml(toApiError(e), '', requestId)
    // Not HTTP, or too slow to be: no pipeline saw it, and it is still one event.
    if (o.events !== undefined)
      recordRefused(
        o.events,
        requestId,
        socket.remoteAddress,
        toApiError(e).code,
        e.message,
        tooLarge ? 431 : 400,
      )
    socket.end(
      `HTTP/1.1 ${tooLarge ? 431 : 400} Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (e) => logError(undefined, e, 'listener'))
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : o.port
  const host = o.host.includes(':') ? `[${o.host}]` : o.host
  return {
    server,
    url: `${o.tls === undefined ? 'http' : 'https'}://${host}:${port}`,
    setTls: (change) => {
      if (!(server instanceof HttpsServer) || tls === undefined)
        throw new Error('this server has no TLS')
      tls = { ...tls, ...change }
      server.setSecureContext(tlsOptions(tls))
    },
    admission,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          process.off('uncaughtException', onUncaught)
          process.off('unhandledRejection', onUncaught)
          resolve()
        })
        server.closeIdleConnections()
        if (inFlight === 0) drained?.()
        drained = () => server.closeIdleConnections()
      }),
  }
}

function s3Error(e: unknown, req: IncomingMessage, requestId: string) {
  const { wire, body } = encodeError(e, req, requestId)
  return { code: wire.code, status: wire.status, body }
}

/** The messages of an error's causes, outermost first (the log keeps what a 500 hides). */
function causesOf(e: unknown): string[] | undefined {
  const out: string[] = []
  for (let c = e instanceof Error ? e.cause : undefined; c !== undefined && out.length < 8;) {
    out.push(
      c instanceof Error
        ? `${c.name}: ${c.message}${c.stack === undefined ? '' : `\n${c.stack}`}`
        : JSON.stringify(c),
    )
    c = c instanceof Error ? c.cause : undefined
  }
  return out.length === 0 ? undefined : out
}

/** An error's message for the audit event (the client was told the same). */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message.slice(0, 1024) : ''
}
