/**
 * What mutual TLS costs a 4 KiB GET (issue 17: at most 10 % on its latency): one gateway in this
 * process with two listeners on the same app, one asking for no client certificate and one
 * requiring a workload certificate from the built-in PKI (checked against the root and the
 * CRLs). The AWS SDK for JavaScript GETs the same 4 KiB object through each, one request at a
 * time, in alternating rounds, with keep-alive as SDKs run (`--fresh`: a new connection, and so
 * a full handshake, for every request). Reports p50 and p99 of each and the p50 ratio.
 *
 * Usage: node bench/mtls.ts [--requests N] [--fresh] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { initDataDir, openApp } from '../src/app.ts'
import { S3Gateway } from '../src/api/s3.ts'
import { listen, type ListenerTls } from '../src/api/server.ts'
import { loadConfig } from '../src/config.ts'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    fresh: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const REQUESTS = Number(values.requests)
const ROUNDS = 10
const CREDS = { accessKeyId: 'AKIABENCHMTLS0000001', secretAccessKey: 'bench-mtls-secret-000001' }

const work = mkdtempSync(join(tmpdir(), 'sr-bench-mtls-'))
const config = loadConfig({ env: {}, flags: { 'data-dir': join(work, 'data') } })
await initDataDir(config, { dev: true })
const app = await openApp(config)
try {
  const tenant = await app.identity.createTenant('admin')
  const user = await app.identity.createUser(tenant, 'admin')
  await app.identity.putUserPolicy(
    user,
    'all',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
    }),
  )
  await app.identity.createAccessKey(user, CREDS)
  const role = await app.identity.createRole(tenant, {
    name: 'reader',
    trustPolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: tenant.id }, Action: 'sts:AssumeRole' }],
    }),
  })
  const id = await app.pki.serverIdentity(['127.0.0.1'])
  const workload = await app.pki.issueWorkload({
    tenantId: tenant.id,
    tenantName: tenant.name,
    role: role.role.name,
  })
  const gateway = new S3Gateway({ app, objects: app.objects, onAlert: () => undefined })
  const base = { host: '127.0.0.1', port: 0, log: () => undefined }
  const tls: ListenerTls = { key: id.keyPem, cert: id.certPem }
  const plain = await listen(gateway, { ...base, tls })
  const mutual = await listen(gateway, {
    ...base,
    tls: { ...tls, clientCertificates: 'required', ca: id.caPem, crl: await app.pki.crls() },
  })
  const client = (url: string, mtls: boolean) =>
    new S3Client({
      endpoint: url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: CREDS,
      maxAttempts: 1,
      requestHandler: {
        httpsAgent: new Agent({
          ca: id.caPem,
          keepAlive: !values.fresh,
          maxSockets: 1,
          ...(mtls ? { cert: workload.certPem, key: workload.keyPem } : {}),
        }),
      },
    })
  const clients = { tls: client(plain.url, false), mtls: client(mutual.url, true) }
  await clients.tls.send(new CreateBucketCommand({ Bucket: 'bench' }))
  await clients.tls.send(
    new PutObjectCommand({ Bucket: 'bench', Key: 'small', Body: Buffer.alloc(4096, 7) }),
  )
  const times: Record<keyof typeof clients, number[]> = { tls: [], mtls: [] }
  const get = async (c: S3Client) => {
    const r = await c.send(new GetObjectCommand({ Bucket: 'bench', Key: 'small' }))
    const b = await r.Body?.transformToByteArray()
    if (b?.length !== 4096) throw new Error('a GET returned the wrong body')
  }
  for (const c of Object.values(clients)) for (let i = 0; i < 50; i++) await get(c)
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, c] of Object.entries(clients) as [keyof typeof clients, S3Client][])
      for (let i = 0; i < REQUESTS / ROUNDS; i++) {
        const t = performance.now()
        await get(c)
        times[name].push(performance.now() - t)
      }
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] ?? 0
  const out = {
    requests: REQUESTS,
    fresh: values.fresh,
    tls: { p50: pct(times.tls, 0.5), p99: pct(times.tls, 0.99) },
    mtls: { p50: pct(times.mtls, 0.5), p99: pct(times.mtls, 0.99) },
    p50Ratio: pct(times.mtls, 0.5) / pct(times.tls, 0.5),
  }
  if (values.json) console.log(JSON.stringify(out))
  else {
    console.log(
      `4 KiB GET, ${String(REQUESTS)} each, ${values.fresh ? 'a new connection each' : 'keep-alive'}`,
    )
    console.log(`  TLS         p50 ${out.tls.p50.toFixed(2)} ms   p99 ${out.tls.p99.toFixed(2)} ms`)
    console.log(
      `  mutual TLS  p50 ${out.mtls.p50.toFixed(2)} ms   p99 ${out.mtls.p99.toFixed(2)} ms`,
    )
    console.log(`  p50 ratio   ${out.p50Ratio.toFixed(3)}`)
  }
  for (const c of Object.values(clients)) c.destroy()
  await plain.close()
  await mutual.close()
} finally {
  await app.close()
  rmSync(work, { recursive: true, force: true })
}
