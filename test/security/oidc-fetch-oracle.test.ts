/**
 * The gateway fetches an OIDC issuer's keys when an unsigned AssumeRoleWithWebIdentity names
 * it: an outsider must not learn from the answer which internal hosts and ports are open (an
 * outside review saw ECONNREFUSED, TLS and certificate errors echoed back), and must not make the
 * gateway fetch again on every request. The answer is STS's own sentence, the same for every
 * failure; the detail goes to the operator's log.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html (IDPCommunicationError)
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TenantRecord } from '../../src/meta/identity.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-oidc-oracle-'))
let g: InProcess
let tenant: TenantRecord
const plain = createServer((_req, res) => res.end('not TLS'))

before(async () => {
  g = await startInProcess(dir)
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
  await g.app.identity.createRole(tenant, {
    name: 'r',
    trustPolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::${t.id}:oidc-provider/example.com` },
          Action: 'sts:AssumeRoleWithWebIdentity',
        },
      ],
    }),
  })
})
after(async () => {
  await g.close()
  plain.close()
  rmSync(dir, { recursive: true, force: true })
})

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

async function probe(issuer: string): Promise<string> {
  const token = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: issuer, aud: 'sts', sub: 'x', exp: 9_999_999_999 })}.AAAA`
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: `arn:aws:iam::${tenant.id}:role/r`,
    RoleSessionName: 'probe',
    WebIdentityToken: token,
  })
  const r = await fetch(`${g.running.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  })
  return `${String(r.status)} ${/<Message>([^<]*)<\/Message>/.exec(await r.text())?.[1] ?? ''}`
}

describe('OIDC key fetch as an oracle', () => {
  it('a closed port, a plain-HTTP port and a TLS mismatch answer the same sentence', async () => {
    const open = `https://127.0.0.1:${String((plain.address() as AddressInfo).port)}`
    const closed = 'https://127.0.0.1:1'
    for (const url of [open, closed])
      await g.app.identity.oidc.create(tenant, { url, clientIds: ['sts'], thumbprints: [] })
    const answers = new Set([await probe(open), await probe(closed)])
    assert.deepEqual(
      [...answers],
      [
        '400 Couldn&apos;t retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements',
      ],
    )
  })
})
