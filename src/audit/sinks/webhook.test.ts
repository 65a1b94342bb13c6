/**
 * The webhook sink against a real HTTPS receiver (node:https, a certificate from the gateway's
 * own CA code): every event arrives, in order after de-duplication by seq, through a receiver
 * outage, a lost answer and a sink restart; the spool's cap drops events without ever blocking
 * an offer; and no secret (bearer token, URL path or query) ever shows in status or errors.
 */
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { firstArrivals, range, sampleEvent, testCertificates } from './testing.ts'
import { encode, openWebhookSink, parseRetryAfter } from './webhook.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-webhook-'))
after(() => rmSync(work, { recursive: true, force: true }))
let dirs = 0
const spoolDir = () => join(work, `spool-${dirs++}`)
const certs = testCertificates()
const fast = { baseMs: 10, capMs: 100 }

interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** A real receiver: records every event it is sent, checks each request's framing. */
class Receiver {
  readonly seqs: number[] = []
  readonly requests: { url: string; headers: IncomingMessage['headers'] }[] = []
  readonly problems: string[] = []
  readonly events: unknown[] = []
  /** Check that each event is the sample event of its seq (CloudTrail format). */
  cloudtrail = true
  answer: (req: IncomingMessage) => Answer = () => ({ status: 200 })
  secret: string | undefined
  private loseNext: (() => void) | undefined
  private readonly server: Server
  port = 0

  constructor(tls: boolean) {
    const handler = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        this.requests.push({ url: req.url ?? '', headers: req.headers })
        this.check(req, body)
        const lose = this.loseNext
        if (lose !== undefined) {
          // Received, but the answer never reaches the sink: it must send these again.
          this.loseNext = undefined
          req.socket.destroy()
          lose()
          return
        }
        const a = this.answer(req)
        res.writeHead(a.status, a.headers ?? {})
        res.end(a.body ?? '')
      })
    }
    this.server = tls
      ? createHttpsServer({ cert: certs.certPem, key: certs.keyPem }, handler)
      : createHttpServer(handler)
  }

  private stopped = false

  async up(port = this.port): Promise<this> {
    if (this.stopped) return this
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /** For after the test, whatever happened in it. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.server.listening) await this.down()
  }

  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
  }

  /** Takes the next request's events but loses its answer, then goes down for `ms`. */
  async outage(ms: number): Promise<void> {
    await new Promise<void>((resolve) => (this.loseNext = resolve))
    await this.down()
    await sleep(ms)
    await this.up()
  }

  private check(req: IncomingMessage, body: Buffer): void {
    const problem = (p: string) => this.problems.push(p)
    if (req.headers['content-type'] !== 'application/json') problem('content-type')
    if (this.secret !== undefined) {
      const want = `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`
      if (req.headers['x-strongroom-signature'] !== want) problem('signature')
    }
    let events: { seq: number; event: { eventID?: string } }[]
    try {
      events = (JSON.parse(body.toString()) as { events: typeof events }).events
    } catch {
      problem('body is not JSON')
      return
    }
    const first = events[0]?.seq
    const last = events.at(-1)?.seq
    if (req.headers['x-strongroom-sequence'] !== `${first}-${last}`) problem('sequence header')
    for (const e of events) {
      if (this.cloudtrail && e.event.eventID !== sampleEvent(e.seq).eventID)
        problem(`event ${e.seq} is not its own`)
      this.seqs.push(e.seq)
      this.events.push(e.event)
    }
  }
}

async function freePort(): Promise<number> {
  const r = await new Receiver(false).up(0)
  await r.down()
  return r.port
}

