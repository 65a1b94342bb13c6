/**
 * Does a large model upload delay everyone else? (issue 11, scanning off the
 * event loop). A gateway (`strongroom serve --dev`, its own process, TLS on
 * loopback) holds a 4 KiB object; 8 keep-alive clients GET and HEAD it, each
 * one request every 50 ms. Phase 1 measures their latency alone; phase 2 measures it while one
 * more client uploads a .pt-like zip (default 4 GiB, generated as it is
 * sent: nothing of it is kept in memory or on the client's disk) into a
 * bucket whose scan policy is `report`, so the upload is sealed, stored and
 * scanned (its zip is read back, and a deflated 64 MiB pickle member is
 * inflated and run through the pickle machine, in the scan worker). The
 * result is the ratio of the small requests' p99 with and without the
 * upload, same run, same gateway (target <= 1.20). The baseline is measured
 * both before and after the upload (half of --seconds each) and pooled.
 *
 * The archive: archive/data.pkl (a small clean pickle, stored),
 * archive/extra.pkl (a 64 MiB pickle of floats, deflated to a few hundred
 * KiB), archive/data/0 (the rest of the size, stored: a repeated random MiB,
 * as tensor bytes look to the scanner). At most 4 GiB in all (no zip64).
 *
 * Usage: node bench/scan-latency.ts [--mib 4096] [--seconds 20] [--clients 8] [--interval-ms 50]
 *          [--scan-policy report|off] [--bin path/to/bin/strongroom.js] [--json]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { crc32, deflateRawSync } from 'node:zlib'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '4096' },
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '8' },
    'interval-ms': { type: 'string', default: '50' },
    'scan-policy': { type: 'string', default: 'report' },
    bin: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const MiB = 1 << 20
const TOTAL = Number(values.mib) * MiB
const SECONDS = Number(values.seconds)
const CLIENTS = Number(values.clients)
const INTERVAL = Number(values['interval-ms'])
const POLICY = values['scan-policy']
/** The gateway to measure (its bin/strongroom.js): another checkout, for a before/after comparison. */
const BIN = values.bin ?? join(import.meta.dirname, '..', 'bin', 'strongroom.js')
if (!(TOTAL >= 128 * MiB && TOTAL <= 4096 * MiB)) throw new RangeError('--mib takes 128 to 4096')
const say = (s: string) => {
  if (!values.json) console.log(s)
}

// ---- the archive, generated as it is sent

interface Member {
  readonly name: Buffer
  readonly size: number
  readonly crc: number
  readonly method: 0 | 8
  /** The member's bytes as stored, as a fresh sequence of chunks. */
  readonly chunks: () => Iterable<Uint8Array>
}

/** A protocol-2 pickle of a list of BINFLOATs, `bytes` long or a little more. */
function floatsPickle(bytes: number): Buffer {
  const unit = Buffer.from([0x47, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0])
  const batch = Buffer.concat([Buffer.of(0x28), Buffer.alloc(100_000 * 9, unit), Buffer.of(0x65)])
  const n = Math.ceil(bytes / batch.length)
  return Buffer.concat([
    Buffer.of(0x80, 0x02, 0x5d),
    ...Array<Buffer>(n).fill(batch),
    Buffer.of(0x2e),
  ])
}

function inMemory(name: string, data: Buffer, deflate: boolean): Member {
  const stored = deflate ? deflateRawSync(data) : data
  return {
    name: Buffer.from(name),
    size: stored.length,
    crc: crc32(data),
    method: deflate ? 8 : 0,
    chunks: () => [stored],
  }
}

