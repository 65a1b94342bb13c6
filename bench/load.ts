/**
 * Load benchmark (issue 11, "Load that the gateway can hold"): N concurrent clients each loop
 * PUT, GET (every byte compared), HEAD (length compared) and DELETE of an object of a uniformly
 * random size from 4 KiB to 1 MiB, for a fixed time, over HTTPS on loopback, against a fresh
 * `strongroom serve` (its own process and data directory) and then, with the same clients, the
 * plain server (bench/plain-server.ts: no authentication, no encryption, no fsync) as the
 * baseline. Reports operations per second (and the ratio to the baseline), p50/p99 latency,
 * SlowDown refusals, failures of any other kind (there must be none), and the server's peak
 * RSS (VmHWM of /proc/PID/status) and its RSS at the end of the load and after 3 s idle.
 *
 * The clients are raw HTTPS requests signed with the AWS SDK's own SigV4 signer
 * (@smithy/signature-v4, UNSIGNED-PAYLOAD as over TLS), not the whole SDK, so that on a 2-core
 * machine the clients leave the CPU to the server. They retry 503 SlowDown as the SDKs'
 * standard mode does: at most `--attempts` attempts (the SDKs' default is 3), waiting the
 * larger of Retry-After and a random backoff of up to 500 ms * 2^attempt. An operation still
 * refused after its last attempt counts as refused, not as a failure; the cycle moves on. A
 * connection reset before any reply is retried too, as the SDKs retry it, and counted apart.
 *
 * Usage: node bench/load.ts [--seconds 45] [--clients 64,256,1024] [--attempts 3] [--http]
 *                           [--no-baseline] [--json] [-- extra flags for `strongroom serve`]
 * (--http: plain HTTP for both servers, to tell TLS's share of the memory from the rest.)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent, request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SignatureV4 } from '@smithy/signature-v4'
import { testCertificates } from '../src/net/testing.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '45' },
    clients: { type: 'string', default: '64,256,1024' },
    attempts: { type: 'string', default: '3' },
    'no-baseline': { type: 'boolean', default: false },
    http: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(values.seconds)
const COUNTS = values.clients.split(',').map(Number)
const ATTEMPTS = Number(values.attempts)
const KiB = 1024
const MiB = 1024 * KiB
const MIN_SIZE = 4 * KiB
const MAX_SIZE = MiB
const log = (s: string) => {
  if (!values.json) console.log(s)
}
const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-bench-load-'))
const CREDS = { accessKeyId: 'AKIABENCHLOAD0000001', secretAccessKey: 'bench-load-secret-0123456' }
/** Object bodies are slices of this: a GET is checked against the slice its PUT sent. */
const POOL = randomBytes(2 * MiB)

// ---- servers, each in its own process

interface Target {
  readonly name: string
  readonly url: string
  readonly ca: string
  readonly proc: ChildProcess
}

function ready(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = pattern.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    proc.once('exit', (c) => reject(new Error(`the server exited (${String(c)}): ${out}`)))
  })
}

async function gateway(name: string): Promise<Target> {
  const dataDir = join(work, name)
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--dev',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      ...(values.http ? ['--insecure-http'] : []),
      ...positionals,
    ],
    {
      env: {
        ...process.env,
        STRONGROOM_ADMIN_ACCESS_KEY_ID: CREDS.accessKeyId,
        STRONGROOM_ADMIN_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  )
  const url = await ready(proc, /ready at (https?:\/\/\S+)/)
  const ca = values.http ? '' : readFileSync(join(dataDir, 'ca.pem'), 'utf8')
  return { name: 'strongroom', url, ca, proc }
}

async function plain(name: string, pki: { keyPem: string; certPem: string; caPem: string }) {
  const keyFile = join(work, `${name}.key`)
  const certFile = join(work, `${name}.crt`)
  writeFileSync(keyFile, pki.keyPem, { mode: 0o600 })
  writeFileSync(certFile, pki.certPem)
  const proc = spawn(
    process.execPath,
    [
      join(import.meta.dirname, 'plain-server.ts'),
      join(work, name),
      ...(values.http ? [] : [keyFile, certFile]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = await ready(proc, /^(https?:\/\/\S+)\n/)
  return { name: 'plain', url, ca: pki.caPem, proc }
}

async function stop(t: Target): Promise<void> {
  if (t.proc.exitCode !== null) return
  const exited = new Promise((r) => t.proc.once('exit', r))
  t.proc.kill('SIGTERM')
  await exited
}

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0)
  return { rss: kb('VmRSS') * KiB, hwm: kb('VmHWM') * KiB }
}

// ---- signed requests

type Data = string | ArrayBuffer | ArrayBufferView
const bytes = (d: Data) =>
  typeof d === 'string'
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d)

