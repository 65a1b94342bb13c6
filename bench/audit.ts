/**
 * Audit trail benchmarks (issue 15), each figure beside a baseline measured in the same run:
 *
 *   1. durable events per second: N real records (the JSON of a PutObject event the gateway
 *      wrote, each with its own eventID and requestID) appended to an AuditLog by K concurrent
 *      producers, each awaiting its append before the next, timed until every append has
 *      resolved and the log is closed (the final checkpoint included); K = 64 (a busy gateway),
 *      1,000 and 10,000. Baseline, just before and after each (the faster): the same bytes
 *      appended to one file with FileHandle.appendFile (8,192 records per call, the log's
 *      largest group) and ONE fdatasync at the end: what the bytes alone cost.
 *   2. 4 KiB GETs (and PUTs) through three in-process gateways on the main thread, driven by
 *      16 (and 1) keep-alive clients on a worker thread (the other core) signing SigV4 over
 *      node:http: the real AuditLog fail-closed (the default: an answer waits until its event
 *      is durable), the same with `reads: 'best-effort'`, and a null sink (events built and
 *      encoded, then dropped). Rounds take the gateways in rotating order; latencies are
 *      pooled. The fail-closed sink notes each append's wait and the records per group commit.
 *   3. verify: a log of M records written with TileWriter (the tiles a gateway's log holds),
 *      then verifyLog over it (signature, every record rehashed, every tile rebuilt, the root)
 *      against SHA-256 of the same bytes in one pass (node:crypto hash), ABBA, best of two;
 *      once with the PutObject records, once with ~1 KB ones (a real CreateBucket event).
 *
 * Usage: node bench/audit.ts [--events N] [--gets N] [--puts N] [--rounds N] [--verify N]
 *          [--only durable,get,verify] [--json]
 *      --gets / --puts: requests per gateway per round (default 3,000 and 1,000, 5 rounds)
 */
