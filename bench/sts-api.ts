/**
 * STS API benchmarks (issue 13), each figure beside a baseline measured in the same run:
 *
 *   1. AssumeRole over HTTP on loopback (keep-alive, 16 in flight) vs GetCallerIdentity on the
 *      same path: the same codec, SigV4 and pipeline, without the trust decision and the
 *      sealing of a session. The gateway runs on the main thread (one core: Node serves on one
 *      thread); the clients sign and send from a worker thread, on the other core.
 *   2. AssumeRoleWithWebIdentity the same way, with the provider's keys at hand (the cost of a
 *      cached JWKS: verifying an RS256 token, the trust decision, the session)
 *   3. authenticating a SigV4 request signed with session credentials vs the same request signed
 *      with a long-term key (the authenticate stage alone, no HTTP): the difference is what a
 *      session token adds to a request
 *
 * Usage: node bench/sts-api.ts [--seconds N] [--json]
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { isMainThread, workerData } from 'node:worker_threads'
import { authenticate } from '../src/api/authenticate.ts'
import { PolicyCache } from '../src/api/policies.ts'
import { signedFormHeaders, type SigningKeys } from '../src/api/sign.ts'
import { startInProcess } from '../test/api/inprocess.ts'
import { client, throughput as load, type ClientJob } from './api-client.ts'
import { serviceAccountClaims, startIssuer } from '../test/sts/oidc-issuer.ts'

if (!isMainThread) await client(workerData as ClientJob)

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)

const dir = mkdtempSync(join(tmpdir(), 'sr-bench-sts-'))
const g = await startInProcess(dir)
const tenant = await g.app.identity.findTenant('acme')
if (tenant === undefined) throw new Error('no tenant')
const { role } = await g.app.identity.createRole(tenant, {
  name: 'trainer',
  trustPolicy: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${tenant.id}:root` },
        Action: 'sts:AssumeRole',
      },
    ],
  }),
})
await g.app.identity.putRolePolicy(
  role,
  'read',
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' }],
  }),
)
const url = new URL(g.running.url)
const admin: SigningKeys = { id: g.admin.id, secret: g.admin.secret }
const region = g.app.config.region

/** Requests per second the gateway answers, 16 in flight from a worker thread, after a warm-up. */
const throughput = (body: string, unsigned = false) =>
  load(new URL(import.meta.url), {
    url: url.href,
    keys: admin,
    region,
    service: 'sts',
    body,
    seconds,
    unsigned,
  })

const assume = `Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&RoleArn=${encodeURIComponent(`arn:aws:iam::${tenant.id}:role/trainer`)}`
const identity = 'Action=GetCallerIdentity&Version=2011-06-15'
const assumeRate = await throughput(assume)
const identityRate = await throughput(identity)

// AssumeRoleWithWebIdentity with the provider's keys at hand (inline: what a cached JWKS costs).
const issuer = await startIssuer()
await g.app.identity.oidc.create(tenant, {
  url: issuer.url,
  clientIds: ['sts.amazonaws.com'],
  thumbprints: [],
  jwks: issuer.jwks,
})
const host = issuer.url.replace(/^https:\/\//, '')
await g.app.identity.createRole(tenant, {
  name: 'pod',
  trustPolicy: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${tenant.id}:oidc-provider/${host}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${host}:sub`]: 'system:serviceaccount:ml:trainer' } },
      },
    ],
  }),
})
const webToken = await issuer.sign(serviceAccountClaims(issuer.url))
const web = new URLSearchParams({
  Action: 'AssumeRoleWithWebIdentity',
  Version: '2011-06-15',
  RoleArn: `arn:aws:iam::${tenant.id}:role/pod`,
  RoleSessionName: 'bench',
  WebIdentityToken: webToken,
}).toString()
const webRate = await throughput(web, true)
await issuer.close()

// The authenticate stage alone: a request signed with a long-term key, then with a session.
const now = Date.now()
const session = g.app.sessions.issue({
  tenantId: tenant.id,
  kind: 'role',
  name: role.name,
  principalId: role.id,
  sessionName: 'bench',
  issuedAt: now,
  expiresAt: now + 3_600_000,
})
const policies = new PolicyCache(() => {})
const view = (keys: SigningKeys) => ({
  method: 'POST',
  rawPath: '/',
  rawQuery: '',
  headers: signedFormHeaders(keys, { host: url.host, region, service: 'sts', body: identity }),
})
const longTerm = view(admin)
const withSession = view({
  id: session.accessKeyId,
  secret: session.secretAccessKey,
  token: session.sessionToken,
})
const o = { service: 'sts', bodyHash: createHash('sha256').update(identity).digest('hex') }
async function perCall(v: ReturnType<typeof view>): Promise<number> {
  for (let i = 0; i < 2000; i++) await authenticate(g.app, policies, Date.now(), v, [], o)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < 500; i++) await authenticate(g.app, policies, Date.now(), v, [], o)
    n += 500
  }
  return ((performance.now() - t0) * 1000) / n
}
const longTermUs = await perCall(longTerm)
const sessionUs = await perCall(withSession)

await g.close()
rmSync(dir, { recursive: true, force: true })

const rows = [
  {
    what: 'AssumeRole over HTTP (16 in flight; the gateway on one core)',
    strongroom: `${Math.round(assumeRate).toLocaleString('en')}/s`,
    baseline: `GetCallerIdentity on the same path: ${Math.round(identityRate).toLocaleString('en')}/s`,
    ratio: assumeRate / identityRate,
    target: '≥ 2,000/s',
  },
  {
    what: 'AssumeRoleWithWebIdentity over HTTP (RS256 token, the JWKS at hand)',
    strongroom: `${Math.round(webRate).toLocaleString('en')}/s`,
    baseline: `GetCallerIdentity on the same path: ${Math.round(identityRate).toLocaleString('en')}/s`,
    ratio: webRate / identityRate,
    target: '≥ 1,000/s',
  },
  {
    what: 'authenticate a SigV4 request signed with session credentials',
    strongroom: `${sessionUs.toFixed(1)} µs`,
    baseline: `the same request with a long-term key: ${longTermUs.toFixed(1)} µs`,
    ratio: sessionUs / longTermUs,
    target: `≤ +50 µs (here ${(sessionUs - longTermUs).toFixed(1)} µs)`,
  },
]
if (values.json) console.log(JSON.stringify(rows))
else
  for (const r of rows)
    console.log(
      `${r.what}: ${r.strongroom}; ${r.baseline}; ratio ${r.ratio.toFixed(2)} (target ${r.target})`,
    )
