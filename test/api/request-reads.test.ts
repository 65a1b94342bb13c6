/**
 * What one request reads, it reads once: the gateway's store calls for a PutObject and a
 * GetObject are counted (the object service's and the key service's own reads are not the
 * gateway's; the key policy comes through the key service, once per request), and a stored
 * policy is compiled once per text, process-wide, and afresh when its text changes.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { App } from '../../src/app.ts'
import { startInProcess, type InProcess } from './inprocess.ts'

describe('per-request reads and the compiled-policy cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-reads-'))
  const calls = new Map<string, number>()
  let h: InProcess

  /** The gateway's App, its store counting every method called. */
  const counting = (app: App): App => {
    const store = new Proxy(app.store, {
      get(target, name, receiver) {
        const v: unknown = Reflect.get(target, name, receiver)
        if (typeof v !== 'function' || typeof name !== 'string') return v
        return (...args: unknown[]) => {
          calls.set(name, (calls.get(name) ?? 0) + 1)
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    return { ...app, config: app.config, kms: app.kms, store, close: () => app.close() }
  }

  before(async () => {
    h = await startInProcess(dir, { wrap: counting })
    assert.equal((await h.send(h.admin, { method: 'PUT', path: '/bkt' })).status, 200)
  })
  after(async () => {
    await h.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a PutObject reads the caller, tenant, bucket and key once each', async () => {
    calls.clear()
    const r = await h.send(h.admin, { method: 'PUT', path: '/bkt/k', body: 'data' })
    assert.equal(r.status, 200, r.body)
    assert.deepEqual(
      Object.fromEntries(
        ['getAccessKey', 'getTenantById', 'getUser', 'listUserPolicies', 'getBucket', 'getKey'].map(
          (m) => [m, calls.get(m) ?? 0],
        ),
      ),
      {
        getAccessKey: 1,
        getTenantById: 1,
        getUser: 1,
        listUserPolicies: 1,
        getBucket: 1,
        getKey: 1,
      },
    )
  })

  it('a GetObject reads the object row once', async () => {
    calls.clear()
    const r = await h.send(h.admin, { method: 'GET', path: '/bkt/k' })
    assert.equal(r.status, 200, r.body)
    assert.equal(r.body, 'data')
    assert.deepEqual(
      [
        calls.get('getObject'),
        calls.get('getBucket'),
        calls.get('getKey'),
        calls.get('getTenantById'),
      ],
      [1, 1, 1, 1],
    )
  })

  it('a policy is compiled once per text, and again when its text changes', async () => {
    const before = h.gateway.policies.size
    assert.equal((await h.send(h.admin, { method: 'GET', path: '/bkt/k' })).status, 200)
    assert.equal(h.gateway.policies.size, before, 'the same texts: nothing compiled')
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bkt/k' },
      ],
    })
    const put = await h.send(h.admin, { method: 'PUT', path: '/bkt?policy', body: policy })
    assert.equal(put.status, 204, put.body)
    assert.equal((await h.send(h.admin, { method: 'GET', path: '/bkt/k' })).status, 403)
    assert.equal(h.gateway.policies.size, before + 1, 'the new bucket policy compiled once')
    assert.equal((await h.send(h.admin, { method: 'GET', path: '/bkt/k' })).status, 403)
    assert.equal(h.gateway.policies.size, before + 1)
  })
})
