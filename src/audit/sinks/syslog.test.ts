/**
 * The syslog sink against a real TLS receiver (node:tls, a certificate from the gateway's own CA
 * code) that splits RFC 5425 octet-counted frames and parses RFC 5424 with a parser written
 * here from the RFC, sharing no code with the sink: the exact bytes of one message, escaping of
 * SD-PARAM values and framing as properties, and every event arriving through an outage.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import { createServer, type Server } from 'node:tls'
import fc from 'fast-check'
import { isStrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import { escapeSdParam, octetFrame, openSyslogSink, syslogMessage } from './syslog.ts'
import { firstArrivals, range, sampleEvent, testCertificates } from './testing.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-syslog-'))
after(() => rmSync(work, { recursive: true, force: true }))
let dirs = 0
const spoolDir = () => join(work, `spool-${dirs++}`)
const certs = testCertificates()

// ---- a receiver's parsers, from RFC 5425 §4.3 and RFC 5424 §6

/** Splits octet-counted frames (`MSG-LEN SP SYSLOG-MSG`) out of a byte stream fed in any chunks. */
class Frames {
  private buf = Buffer.alloc(0)
  push(chunk: Uint8Array): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk])
    const out: Buffer[] = []
    for (;;) {
      const sp = this.buf.indexOf(0x20)
      if (sp < 0) break
      const len = this.buf.subarray(0, sp).toString('ascii')
      assert.match(len, /^[1-9]\d{0,8}$/, 'MSG-LEN is NONZERO-DIGIT *DIGIT')
      const n = Number(len)
      if (this.buf.length < sp + 1 + n) break
      out.push(Buffer.from(this.buf.subarray(sp + 1, sp + 1 + n)))
      this.buf = this.buf.subarray(sp + 1 + n)
    }
    return out
  }
}

interface Parsed {
  pri: number
  version: string
  timestamp: string
  hostname: string
  app: string
  procId: string
  msgId: string
  sd: { id: string; params: [string, string][] }[]
  msg: Buffer
}

/** One SD-ELEMENT at `at`: `[` SD-ID *(SP PARAM-NAME `="` PARAM-VALUE `"`) `]`. */
function parseSdElement(
  s: string,
  at: number,
): { id: string; params: [string, string][]; end: number } {
  assert.equal(s[at], '[')
  let i = at + 1
  const name = () => {
    const start = i
    while (i < s.length && !' =]"'.includes(s[i] ?? '')) i++
    return s.slice(start, i)
  }
  const id = name()
  const params: [string, string][] = []
  while (s[i] === ' ') {
    i++
    const key = name()
    assert.equal(s.slice(i, i + 2), '="')
    i += 2
    let value = ''
    for (;;) {
      const c = s[i]
      assert.ok(c !== undefined, 'an unterminated PARAM-VALUE')
      if (c === '"') break
      // §6.3.3: `\` before `"`, `\` or `]` escapes it; before anything else it is itself.
      const next = s[i + 1] ?? ''
      if (c === '\\' && next !== '' && '"\\]'.includes(next)) {
        value += next
        i += 2
        continue
      }
      assert.notEqual(c, ']', 'an unescaped `]` in a PARAM-VALUE')
      value += c
      i++
    }
    i++
    params.push([key, value])
  }
  assert.equal(s[i], ']')
  return { id, params, end: i + 1 }
}

