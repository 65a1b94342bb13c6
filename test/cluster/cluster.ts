/**
 * A throwaway scale-out deployment on loopback, from Debian's packages: PostgreSQL for metadata
 * (test/pg/server.ts), a single-node Ceph RGW for sealed blobs (test/ceph/server.ts), N
 * stateless gateways (`strongroom serve` processes sharing nothing but those two stores and
 * the root key), and HAProxy in TCP mode in front (TLS passes through to the gateways).
 * `npm run cluster` (scripts/cluster.ts) starts one for a person; the cluster tests start
 * their own.
 *
 * Each gateway has a data directory of its own, as on a machine of its own: the CA, the audit
 * log, metadata and blobs are in the shared stores. HAProxy checks each gateway's /_health
 * over TLS every 500 ms (a frozen gateway, or one whose audit log cannot record, leaves the
 * rotation) and redispatches a connection a dead gateway refuses, so a client's retry reaches
 * a live one.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { startPostgres, type Postgres } from '../pg/server.ts'
import { startRgw, type Rgw } from '../ceph/server.ts'
import { BIN, spawnServe, type ServeProcess } from '../serve-process.ts'
import { HEALTH_PATH } from '../../src/api/server.ts'

export const NEEDS_CLUSTER =
  'needs Debian packages postgresql haproxy ceph-mon ceph-osd radosgw ceph-common (apt-get install postgresql haproxy ceph-mon ceph-osd radosgw ceph-common)'

export interface Gateway {
  readonly url: string
  readonly pid: number
  /** SIGKILL: the gateway dies as a crash would, mid-request. */
  kill(): Promise<void>
}

