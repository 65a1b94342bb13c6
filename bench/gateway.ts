/**
 * Gateway benchmarks (issue 4), through the whole stack over TLS on loopback,
 * side by side with a plain Node HTTPS server that streams the same bytes to
 * and from disk without authentication or encryption (the baseline). Both are
 * driven by the same client (the AWS SDK for JavaScript, checksums only when
 * required, so both servers receive plain bodies):
 *
 *   1. one PUT and one GET of a large object (default 2 GiB): throughput and ratio;
 *   2. 4 KiB objects, 32 concurrent keep-alive clients: PUT and GET operations
 *      per second, p50 and p99 latency, ratio;
 *   3. the gateway's peak RSS during 32 concurrent uploads of 1 GiB each;
 *   4. one multipart upload (default 1 GiB) in 8 MiB parts, 10 in flight, as the
 *      SDKs and the aws CLI upload large files: throughput and ratio, and the
 *      time CompleteMultipartUpload alone takes (the plain server keeps the parts
 *      as files and answers Complete by writing a list of them). Parts go as
 *      streams, so the SDK sends them unsigned (UNSIGNED-PAYLOAD), as the aws CLI
 *      does over HTTPS and as section 1 does; --multipart-signed sends buffers,
 *      which the SDK signs (x-amz-content-sha256 of each part, checked by the gateway).
 *      The upload goes to its own bucket, scanned as every bucket is by default
 *      (report); --multipart-scan-off turns that bucket's scanning off, to see
 *      the upload without the model scan that Complete runs over the parts.
 *
 * Usage: node bench/gateway.ts [--large-mib N] [--small-ops N] [--rss-clients N] [--rss-mib N]
 *          [--multipart-mib N] [--multipart-signed] [--multipart-scan-off]
 *          [--only large,small,rss,multipart] [--durable-baseline] [--cpu-prof DIR] [--json]
 *      --durable-baseline: the plain server flushes every file to disk before answering, as
 *      the gateway does (the targets are against the default, non-durable baseline)
 *      --cpu-prof DIR: the gateway runs under `node --cpu-prof` and writes its profiles
 *      (main thread and workers) into DIR when it stops; bench/profile-top.ts sums them up
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { testCertificates } from '../src/net/testing.ts'
import { BIN, spawnServe } from '../test/serve-process.ts'

const { values } = parseArgs({
  options: {
    'large-mib': { type: 'string', default: '2048' },
    'small-ops': { type: 'string', default: '20000' },
    'rss-clients': { type: 'string', default: '32' },
    'rss-mib': { type: 'string', default: '1024' },
    'multipart-mib': { type: 'string', default: '1024' },
    'multipart-signed': { type: 'boolean', default: false },
    'multipart-scan-off': { type: 'boolean', default: false },
    'durable-baseline': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    only: { type: 'string', default: 'large,small,rss,multipart' },
    json: { type: 'boolean', default: false },
  },
})
const MiB = 1 << 20
const LARGE = Number(values['large-mib']) * MiB
const SMALL_OPS = Number(values['small-ops'])
const RSS_CLIENTS = Number(values['rss-clients'])
const RSS_SIZE = Number(values['rss-mib']) * MiB
const MULTIPART = Number(values['multipart-mib']) * MiB
const PART = 8 * MiB
const IN_FLIGHT = 10
const only = new Set(values.only.split(','))
const log = (s: string) => {
  if (!values.json) console.log(s)
}
const work = mkdtempSync(join(tmpdir(), 'sr-bench-gw-'))
const CREDS = { accessKeyId: 'AKIABENCHADMIN000001', secretAccessKey: 'bench-admin-secret-0123456' }
const block = Buffer.alloc(MiB, 7)

/** `size` bytes of a repeated block, as a fresh stream. */
const body = (size: number) =>
  Readable.from(
    (function* () {
      for (let left = size; left > 0; left -= MiB)
        yield left >= MiB ? block : block.subarray(0, left)
    })(),
  )

