/**
 * Outside review of issue 15, requests that acted without leaving their event:
 * - F1: a client that closes its TLS connection right after sending a DELETE (or a PUT): the
 *   object was gone, the event was lost (the audit stage read the cipher of a closed socket);
 * - F2: IAM takes GET for writes (`GET /?Action=CreateUser`): under best-effort reads such a
 *   write skipped the fail-closed checks, ran, and went unrecorded;
 * - F3: an anonymous request whose event passed 65,535 bytes (a 20,000-character RoleArn of
 *   control characters) got no record and a reset connection.
 * Each now leaves exactly its event, or is refused before it runs.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as netConnect } from 'node:net'
import { connect } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import type { AuditEvent } from '../../src/audit/event.ts'
import { AuditLog } from '../../src/audit/log.ts'
import { events as readEvents } from '../../src/audit/read.ts'
import { testCertificates } from '../../src/audit/sinks/testing.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'
import { signHeaders, startInProcess, type InProcess } from '../api/inprocess.ts'

async function logged(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = []
  for await (const e of readEvents(dir)) out.push(e)
  return out
}

describe('F1: a TLS client that hangs up right after its write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-evasion-tls-'))
  const certs = testCertificates()
  let g: InProcess
  before(async () => {
    g = await startInProcess(dir, { tls: { key: certs.keyPem, cert: certs.certPem } })
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('still leaves the DELETE’s event (status and caller), though nobody read the answer', async () => {
    const base = new URL(g.running.url)
    const send = async (method: string, path: string, body = ''): Promise<void> => {
      const url = new URL(path, base)
      const headers = await signHeaders(g.admin, method, url, Buffer.from(body), {})
      const head = Object.entries({ ...headers, 'content-length': String(body.length) })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')
      return new Promise<void>((resolve) => {
        const s = connect(
          {
            host: base.hostname,
            port: Number(base.port),
            ca: certs.caPem,
            servername: 'localhost',
          },
          () => {
            s.end(`${method} ${path} HTTP/1.1\r\n${head}\r\n\r\n${body}`)
            s.destroy()
            resolve()
          },
        )
        s.on('error', () => resolve())
      })
    }
    await send('PUT', '/victims')
    await send('PUT', '/victims/one', 'x')
    await new Promise((r) => setTimeout(r, 500))
    await send('DELETE', '/victims/one')
    await new Promise((r) => setTimeout(r, 500))
    const names = (await logged(join(dir, 'data', 'audit'))).map(
      (e) => `${e.eventName} ${e.tlsDetails?.tlsVersion ?? ''}`,
    )
    assert.ok(names.includes('DeleteObject TLSv1.3'), names.join(', '))
  })
})

describe('F2 and F3, with reads best-effort and the journal removed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-evasion-'))
  const key = generateKey('strongroom/audit/test')
  let g: InProcess
  let log: AuditLog
  before(async () => {
    log = await AuditLog.open({
      dir: join(dir, 'audit'),
      signerKey: key.signerKey,
      verifierKey: key.verifierKey,
      origin: 'strongroom/audit/test',
      onAlert: () => {},
    })
    g = await startInProcess(dir, {
      events: { log, hmacKey: Buffer.alloc(32), region: 'us-east-1', reads: 'best-effort' },
    })
  })
  after(async () => {
    await g.close()
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('F3: an anonymous request with a 20,000-character RoleArn is answered and recorded', async () => {
    const form = new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: `arn:aws:iam::111122223333:role/${'\u0001'.repeat(20_000)}`,
      RoleSessionName: 's',
      WebIdentityToken: 'a.b.c',
    })
    const r = await fetch(`${g.running.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    })
    assert.ok(r.status >= 400 && r.status < 500, String(r.status))
    await log.flush()
    const last = (await logged(join(dir, 'audit'))).at(-1)
    assert.equal(last?.eventName, 'AssumeRoleWithWebIdentity')
    assert.ok(!JSON.stringify(last).includes('a.b.c'), 'the token never appears')
  })

  it('F9: a request that is not HTTP at all is still one event', async () => {
    const base = new URL(g.running.url)
    await new Promise<void>((resolve) => {
      const c = netConnect(Number(base.port), base.hostname, () => c.write('NONSENSE /\r\n\r\n'))
      c.on('data', () => undefined)
      c.on('close', () => resolve())
      c.on('error', () => resolve())
    })
    await log.flush()
    const last = (await logged(join(dir, 'audit'))).at(-1)
    assert.deepEqual(
      [
        last?.eventName,
        last?.errorCode,
        last?.strongroom.status,
        last?.sourceIPAddress.endsWith('127.0.0.1'),
      ],
      ['Unknown', 'InvalidRequest', 400, true],
    )
  })

  it('F2: GET /?Action=CreateUser is a write: refused while the log cannot record, and not carried out', async () => {
    const { rmSync: rm } = await import('node:fs')
    rm(join(dir, 'audit', 'journal'))
    await g.send(g.admin, { method: 'PUT', path: '/wakes-the-log', body: 'x' })
    const url = new URL(`${g.running.url}/?Action=CreateUser&Version=2010-05-08&UserName=ghost`)
    const headers = await signHeaders(g.admin, 'GET', url, Buffer.alloc(0), {}, 'iam')
    const r = await fetch(url, { headers })
    assert.equal(r.status, 503, await r.text())
    const tenant = await g.app.identity.findTenant('acme')
    assert.ok(tenant !== undefined)
    const users = await g.app.identity.listUsers(tenant)
    assert.ok(!users.some((u) => u.name === 'ghost'))
  })
})
