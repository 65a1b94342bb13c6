/**
 * Outside reviews of issues 11 and 15: "the audit writer resolves `flush()` with records still
 * queued after a failed append" and "an attacker who can break the disk or the files under the
 * audit log can then act without a record". Now the log refuses what it cannot record
 * (fail-closed, as Vault does: https://developer.hashicorp.com/vault/docs/audit#blocked-audit-devices):
 * once the journal is removed under the running gateway, no request runs its handler; each is
 * answered 503 ServiceUnavailable (SDKs retry it) with the reason, the health check fails so a
 * load balancer sends traffic elsewhere, and reads proceed only where the operator chose
 * best-effort for them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AuditLog } from '../../src/audit/log.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

const origin = 'strongroom/audit/test'
const key = generateKey(origin)

async function gatewayWithLog(reads: 'fail-closed' | 'best-effort') {
  const dir = mkdtempSync(join(tmpdir(), 'sr-audit-fail-'))
  const auditDir = join(dir, 'audit')
  const log = await AuditLog.open({
    dir: auditDir,
    signerKey: key.signerKey,
    verifierKey: key.verifierKey,
    origin,
    onAlert: () => {},
  })
  const g = await startInProcess(dir, {
    events: { log, hmacKey: Buffer.alloc(32), region: 'us-east-1', reads },
  })
  const made = await g.send(g.admin, { method: 'PUT', path: '/audited' })
  assert.equal(made.status, 200, made.body)
  const put = await g.send(g.admin, { method: 'PUT', path: '/audited/before', body: 'x' })
  assert.equal(put.status, 200, put.body)
  return { dir, auditDir, log, g }
}

describe('an audit log whose journal is removed under the running gateway (fail-closed)', () => {
  let t: Awaited<ReturnType<typeof gatewayWithLog>>
  let g: InProcess
  before(async () => {
    t = await gatewayWithLog('fail-closed')
    g = t.g
    rmSync(join(t.auditDir, 'journal'))
  })
  after(async () => {
    await g.close()
    await t.log.close()
    rmSync(t.dir, { recursive: true, force: true })
  })

  it('the first write after it is answered 503 with the reason, and nothing is sent before', async () => {
    const put = await g.send(g.admin, { method: 'PUT', path: '/audited/k', body: 'x' })
    assert.equal(put.status, 503, put.body)
    assert.match(put.body, /<Code>ServiceUnavailable<\/Code>/)
    assert.match(
      put.body,
      /audit log c(an|ould) ?not (record this request|store the event).*journal was removed/,
    )
  })

  it('later writes never reach their handler: the key does not exist', async () => {
    const put = await g.send(g.admin, { method: 'PUT', path: '/audited/k2', body: 'x' })
    assert.equal(put.status, 503, put.body)
    assert.match(put.body, /it was not carried out: the audit journal was removed/)
    const keys = (await g.app.objectMeta.listObjects('audited', '', '', 10)).objects.map(
      (o) => o.key,
    )
    assert.deepEqual(keys, ['before'])
  })

  it('reads and refusals are refused too (fail-closed), and the health check fails', async () => {
    const get = await g.send(g.admin, { method: 'GET', path: '/audited/before' })
    assert.equal(get.status, 503, get.body)
    const denied = await g.send(g.nobody, { method: 'GET', path: '/audited/before' })
    assert.equal(denied.status, 503, denied.body)
    const health = await fetch(`${g.running.url}/_health`)
    assert.equal(health.status, 503)
    assert.match(await health.text(), /^audit log: the audit journal was removed/)
  })
})

describe('the same with reads best-effort', () => {
  let t: Awaited<ReturnType<typeof gatewayWithLog>>
  before(async () => {
    t = await gatewayWithLog('best-effort')
    rmSync(join(t.auditDir, 'journal'))
    // The log learns of it at its first write.
    await t.g.send(t.g.admin, { method: 'PUT', path: '/audited/k', body: 'x' })
  })
  after(async () => {
    await t.g.close()
    await t.log.close()
    rmSync(t.dir, { recursive: true, force: true })
  })

  it('reads proceed; writes are refused', async () => {
    const get = await t.g.send(t.g.admin, { method: 'GET', path: '/audited/before' })
    assert.equal(get.status, 200, get.body)
    assert.equal(get.body, 'x')
    const put = await t.g.send(t.g.admin, { method: 'PUT', path: '/audited/k3', body: 'x' })
    assert.equal(put.status, 503, put.body)
    assert.ok(t.log.droppedCount >= 1, 'the read’s event could not be kept, and is counted')
  })
})