function parseMessage(m: Buffer): Parsed {
  const bom = m.indexOf(Buffer.from([0xef, 0xbb, 0xbf]))
  assert.ok(bom > 0, 'MSG starts with a BOM')
  const head = m.subarray(0, bom).toString('utf8')
  const pri = /^<(\d{1,3})>/.exec(head)
  assert.ok(pri?.[1])
  const fields = head.slice(pri[0].length).split(' ')
  const [version = '', timestamp = '', hostname = '', app = '', procId = '', msgId = ''] = fields
  for (const f of [hostname, app, procId, msgId]) assert.match(f, /^[\x21-\x7e]+$/)
  assert.ok(hostname.length <= 255 && app.length <= 48 && procId.length <= 128)
  assert.ok(msgId.length <= 32)
  let i = pri[0].length + fields.slice(0, 6).join(' ').length + 1
  const sd: Parsed['sd'] = []
  while (head[i] === '[') {
    const e = parseSdElement(head, i)
    sd.push({ id: e.id, params: e.params })
    i = e.end
  }
  assert.equal(head.slice(i), ' ', 'one space between STRUCTURED-DATA and MSG')
  return {
    pri: Number(pri[1]),
    version,
    timestamp,
    hostname,
    app,
    procId,
    msgId,
    sd,
    msg: m.subarray(bom + 3),
  }
}

/** The seq a message carries in its structured data. */
function seqOf(m: Buffer): number {
  const p = parseMessage(m)
  return Number(p.sd[0]?.params.find(([k]) => k === 'seq')?.[1])
}

// ---- a real receiver

class Receiver {
  readonly messages: Buffer[] = []
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor() {
    this.server = createServer({ cert: certs.certPem, key: certs.keyPem }, (socket) => {
      this.sockets.add(socket)
      const frames = new Frames()
      socket.on('data', (d: Buffer) => this.messages.push(...frames.push(d)))
      socket.on('error', () => {})
      socket.on('close', () => this.sockets.delete(socket))
    })
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
    for (const s of this.sockets) s.destroy()
    await closed
  }

  async until(n: number): Promise<void> {
    while (this.messages.length < n) await sleep(5)
  }
}