export interface Cluster {
  /** HAProxy's address: what clients use. */
  readonly endpoint: string
  /** The CA bundle that verifies every gateway's certificate (AWS_CA_BUNDLE). */
  readonly ca: string
  readonly admin: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly gateways: Gateway[]
  /** The environment a gateway or CLI command of this cluster runs with (stores, root key). */
  readonly env: NodeJS.ProcessEnv
  readonly dataDir: string
  readonly postgres: Postgres
  readonly rgw: Rgw
  /** Starts one more gateway (after a kill, say) and adds it to `gateways`; HAProxy knows its port already. */
  startGateway(index: number): Promise<Gateway>
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

function haproxyBinary(): string | undefined {
  for (const p of ['/usr/sbin/haproxy', '/usr/bin/haproxy'])
    if (spawnSync(p, ['-v'], { stdio: 'ignore' }).status === 0) return p
  return undefined
}

/** Starts the whole cluster, or answers undefined when a package is missing (failing under STRONGROOM_REQUIRE_TOOLS=1). */
export async function startCluster(
  options: { gateways?: number; log?: (line: string) => void } = {},
): Promise<Cluster | undefined> {
  const n = options.gateways ?? 3
  const log = options.log ?? (() => {})
  const haproxy = haproxyBinary()
  if (haproxy === undefined) {
    if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
      assert.fail(`${NEEDS_CLUSTER}; STRONGROOM_REQUIRE_TOOLS=1`)
    return undefined
  }
  const work = mkdtempSync(join(tmpdir(), 'sr-cluster-'))
  const cleanup: (() => Promise<void> | void)[] = [
    () => rmSync(work, { recursive: true, force: true }),
  ]
  const stop = async () => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined)
  }
  try {
    log('starting PostgreSQL')
    const postgres = await startPostgres()
    if (postgres === undefined) {
      await stop()
      return undefined
    }
    cleanup.push(() => postgres.stop())
    log('starting Ceph RGW')
    const rgw = await startRgw()
    if (rgw === undefined) {
      await stop()
      return undefined
    }
    cleanup.push(() => rgw.stop())
    const bucket = 'strongroom-blobs'
    const s3 = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    })
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    s3.destroy()

    const dataDir = join(work, 'data')
    const admin = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STRONGROOM_DATA_DIR: dataDir,
      STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex'),
      STRONGROOM_META: await postgres.createDatabase('strongroom'),
      STRONGROOM_BLOBS: `s3://${bucket}/blobs`,
      STRONGROOM_BLOBS_ENDPOINT: rgw.endpoint,
      STRONGROOM_BLOBS_REGION: rgw.region,
      STRONGROOM_BLOBS_ACCESS_KEY_ID: rgw.accessKeyId,
      STRONGROOM_BLOBS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      STRONGROOM_ADMIN_ACCESS_KEY_ID: admin.accessKeyId,
      STRONGROOM_ADMIN_SECRET_ACCESS_KEY: admin.secretAccessKey,
    }
    const init = spawnSync(process.execPath, [BIN, 'init'], { env, encoding: 'utf8' })
    assert.equal(init.status, 0, `strongroom init: ${init.stderr}`)

    const gatewayDir = (index: number) => join(work, `gateway-${String(index)}`)
    const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
    const gateways: Gateway[] = []
    const running = new Set<ServeProcess>()
    cleanup.push(async () => {
      await Promise.all([...running].map((g) => g.stop('SIGKILL')))
    })
    const startGateway = async (index: number): Promise<Gateway> => {
      const port = ports[index]
      assert.ok(port !== undefined, `no gateway ${String(index)}`)
      // A data directory of its own, as on a machine of its own: the CA, the audit log and
      // everything else that matters are in PostgreSQL and the bucket.
      const g = await spawnServe(['--listen', `127.0.0.1:${String(port)}`], {
        ...env,
        STRONGROOM_DATA_DIR: gatewayDir(index),
      }).catch((e: unknown) => {
        throw new Error(`gateway ${String(index)}: ${(e as Error).message}`)
      })
      running.add(g)
      g.proc.once('exit', () => running.delete(g))
      const gateway: Gateway = { url: g.url, pid: g.proc.pid ?? 0, kill: () => g.stop('SIGKILL') }
      gateways[index] = gateway
      return gateway
    }
    // One at a time: the first makes the CA and the admin user, the others find them.
    for (let i = 0; i < n; i++) {
      log(`starting gateway ${String(i + 1)}`)
      await startGateway(i)
    }

    const front = await freePort()
    const config = join(work, 'haproxy.cfg')
    writeFileSync(
      config,
      [
        'global',
        '  maxconn 4096',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 10m',
        '  timeout server 10m',
        // A connection a dead gateway refuses goes to another one.
        '  retries 3',
        '  option redispatch',
        'frontend strongroom',
        `  bind 127.0.0.1:${String(front)}`,
        '  default_backend gateways',
        'backend gateways',
        '  balance roundrobin',
        // A gateway is in rotation while its health check answers 200 over TLS: not one that
        // is frozen (no answer within a second), nor one whose audit log cannot record (503).
        `  option httpchk GET ${HEALTH_PATH}`,
        '  http-check expect status 200',
        '  timeout check 1s',
        ...ports.map(
          (p, i) =>
            `  server gw${String(i + 1)} 127.0.0.1:${String(p)} check check-ssl verify required ca-file ${join(gatewayDir(0), 'ca.pem')} inter 500ms fall 1 rise 1`,
        ),
        '',
      ].join('\n'),
    )
    log('starting HAProxy')
    const lb = spawn(haproxy, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    let lbErrors = ''
    lb.stderr.on('data', (d: Buffer) => (lbErrors += d.toString()))
    cleanup.push(async () => {
      if (lb.exitCode !== null) return
      const exited = new Promise((r) => lb.once('exit', r))
      lb.kill('SIGKILL')
      await exited
    })
    await waitForPort(front, () => lbErrors)
    return {
      endpoint: `https://127.0.0.1:${String(front)}`,
      // Every gateway's certificate chains to the one CA in PostgreSQL; the first's copy of it.
      ca: join(gatewayDir(0), 'ca.pem'),
      admin,
      gateways,
      env,
      dataDir,
      postgres,
      rgw,
      startGateway,
      stop,
    }
  } catch (e) {
    await stop()
    throw e
  }
}

async function waitForPort(port: number, errors: () => string): Promise<void> {
  const { connect } = await import('node:net')
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`HAProxy did not listen on ${String(port)}: ${errors()}`)
}
