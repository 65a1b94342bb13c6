/**
 * The syslog sink: RFC 5424 messages over TLS (RFC 5425), TLS 1.2 at least, the server's
 * certificate checked against the system's CAs or the configured `ca`. Each message is framed by
 * octet counting (RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the decimal byte count.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME strongroom PROCID MSGID [strongroom@32473 seq="N" decision="D"] BOM MSG
 *
 *   PRI        facility·8 + severity: facility 13 (log audit) unless configured; severity 6
 *              (informational) for an allowed request, 4 (warning) for a denied or failed one
 *   TIMESTAMP  the event's time (RFC 3339, UTC), `-` if it has none
 *   HOSTNAME   this host's name; PROCID the process id; MSGID the event's name (all printable
 *              US-ASCII, at most 255, 128 and 32 characters; `-` when nothing is left)
 *   SD         one element; PARAM-VALUEs escape `"`, `\` and `]` with a backslash (§6.3.3).
 *              32473 is the enterprise number RFC 5612 reserves for documentation.
 *   MSG        the formatted event as JSON, UTF-8 after a byte-order mark (§6.4)
 *
 * RFC 5425 has no acknowledgement: an event counts as delivered once TLS has handed it to the
 * kernel. So that a connection that breaks does not take the last of them along unseen, the
 * newest `replay` messages written are sent again first on the next connection: at least once,
 * and the receiver de-duplicates by the seq in the structured data.
 */
import { hostname as osHostname } from 'node:os'
import { connect, type TLSSocket } from 'node:tls'
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

export interface SyslogSinkOptions extends SinkOptions {
  readonly host: string
  /** Default 6514 (RFC 5425). */
  readonly port?: number
  /** PEM certificates to trust instead of the system's (a private CA). */
  readonly ca?: string
  /** The name to check the server's certificate for (default `host`). */
  readonly servername?: string
  /** Syslog facility 0–23 (default 13, log audit). */
  readonly facility?: number
  /** HOSTNAME in each message (default this machine's name). */
  readonly hostname?: string
  /** Events per write at most (default 500). */
  readonly maxEvents?: number
  /** How long a batch that is not full waits for more (default 0). */
  readonly lingerMs?: number
  /** For connecting, and for a write to be taken by the kernel (default 10 s). */
  readonly timeoutMs?: number
  /** Messages resent after a connection broke (default 100). */
  readonly replay?: number
}

/** Opens a syslog sink; CONFIG_INVALID for options it cannot use. */
export async function openSyslogSink(o: SyslogSinkOptions): Promise<AuditSink> {
  const transport = new SyslogTransport(o)
  return SpooledQueue.open({
    ...o,
    transport,
    maxBatch: o.maxEvents ?? 500,
    lingerMs: o.lingerMs ?? 0,
  })
}

export interface SyslogHeader {
  readonly facility: number
  readonly hostname: string
  readonly procId: string
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf])
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/
const SD_ID = 'strongroom@32473'

/** A PARAM-VALUE's escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash. */
export function escapeSdParam(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`)
}

/** Printable US-ASCII (33–126) only, at most `max` characters; `-` (NILVALUE) if none. */
function printable(s: string, max: number): string {
  const kept = s.replace(/[^\x21-\x7e]/g, '').slice(0, max)
  return kept === '' ? '-' : kept
}

/** One RFC 5424 message for event `seq`; `body` is the formatted event. */
export function syslogMessage(
  seq: number,
  event: AuditEvent,
  body: object,
  h: SyslogHeader,
): Buffer {
  // The event came back from the spool: read its fields as possibly missing.
  const e = event as Partial<AuditEvent>
  const decision = typeof e.strongroom?.decision === 'string' ? e.strongroom.decision : '-'
  const denied = decision === 'ExplicitDeny' || decision === 'ImplicitDeny'
  const severity = denied || e.errorCode !== undefined ? 4 : 6
  const time = typeof e.eventTime === 'string' && RFC3339.test(e.eventTime) ? e.eventTime : '-'
  const name = typeof e.eventName === 'string' ? e.eventName : ''
  const sd = `[${SD_ID} seq="${seq}" decision="${escapeSdParam(decision)}"]`
  const head =
    `<${h.facility * 8 + severity}>1 ${time} ${printable(h.hostname, 255)} strongroom ` +
    `${printable(h.procId, 128)} ${printable(name, 32)} ${sd} `
  return Buffer.concat([Buffer.from(head, 'utf8'), BOM, Buffer.from(JSON.stringify(body), 'utf8')])
}

/** RFC 5425 octet-counting: `MSG-LEN SP SYSLOG-MSG`. */
export function octetFrame(msg: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `, 'ascii'), msg])
}

