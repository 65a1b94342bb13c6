/**
 * Issue 9, item 1: "make the server survive any exception in a request". A bug in a handler
 * (a rejected promise, an exception thrown from a callback, a rejection nobody awaits) fails
 * that request with 500 InternalError and a logged stack; it never ends the process. The real
 * listener runs in its own process (fixtures/faulty-gateway.ts) in front of a gateway that
 * fails on purpose, since the test runner treats an uncaught exception in its own process as
 * a failed test.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

let proc: ChildProcess
let url = ''
let log = ''

before(async () => {
  proc = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'faulty-gateway.ts')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()))
  url = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /^(http:\/\/\S+)\n/.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    proc.once('exit', (c) => reject(new Error(`the listener exited (${String(c)}): ${log}`)))
  })
})
after(() => {
  proc.kill('SIGTERM')
})

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Waits (5 s at most) until the child's stderr matches: the log line and the 500 reply travel
 * on different pipes, so on a loaded machine the reply can arrive first.
 */
async function logged(re: RegExp): Promise<void> {
  for (let waited = 0; !re.test(log) && waited < 5000; waited += 20)
    await new Promise((resolve) => setTimeout(resolve, 20))
  assert.match(log, re)
}

async function stillServing(): Promise<void> {
  assert.equal(proc.exitCode, null, `the process ended: ${log}`)
  assert.deepEqual(await get('/_health'), { status: 200, body: 'ok\n' })
  assert.deepEqual(await get('/other'), { status: 200, body: 'fine' })
}

describe('a handler bug fails its request, never the process', () => {
  for (const [path, what] of [
    ['/reject', 'a rejected handler promise'],
    ['/throw-in-timer', 'an exception thrown from a timer callback'],
    ['/unawaited-rejection', 'a rejection nobody awaits'],
  ] as const) {
    it(`${what} answers 500 InternalError with a logged stack and the server keeps serving`, async () => {
      const r = await get(path)
      assert.equal(r.status, 500, r.body)
      assert.match(r.body, /<Code>InternalError<\/Code>/)
      assert.doesNotMatch(r.body, /handler bug|at /, 'no detail or stack on the wire')
      await logged(/"stack":"Error: handler bug/)
      await stillServing()
    })
  }

  it('an exception thrown from a response event after the reply does not end the process', async () => {
    assert.deepEqual(await get('/throw-in-close'), { status: 200, body: 'fine' })
    await stillServing()
    await logged(/thrown from a response event/)
  })
})
