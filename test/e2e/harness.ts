/**
 * A real `strongroom serve` over TLS with its own CA for end-to-end tests,
 * with two tenants (vision: alice, audio: bob) whose users may use all of S3
 * and their keys, and helpers that drive real clients against it.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request as httpsRequest } from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import { connect as tlsConnect } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { NEEDS_POSTGRES, startPostgres } from '../pg/server.ts'
import { rgwFromEnv } from '../ceph/server.ts'
import { BIN, spawnServe, type ServeProcess } from '../serve-process.ts'
import type { AuditEvent } from '../../src/audit/event.ts'
import { decisionsOf, events, type DecisionView } from '../../src/audit/read.ts'
import { PgMetadataStore } from '../../src/meta/postgres/store.ts'

export { BIN }

/**
 * STRONGROOM_E2E_POSTGRES=1 runs the suite with the gateway's metadata on a throwaway
 * PostgreSQL (test/pg/server.ts), one database per test file: CI's second configuration.
 */
const postgres = process.env.STRONGROOM_E2E_POSTGRES === '1' ? await startPostgres() : undefined
if (process.env.STRONGROOM_E2E_POSTGRES === '1') {
  assert.ok(postgres, NEEDS_POSTGRES)
  process.env.STRONGROOM_META = await postgres.createDatabase('e2e')
}
/**
 * STRONGROOM_TEST_RGW_ENDPOINT (with _ACCESS_KEY_ID and _SECRET_ACCESS_KEY, as
 * scripts/with-rgw.ts exports them) puts the gateway's sealed blobs in a bucket of that
 * S3-compatible service, a new bucket per test file: with STRONGROOM_E2E_POSTGRES=1, CI's
 * second configuration (PostgreSQL + Ceph RGW).
 */
const rgw = rgwFromEnv()
if (rgw !== undefined) {
  const bucket = `e2e-${randomBytes(6).toString('hex')}`
  const client = new S3Client({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: rgw.credentials,
  })
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  client.destroy()
  process.env.STRONGROOM_BLOBS = `s3://${bucket}/blobs`
  process.env.STRONGROOM_BLOBS_ENDPOINT = rgw.endpoint
  process.env.STRONGROOM_BLOBS_ACCESS_KEY_ID = rgw.credentials.accessKeyId
  process.env.STRONGROOM_BLOBS_SECRET_ACCESS_KEY = rgw.credentials.secretAccessKey
}
export const work = mkdtempSync(join(tmpdir(), 'sr-e2e-'))
export const dataDir = join(work, 'data')
export const ADMIN = { id: 'AKIAE2EADMIN00000001', secret: 'e2e-admin-secret-0123456789' }
let server: ServeProcess | undefined
export let endpoint = ''
/** What the gateway has written to stderr so far: access-log lines and operator alerts. */
export const serverStderr = (): string => server?.stderr() ?? ''
export let ca = ''

/**
 * The external clients the e2e tests drive, each with the Debian package that brings it.
 * `npm test` on a machine with only Node and npm skips a test whose client is missing, with
 * one line naming the package; CI sets STRONGROOM_REQUIRE_TOOLS=1 so a missing client fails.
 */
const TOOLS = {
  aws: { probe: ['aws', '--version'], pkg: 'awscli' },
  awsV2: { probe: ['/usr/bin/aws', '--version'], pkg: 'awscli' },
  boto3: { probe: ['python3', '-c', 'import boto3; boto3.client'], pkg: 'python3-boto3' },
  debianBoto3: {
    probe: ['/usr/bin/python3', '-c', 'import boto3; boto3.client'],
    pkg: 'python3-boto3',
  },
  rclone: { probe: ['rclone', 'version'], pkg: 'rclone' },
  s3cmd: { probe: ['s3cmd', '--version'], pkg: 's3cmd' },
  curl: { probe: ['curl', '--version'], pkg: 'curl' },
  sslscan: { probe: ['sslscan', '--version'], pkg: 'sslscan' },
  openssl: { probe: ['openssl', 'version'], pkg: 'openssl' },
  testssl: { probe: ['testssl', '--version'], pkg: 'testssl.sh' },
} as const
export type Tool = keyof typeof TOOLS
const found = new Map<Tool, boolean>()

/** True when every named client is installed; otherwise skips the test (or fails it under CI). */
export function needs(t: TestContext, ...tools: Tool[]): boolean {
  const missing = tools.filter((tool) => {
    let ok = found.get(tool)
    if (ok === undefined) {
      const [cmd, ...args] = TOOLS[tool].probe
      ok = spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
      found.set(tool, ok)
    }
    return !ok
  })
  if (missing.length === 0) return true
  const pkgs = [...new Set(missing.map((tool) => TOOLS[tool].pkg))].join(' ')
  const line = `needs Debian package ${pkgs} (apt-get install ${pkgs})`
  if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
    assert.fail(`${line}; STRONGROOM_REQUIRE_TOOLS=1`)
  t.skip(line)
  return false
}

/**
 * The gateway's audit events, oldest first: in PostgreSQL when the suite runs there (the
 * installation's shared log), else in DATA_DIR/audit.
 */
export async function loggedEvents(): Promise<AuditEvent[]> {
  const out: AuditEvent[] = []
  const meta = process.env.STRONGROOM_META
  if (meta === undefined) {
    for await (const e of events(join(dataDir, 'audit'))) out.push(e)
    return out
  }
  const store = await PgMetadataStore.open(meta, { maxConnections: 1 })
  try {
    for await (const e of events(store)) out.push(e)
  } finally {
    await store.close()
  }
  return out
}

