/**
 * Found while finishing issue 12 (2026-12-02): a PUT chose its version id (`null`) from the
 * bucket's versioning as read when its headers arrived. A PUT held open while the owner
 * enabled versioning, turned on Object Lock and put a COMPLIANCE retention on the `null`
 * version, then finished, replaced that version: a retained object destroyed. The metadata
 * store now re-reads the versioning in the transaction that commits the write, and refuses
 * (409 OperationAborted, retryable) a `null` write into a bucket that has versioning enabled;
 * a write that would remove a version Object Lock protects is refused in that transaction too.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { signHeaders, startInProcess, type InProcess } from '../api/inprocess.ts'

const B = 'suspended'
const future = (days: number) =>
  new Date(Math.floor(Date.now() / 1000 + days * 86_400) * 1000).toISOString()

describe('a slow PUT begun under Suspended versioning cannot replace a locked null version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-null-race-'))
  let g: InProcess
  before(async () => {
    g = await startInProcess(dir)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const ok = async (method: string, path: string, body?: string) => {
    const r = await g.send(g.admin, { method, path, ...(body === undefined ? {} : { body }) })
    assert.ok(
      r.status === 200 || r.status === 204,
      `${method} ${path}: ${String(r.status)} ${r.body}`,
    )
    return r
  }

  it('the held-open PUT is 409 OperationAborted and the retained null version is unchanged', async () => {
    await ok('PUT', `/${B}`)
    await ok(
      'PUT',
      `/${B}?versioning`,
      '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>',
    )
    await ok('PUT', `/${B}/model.bin`, 'evidence')

    const url = new URL(`${g.running.url}/${B}/model.bin`)
    const body = Buffer.from('overwritten')
    const signed = await signHeaders(g.admin, 'PUT', url, body, {
      'content-length': String(body.length),
    })
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: signed }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        )
      })
      req.on('error', reject)
      req.flushHeaders()
      // The headers are in (the version id is chosen); the body follows once the lock is set.
      void sleep(300).then(async () => {
        await ok(
          'PUT',
          `/${B}?versioning`,
          '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
        )
        await ok(
          'PUT',
          `/${B}?object-lock`,
          '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>',
        )
        await ok(
          'PUT',
          `/${B}/model.bin?retention&versionId=null`,
          `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${future(30)}</RetainUntilDate></Retention>`,
        )
        req.end(body)
      }, reject)
    })
    const r = await answered
    assert.equal(r.status, 409, r.text)
    assert.match(r.text, /<Code>OperationAborted<\/Code>/)

    const kept = await ok('GET', `/${B}/model.bin?versionId=null`)
    assert.equal(kept.body, 'evidence')
    const retention = await ok('GET', `/${B}/model.bin?retention&versionId=null`)
    assert.match(retention.body, /<Mode>COMPLIANCE<\/Mode>/)
    // A retry now writes a new version beside it, as versioning does.
    await ok('PUT', `/${B}/model.bin`, 'overwritten')
    assert.equal((await ok('GET', `/${B}/model.bin`)).body, 'overwritten')
    assert.equal((await ok('GET', `/${B}/model.bin?versionId=null`)).body, 'evidence')
  })
})
