/**
 * A throwaway single-node Ceph RADOS Gateway for tests, as ceph's own vstart.sh makes one:
 * everything in a temporary directory (ceph.conf, monitor store, logs, admin sockets), one
 * monitor on a loopback v1 address (no msgr2), cephx off, one memstore OSD with pools of size
 * 1, no mgr, and radosgw's beast frontend on a free loopback port, with one S3 user of random
 * keys. Every daemon runs in the foreground as a child of this process; `stop` kills them all
 * and removes the directory. Debian's packages ceph-mon, ceph-osd, radosgw and ceph-common
 * bring the binaries; as root the daemons stay root.
 *
 * Without the binaries `startRgw` answers undefined and the caller skips with one line naming
 * the packages; with STRONGROOM_REQUIRE_TOOLS=1 (CI) it fails instead.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync } from 'node:fs'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'

export const NEEDS_CEPH =
  'needs Debian packages ceph-mon ceph-osd radosgw ceph-common (apt-get install ceph-mon ceph-osd radosgw ceph-common)'

export interface Rgw {
  /** e.g. http://127.0.0.1:PORT; path-style only (no rgw_dns_name). */
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** us-east-1: RGW does not check SigV4's region, and CreateBucket then sends no location. */
  readonly region: string
  /** The temporary directory: every daemon's command line names its ceph.conf there. */
  readonly dir: string
  /** Kills radosgw as a crash would (SIGKILL) and starts it again on the same port, keeping the data (OSD/mon untouched). */
  restartGateway(): Promise<void>
  /** Kills every daemon and removes the temporary directory. */
  stop(): Promise<void>
}

/** An S3 service named by STRONGROOM_TEST_RGW_ENDPOINT, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY. */
export function rgwFromEnv():
  { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } } | undefined {
  const e = process.env
  const endpoint = e.STRONGROOM_TEST_RGW_ENDPOINT
  const accessKeyId = e.STRONGROOM_TEST_RGW_ACCESS_KEY_ID
  const secretAccessKey = e.STRONGROOM_TEST_RGW_SECRET_ACCESS_KEY
  if (endpoint === undefined || endpoint === '') return undefined
  assert.ok(accessKeyId && secretAccessKey, 'STRONGROOM_TEST_RGW_ENDPOINT needs its keys')
  return { endpoint, credentials: { accessKeyId, secretAccessKey } }
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph', 'monmaptool', 'radosgw-admin']

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })

