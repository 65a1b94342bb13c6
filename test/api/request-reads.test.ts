/**
 * What one request reads, it reads once: the gateway's calls on the services it reads metadata
 * through (identity, buckets, object metadata, keys) are counted for a PutObject and a
 * GetObject (the object service's own reads are not the gateway's), and a stored policy is
 * compiled once per text, process-wide, and afresh when its text changes.
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
  const rows = new Map<string, number>()
  let h: InProcess

  /** Counts every call of `service`'s methods as `prefix.method` (its own inner calls are not counted). */
  const count = <T extends object>(prefix: string, service: T): T =>
    new Proxy(service, {
      get(target, name) {
        const v: unknown = Reflect.get(target, name, target)
        if (typeof v !== 'function' || typeof name !== 'string') return v
        return (...args: unknown[]) => {
          calls.set(`${prefix}.${name}`, (calls.get(`${prefix}.${name}`) ?? 0) + 1)
          const out = (v as (...a: unknown[]) => unknown).apply(target, args)
          // Rows a listing answered, summed: what a request read, not only how often.
          if (out instanceof Promise)
            void out.then(
              (x: unknown) => {
                if (Array.isArray(x))
                  rows.set(`${prefix}.${name}`, (rows.get(`${prefix}.${name}`) ?? 0) + x.length)
              },
              () => {},
            )
          return out
        }
      },
    })

  /** The gateway's App, the services it reads metadata through counting every call. */
  const counting = (app: App): App => ({
    ...app,
    identity: count('identity', app.identity),
    buckets: count('buckets', app.buckets),
    objectMeta: count('objectMeta', app.objectMeta),
    keys: count('keys', app.keys),
    close: () => app.close(),
  })

  before(async () => {
    h = await startInProcess(dir, { wrap: counting })
    assert.equal((await h.send(h.admin, { method: 'PUT', path: '/bkt' })).status, 200)
  })
  after(async () => {
    await h.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a PutObject reads the caller (key, user, policies, boundary, tags: one read), tenant, bucket and key once each', async () => {
    calls.clear()
    const r = await h.send(h.admin, { method: 'PUT', path: '/bkt/k', body: 'data' })
    assert.equal(r.status, 200, r.body)
    const reads = [
      'identity.accessKeyState',
      'identity.accessKey',
      'identity.tenantById',
      'identity.findUser',
      'identity.identityPolicyDocuments',
      'identity.permissionsBoundary',
      'buckets.get',
      'keys.describe',
      'keys.policyText',
    ]
    assert.deepEqual(Object.fromEntries(reads.map((m) => [m, calls.get(m) ?? 0])), {
      'identity.accessKeyState': 1,
      // Not read one by one: accessKeyState holds them all, read at one instant.
      'identity.accessKey': 0,
      'identity.tenantById': 1,
      'identity.findUser': 0,
      'identity.identityPolicyDocuments': 0,
      'identity.permissionsBoundary': 0,
      'buckets.get': 1,
      'keys.describe': 1,
      'keys.policyText': 1,
    })
  })

  it('a GetObject reads the object row once', async () => {
    calls.clear()
    const r = await h.send(h.admin, { method: 'GET', path: '/bkt/k' })
    assert.equal(r.status, 200, r.body)
    assert.equal(r.body, 'data')
    assert.deepEqual(
      [
        calls.get('objectMeta.getObject'),
        calls.get('buckets.get'),
        calls.get('keys.describe'),
        calls.get('keys.policyText'),
        calls.get('identity.tenantById'),
      ],
      [1, 1, 1, 1, 1],
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
  it('ListMultipartUploads with a delimiter reads one page past each common prefix, not every upload under it', async () => {
    const bucket = await h.app.buckets.get('bkt')
    assert.ok(bucket)
    const upload = (key: string, n: number) =>
      h.app.objectMeta.createUpload({
        id: String(n).padStart(32, '0'),
        bucket: 'bkt',
        key,
        contentType: null,
        metadata: {},
        tags: [],
        keyId: bucket.keyId,
      })
    for (let i = 0; i < 1500; i++) await upload(`a/${String(i).padStart(5, '0')}`, i)
    await upload('b/x', 1500)
    calls.clear()
    rows.clear()
    const r = await h.send(h.admin, { method: 'GET', path: '/bkt?uploads&delimiter=%2F' })
    assert.equal(r.status, 200, r.body)
    assert.deepEqual(
      [...r.body.matchAll(/<CommonPrefixes><Prefix>([^<]*)<\/Prefix><\/CommonPrefixes>/g)].map(
        (m) => m[1],
      ),
      ['a/', 'b/'],
    )
    // A first page of a/ (1,000), then past a/ straight to b/x, then past b/: not the 500
    // more uploads under a/ that walking would read.
    assert.equal(rows.get('objectMeta.listUploads'), 1001)
  })
})