function archive(total: number): { size: number; chunks: () => Generator<Uint8Array> } {
  const pkl = inMemory('archive/data.pkl', Buffer.from('80025d7100284b014b02652e', 'hex'), false)
  const extra = inMemory('archive/extra.pkl', floatsPickle(64 * MiB), true)
  const bigName = Buffer.from('archive/data/0')
  const fixed = [pkl, extra].reduce(
    (n, m) => n + 30 + m.name.length + m.size + 46 + m.name.length,
    0,
  )
  const bigSize = total - fixed - (30 + 46 + 2 * bigName.length) - 22
  const block = randomBytes(MiB)
  const repeat = function* (n: number): Generator<Uint8Array> {
    for (let left = n; left > 0; left -= MiB) yield left >= MiB ? block : block.subarray(0, left)
  }
  let crc = 0
  for (const c of repeat(bigSize)) crc = crc32(c, crc)
  const big: Member = {
    name: bigName,
    size: bigSize,
    crc,
    method: 0,
    chunks: () => repeat(bigSize),
  }
  const members = [pkl, extra, big]
  return {
    size: total,
    *chunks() {
      const central: Buffer[] = []
      let offset = 0
      for (const m of members) {
        const h = Buffer.alloc(30)
        h.writeUInt32LE(0x04034b50, 0)
        h.writeUInt16LE(20, 4)
        h.writeUInt16LE(m.method, 8)
        h.writeUInt32LE(m.crc, 14)
        h.writeUInt32LE(m.size, 18)
        h.writeUInt32LE(m.method === 0 ? m.size : 0, 22)
        h.writeUInt16LE(m.name.length, 26)
        yield Buffer.concat([h, m.name])
        yield* m.chunks()
        const c = Buffer.alloc(46)
        c.writeUInt32LE(0x02014b50, 0)
        c.writeUInt16LE(20, 4)
        c.writeUInt16LE(20, 6)
        c.writeUInt16LE(m.method, 10)
        c.writeUInt32LE(m.crc, 16)
        c.writeUInt32LE(m.size, 20)
        c.writeUInt32LE(m.method === 0 ? m.size : 0, 24)
        c.writeUInt16LE(m.name.length, 28)
        c.writeUInt32LE(offset, 42)
        central.push(c, m.name)
        offset += 30 + m.name.length + m.size
      }
      const cd = Buffer.concat(central)
      const end = Buffer.alloc(22)
      end.writeUInt32LE(0x06054b50, 0)
      end.writeUInt16LE(members.length, 8)
      end.writeUInt16LE(members.length, 10)
      end.writeUInt32LE(cd.length, 12)
      end.writeUInt32LE(offset, 16)
      yield Buffer.concat([cd, end])
    },
  }
}

// ---- the gateway, in its own process

const work = mkdtempSync(join(tmpdir(), 'sr-bench-scan-'))
const CREDS = {
  accessKeyId: 'AKIABENCHSCAN0000001',
  secretAccessKey: 'bench-scan-secret-0123456789',
}

async function startGateway(): Promise<{ url: string; ca: string; stop: () => Promise<void> }> {
  const dataDir = join(work, 'data')
  const gw = await spawnServe(
    ['--dev', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    {
      ...process.env,
      STRONGROOM_ADMIN_ACCESS_KEY_ID: CREDS.accessKeyId,
      STRONGROOM_ADMIN_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    },
    { bin: BIN },
  )
  return {
    url: gw.url,
    ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8'),
    stop: () => gw.stop(),
  }
}

const s3 = (url: string, ca: string, sockets: number) =>
  new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca: [ca], keepAlive: true, maxSockets: sockets }) },
  })

// ---- the measurement

const quantile = (xs: readonly number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN

interface Latency {
  readonly samples: readonly number[]
  readonly requests: number
  readonly p50ms: number
  readonly p99ms: number
  readonly maxms: number
}

/** Small GETs and HEADs from `CLIENTS` loops until `until` resolves. */
async function smallRequests(client: S3Client, until: Promise<unknown>): Promise<Latency> {
  let done = false
  void until.finally(() => (done = true))
  const lat: number[] = []
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      // Paced, not flat out: each client sends one request per --interval-ms (or as soon as the
      // last one is answered, if that took longer), so latency is service time, not a queue of our own.
      for (let i = c, next = performance.now(); !done; i++) {
        const wait = next - performance.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        next += INTERVAL
        const t = performance.now()
        if (i % 2 === 0) {
          const r = await client.send(new GetObjectCommand({ Bucket: 'models', Key: 'small' }))
          await r.Body?.transformToByteArray()
        } else await client.send(new HeadObjectCommand({ Bucket: 'models', Key: 'small' }))
        lat.push(performance.now() - t)
      }
    }),
  )
  return summary(lat)
}

