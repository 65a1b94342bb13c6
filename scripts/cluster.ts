/**
 * `npm run cluster`: a throwaway scale-out deployment on loopback, the way to try Strongroom on
 * PostgreSQL + Ceph RGW behind HAProxy before deploying it (test/cluster/cluster.ts):
 *
 *   endpoint: URL                            HAProxy, what clients use
 *   ca: PATH                                 AWS_CA_BUNDLE for them
 *   admin: ACCESS_KEY_ID SECRET_ACCESS_KEY   the administrator's key
 *   gateway: PID URL                         one line per gateway
 *
 * It stays up until interrupted (Ctrl-C, SIGTERM), then stops every process and removes every
 * file it made. Needs Debian's postgresql, haproxy, ceph-mon, ceph-osd, radosgw, ceph-common.
 */
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { NEEDS_CLUSTER, startCluster } from '../test/cluster/cluster.ts'

const gateways = Number(process.argv[2] ?? '3')
if (!Number.isInteger(gateways) || gateways < 1 || gateways > 9) {
  process.stderr.write('usage: npm run cluster [-- GATEWAYS]   (1 to 9, default 3)\n')
  process.exit(2)
}
const started = Date.now()
const cluster = await startCluster({
  gateways,
  log: (line) => process.stderr.write(`cluster: ${line}\n`),
})
if (cluster === undefined) {
  process.stderr.write(`cluster: ${NEEDS_CLUSTER}\n`)
  process.exit(1)
}
process.stdout.write(
  [
    `endpoint: ${cluster.endpoint}`,
    `ca: ${cluster.ca}`,
    `admin: ${cluster.admin.accessKeyId} ${cluster.admin.secretAccessKey}`,
    ...cluster.gateways.map((g) => `gateway: ${String(g.pid)} ${g.url}`),
    '',
  ].join('\n'),
)
// The CLI (doctor, migrate, audit export, explain) needs the stores and the root key: a file to
// source, owner-only, removed with the rest.
const envFile = join(dirname(cluster.dataDir), 'cluster.env')
writeFileSync(
  envFile,
  Object.entries(cluster.env)
    .filter(([k]) => k.startsWith('STRONGROOM_') && !k.startsWith('STRONGROOM_ADMIN_'))
    .map(([k, v]) => `${k}='${(v ?? '').replaceAll("'", "'\\''")}'\n`)
    .join(''),
  { mode: 0o600 },
)
process.stderr.write(
  `cluster: ready in ${((Date.now() - started) / 1000).toFixed(1)} s; try:\n` +
    `  AWS_ACCESS_KEY_ID=${cluster.admin.accessKeyId} AWS_SECRET_ACCESS_KEY=${cluster.admin.secretAccessKey} AWS_CA_BUNDLE=${cluster.ca} AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url ${cluster.endpoint} s3 mb s3://models\n` +
    `cluster: for the CLI (doctor, migrate, audit export): set -a; . ${envFile}; set +a\n` +
    'cluster: Ctrl-C stops it and removes everything\n',
)
let stopping = false
const shutdown = () => {
  if (stopping) return
  stopping = true
  process.stderr.write('cluster: stopping\n')
  void cluster.stop().then(() => process.exit(0))
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
// Stays up: the cluster's child processes keep the event loop alive.
setInterval(() => {}, 1 << 30)
