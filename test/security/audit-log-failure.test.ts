/**
 * Outside review of issue 11: "the audit writer resolves `flush()` and `close()` with records
 * still queued after a failed append, and a full queue falls back to a synchronous append that
 * reorders the log". An attacker who can fill or break the disk under the decision log could
 * then act without a record. Now no record is dropped or reordered (src/api/audit.test.ts), and
 * the pipeline: a refusal is still answered 403 when its decisions cannot be written (the
 * writer reports the failure), but while the log is backlogged and cannot be written, no
 * request runs its handler: it is answered 503 ServiceUnavailable, which SDKs retry.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { DecisionRecord, RecordSink } from '../../src/api/audit.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

/** A decision log on a broken disk: it keeps what it is given and cannot store any of it. */
class BrokenLog implements RecordSink<DecisionRecord> {
  readonly held: DecisionRecord[] = []
  backlogged = false
  flushes = 0
  write(d: DecisionRecord): void {
    this.held.push(d)
  }
  flush(): Promise<void> {
    this.flushes++
    return Promise.reject(new Error('EIO: the disk under the audit log failed'))
  }
}

describe('a decision log that cannot be written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-audit-fail-'))
  const log = new BrokenLog()
  let g: InProcess
  before(async () => {
    g = await startInProcess(dir, { decisions: log })
    const made = await g.send(g.admin, { method: 'PUT', path: '/audited' })
    assert.equal(made.status, 200, made.body)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a refusal is still answered AccessDenied, after trying to store its decision', async () => {
    const flushes = log.flushes
    const r = await g.send(g.nobody, { method: 'PUT', path: '/audited/k', body: 'x' })
    assert.equal(r.status, 403)
    assert.match(r.body, /<Code>AccessDenied<\/Code>/)
    assert.equal(log.flushes, flushes + 1)
    assert.equal(log.held.at(-1)?.decision, 'ImplicitDeny')
  })

  it('while it is backlogged, an allowed request runs nothing and is answered 503', async () => {
    log.backlogged = true
    try {
      const put = await g.send(g.admin, { method: 'PUT', path: '/audited/k', body: 'x' })
      assert.equal(put.status, 503, put.body)
      assert.match(put.body, /<Code>ServiceUnavailable<\/Code>/)
      assert.match(put.body, /audit log cannot be written/)
    } finally {
      log.backlogged = false
    }
    // The PUT's handler never ran: the key does not exist.
    const get = await g.send(g.admin, { method: 'GET', path: '/audited/k' })
    assert.equal(get.status, 404, get.body)
    assert.equal(log.held.at(-1)?.action, 's3:GetObject')
    assert.equal(log.held.at(-1)?.decision, 'Allow')
  })
})