// ---- the baseline: bench/plain-server.ts, in its own process like the gateway
async function plainServer(ca: {
  certPem: string
  keyPem: string
}): Promise<{ url: string; close: () => void }> {
  const keyFile = join(work, 'plain.key')
  const certFile = join(work, 'plain.crt')
  writeFileSync(keyFile, ca.keyPem, { mode: 0o600 })
  writeFileSync(certFile, ca.certPem)
  const proc = spawn(
    process.execPath,
    [join(import.meta.dirname, 'plain-server.ts'), join(work, 'plain'), keyFile, certFile],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PLAIN_DURABLE: values['durable-baseline'] ? '1' : '0' },
    },
  )
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))
    proc.once('exit', () => reject(new Error('the plain server exited')))
  })
  return { url, close: () => proc.kill('SIGTERM') }
}

async function gatewayServer(
  name = 'gateway',
): Promise<{ url: string; proc: ChildProcess; ca: string }> {
  const dataDir = join(work, name)
  const { url, proc } = await spawnServe(
    ['--dev', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    {
      ...process.env,
      STRONGROOM_ADMIN_ACCESS_KEY_ID: CREDS.accessKeyId,
      STRONGROOM_ADMIN_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    },
    values['cpu-prof'] === undefined
      ? {}
      : { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] },
  )
  return { url, proc, ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8') }
}

function client(endpoint: string, ca: string[], sockets = 64): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca, keepAlive: true, maxSockets: sockets }) },
  })
}

async function putLarge(s3: S3Client, key: string, size: number): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: 'bench', Key: key, Body: body(size), ContentLength: size }),
  )
}

async function getLarge(s3: S3Client, key: string): Promise<number> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: key }))
  let n = 0
  for await (const c of r.Body as AsyncIterable<Uint8Array>) n += c.byteLength
  return n
}

const partBody = Buffer.alloc(PART, 9)
const MP_BUCKET = 'bench-multipart'

/** A multipart upload of `size` bytes in 8 MiB parts, 10 in flight; returns the seconds Complete took. */
async function multipartUpload(s3: S3Client, key: string, size: number): Promise<number> {
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: MP_BUCKET, Key: key }),
  )
  const count = Math.ceil(size / PART)
  const parts: { PartNumber: number; ETag: string }[] = []
  let next = 1
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
      for (let n = next++; n <= count; n = next++) {
        const bytes = n < count ? partBody : partBody.subarray(0, size - (count - 1) * PART)
        const r = await s3.send(
          new UploadPartCommand({
            Bucket: MP_BUCKET,
            Key: key,
            UploadId,
            PartNumber: n,
            Body: values['multipart-signed'] ? bytes : Readable.from([bytes]),
            ContentLength: bytes.length,
          }),
        )
        parts.push({ PartNumber: n, ETag: r.ETag ?? '' })
      }
    }),
  )
  parts.sort((a, b) => a.PartNumber - b.PartNumber)
  const t = performance.now()
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: MP_BUCKET,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  )
  return (performance.now() - t) / 1000
}

const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN

async function smallOps(
  s3: S3Client,
  kind: 'put' | 'get',
): Promise<{ opsPerSec: number; p50ms: number; p99ms: number }> {
  const payload = Buffer.alloc(4096, 3)
  const lat: number[] = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < SMALL_OPS; i = next++) {
        const key = `small/${i % 1000}`
        const s = performance.now()
        if (kind === 'put')
          await s3.send(
            new PutObjectCommand({
              Bucket: 'bench',
              Key: key,
              Body: payload,
              ContentLength: payload.length,
            }),
          )
        else {
          const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: key }))
          await r.Body?.transformToByteArray()
        }
        lat.push(performance.now() - s)
      }
    }),
  )
  return {
    opsPerSec: SMALL_OPS / ((performance.now() - t0) / 1000),
    p50ms: pct(lat, 0.5),
    p99ms: pct(lat, 0.99),
  }
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

