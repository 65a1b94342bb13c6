/**
 * Does adding gateways add throughput? (issue 14). The same workload against:
 *  - the embedded default: one `strongroom serve` on SQLite + the data directory (the baseline);
 *  - a cluster (test/cluster/cluster.ts) of 1, 2 and 3 gateways on PostgreSQL + Ceph RGW
 *    behind HAProxy, each started afresh.
 * All over TLS, from this process through the AWS SDK for JavaScript v3, keep-alive on.
 *
 * Workload, per deployment, one after the other:
 *  - 4 KiB PUT and then GET of random keys for --seconds each, --concurrency requests in flight;
 *  - 256 MiB PUT and then GET (--big-objects objects, two in flight), in MiB/s.
 * Every figure is reported with its ratio to the one-gateway cluster and to the embedded
 * baseline measured in the same run. Everything (load generator, PostgreSQL, the Ceph daemons,
 * HAProxy, the gateways) shares this machine's cores: say how many with the result.
 *
 * Usage: node bench/cluster.ts [--seconds 8] [--concurrency 16] [--big-objects 4] [--json]
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent } from 'node:https'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { NEEDS_CLUSTER, startCluster } from '../test/cluster/cluster.ts'
import { spawnServe } from '../test/serve-process.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '16' },
    'big-objects': { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const BIG_OBJECTS = Number(values['big-objects'])
const BIG = 256 * 1024 * 1024
const SMALL = randomBytes(4096)

interface Result {
  readonly deployment: string
  readonly smallPut: number
  readonly smallGet: number
  readonly bigPut: number
  readonly bigGet: number
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

async function workload(
  deployment: string,
  endpoint: string,
  ca: string,
  creds: { accessKeyId: string; secretAccessKey: string },
): Promise<Result> {
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: creds,
    maxAttempts: 1,
    requestHandler: {
      httpsAgent: new Agent({ ca: readFileSync(ca), keepAlive: true, maxSockets: 64 }),
    },
  })
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }))
    const keys: string[] = []
    const timed = async (op: (i: number) => Promise<void>): Promise<number> => {
      let n = 0
      const end = performance.now() + SECONDS * 1000
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) await op(n++)
        }),
      )
      return n / SECONDS
    }
    log(`${deployment}: 4 KiB PUT`)
    const smallPut = await timed(async (i) => {
      const Key = `small/${String(i)}`
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key, Body: SMALL }))
      keys.push(Key)
    })
    log(`${deployment}: 4 KiB GET`)
    const smallGet = await timed(async (i) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: keys[i % keys.length] }))
      await r.Body?.transformToByteArray()
    })
    const big = randomBytes(BIG)
    const pairs = async (op: (i: number) => Promise<void>): Promise<number> => {
      const started = performance.now()
      for (let i = 0; i < BIG_OBJECTS; i += 2)
        await Promise.all([op(i), ...(i + 1 < BIG_OBJECTS ? [op(i + 1)] : [])])
      return (BIG_OBJECTS * 256) / ((performance.now() - started) / 1000)
    }
    log(`${deployment}: 256 MiB PUT`)
    const bigPut = await pairs(async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `big/${String(i)}`, Body: big }))
    })
    log(`${deployment}: 256 MiB GET`)
    const bigGet = await pairs(async (i) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `big/${String(i)}` }))
      let n = 0
      for await (const chunk of r.Body as AsyncIterable<Uint8Array>) n += chunk.byteLength
      if (n !== BIG) throw new Error(`GET gave ${String(n)} bytes`)
    })
    return { deployment, smallPut, smallGet, bigPut, bigGet }
  } finally {
    s3.destroy()
  }
}

async function embedded(): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-bench-embedded-'))
  const admin = {
    accessKeyId: 'AKIABENCHADMIN000001',
    secretAccessKey: randomBytes(24).toString('base64url'),
  }
  const gw = await spawnServe(
    ['--dev', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0'],
    {
      ...process.env,
      STRONGROOM_ADMIN_ACCESS_KEY_ID: admin.accessKeyId,
      STRONGROOM_ADMIN_SECRET_ACCESS_KEY: admin.secretAccessKey,
    },
  )
  const url = gw.url
  try {
    return await workload(
      'embedded (SQLite + disk), 1 gateway',
      url,
      join(dir, 'data', 'ca.pem'),
      admin,
    )
  } finally {
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const results: Result[] = [await embedded()]
for (const n of [1, 2, 3]) {
  const cluster = await startCluster({ gateways: n, log })
  if (cluster === undefined) {
    process.stderr.write(`${NEEDS_CLUSTER}\n`)
    process.exit(1)
  }
  try {
    results.push(
      await workload(
        `PostgreSQL + RGW, ${String(n)} gateway${n > 1 ? 's' : ''}`,
        cluster.endpoint,
        cluster.ca,
        cluster.admin,
      ),
    )
  } finally {
    await cluster.stop()
  }
}

if (values.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
else {
  const base = results[0]
  const one = results[1]
  if (base === undefined || one === undefined) throw new Error('no results')
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
  const r = (v: number, b: number) => `${(v / b).toFixed(2)}×`
  process.stdout.write(
    `${String(availableParallelism())} cores shared by the load generator, PostgreSQL, Ceph (mon, osd, rgw), HAProxy and the gateways; ${String(SECONDS)} s per small-object figure, ${String(CONCURRENCY)} in flight; ${String(BIG_OBJECTS)} × 256 MiB, two in flight\n\n` +
      '| deployment | 4 KiB PUT/s | 4 KiB GET/s | 256 MiB PUT MiB/s | 256 MiB GET MiB/s | vs 1 gateway (PUT, GET, big PUT, big GET) | vs embedded (same order) |\n' +
      '| --- | --- | --- | --- | --- | --- | --- |\n' +
      results
        .map(
          (x) =>
            `| ${x.deployment} | ${f(x.smallPut)} | ${f(x.smallGet)} | ${f(x.bigPut)} | ${f(x.bigGet)} | ${r(x.smallPut, one.smallPut)}, ${r(x.smallGet, one.smallGet)}, ${r(x.bigPut, one.bigPut)}, ${r(x.bigGet, one.bigGet)} | ${r(x.smallPut, base.smallPut)}, ${r(x.smallGet, base.smallGet)}, ${r(x.bigPut, base.bigPut)}, ${r(x.bigGet, base.bigGet)} |`,
        )
        .join('\n') +
      '\n',
  )
}