describe('syslog sink', () => {
  it('sends RFC 5424 over TLS, octet-counted, byte for byte', async (t) => {
    const rx = await new Receiver().up(0)
    t.after(() => rx.stop())
    const sink = await openSyslogSink({
      name: 'syslog',
      spoolDir: spoolDir(),
      host: '127.0.0.1',
      port: rx.port,
      ca: certs.caPem,
      hostname: 'gw-1.example',
    })
    t.after(() => sink.close())
    const allowed = sampleEvent(0)
    const base = sampleEvent(1, { eventName: 'Put Object\u00e9' + 'X'.repeat(40) })
    const hostile: AuditEvent = {
      ...base,
      errorCode: 'AccessDenied',
      strongroom: {
        ...base.strongroom,
        decision: 'ImplicitDeny"] \\x' as AuditEvent['strongroom']['decision'],
      },
    }
    sink.offer(0, allowed)
    sink.offer(1, hostile)
    await sink.flush(5000)
    await rx.until(2)
    const pid = process.pid
    const bom = '\u{feff}'
    assert.equal(
      rx.messages[0]?.toString('utf8'),
      `<110>1 2026-01-02T03:04:05Z gw-1.example strongroom ${pid} GetObject ` +
        `[strongroom@32473 seq="0" decision="Allow"] ${bom}${JSON.stringify(allowed)}`,
    )
    assert.equal(
      rx.messages[1]?.toString('utf8'),
      `<108>1 2026-01-02T03:04:05Z gw-1.example strongroom ${pid} PutObject${'X'.repeat(23)} ` +
        `[strongroom@32473 seq="1" decision="ImplicitDeny\\"\\] \\\\x"] ${bom}${JSON.stringify(hostile)}`,
    )
    const p = parseMessage(rx.messages[1])
    assert.deepEqual(p.sd, [
      {
        id: 'strongroom@32473',
        params: [
          ['seq', '1'],
          ['decision', 'ImplicitDeny"] \\x'],
        ],
      },
    ])
    assert.deepEqual(JSON.parse(p.msg.toString('utf8')), hostile)
    await sink.close()
    await rx.down()
  })

  it('escapes any SD-PARAM value so that a receiver reads it back unchanged', () => {
    // Any Unicode scalar, with the characters RFC 5424 gives a meaning to made frequent.
    const sdUnit = fc.oneof(
      fc.constantFrom('"', '\\', ']', '[', '=', ' ', '\n', '\u0000'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    )
    fc.assert(
      fc.property(fc.string({ unit: sdUnit }), fc.nat(), (value, seq) => {
        const e = sampleEvent(seq)
        const event = {
          ...e,
          strongroom: { ...e.strongroom, decision: value as AuditEvent['strongroom']['decision'] },
        }
        const m = parseMessage(
          syslogMessage(seq, event, { v: value }, { facility: 13, hostname: 'h', procId: '1' }),
        )
        assert.deepEqual(m.sd[0]?.params, [
          ['seq', String(seq)],
          ['decision', value],
        ])
        assert.deepEqual(JSON.parse(m.msg.toString('utf8')), { v: value })
        const sd = `[x k="${escapeSdParam(value)}"]`
        assert.deepEqual(parseSdElement(sd, 0), { id: 'x', params: [['k', value]], end: sd.length })
      }),
    )
  })

  it('frames any messages so that a receiver splits them back, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => octetFrame(m)))
          const frames = new Frames()
          const out: Buffer[] = []
          for (let at = 0, k = 0; at < stream.length; k++) {
            const n = cuts[k % cuts.length] ?? 1
            out.push(...frames.push(stream.subarray(at, at + n)))
            at += n
          }
          assert.deepEqual(
            out.map((b) => [...b]),
            messages.map((m) => [...m]),
          )
        },
      ),
    )
  })

  it('delivers every event through a receiver outage, resending what a broken connection may have lost', async (t) => {
    const rx = await new Receiver().up(0)
    t.after(() => rx.stop())
    const sink = await openSyslogSink({
      name: 'syslog',
      spoolDir: spoolDir(),
      host: 'localhost',
      port: rx.port,
      ca: certs.caPem,
      maxEvents: 50,
      backoff: { baseMs: 10, capMs: 100 },
    })
    t.after(() => sink.close())
    for (let i = 0; i < 600; i++) {
      sink.offer(i, sampleEvent(i, { decision: i % 7 === 0 ? 'ExplicitDeny' : 'Allow' }))
      if (i === 200) await rx.down()
      if (i === 400) await rx.up()
      if (i % 20 === 19) await sleep(5)
    }
    await sink.flush(10_000)
    // Flushed means handed to the kernel (syslog has no acknowledgement): let the receiver read.
    const deadline = Date.now() + 5000
    while (new Set(rx.messages.map(seqOf)).size < 600 && Date.now() < deadline) await sleep(5)
    const seqs = rx.messages.map(seqOf)
    assert.deepEqual(firstArrivals(seqs), range(0, 600))
    assert.ok(seqs.length > 600, 'what was written before the break was sent again')
    for (const m of rx.messages) {
      const p = parseMessage(m)
      const seq = seqOf(m)
      assert.equal(p.pri, seq % 7 === 0 ? 108 : 110)
    }
    await sink.close()
    await rx.down()
  })

  it('refuses a server whose certificate it cannot verify, and keeps the events', async (t) => {
    const rx = await new Receiver().up(0)
    t.after(() => rx.stop())
    const sink = await openSyslogSink({
      name: 'syslog',
      spoolDir: spoolDir(),
      host: '127.0.0.1',
      port: rx.port,
      backoff: { baseMs: 10, capMs: 50 },
    })
    t.after(() => sink.close())
    sink.offer(0, sampleEvent(0))
    while (sink.status().lastError === undefined) await sleep(5)
    assert.match(sink.status().lastError ?? '', /cannot connect/)
    assert.equal(rx.messages.length, 0)
    assert.equal(sink.status().delivered, -1)
    await sink.close()
    assert.equal(sink.status().spooled, 1)
    await rx.down()
  })

  it('refuses a facility outside 0-23', async () => {
    await assert.rejects(
      openSyslogSink({ name: 's', spoolDir: spoolDir(), host: 'h', facility: 24 }),
      (e: Error) => isStrongroomError(e, 'CONFIG_INVALID'),
    )
  })
})