describe('webhook sink', () => {
  it('delivers every event, in order once de-duplicated, through a receiver outage and a lost answer', async (t) => {
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    rx.secret = 'signing-key'
    const sink = await openWebhookSink({
      name: 'siem',
      spoolDir: spoolDir(),
      url: `https://127.0.0.1:${rx.port}/audit`,
      ca: certs.caPem,
      hmacSecret: 'signing-key',
      maxEvents: 100,
      lingerMs: 20,
      backoff: fast,
    })
    t.after(() => sink.close())
    let slowest = 0
    let outage: Promise<void> | undefined
    let backlog = 0
    for (let i = 0; i < 2000; i++) {
      const t = performance.now()
      sink.offer(i, sampleEvent(i))
      slowest = Math.max(slowest, performance.now() - t)
      if (i === 500) outage = rx.outage(2000)
      if (i % 20 === 19) {
        await sleep(10)
        backlog = Math.max(backlog, sink.status().spooled)
      }
    }
    await outage
    await sink.flush(15_000)
    assert.deepEqual(firstArrivals(rx.seqs), range(0, 2000))
    assert.ok(rx.seqs.length > 2000, 'the batch whose answer was lost came again')
    assert.deepEqual(rx.problems, [])
    assert.ok(backlog > 0, 'the outage was spooled to disk')
    assert.ok(slowest < 100, `an offer took ${slowest} ms`)
    const s = sink.status()
    assert.deepEqual(
      { delivered: s.delivered, queued: s.queued, spooled: s.spooled, retrying: s.retrying },
      { delivered: 1999, queued: 0, spooled: 0, retrying: false },
    )
    assert.equal(s.lastError, undefined)
    await sink.close()
    await rx.down()
  })

  it('resumes from its spool after being closed while the receiver was down', async (t) => {
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    const dir = spoolDir()
    const options = {
      name: 'siem',
      spoolDir: dir,
      url: `https://localhost:${rx.port}/audit`,
      ca: certs.caPem,
      maxEvents: 200,
      lingerMs: 10,
      backoff: fast,
    }
    const first = await openWebhookSink(options)
    t.after(() => first.close())
    for (let i = 0; i < 500; i++) first.offer(i, sampleEvent(i))
    await first.flush(5000)
    await rx.down()
    for (let i = 500; i < 1500; i++) first.offer(i, sampleEvent(i))
    await sleep(50)
    await first.close()
    assert.equal(first.status().spooled, 1000)

    // Owner-only on disk; a torn append (a crash in mid-write) is cut off when reopening.
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    const segments = readdirSync(dir).filter((n) => n.startsWith('spool-'))
    assert.ok(segments.length > 0)
    for (const n of segments) assert.equal(statSync(join(dir, n)).mode & 0o777, 0o600)
    appendFileSync(join(dir, segments.sort().at(-1) ?? ''), '{"seq":1500,"event":{"eventV')

    const second = await openWebhookSink(options)
    t.after(() => second.close())
    assert.equal(second.highestAccepted(), 1499)
    assert.equal(second.status().delivered, 499)
    assert.equal(second.status().spooled, 1000)
    // The owner re-offers from the log; what the sink already holds is ignored.
    for (let i = 1400; i < 2000; i++) second.offer(i, sampleEvent(i))
    await rx.up()
    await second.flush(10_000)
    assert.deepEqual(firstArrivals(rx.seqs), range(0, 2000))
    assert.deepEqual(rx.problems, [])
    await second.close()
    assert.deepEqual(readdirSync(dir), ['cursor.json'], 'delivered segments are deleted')
    await rx.down()
  })

  it('past the spool cap, drops and counts events without an offer ever throwing or waiting', async (t) => {
    const port = await freePort()
    const sink = await openWebhookSink({
      name: 'capped',
      spoolDir: spoolDir(),
      url: `http://127.0.0.1:${port}/`,
      maxQueued: 50,
      maxSpoolBytes: 32 << 10,
      segmentBytes: 8 << 10,
      maxEvents: 20,
      lingerMs: 0,
      backoff: fast,
    })
    t.after(() => sink.close())
    let slowest = 0
    for (let i = 0; i < 3000; i++) {
      const t = performance.now()
      sink.offer(i, sampleEvent(i))
      slowest = Math.max(slowest, performance.now() - t)
      if (i % 10 === 9) await sleep(1)
    }
    const s = sink.status()
    assert.ok(s.dropping && s.dropped > 0, JSON.stringify(s))
    assert.ok(s.retrying)
    assert.ok(s.spoolBytes <= 32 << 10, `the spool holds ${s.spoolBytes} bytes`)
    assert.ok(slowest < 100, `an offer took ${slowest} ms`)

    const rx = await new Receiver(false).up(port)
    t.after(() => rx.stop())
    await sink.flush(10_000)
    // Every offer either arrived, in order, or was counted as dropped.
    const arrived = firstArrivals(rx.seqs)
    assert.deepEqual(
      arrived,
      [...arrived].sort((a, b) => a - b),
    )
    assert.equal(arrived.length + s.dropped, 3000)
    assert.equal(arrived.at(-1), s.accepted)
    // The next event is accepted again; the receiver sees the gap in seq.
    sink.offer(3000, sampleEvent(3000))
    assert.equal(sink.status().dropping, false)
    await sink.flush(5000)
    assert.equal(rx.seqs.at(-1), 3000)
    assert.equal(sink.status().spoolBytes, 0)
    await sink.close()
    await rx.down()
  })

  it('never shows the bearer token or the URL path and query, whatever the receiver answers', async (t) => {
    const token = `tok-${randomBytes(16).toString('hex')}`
    const pathKey = `p${randomBytes(8).toString('hex')}`
    const queryKey = `q${randomBytes(8).toString('hex')}`
    const secrets = [token, pathKey, queryKey]
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    // A receiver that echoes the credentials back, in a header and in the body.
    rx.answer = (req) => ({
      status: 401,
      headers: { 'WWW-Authenticate': `Bearer error="${String(req.headers.authorization)}"` },
      body: `no: ${String(req.headers.authorization)} ${req.url ?? ''}`,
    })
    const sink = await openWebhookSink({
      name: 'secretive',
      spoolDir: spoolDir(),
      url: `https://127.0.0.1:${rx.port}/hook/${pathKey}?key=${queryKey}`,
      ca: certs.caPem,
      token,
      lingerMs: 0,
      backoff: fast,
    })
    t.after(() => sink.close())
    const shows = (text: string) => secrets.filter((x) => text.includes(x))
    for (let i = 0; i < 10; i++) sink.offer(i, sampleEvent(i))
    while (sink.status().lastError === undefined) await sleep(5)
    assert.match(sink.status().lastError ?? '', /refused events 0-9 with 401/)
    assert.deepEqual(shows(JSON.stringify(sink.status())), [])
    assert.equal(rx.requests[0]?.headers.authorization, `Bearer ${token}`)
    assert.equal(rx.requests[0].url, `/hook/${pathKey}?key=${queryKey}`)

    await rx.down()
    while (!/could not be reached/.test(sink.status().lastError ?? '')) await sleep(5)
    assert.deepEqual(shows(JSON.stringify(sink.status())), [])
    await assert.rejects(sink.flush(50), (e: Error) => {
      assert.ok(isStrongroomError(e, 'SERVICE_UNAVAILABLE'))
      assert.deepEqual(shows(`${e.message} ${e.stack ?? ''}`), [])
      return true
    })

    // Refusals are retried, not dropped: once the receiver accepts, everything arrives.
    rx.answer = () => ({ status: 200 })
    await rx.up()
    await sink.flush(5000)
    assert.deepEqual(firstArrivals(rx.seqs), range(0, 10))
    await sink.close()
    await rx.down()
  })

  it('refuses a receiver whose certificate it cannot verify, and keeps the events', async (t) => {
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    const sink = await openWebhookSink({
      name: 'untrusting',
      spoolDir: spoolDir(),
      url: `https://127.0.0.1:${rx.port}/`,
      lingerMs: 0,
      backoff: fast,
    })
    t.after(() => sink.close())
    sink.offer(0, sampleEvent(0))
    while (sink.status().lastError === undefined) await sleep(5)
    assert.match(sink.status().lastError ?? '', /could not be reached: [A-Z_]+/)
    assert.deepEqual(rx.requests, [])
    assert.equal(sink.status().delivered, -1)
  })

  it('honours Retry-After', async (t) => {
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    const times: number[] = []
    rx.answer = () => {
      times.push(Date.now())
      return times.length === 1 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 200 }
    }
    const sink = await openWebhookSink({
      name: 'polite',
      spoolDir: spoolDir(),
      url: `https://127.0.0.1:${rx.port}/`,
      ca: certs.caPem,
      lingerMs: 0,
      backoff: fast,
    })
    t.after(() => sink.close())
    sink.offer(0, sampleEvent(0))
    await sink.flush(5000)
    assert.equal(times.length, 2)
    assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 950, 'waited as asked')
    await sink.close()
    await rx.down()
  })

  it('sends OCSF when asked, through the mapping it is given', async (t) => {
    const rx = await new Receiver(true).up(0)
    t.after(() => rx.stop())
    rx.cloudtrail = false
    rx.answer = () => ({ status: 204 })
    const sink = await openWebhookSink({
      name: 'ocsf',
      spoolDir: spoolDir(),
      url: `https://127.0.0.1:${rx.port}/`,
      ca: certs.caPem,
      format: 'ocsf',
      toOcsf: (e) => ({ class_uid: 6003, api: { operation: e.eventName } }),
      lingerMs: 0,
    })
    t.after(() => sink.close())
    sink.offer(0, sampleEvent(0))
    await sink.flush(5000)
    assert.deepEqual(rx.events, [{ class_uid: 6003, api: { operation: 'GetObject' } }])
    assert.deepEqual(rx.problems, [])
    await sink.close()
    await rx.down()
  })

  it('refuses plain http beyond loopback, credentials in the URL, and OCSF without a mapping', async () => {
    const base = { name: 'bad', spoolDir: spoolDir() }
    const invalid = (e: Error) => isStrongroomError(e, 'CONFIG_INVALID')
    await assert.rejects(openWebhookSink({ ...base, url: 'http://siem.example/x' }), invalid)
    await assert.rejects(openWebhookSink({ ...base, url: 'not a url' }), invalid)
    await assert.rejects(
      openWebhookSink({ ...base, url: 'https://u:hunter2@siem.example/' }),
      (e: Error) => invalid(e) && !e.message.includes('hunter2'),
    )
    await assert.rejects(
      openWebhookSink({ ...base, url: 'https://siem.example/', token: 'a\r\nX-Evil: 1' }),
      invalid,
    )
    await assert.rejects(
      openWebhookSink({ ...base, url: 'https://siem.example/', format: 'ocsf' }),
      invalid,
    )
  })

  it('splits a batch at maxBytes, one event at least', () => {
    const batch = range(0, 10).map((seq) => ({ seq, event: sampleEvent(seq) }))
    const one = JSON.stringify({ events: [{ seq: 0, event: sampleEvent(0) }] }).length
    assert.equal(encode(batch, (e) => e, 10).count, 1)
    assert.equal(encode(batch, (e) => e, one * 3).count, 3)
    const { body, count } = encode(batch, (e) => e, 1 << 20)
    assert.equal(count, 10)
    assert.deepEqual(JSON.parse(body.toString()), { events: batch })
  })

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    assert.equal(parseRetryAfter('3', now), 3000)
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000)
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0)
    assert.equal(parseRetryAfter('soon', now), undefined)
    assert.equal(parseRetryAfter(undefined, now), undefined)
  })
})