/** Starts a gateway, or answers undefined (failing under STRONGROOM_REQUIRE_TOOLS=1) without one. */
export async function startRgw(): Promise<Rgw | undefined> {
  const probe = `for b in ${BINARIES.join(' ')}; do command -v $b >/dev/null || exit 1; done`
  if (spawnSync('sh', ['-c', probe]).status !== 0) {
    if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
      assert.fail(`${NEEDS_CEPH}; STRONGROOM_REQUIRE_TOOLS=1`)
    return undefined
  }
  const dir = mkdtempSync(join(tmpdir(), 'sr-ceph-'))
  const conf = join(dir, 'ceph.conf')
  const log = (name: string) => join(dir, 'log', `${name}.log`)
  const tail = (name: string) => {
    const text = existsSync(log(name)) ? readFileSync(log(name), 'utf8') : '(no log)'
    return `${log(name)}:\n${text.split('\n').slice(-30).join('\n')}`
  }
  const [monPort, rgwPort] = [await freePort(), await freePort()]
  const fsid = randomUUID()
  for (const sub of ['log', 'run', 'osd']) mkdirSync(join(dir, sub))
  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
# v1 only: monmaptool's plain --add would give the monitor a v2 address nobody reaches.
mon_host = v1:127.0.0.1:${monPort}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr2 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = ${dir}/run
admin_socket = ${dir}/run/$name.asok
pid_file = ${dir}/run/$name.pid
log_file = ${dir}/log/$name.log
crash_dir = ${dir}/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
# The default 1 s between the monitor's proposals makes each of RGW's lazily made pools
# cost seconds; vstart.sh-like clusters start in about one second with this.
paxos_propose_interval = 0.05
[mon]
mon_data = ${dir}/mon
[osd]
osd_data = ${dir}/osd
osd_crush_update_on_start = false
osd_class_update_on_start = false
osd_objectstore = memstore
memstore_device_bytes = 8589934592
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}
# With its metadata cache, each write notifies every gateway's watch, a killed one's too,
# and waits the OSD's 30 s watch timeout for the dead one to answer.
rgw_cache_enabled = false
`,
  )
  const run = (cmd: string, args: string[]) => {
    let r = spawnSync(cmd, ['-c', conf, ...args], { encoding: 'utf8', timeout: 60_000 })
    // A monitor still settling (seen on a loaded machine right after its first command) answers
    // the CLI "problem getting command descriptions": asked again a moment later, it answers.
    for (
      let i = 0;
      i < 20 && r.status !== 0 && /getting command descriptions/.test(r.stderr);
      i++
    ) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250)
      r = spawnSync(cmd, ['-c', conf, ...args], { encoding: 'utf8', timeout: 60_000 })
    }
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`)
    return r.stdout
  }
  const daemons = new Map<string, ChildProcess>()
  const exited = new Map<string, Promise<unknown>>()
  const daemon = (name: string, cmd: string, args: string[]) => {
    const out = openSync(join(dir, 'log', `${name}.out`), 'a')
    const child = spawn(cmd, ['-f', '-c', conf, ...args], { stdio: ['ignore', out, out] })
    closeSync(out)
    daemons.set(name, child)
    exited.set(
      name,
      new Promise((resolve) => child.once('exit', resolve)).finally(() => {
        if (daemons.get(name) === child) daemons.delete(name)
      }),
    )
  }
  // A test process that ends without `stop` (a crash, a forgotten after hook) leaves nothing.
  const killAll = () => {
    for (const child of daemons.values()) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  const kill = async (name: string) => {
    daemons.get(name)?.kill('SIGKILL')
    await exited.get(name)
  }
  const stop = async () => {
    await Promise.all([...daemons.keys()].map(kill))
    process.removeListener('exit', killAll)
    rmSync(dir, { recursive: true, force: true })
  }

  const endpoint = `http://127.0.0.1:${rgwPort}`
  const accessKeyId = `SR${randomBytes(9).toString('hex').toUpperCase()}`
  const secretAccessKey = randomBytes(30).toString('base64url')
  const region = 'us-east-1'
  /** Polls `ready` while `name` runs, else fails naming `what` with the logs' tails. */
  const until = async (what: string, logs: string[], ready: () => Promise<boolean>) => {
    const name = logs[0] ?? ''
    const deadline = Date.now() + 60_000
    let last: unknown
    for (;;) {
      if (!daemons.has(name))
        assert.fail(`${name} exited while waiting for ${what}\n${logs.map(tail).join('\n')}`)
      try {
        if (await ready()) return
      } catch (err) {
        last = err
      }
      if (Date.now() > deadline)
        assert.fail(`timed out waiting for ${what} (${String(last)})\n${logs.map(tail).join('\n')}`)
      await sleep(100)
    }
  }
  const answers = async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2000) })).ok
  const startGateway = async () => {
    daemon('client.rgw', 'radosgw', ['-n', 'client.rgw'])
    await until(`radosgw to answer HTTP on ${endpoint}`, ['client.rgw'], answers)
  }

  try {
    const monmap = join(dir, 'monmap')
    run('monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, monmap])
    run('ceph-mon', ['-i', 'a', '--mkfs', '--monmap', monmap])
    daemon('mon.a', 'ceph-mon', ['-i', 'a'])
    // The CLI waits for the monitor to listen. An OSD placing itself in the CRUSH map on start
    // can ask before it knows the cluster's fsid ('wrong fsid') and exit, so it is placed here.
    const uuid = randomUUID()
    assert.equal(run('ceph', ['--connect-timeout', '30', 'osd', 'create', uuid]).trim(), '0')
    run('ceph', ['osd', 'crush', 'add', 'osd.0', '1', 'host=localhost', 'root=default'])
    run('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', uuid])
    daemon('osd.0', 'ceph-osd', ['-i', '0'])
    await until('osd.0 to be up', ['osd.0', 'mon.a'], () =>
      Promise.resolve(/"num_up_osds":1\b/.test(run('ceph', ['osd', 'stat', '-f', 'json']))),
    )
    // radosgw-admin makes the default realm/zone and the pools it needs, so waits for the OSD.
    const user = ['--uid=strongroom', '--display-name=Strongroom tests']
    const keys = [`--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]
    run('radosgw-admin', ['user', 'create', ...user, ...keys])
    await startGateway()
    // The bucket index and data pools come with the first bucket and the first object.
    const s3 = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    const Bucket = 'strongroom-ready'
    await until('a bucket and an object PUT on radosgw', ['client.rgw', 'osd.0'], async () => {
      await s3.send(new CreateBucketCommand({ Bucket })).catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err
      })
      await s3.send(new PutObjectCommand({ Bucket, Key: 'ready', Body: 'ready' }))
      return true
    })
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'ready' }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
    s3.destroy()
  } catch (err) {
    await stop()
    throw err
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    dir,
    async restartGateway() {
      await kill('client.rgw')
      await startGateway()
    },
    stop,
  }
}