const results: Record<string, unknown> = {
  node: process.version,
  largeBytes: LARGE,
  smallOps: SMALL_OPS,
}
const gw = await gatewayServer()
const plainIdentity = testCertificates(['127.0.0.1'])
const plain = await plainServer(plainIdentity)
try {
  const ours = client(gw.url, [gw.ca])
  const theirs = client(plain.url, [plainIdentity.caPem])
  await ours.send(new CreateBucketCommand({ Bucket: 'bench' }))

  // Dirty pages left by one phase (the plain server never fsyncs) would otherwise be written
  // back during the next phase and slow whichever server runs then; flush them, untimed.
  const timed = async (f: () => Promise<unknown>) => {
    spawnSync('sync')
    const t = performance.now()
    await f()
    return LARGE / MiB / ((performance.now() - t) / 1000)
  }
  // ABBA order, best of two for each side: whichever server runs right after a 2 GiB
  // transfer pays for it (page cache, writeback), so a fixed order would bias the ratio.
  const best = async (a: () => Promise<number>, b: () => Promise<number>) => {
    const a1 = await a()
    const b1 = await b()
    const b2 = await b()
    const a2 = await a()
    return [Math.max(a1, a2), Math.max(b1, b2)] as const
  }
  // ---- 1. one large object, up and down
  if (only.has('large')) {
    const [oursPutMiBs, plainPutMiBs] = await best(
      () => timed(() => putLarge(ours, 'large', LARGE)),
      () => timed(() => putLarge(theirs, 'large', LARGE)),
    )
    const [plainGetMiBs, oursGetMiBs] = await best(
      () => timed(() => getLarge(theirs, 'large')),
      () => timed(() => getLarge(ours, 'large')),
    )
    const large = { plainPutMiBs, oursPutMiBs, plainGetMiBs, oursGetMiBs }
    results.large = {
      ...large,
      putRatio: large.oursPutMiBs / large.plainPutMiBs,
      getRatio: large.oursGetMiBs / large.plainGetMiBs,
    }
    log(
      `${LARGE / MiB} MiB single stream: PUT ${large.oursPutMiBs.toFixed(0)} MiB/s vs plain ${large.plainPutMiBs.toFixed(0)} MiB/s (ratio ${(large.oursPutMiBs / large.plainPutMiBs).toFixed(2)}, target >= 0.70); GET ${large.oursGetMiBs.toFixed(0)} vs ${large.plainGetMiBs.toFixed(0)} MiB/s (ratio ${(large.oursGetMiBs / large.plainGetMiBs).toFixed(2)})`,
    )
  }

  // ---- 4. one multipart upload: 8 MiB parts, 10 in flight
  if (only.has('multipart')) {
    await ours.send(new CreateBucketCommand({ Bucket: MP_BUCKET }))
    if (values['multipart-scan-off']) {
      const r = spawnSync(
        process.execPath,
        [BIN, 'bucket', 'scan-policy', MP_BUCKET, 'off', '--data-dir', join(work, 'gateway')],
        { encoding: 'utf8' },
      )
      if (r.status !== 0) throw new Error(`bucket scan-policy: ${r.stderr}`)
    }
    // Complete's time in each run: the first of each side creates the key, the second replaces it.
    const completes = { ours: [] as number[], plain: [] as number[] }
    // A fresh client (and connections) per run: sockets left idle across the untimed `sync`
    // may be closed by the server just as the next run writes a part on them, and a streamed
    // body cannot be retried (EPIPE).
    const mp = async (endpoint: string, ca: string, side: 'ours' | 'plain') => {
      const s3 = client(endpoint, [ca], IN_FLIGHT)
      spawnSync('sync')
      const t = performance.now()
      const complete = await multipartUpload(s3, 'multipart', MULTIPART)
      const mibs = MULTIPART / MiB / ((performance.now() - t) / 1000)
      s3.destroy()
      completes[side].push(complete)
      return mibs
    }
    const [oursMiBs, plainMiBs] = await best(
      () => mp(gw.url, gw.ca, 'ours'),
      () => mp(plain.url, plainIdentity.caPem, 'plain'),
    )
    const ms = (xs: number[]) => xs.map((x) => (x * 1000).toFixed(0)).join(', ')
    results.multipart = {
      mib: MULTIPART / MiB,
      signed: values['multipart-signed'],
      scanned: !values['multipart-scan-off'],
      partMiB: PART / MiB,
      inFlight: IN_FLIGHT,
      oursMiBs,
      plainMiBs,
      ratio: oursMiBs / plainMiBs,
      oursCompleteSeconds: completes.ours,
      plainCompleteSeconds: completes.plain,
    }
    log(
      `${MULTIPART / MiB} MiB multipart (${PART / MiB} MiB ${values['multipart-signed'] ? 'signed' : 'unsigned'} parts, ${IN_FLIGHT} in flight, ${values['multipart-scan-off'] ? 'not scanned' : 'scanned'}): ${oursMiBs.toFixed(0)} MiB/s vs plain ${plainMiBs.toFixed(0)} MiB/s (ratio ${(oursMiBs / plainMiBs).toFixed(2)}, target >= 0.70${values['durable-baseline'] ? ', durable baseline' : ''}); Complete took ${ms(completes.ours)} ms (plain ${ms(completes.plain)} ms; new key, then replacing it)`,
    )
  }

  // ---- 2. 4 KiB objects, 32 concurrent keep-alive clients
  if (only.has('small')) {
    const small = {
      plainPut: await smallOps(theirs, 'put'),
      oursPut: await smallOps(ours, 'put'),
      plainGet: await smallOps(theirs, 'get'),
      oursGet: await smallOps(ours, 'get'),
    }
    results.small = {
      ...small,
      putRatio: small.oursPut.opsPerSec / small.plainPut.opsPerSec,
      getRatio: small.oursGet.opsPerSec / small.plainGet.opsPerSec,
    }
    const fmt = (r: { opsPerSec: number; p50ms: number; p99ms: number }) =>
      `${r.opsPerSec.toFixed(0)} ops/s (p50 ${r.p50ms.toFixed(1)} ms, p99 ${r.p99ms.toFixed(1)} ms)`
    log(
      `4 KiB x 32 clients: PUT ${fmt(small.oursPut)} vs plain ${fmt(small.plainPut)}, ratio ${(small.oursPut.opsPerSec / small.plainPut.opsPerSec).toFixed(2)} (target >= 0.50)`,
    )
    log(
      `                    GET ${fmt(small.oursGet)} vs plain ${fmt(small.plainGet)}, ratio ${(small.oursGet.opsPerSec / small.plainGet.opsPerSec).toFixed(2)} (target >= 0.50)`,
    )
  }
  ours.destroy()
  theirs.destroy()

  // ---- 3. RSS during concurrent large uploads, on a fresh gateway
  if (only.has('rss')) {
    const fresh = await gatewayServer('gateway-rss')
    const pid = fresh.proc.pid ?? 0
    const base = rssOf(pid)
    let peak = base
    const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50)
    const many = client(fresh.url, [fresh.ca], RSS_CLIENTS)
    await many.send(new CreateBucketCommand({ Bucket: 'bench' }))
    const t = performance.now()
    await Promise.all(
      Array.from({ length: RSS_CLIENTS }, (_, i) => putLarge(many, `rss/${i}`, RSS_SIZE)),
    )
    clearInterval(timer)
    many.destroy()
    fresh.proc.kill('SIGTERM')
    await new Promise((r) => fresh.proc.once('exit', r))
    results.rss = {
      clients: RSS_CLIENTS,
      mibEach: RSS_SIZE / MiB,
      peakMiB: peak / MiB,
      baseMiB: base / MiB,
      seconds: (performance.now() - t) / 1000,
    }
    log(
      `gateway RSS during ${RSS_CLIENTS} concurrent ${RSS_SIZE / MiB} MiB uploads: peak ${(peak / MiB).toFixed(0)} MiB (idle ${(base / MiB).toFixed(0)} MiB; target < 256 MiB)`,
    )
  }
} finally {
  plain.close()
  gw.proc.kill('SIGTERM')
  await new Promise((r) => gw.proc.once('exit', r))
  rmSync(work, { recursive: true, force: true })
}
if (values.json) console.log(JSON.stringify(results, null, 2))
