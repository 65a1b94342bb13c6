/**
 * Slow-body exhaustion (issue 11, "Load that the gateway can hold"): many clients open uploads
 * and hold their bodies back, to take every slot the gateway has. Admission control bounds what
 * they can take: beyond `--max-in-flight` and the queue, everyone (attacker or not) is answered
 * at once with 503 SlowDown and Retry-After, which the SDKs retry; the health check is never
 * queued; and a held body is cut off by the idle timeout, so the slots come back and a
 * well-behaved client's retry succeeds. Starvation is bounded, never forever.
 * A real `strongroom serve` in its own process, configured by flags and environment.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request, type ClientRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const dir = mkdtempSync(join(tmpdir(), 'sr-slow-body-'))
const CREDS = { accessKeyId: 'AKIASLOWBODYADMIN001', secretAccessKey: 'slow-body-admin-secret-01' }
let proc: ChildProcess
let url = ''

before(async () => {
  proc = spawn(
    process.execPath,
    [
      ...[BIN, 'serve', '--dev', '--insecure-http', '--data-dir', join(dir, 'data')],
      ...['--listen', '127.0.0.1:0', '--max-in-flight', '4', '--admission-queue', '4'],
      ...['--admission-wait', '0.5'],
    ],
    {
      env: {
        ...process.env,
        STRONGROOM_IDLE_TIMEOUT: '2',
        STRONGROOM_ADMIN_ACCESS_KEY_ID: CREDS.accessKeyId,
        STRONGROOM_ADMIN_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  )
  url = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready at (http:\/\/\S+)/.exec(out)
      if (m?.[1] !== undefined) resolve(m[1])
    })
    proc.once('exit', (c) => reject(new Error(`the gateway exited (${String(c)}): ${out}`)))
  })
})

after(async () => {
  if (proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    await exited
  }
  rmSync(dir, { recursive: true, force: true })
})

/** Opens an upload of a declared megabyte, sends ten bytes of it, and holds the rest back. */
function holdBody(i: number): { req: ClientRequest; status: Promise<number> } {
  const req = request(`${url}/bucket/held-${i}`, {
    method: 'PUT',
    agent: false,
    headers: { 'content-length': String(1 << 20), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  })
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
  })
  req.write('x'.repeat(10))
  return { req, status }
}

function health(): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/_health`, { agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const client = (maxAttempts: number) =>
  new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDS,
    maxAttempts,
  })

describe('slow-body exhaustion', () => {
  it('clients holding slow bodies get SlowDown beyond the bound, the health check answers, and others get through once the idle timeout frees the slots', async () => {
    const started = performance.now()
    const held = Array.from({ length: 40 }, (_, i) => holdBody(i))
    // The 32 beyond four in flight and four waiting are refused: 503 within about a second
    // (the refusal waits that long for the body, so that a client still sending it reads the
    // answer), well before the idle timeout would cut them off.
    const early = await Promise.all(held.slice(8).map((h) => h.status))
    assert.deepEqual(new Set(early), new Set([503]))
    assert.ok(performance.now() - started < 1_900, 'answered before the idle timeout')

    const t = performance.now()
    assert.deepEqual(await health(), { status: 200, body: 'ok\n' })
    assert.ok(performance.now() - t < 1_000, 'the health check is not queued')

    const once = client(1)
    const refused = await once.send(new ListBucketsCommand({})).then(
      () => undefined,
      (e: unknown) => e as { name: string; $metadata: { httpStatusCode?: number } },
    )
    assert.equal(refused?.name, 'SlowDown', 'a well-behaved client is told to slow down')
    assert.equal(refused.$metadata.httpStatusCode, 503)
    once.destroy()

    // The held bodies go silent; the idle timeout (2 s) cuts them off and the slots come back.
    const patient = client(10)
    const listed = await patient.send(new ListBucketsCommand({}))
    assert.equal(listed.$metadata.httpStatusCode, 200)
    assert.ok(performance.now() - started >= 2_000, 'admitted once the idle timeout had struck')
    patient.destroy()
    for (const h of held) h.req.destroy()
    assert.deepEqual(await health(), { status: 200, body: 'ok\n' })
  })
})