import { createHmac, hash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import type { EventLog, EventSink } from '../src/api/audit-stage.ts'
import {
  canonicalRequest,
  EMPTY_SHA256,
  signingKey,
  stringToSign,
  type ParsedAuth,
} from '../src/api/sigv4.ts'
import { AuditLog } from '../src/audit/log.ts'
import { generateKey } from '../src/audit/tlog/note.ts'
import { TileWriter } from '../src/audit/tlog/tiles.ts'
import { verifyLog } from '../src/audit/tlog/verify.ts'
import { startInProcess, type InProcess } from '../test/api/inprocess.ts'

// ---- the load generator (worker thread): signs and sends, answers the latencies
interface Job {
  readonly url: string
  readonly id: string
  readonly secret: string
  readonly method: 'GET' | 'PUT'
  readonly prefix: string
  readonly keys: number
  readonly count: number
  readonly clients: number
  readonly body?: Uint8Array
  readonly bodySha?: string
}

if (!isMainThread) {
  const agents = new Map<string, Agent>()
  parentPort?.on('message', (job: Job) => {
    void load(job, agents).then((r) => parentPort?.postMessage(r))
  })
}

const CONCURRENCY = 16
const REGION = 'us-east-1'
let scoped: { id: string; date: string; key: ReturnType<typeof signingKey> } | undefined

/** SigV4 header signing of an S3 request, as the SDKs do it (the payload's SHA-256 signed). */
function sign(job: Job, path: string, host: string): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '')
  const date = amzDate.slice(0, 8)
  const credential = { accessKeyId: job.id, date, region: REGION, service: 's3' }
  if (scoped?.date !== date || scoped.id !== job.id)
    scoped = { id: job.id, date, key: signingKey(job.secret, credential) }
  const payloadHash = job.bodySha ?? EMPTY_SHA256
  const headers: Record<string, string> = {
    host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  }
  const auth: ParsedAuth = {
    kind: 'header',
    credential,
    signedHeaders: Object.keys(headers).sort(),
    signature: '',
    amzDate,
    expires: undefined,
    payloadHash,
    securityToken: undefined,
  }
  const view = { method: job.method, rawPath: path, rawQuery: '', headers }
  const toSign = stringToSign(auth, canonicalRequest(view, [], auth))
  const signature = createHmac('sha256', scoped.key).update(toSign).digest('hex')
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${job.id}/${date}/${REGION}/s3/aws4_request, SignedHeaders=${auth.signedHeaders.join(';')}, Signature=${signature}`
  headers['user-agent'] = USER_AGENT
  if (job.body !== undefined) headers['content-length'] = String(job.body.length)
  return headers
}

/** What the AWS SDK for JavaScript sends, so that events carry a user agent of the usual size. */
const USER_AGENT =
  'aws-sdk-js/3.700.0 ua/2.1 os/linux#6.8.0 lang/js md/nodejs#24.21.0 api/s3#3.700.0 m/E,N'

async function load(job: Job, agents: Map<string, Agent>): Promise<Float64Array> {
  const target = new URL(job.url)
  let agent = agents.get(job.url)
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    agents.set(job.url, agent)
  }
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const path = `${job.prefix}${i % job.keys}`
      const req = request(
        { host: target.hostname, port: target.port, path, method: job.method, agent },
        (res) => {
          let error = ''
          res.on('data', (d: Buffer) => {
            if (res.statusCode !== 200) error += d.toString()
          })
          res.on('end', () =>
            res.statusCode === 200
              ? resolve()
              : reject(new Error(`${job.method} ${path}: ${res.statusCode} ${error}`)),
          )
        },
      )
      for (const [k, v] of Object.entries(sign(job, path, target.host))) req.setHeader(k, v)
      req.on('error', reject)
      req.end(job.body === undefined ? undefined : Buffer.from(job.body))
    })
  const latencies = new Float64Array(job.count)
  let next = 0
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      for (let i = next++; i < job.count; i = next++) {
        const s = performance.now()
        await one(i)
        latencies[i] = performance.now() - s
      }
    }),
  )
  return latencies
}

// ---- the main thread
const pct = (sorted: ArrayLike<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
const sortedOf = (xs: Iterable<number>) => Float64Array.from(xs).sort()
const int = (x: number) => Math.round(x).toLocaleString('en')
const ORIGIN = 'bench-audit'
const output = { json: false, rows: [] as string[] }
const say = (s: string) => {
  if (!output.json) console.log(s)
}
const row = (cells: readonly string[]) => output.rows.push(`| ${cells.join(' | ')} |`)

/** Sends one job at a time to the load generator. */
function loader(): { run: (job: Job) => Promise<Float64Array>; stop: () => Promise<number> } {
  const w = new Worker(new URL(import.meta.url))
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        w.once('message', (latencies: Float64Array) => {
          w.off('error', reject)
          resolve(latencies)
        })
        w.once('error', reject)
        w.postMessage(job)
      }),
    stop: () => w.terminate(),
  }
}

/** The bytes of a real CreateBucket and PutObject event, as the gateway encodes them for its log. */
async function realEvents(work: string): Promise<{ createBucket: Buffer; putObject: Buffer }> {
  const got: Buffer[] = []
  const log: EventLog = {
    append: (b) => Promise.resolve(got.push(Buffer.from(b))),
    enqueue: () => undefined,
    problem: () => undefined,
    ready: () => Promise.resolve(),
  }
  const g = await startInProcess(mkdtempSync(join(work, 'capture-')), {
    events: { log, hmacKey: randomBytes(32), region: REGION },
  })
  try {
    const headers = { 'user-agent': USER_AGENT }
    await g.send(g.admin, { method: 'PUT', path: '/datasets', headers })
    const r = await g.send(g.admin, {
      method: 'PUT',
      path: '/datasets/shard-00042/part-0001234.parquet',
      headers,
      body: 'x'.repeat(4096),
    })
    const [createBucket, putObject] = got
    if (r.status !== 200 || putObject === undefined || createBucket === undefined)
      throw new Error(`PutObject: ${r.status}`)
    return { createBucket, putObject }
  } finally {
    await g.close()
  }
}

/**
 * `n` records made from `event`, one after another in one buffer, each with its own eventID
 * (a fresh UUID) and requestID, all of the same length.
 */
function corpus(event: Buffer, n: number): { all: Buffer; len: number; at: (i: number) => Buffer } {
  const e = JSON.parse(event.toString()) as Record<string, unknown>
  const template = Buffer.from(
    JSON.stringify({ ...e, requestID: 'R'.repeat(16), eventID: 'E'.repeat(36) }),
  )
  const len = template.length
  const rAt = template.indexOf('R'.repeat(16))
  const eAt = template.indexOf('E'.repeat(36))
  const all = Buffer.allocUnsafe(n * len).fill(template)
  for (let i = 0; i < n; i++) {
    all.write(i.toString(16).toUpperCase().padStart(16, '0'), i * len + rAt, 'latin1')
    all.write(randomUUID(), i * len + eAt, 'latin1')
  }
  return { all, len, at: (i) => all.subarray(i * len, (i + 1) * len) }
}

const openLog = (dir: string) => {
  const keys = generateKey(ORIGIN)
  return AuditLog.open({ dir, ...keys, origin: ORIGIN, onAlert: (p) => console.error(p) })
}

/** Events/s: `n` records appended by `k` producers, until all resolved and the log closed. */
async function durable(c: ReturnType<typeof corpus>, n: number, k: number, work: string) {
  const dir = mkdtempSync(join(work, 'durable-'))
  const log = await openLog(dir)
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      for (let i = next++; i < n; i = next++) await log.append(c.at(i))
    }),
  )
  await log.close()
  const seconds = (performance.now() - t0) / 1000
  if (log.size !== n) throw new Error(`the log holds ${log.size} records, not ${n}`)
  rmSync(dir, { recursive: true, force: true })
  return n / seconds
}

/** Events/s of the baseline: the same bytes appended to one file, one fdatasync at the end. */
async function bytesAlone(c: ReturnType<typeof corpus>, n: number, work: string) {
  const path = join(work, 'bytes-alone')
  const fh = await open(path, 'a', 0o600)
  const t0 = performance.now()
  for (let i = 0; i < n; i += 8192)
    await fh.appendFile(c.all.subarray(i * c.len, Math.min(n, i + 8192) * c.len))
  await fh.datasync()
  const seconds = (performance.now() - t0) / 1000
  await fh.close()
  rmSync(path, { force: true })
  return n / seconds
}

interface Side {
  readonly name: string
  readonly g: InProcess
  readonly lat: number[]
  readonly rate: number[]
}

/**
 * A real AuditLog as the gateway's EventLog, noting each append's wait and its group (the log's
 * size when it resolves).
 */
function timedLog(log: AuditLog) {
  const stats = { waits: [] as number[], groups: new Set<number>() }
  const sink: EventLog = {
    append: (b) => {
      const t = performance.now()
      return log.append(b).then((i) => {
        stats.waits.push(performance.now() - t)
        stats.groups.add(log.size)
        return i
      })
    },
    enqueue: (b) => log.enqueue(b),
    problem: () => log.problem(),
    ready: () => log.ready(),
  }
  return { sink, stats, reset: () => Object.assign(stats, { waits: [], groups: new Set() }) }
}

/** p50 of one group commit's I/O alone (fstat, write, fdatasync, as AuditLog.commit does). */
async function groupIo(dir: string, bytes: number): Promise<number> {
  const fh = await open(join(dir, 'probe'), 'w', 0o600)
  const buf = Buffer.alloc(Math.max(1, Math.round(bytes)), 0x61)
  const lat: number[] = []
  for (let i = 0, at = 0; i < 300; i++, at += buf.length) {
    const t = performance.now()
    await fh.stat()
    await fh.write(buf, 0, buf.length, at)
    await fh.datasync()
    lat.push(performance.now() - t)
  }
  await fh.close()
  rmSync(join(dir, 'probe'), { force: true })
  return pct(sortedOf(lat), 0.5)
}

interface Phase {
  readonly summary: Record<string, { p50ms: number; p99ms: number; opsPerSec: number }>
  readonly perRound: Record<string, number>[]
  readonly appendWaitP50ms: number
  readonly appendWaitP99ms: number
  readonly recordsPerGroup: number
}

/** Section 2: three gateways on this thread, the load from a worker, rounds in rotating order. */
async function gatewayRuns(
  work: string,
  o: { gets: number; puts: number; rounds: number; recordBytes: number },
): Promise<Record<string, unknown>> {
  const hmacKey = randomBytes(32)
  const failClosedLog = await openLog(mkdtempSync(join(work, 'log-fail-closed-')))
  const bestEffortLog = await openLog(mkdtempSync(join(work, 'log-best-effort-')))
  const timed = timedLog(failClosedLog)
  const bestEffort = timedLog(bestEffortLog)
  const nullLog: EventLog = {
    append: () => Promise.resolve(0),
    enqueue: () => undefined,
    problem: () => undefined,
    ready: () => Promise.resolve(),
  }
  const side = async (name: string, events: EventSink): Promise<Side> => ({
    name,
    g: await startInProcess(mkdtempSync(join(work, 'gw-')), { events }),
    lat: [],
    rate: [],
  })
  const sides = [
    await side('fail-closed', { log: timed.sink, hmacKey, region: REGION }),
    await side('best-effort', {
      log: bestEffort.sink,
      hmacKey,
      region: REGION,
      reads: 'best-effort',
    }),
    await side('null', { log: nullLog, hmacKey, region: REGION }),
  ] as const
  const l = loader()
  const body = new Uint8Array(4096).fill(3)
  const bodySha = hash('sha256', body)
  const job = (s: Side, method: 'GET' | 'PUT', count: number, clients = CONCURRENCY): Job => ({
    url: s.g.running.url,
    id: s.g.admin.id,
    secret: s.g.admin.secret,
    method,
    prefix: method === 'GET' ? '/bench/obj/' : '/bench/put/',
    keys: method === 'GET' ? 100 : 1000,
    count,
    clients,
    ...(method === 'PUT' ? { body, bodySha } : {}),
  })
  /** Rounds over `among`, in rotating order; each side's latencies pooled. */
  const rounds = async (
    among: readonly Side[],
    method: 'GET' | 'PUT',
    count: number,
    clients = CONCURRENCY,
  ): Promise<Phase> => {
    for (const s of among) {
      s.lat.length = 0
      s.rate.length = 0
    }
    timed.reset()
    const perRound: Record<string, number>[] = []
    for (let r = 0; r < o.rounds; r++) {
      const p50s: Record<string, number> = {}
      for (let j = 0; j < among.length; j++) {
        const s = among[(r + j) % among.length] as Side
        const t = performance.now()
        const lat = await l.run(job(s, method, count, clients))
        s.rate.push(count / ((performance.now() - t) / 1000))
        for (const x of lat) s.lat.push(x)
        p50s[s.name] = pct(sortedOf(lat), 0.5)
      }
      perRound.push(p50s)
    }
    const waits = sortedOf(timed.stats.waits)
    const summary = Object.fromEntries(
      among.map((s) => {
        const sorted = sortedOf(s.lat)
        const ops = s.rate.reduce((a, b) => a + b, 0) / s.rate.length
        return [s.name, { p50ms: pct(sorted, 0.5), p99ms: pct(sorted, 0.99), opsPerSec: ops }]
      }),
    )
    return {
      summary,
      perRound,
      appendWaitP50ms: pct(waits, 0.5),
      appendWaitP99ms: pct(waits, 0.99),
      recordsPerGroup: timed.stats.waits.length / Math.max(1, timed.stats.groups.size),
    }
  }
  try {
    for (const s of sides) {
      const r = await s.g.send(s.g.admin, { method: 'PUT', path: '/bench' })
      if (r.status !== 200) throw new Error(`CreateBucket: ${r.status} ${r.body}`)
      await l.run({ ...job(s, 'PUT', 100), keys: 100, prefix: '/bench/obj/' })
      await l.run(job(s, 'GET', 1000))
    }
    const gets = await rounds(sides, 'GET', o.gets)
    const single = await rounds(sides, 'GET', Math.ceil(o.gets / 3), 1)
    const puts = await rounds([sides[0], sides[2]], 'PUT', o.puts)
    const io = await groupIo(failClosedLog.dir, gets.recordsPerGroup * o.recordBytes)
    const fmt = (x: Phase['summary'][string] | undefined) =>
      x === undefined
        ? '?'
        : `p50 ${x.p50ms.toFixed(2)} ms, p99 ${x.p99ms.toFixed(2)} ms (${int(x.opsPerSec)}/s)`
    const line = (what: string, x: Phase, name: string, target: string, bold = false) => {
      const rs = x.perRound.map((p) => (p[name] ?? NaN) / (p.null ?? NaN)).sort((a, b) => a - b)
      const ratio = ((x.summary[name]?.p50ms ?? NaN) / (x.summary.null?.p50ms ?? NaN)).toFixed(2)
      row([
        what,
        fmt(x.summary[name]),
        `null sink: ${fmt(x.summary.null)}`,
        `p50 ${bold ? `**${ratio}**` : ratio} (rounds ${(rs[0] ?? NaN).toFixed(2)}–${(rs.at(-1) ?? NaN).toFixed(2)})`,
        target,
      ])
    }
    const n = (k: number) => `${o.rounds} rounds × ${int(k)}`
    line(
      `4 KiB GET, ${n(o.gets)}, 16 clients: fail-closed (the default)`,
      gets,
      'fail-closed',
      'p50 ≤ 1.05',
      true,
    )
    line(`4 KiB GET, the same: \`reads: 'best-effort'\``, gets, 'best-effort', '—')
    line(
      `4 KiB GET, ${n(Math.ceil(o.gets / 3))}, 1 client: fail-closed`,
      single,
      'fail-closed',
      '—',
    )
    line(`4 KiB GET, the same, 1 client: \`reads: 'best-effort'\``, single, 'best-effort', '—')
    line(`4 KiB PUT, ${n(o.puts)}, 16 clients: fail-closed`, puts, 'fail-closed', '—')
    const waited = (what: string, x: Phase) =>
      say(
        `${what}: each append waited p50 ${x.appendWaitP50ms.toFixed(2)} ms (p99 ${x.appendWaitP99ms.toFixed(2)} ms), ${x.recordsPerGroup.toFixed(1)} records per group commit`,
      )
    waited('fail-closed GETs, 16 clients', gets)
    waited('fail-closed GETs, 1 client', single)
    waited('fail-closed PUTs, 16 clients', puts)
    say(
      `one group's I/O alone (fstat + write of ${int(gets.recordsPerGroup * o.recordBytes)} bytes + fdatasync, as AuditLog.commit): p50 ${io.toFixed(2)} ms`,
    )
    return { gets, single, puts, groupIoP50ms: io }
  } finally {
    await l.stop()
    for (const s of sides) await s.g.close()
    await failClosedLog.close()
    await bestEffortLog.close()
  }
}