class Sha256 {
  private readonly h
  constructor(secret?: Data) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(d: Data): void {
    this.h.update(bytes(d))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()))
  }
}

const signer = new SignatureV4({
  service: 's3',
  region: 'us-east-1',
  credentials: CREDS,
  sha256: Sha256,
  uriEscapePath: false,
  applyChecksum: false,
})

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
}

async function call(
  base: URL,
  agent: Agent | HttpAgent,
  method: string,
  path: string,
  body?: Buffer,
): Promise<Reply> {
  const headers: Record<string, string> = {
    host: base.host,
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'content-length': String(body?.length ?? 0),
  }
  const signed = await signer.sign({
    method,
    protocol: 'https:',
    hostname: base.hostname,
    port: Number(base.port),
    path,
    query: {},
    headers,
  })
  return new Promise<Reply>((resolve, reject) => {
    const req = (base.protocol === 'http:' ? httpRequest : request)(
      { host: base.hostname, port: base.port, method, path, headers: signed.headers, agent },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

// ---- the load

interface Result {
  readonly server: string
  readonly clients: number
  readonly seconds: number
  readonly ops: number
  readonly opsPerSec: number
  readonly mibPerSec: number
  /** Successful operations, retries and their waits included. */
  readonly p50ms: number
  readonly p99ms: number
  /** Attempts the server admitted and answered (SlowDown replies excluded). */
  readonly attemptP50ms: number
  readonly attemptP99ms: number
  readonly slowDowns: number
  /** Connections reset before a reply, retried as the SDKs retry them. */
  readonly resets: number
  /** Operations still refused after their last attempt. */
  readonly refusedOps: number
  readonly failures: number
  readonly failureSamples: string[]
  readonly peakRssMiB: number
  readonly endRssMiB: number
  readonly idleRssMiB: number
}

const pct = (xs: Float64Array, q: number) =>
  xs.length === 0 ? Number.NaN : (xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

class Failure extends Error {}
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED'])

async function load(t: Target, clients: number): Promise<Result> {
  const base = new URL(t.url)
  const agent = values.http
    ? new HttpAgent({ keepAlive: true, maxSockets: clients })
    : new Agent({ ca: t.ca, keepAlive: true, maxSockets: clients })
  const bucket = `/load${clients}`
  const made = await call(base, agent, 'PUT', bucket)
  if (made.status !== 200) throw new Error(`CreateBucket: ${made.status} ${made.body.toString()}`)
  const lat: number[] = []
  const attemptLat: number[] = []
  let ops = 0
  let bytesMoved = 0
  let slowDowns = 0
  let resets = 0
  let refusedOps = 0
  const failures: string[] = []
  let failureCount = 0
  let peak = 0
  const pid = t.proc.pid ?? 0
  const sampler = setInterval(() => (peak = Math.max(peak, status(pid).rss)), 100)
  const t0 = performance.now()
  const end = t0 + SECONDS * 1000

  /** One operation with SlowDown retries; undefined when still refused after the last attempt. */
  const op = async (method: string, path: string, body?: Buffer): Promise<Reply | undefined> => {
    const started = performance.now()
    for (let attempt = 1; ; attempt++) {
      const a = performance.now()
      let r: Reply
      try {
        r = await call(base, agent, method, path, body)
      } catch (e) {
        // A connection reset or closed before any reply: a transient error the SDKs retry
        // (base delay 100 ms), counted apart. Still failing after the last attempt: a failure.
        const code = (e as NodeJS.ErrnoException).code
        if (!TRANSIENT.has(code ?? '') || attempt >= ATTEMPTS) throw e
        resets++
        await sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt))
        continue
      }
      // A HEAD reply has no body: its 503 with Retry-After is the SlowDown.
      const slow =
        r.status === 503 &&
        (method === 'HEAD'
          ? r.headers['retry-after'] !== undefined
          : /<Code>SlowDown<\/Code>/.test(r.body.toString()))
      if (slow) {
        slowDowns++
        if (attempt >= ATTEMPTS || performance.now() > end) {
          refusedOps++
          return undefined
        }
        const after = Number(r.headers['retry-after'] ?? 0) * 1000
        await sleep(Math.max(after, Math.random() * Math.min(20_000, 500 * 2 ** attempt)))
        continue
      }
      const now = performance.now()
      attemptLat.push(now - a)
      lat.push(now - started)
      ops++
      return r
    }
  }
  const expect = (what: string, ok: boolean, r: Reply) => {
    if (!ok) throw new Failure(`${what}: ${r.status} ${r.body.toString().slice(0, 200)}`)
  }

  const client = async (id: number) => {
    for (let n = 0; performance.now() < end; n++) {
      const key = `${bucket}/c${id}/${n}`
      const size = MIN_SIZE + Math.floor(Math.random() * (MAX_SIZE - MIN_SIZE + 1))
      const at = Math.floor(Math.random() * (POOL.length - size))
      const sent = POOL.subarray(at, at + size)
      try {
        const put = await op('PUT', key, sent)
        if (put === undefined) continue
        expect('PUT', put.status === 200, put)
        bytesMoved += size
        const got = await op('GET', key)
        if (got !== undefined) {
          expect('GET', got.status === 200, got)
          if (!got.body.equals(sent))
            throw new Failure(`GET ${key}: ${got.body.length} bytes that differ from the PUT`)
          bytesMoved += size
        }
        const head = await op('HEAD', key)
        if (head !== undefined)
          expect('HEAD', head.status === 200 && head.headers['content-length'] === `${size}`, head)
        const del = await op('DELETE', key)
        if (del !== undefined) expect('DELETE', del.status === 204, del)
      } catch (e) {
        failureCount++
        if (failures.length < 5) failures.push((e as Error).message)
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)))
  const elapsed = (performance.now() - t0) / 1000
  clearInterval(sampler)
  const endRss = status(pid).rss
  agent.destroy()
  await sleep(3_000)
  const { rss: idleRss, hwm } = status(pid)
  const sorted = (xs: number[]) => Float64Array.from(xs).sort()
  const l = sorted(lat)
  const al = sorted(attemptLat)
  return {
    server: t.name,
    clients,
    seconds: elapsed,
    ops,
    opsPerSec: ops / elapsed,
    mibPerSec: bytesMoved / MiB / elapsed,
    p50ms: pct(l, 0.5),
    p99ms: pct(l, 0.99),
    attemptP50ms: pct(al, 0.5),
    attemptP99ms: pct(al, 0.99),
    slowDowns,
    resets,
    refusedOps,
    failures: failureCount,
    failureSamples: failures,
    peakRssMiB: Math.max(peak, hwm) / MiB,
    endRssMiB: endRss / MiB,
    idleRssMiB: idleRss / MiB,
  }
}

const fmt = (r: Result) =>
  `${r.server.padEnd(10)} ${String(r.clients).padStart(5)} clients: ${r.opsPerSec.toFixed(0).padStart(5)} ops/s ` +
  `(${r.mibPerSec.toFixed(0)} MiB/s), p50 ${r.p50ms.toFixed(0)} ms, p99 ${r.p99ms.toFixed(0)} ms ` +
  `(admitted attempts p50 ${r.attemptP50ms.toFixed(0)} / p99 ${r.attemptP99ms.toFixed(0)} ms), ` +
  `SlowDown ${r.slowDowns} (${r.refusedOps} ops refused ${ATTEMPTS}x), resets retried ${r.resets}, ` +
  `failures ${r.failures}, ` +
  `RSS peak ${r.peakRssMiB.toFixed(0)} MiB, end ${r.endRssMiB.toFixed(0)}, idle ${r.idleRssMiB.toFixed(0)}`

const results: { node: string; seconds: number; attempts: number; runs: Result[] } = {
  node: process.version,
  seconds: SECONDS,
  attempts: ATTEMPTS,
  runs: [],
}
const pki = testCertificates(['127.0.0.1'])
try {
  for (const clients of COUNTS) {
    const ours = await gateway(`gateway-${clients}`)
    let r: Result
    try {
      r = await load(ours, clients)
    } finally {
      await stop(ours)
    }
    results.runs.push(r)
    log(fmt(r))
    for (const f of r.failureSamples) log(`  failure: ${f}`)
    if (!values['no-baseline']) {
      const theirs = await plain(`plain-${clients}`, pki)
      let b: Result
      try {
        b = await load(theirs, clients)
      } finally {
        await stop(theirs)
      }
      results.runs.push(b)
      log(fmt(b))
      for (const f of b.failureSamples) log(`  failure: ${f}`)
      log(`  ratio ${(r.opsPerSec / b.opsPerSec).toFixed(2)} of the plain server's ops/s`)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
if (values.json) console.log(JSON.stringify(results, null, 2))
const failed = results.runs.some((r) => r.failures > 0)
process.exitCode = failed ? 1 : 0