function summary(lat: readonly number[]): Latency {
  return {
    samples: lat,
    requests: lat.length,
    p50ms: quantile(lat, 0.5),
    p99ms: quantile(lat, 0.99),
    maxms: lat.reduce((a, b) => Math.max(a, b), 0),
  }
}

const gw = await startGateway()
try {
  const small = s3(gw.url, gw.ca, CLIENTS)
  const big = s3(gw.url, gw.ca, 1)
  await small.send(new CreateBucketCommand({ Bucket: 'models' }))
  // `off` measures the upload alone (sealed and stored, never scanned): what scanning adds is the difference.
  const set = spawnSync(
    process.execPath,
    [BIN, 'bucket', 'scan-policy', 'models', POLICY, '--no-scan', '--data-dir', join(work, 'data')],
    { encoding: 'utf8' },
  )
  if (set.status !== 0) throw new Error(`scan-policy: ${set.stderr}`)
  await small.send(
    new PutObjectCommand({
      Bucket: 'models',
      Key: 'small',
      Body: Buffer.alloc(4096, 1),
      ContentLength: 4096,
    }),
  )
  const zip = archive(TOTAL)
  const fmt = (l: Latency) =>
    `${l.requests} requests, p50 ${l.p50ms.toFixed(1)} ms, p99 ${l.p99ms.toFixed(1)} ms, max ${l.maxms.toFixed(0)} ms`

  // Warm up (TLS sessions, JIT), then: alone, during the upload, alone again; the baseline is
  // both alone phases together, so that drift in the machine's load shows in neither side alone.
  const wait = (s: number) => new Promise((r) => setTimeout(r, s * 1000))
  await smallRequests(small, wait(3))
  const before = await smallRequests(small, wait(SECONDS / 2))
  const t = performance.now()
  const upload = big.send(
    new PutObjectCommand({
      Bucket: 'models',
      Key: 'model.pt',
      Body: Readable.from(zip.chunks()),
      ContentLength: zip.size,
    }),
  )
  const during = await smallRequests(small, upload)
  const put = await upload
  const uploadSeconds = (performance.now() - t) / 1000
  const after = await smallRequests(small, wait(SECONDS / 2))
  const alone = summary([...before.samples, ...after.samples])
  const head = await small.send(new HeadObjectCommand({ Bucket: 'models', Key: 'model.pt' }))
  say(`alone:       ${fmt(alone)}`)
  say(`  (before:   ${fmt(before)}; after: ${fmt(after)})`)
  say(
    `during:      ${fmt(during)} (a ${(zip.size / MiB).toFixed(0)} MiB zip upload, ${uploadSeconds.toFixed(1)} s, ${(zip.size / MiB / uploadSeconds).toFixed(0)} MiB/s, ETag ${put.ETag ?? '?'}, scan ${head.Metadata?.['strongroom-scan'] ?? 'none'})`,
  )
  const ratio = during.p99ms / alone.p99ms
  say(`p99 ratio:   ${ratio.toFixed(2)} (during / alone; target <= 1.20)`)
  if (values.json)
    console.log(
      JSON.stringify(
        {
          mib: zip.size / MiB,
          clients: CLIENTS,
          alone: { ...alone, samples: undefined },
          during: { ...during, samples: undefined },
          uploadSeconds,
          ratio,
        },
        null,
        2,
      ),
    )
  small.destroy()
  big.destroy()
} finally {
  await gw.stop()
  rmSync(work, { recursive: true, force: true })
}
import { spawnServe } from '../test/serve-process.ts'