/** Section 3: a log of `n` records written with TileWriter, then verifyLog against SHA-256. */
async function verifyRun(c: ReturnType<typeof corpus>, n: number, work: string) {
  const dir = mkdtempSync(join(work, 'verify-'))
  const keys = generateKey(ORIGIN)
  const w = await TileWriter.open(dir)
  const t0 = performance.now()
  for (let i = 0; i < n; i += 65_536)
    await w.append(Array.from({ length: Math.min(65_536, n - i) }, (_, j) => c.at(i + j)))
  await w.checkpoint(keys.signerKey, ORIGIN)
  const writeSeconds = (performance.now() - t0) / 1000
  const bytes = c.all.subarray(0, n * c.len)
  const sha = () => {
    const t = performance.now()
    hash('sha256', bytes)
    return n / ((performance.now() - t) / 1000)
  }
  const verify = async () => {
    const t = performance.now()
    const r = await verifyLog(dir, keys.verifierKey)
    if (!r.ok || r.size !== n) throw new Error(`verify: ${JSON.stringify(r)}`)
    return n / ((performance.now() - t) / 1000)
  }
  // ABBA, best of two each.
  const s1 = sha()
  const v1 = await verify()
  const v2 = await verify()
  const s2 = sha()
  const [ours, base] = [Math.max(v1, v2), Math.max(s1, s2)]
  rmSync(dir, { recursive: true, force: true })
  say(
    `verify, ${c.len}-byte records: ${int(ours)} records/s (${int(v1)}, ${int(v2)}); SHA-256 alone ${int(base)}/s; written in ${writeSeconds.toFixed(1)} s`,
  )
  row([
    `verifyLog, ${int(n)} records of ${int(c.len)} bytes (${int((n * c.len) / 2 ** 20)} MiB), best of 2`,
    `${int(ours)} records/s`,
    `SHA-256 of the same bytes, one pass: ${int(base)} records/s (${int((base * c.len) / 2 ** 20)} MiB/s)`,
    (ours / base).toFixed(2),
    '≥ 500,000/s',
  ])
  return { recordBytes: c.len, records: n, writeSeconds, runs: [v1, v2], shaRuns: [s1, s2] }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '200000' },
      gets: { type: 'string', default: '3000' },
      puts: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '5' },
      verify: { type: 'string', default: '1000000' },
      only: { type: 'string', default: 'durable,get,verify' },
      json: { type: 'boolean', default: false },
    },
  })
  const EVENTS = Number(values.events)
  const GETS = Number(values.gets)
  const PUTS = Number(values.puts)
  const ROUNDS = Number(values.rounds)
  const VERIFY = Number(values.verify)
  const only = new Set(values.only.split(','))
  output.json = values.json
  const work = mkdtempSync(join(tmpdir(), 'sr-bench-audit-'))
  const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString() }
  try {
    const events = await realEvents(work)
    const event = events.putObject
    const want = Math.max(only.has('durable') ? EVENTS : 0, only.has('verify') ? VERIFY : 0, 1)
    const c = corpus(event, want)
    results.recordBytes = c.len
    say(`record: a PutObject event, ${c.len} bytes of JSON`)

    // ---- 1. durable events per second
    if (only.has('durable')) {
      const runs = []
      for (const k of [64, 1000, 10_000]) {
        // The baseline just before and just after (its fdatasync of ~400 MB varies), the faster.
        const before = await bytesAlone(c, EVENTS, work)
        const ours = await durable(c, EVENTS, k, work)
        const base = Math.max(before, await bytesAlone(c, EVENTS, work))
        runs.push({ inFlight: k, eventsPerSec: ours, bytesAlonePerSec: base, ratio: ours / base })
        say(`durable, ${k} in flight: ${int(ours)} events/s; bytes alone ${int(base)}/s`)
        row([
          `durable appends, ${int(EVENTS)} records, ${int(k)} in flight, until all resolved and closed`,
          `${int(ours)} events/s`,
          `the same bytes, appendFile + one fdatasync: ${int(base)}/s`,
          (ours / base).toFixed(2),
          k === 64 ? '— (a busy gateway)' : '≥ 50,000/s',
        ])
      }
      results.durable = runs
    }

    // ---- 2. 4 KiB GETs and PUTs: fail-closed, best-effort reads, null sink
    if (only.has('get'))
      results.get = await gatewayRuns(work, {
        gets: GETS,
        puts: PUTS,
        rounds: ROUNDS,
        recordBytes: c.len,
      })

    // ---- 3. verify a log of VERIFY records: PutObject events, then ~1 KB CreateBucket events
    if (only.has('verify')) {
      const small = corpus(events.createBucket, VERIFY)
      results.verify = [await verifyRun(c, VERIFY, work), await verifyRun(small, VERIFY, work)]
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  if (values.json) console.log(JSON.stringify(results))
  else {
    console.log('\n| what | Strongroom | baseline in the same run | ratio | target |')
    console.log('| --- | --- | --- | --- | --- |')
    for (const r of output.rows) console.log(r)
  }
}

if (isMainThread) await main()