/** Every decision in the gateway's audit log, oldest first. */
export async function loggedDecisions(): Promise<DecisionView[]> {
  return (await loggedEvents()).flatMap(decisionsOf)
}

/** Runs the CLI against the gateway's data directory; returns its status and output. */
export function strongroomRun(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { encoding: 'utf8' })
}

export function strongroom(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { encoding: 'utf8' })
  assert.equal(r.status, 0, `strongroom ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

export interface Creds {
  id: string
  secret: string
  /** A session's token (STS credentials). */
  token?: string
}

export function env(c: Creds): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: c.id,
    AWS_SECRET_ACCESS_KEY: c.secret,
    ...(c.token === undefined ? {} : { AWS_SESSION_TOKEN: c.token }),
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CA_BUNDLE: ca,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
}

export function run(cmd: string, args: string[], c: Creds, input?: Buffer) {
  const r = spawnSync(cmd, args, { env: env(c), input, maxBuffer: 64 << 20, cwd: work })
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString(), raw: r.stdout }
}

/** The aws CLI: `aws` is whatever the machine has first on PATH; /usr/bin/aws is Debian's v2. */
export const aws = (c: Creds, ...args: string[]) =>
  run('aws', ['--endpoint-url', endpoint, ...args], c)
export const awsV2 = (c: Creds, ...args: string[]) =>
  run('/usr/bin/aws', ['--endpoint-url', endpoint, ...args], c)
export const python = (c: Creds, code: string, bin = 'python3') =>
  run(
    bin,
    [
      '-c',
      // One attempt: botocore retries some errors (BadDigest) with backoff, which would only slow the tests.
      `import boto3, os\nfrom botocore.config import Config\ns3 = boto3.client('s3', endpoint_url='${endpoint}', verify='${ca}', config=Config(retries={'max_attempts': 1}))\n${code}`,
    ],
    c,
  )

export function sdk(c: Creds): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: c.id, secretAccessKey: c.secret },
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(ca) }) },
  })
}

export let alice: Creds
export let bob: Creds

export function newKey(tenant: string, user: string): Creds {
  const k = JSON.parse(
    strongroom(['access-key', 'create', '--tenant', tenant, '--user', user, '--json']),
  ) as { AccessKeyId: string; SecretAccessKey: string }
  return { id: k.AccessKeyId, secret: k.SecretAccessKey }
}

export function policyFile(name: string, doc: object): string {
  const p = join(work, name)
  writeFileSync(p, JSON.stringify(doc))
  return p
}

/** Puts an inline policy on a user with `strongroom user put-policy`. */
export function putUserPolicy(tenant: string, user: string, name: string, doc: object): void {
  const file = policyFile(`${tenant}-${user}-${name}.json`, doc)
  strongroom([
    'user',
    'put-policy',
    '--tenant',
    tenant,
    '--user',
    user,
    '--name',
    name,
    '--document',
    file,
  ])
}

/** A new user of `tenant` with one inline policy, and its access key. */
export function newUser(tenant: string, user: string, doc: object): Creds {
  strongroom(['user', 'create', '--tenant', tenant, user])
  putUserPolicy(tenant, user, 'policy', doc)
  return newKey(tenant, user)
}

/** Starts the gateway (with extra environment, such as timeouts) and creates the two tenants. */
export async function start(extraEnv: Record<string, string> = {}): Promise<void> {
  server = await spawnServe(
    ['--dev', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    {
      ...process.env,
      STRONGROOM_ADMIN_ACCESS_KEY_ID: ADMIN.id,
      STRONGROOM_ADMIN_SECRET_ACCESS_KEY: ADMIN.secret,
      ...extraEnv,
    },
    { timeoutMs: 30_000 },
  )
  endpoint = server.url
  ca = join(dataDir, 'ca.pem')
  for (const [tenant, user] of [
    ['vision', 'alice'],
    ['audio', 'bob'],
  ] as const) {
    strongroom(['tenant', 'create', tenant])
    strongroom(['user', 'create', '--tenant', tenant, user])
    putUserPolicy(tenant, user, 'all-s3', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
      ],
    })
  }
  alice = newKey('vision', 'alice')
  bob = newKey('audio', 'bob')
}

/** Stops the gateway and removes its data; call from `after`. */
export async function stop(): Promise<void> {
  await server?.stop()
  rmSync(work, { recursive: true, force: true })
  await postgres?.stop()
}

/** Sends raw bytes over TLS and returns what comes back until the server closes (or 10 s pass). */
export function rawTls(payload: string, endAfterWrite: boolean): Promise<string> {
  const { port } = new URL(endpoint)
  return new Promise<string>((resolve, reject) => {
    const sock = tlsConnect(
      { host: '127.0.0.1', port: Number(port), ca: readFileSync(ca), servername: 'localhost' },
      () => {
        sock.write(payload)
        if (endAfterWrite) sock.end()
      },
    )
    let out = ''
    sock.on('data', (d: Buffer) => (out += d.toString()))
    sock.on('close', () => resolve(out))
    sock.on('error', reject)
    setTimeout(() => sock.destroy(), 10_000).unref()
  })
}

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  /** The body as text. */
  text: string
}

/** One HTTPS request to the gateway (trusting its CA), as curl would send it: no signing. */
export function fetchTls(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url.startsWith('/') ? `${endpoint}${url}` : url,
      { method: o.method ?? 'GET', headers: o.headers, ca: readFileSync(ca), agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString(),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(o.body)
  })
}