export class SyslogTransport implements Transport {
  readonly target: string
  private readonly host: string
  private readonly port: number
  private readonly ca: string | undefined
  private readonly servername: string | undefined
  private readonly header: SyslogHeader
  private readonly format: (e: AuditEvent) => object
  private readonly timeoutMs: number
  private readonly replay: number
  private socket: TLSSocket | undefined
  /** The newest frames written, for the next connection after one broke. */
  private recent: Buffer[] = []
  private replayNext = false
  private closing = false

  constructor(o: SyslogSinkOptions) {
    const bad = (why: string) =>
      new StrongroomError('CONFIG_INVALID', `audit sink \`${o.name}\`: ${why}`)
    const facility = o.facility ?? 13
    if (!Number.isInteger(facility) || facility < 0 || facility > 23)
      throw bad('`facility` must be an integer from 0 to 23')
    const port = o.port ?? 6514
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('`port` is not a port')
    if (o.host === '') throw bad('`host` is empty')
    for (const [key, min] of [
      ['timeoutMs', 1],
      ['replay', 0],
    ] as const) {
      const v = o[key]
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
        throw bad(`\`${key}\` must be an integer of at least ${min}`)
    }
    this.host = o.host
    this.port = port
    this.target = `syslog-tls://${o.host}:${port}`
    this.ca = o.ca
    this.servername = o.servername
    this.header = { facility, hostname: o.hostname ?? osHostname(), procId: String(process.pid) }
    this.format = formatter(o)
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.replay = o.replay ?? 100
  }

  async send(batch: readonly SpoolEntry[], signal: AbortSignal): Promise<number> {
    const frames = batch.map((e) =>
      octetFrame(syslogMessage(e.seq, e.event, this.format(e.event), this.header)),
    )
    const socket = this.socket ?? (await this.connect(signal))
    const again = this.replayNext ? this.recent : []
    try {
      await write(socket, Buffer.concat([...again, ...frames]), signal, this.timeoutMs)
    } catch (e) {
      socket.destroy()
      throw new DeliveryError(`${this.target}: the connection failed: ${reason(e)}`, {
        cause: e,
      })
    }
    this.replayNext = false
    this.recent = this.replay === 0 ? [] : [...this.recent, ...frames].slice(-this.replay)
    return batch.length
  }

  async close(): Promise<void> {
    this.closing = true
    const s = this.socket
    this.socket = undefined
    if (s === undefined || s.destroyed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => s.destroy(), 1000)
      s.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      s.end()
    })
  }

  private connect(signal: AbortSignal): Promise<TLSSocket> {
    if (this.closing) return Promise.reject(new DeliveryError(`${this.target}: closed`))
    return new Promise((resolve, reject) => {
      const s = connect({
        host: this.host,
        port: this.port,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        ...(this.ca === undefined ? {} : { ca: this.ca }),
        ...(this.servername === undefined ? {} : { servername: this.servername }),
      })
      const timer = setTimeout(() => {
        fail(timedOut(this.timeoutMs))
      }, this.timeoutMs)
      const onAbort = (): void => {
        fail(new Reason('the sink is closing'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
      }
      const fail = (e: unknown): void => {
        done()
        s.destroy()
        reject(new DeliveryError(`${this.target}: cannot connect: ${reason(e)}`, { cause: e }))
      }
      s.once('error', fail)
      s.once('secureConnect', () => {
        done()
        s.off('error', fail)
        s.on('error', () => {}) // reported by the write that meets it
        s.once('close', () => {
          // A connection we did not close may have lost what was last written to it.
          if (this.socket === s) {
            this.socket = undefined
            this.replayNext = true
          }
        })
        s.setKeepAlive(true)
        s.resume() // a receiver sends nothing; discard whatever comes
        this.socket = s
        resolve(s)
      })
      if (signal.aborted) onAbort()
    })
  }
}

/**
 * Writes `data`, resolving once TLS has handed it all to the kernel; a receiver that stops
 * reading (the kernel's buffers full for `timeoutMs`) gets its connection closed.
 */
function write(s: TLSSocket, data: Buffer, signal: AbortSignal, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => {
      finish(new Reason('the connection closed'))
    }
    const onAbort = (): void => {
      s.destroy()
    }
    const timer = setTimeout(() => {
      s.destroy(timedOut(timeoutMs))
    }, timeoutMs)
    const finish = (e?: Error | null): void => {
      clearTimeout(timer)
      s.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (e) reject(e)
      else resolve()
    }
    s.once('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
    s.write(data, finish)
  })
}

/** Why a connection or write failed, in words of our own (not an error to surface). */
class Reason extends Error {}

const timedOut = (ms: number) => new Reason(`no progress within ${ms} ms`)

/** For messages: our own reasons as they are; anything else by its code only. */
function reason(e: unknown): string {
  return e instanceof Reason ? e.message : errorCode(e)
}
