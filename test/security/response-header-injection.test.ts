/**
 * Outside review of issue 11: GetObject's response-* query parameters (response-content-type,
 * response-content-disposition, ...) were set as headers unchecked, so a value with CR/LF or a
 * character beyond Latin-1 made `res.setHeader` throw: 500 InternalError with a logged stack
 * for what is the caller's error, and a probe for header injection. Such a value is now
 * refused 400 InvalidArgument naming the parameter, before any header is set; Latin-1 values
 * still pass, as S3 passes them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startInProcess, type InProcess } from '../api/inprocess.ts'

describe('response-* overrides that a header cannot carry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-overrides-'))
  let g: InProcess
  before(async () => {
    g = await startInProcess(dir)
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/overrides' })).status, 200)
    const put = await g.send(g.admin, { method: 'PUT', path: '/overrides/k', body: 'weights' })
    assert.equal(put.status, 200, put.body)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const [what, q, value] of [
    ['CR LF (header injection)', 'response-content-type', 'text/plain\r\nSet-Cookie: a=b'],
    ['a lone LF', 'response-content-disposition', 'inline\nx'],
    ['a NUL', 'response-cache-control', 'no\0cache'],
    ['a character beyond Latin-1', 'response-content-language', 'ĀĀ'],
  ] as const)
    it(`${what} in ${q}: 400 InvalidArgument naming it`, async () => {
      const r = await g.send(g.admin, {
        method: 'GET',
        path: `/overrides/k?${q}=${encodeURIComponent(value)}`,
      })
      assert.equal(r.status, 400, r.body)
      assert.match(r.body, /<Code>InvalidArgument<\/Code>/)
      assert.match(r.body, new RegExp(`<ArgumentName>${q}</ArgumentName>`))
      assert.doesNotMatch(r.body, /weights/)
    })

  it('a Latin-1 value is still served as asked', async () => {
    const r = await g.send(g.admin, {
      method: 'GET',
      path: `/overrides/k?response-content-disposition=${encodeURIComponent('attachment; filename="café.pt"')}`,
    })
    assert.equal(r.status, 200, r.body)
    assert.equal(r.body, 'weights')
  })
})
