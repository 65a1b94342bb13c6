/**
 * Small helpers for the e2e tests that use only the AWS SDK for JavaScript (no external
 * client): the S3 error a call fails with, bodies as bytes, and the headers a request sent.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect as tlsConnect } from 'node:tls'
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3'
import type { DecisionView } from '../../src/audit/read.ts'
import { ca, endpoint, loggedDecisions } from './harness.ts'

export interface Failure {
  /** The S3 error code (for HEAD requests, which have no body, the SDK's NotFound/Forbidden...). */
  code: string
  status: number | undefined
  message: string
  /** The x-amz-request-id of the refused request (what `strongroom explain` takes). */
  requestId: string | undefined
  /** The response headers (x-amz-delete-marker, Last-Modified...). */
  headers: Record<string, string>
}

/** Awaits a call that must fail with an S3 error and returns its code, HTTP status and message. */
export async function failure(call: Promise<unknown>): Promise<Failure> {
  try {
    await call
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, `not an S3 error: ${String(e)}`)
    return {
      code: e.name,
      status: e.$metadata.httpStatusCode,
      message: e.message,
      requestId: e.$metadata.requestId,
      headers: e.$response?.headers ?? {},
    }
  }
  assert.fail('the call succeeded')
}

/** Asserts that a call fails with exactly this status and S3 error code. */
export async function refused(call: Promise<unknown>, status: number, code: string) {
  const f = await failure(call)
  assert.deepEqual([f.status, f.code], [status, code], f.message)
  return f
}

interface HasBody {
  Body?: { transformToByteArray(): Promise<Uint8Array> } | undefined
}

export async function bytes(out: HasBody): Promise<Buffer> {
  return Buffer.from((await out.Body?.transformToByteArray()) ?? [])
}

export async function text(out: HasBody): Promise<string> {
  return (await bytes(out)).toString()
}

export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex')
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, dash, part count. */
export function multipartEtag(parts: Buffer[]): string {
  const h = createHash('md5')
  for (const p of parts) h.update(createHash('md5').update(p).digest())
  return `"${h.digest('hex')}-${String(parts.length)}"`
}

export interface Sent {
  method: string
  headers: Record<string, string>
}

/**
 * Records the method and headers of every request the client sends (after signing and checksums),
 * so a test can show that it exercised what it claims (aws-chunked, trailers...).
 */
export function recordHeaders(client: S3Client): Sent[] {
  const seen: Sent[] = []
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { method?: string; headers?: Record<string, string> }
      seen.push({ method: req.method ?? '', headers: { ...req.headers } })
      return next(args)
    },
    { step: 'deserialize', name: 'recordHeaders' },
  )
  return seen
}

/** The audit log's decisions whose JSON contains every given string. */
export async function decisions(...parts: string[]): Promise<DecisionView[]> {
  return (await loggedDecisions()).filter((d) => {
    const line = JSON.stringify(d)
    return parts.every((p) => line.includes(p))
  })
}

/**
 * Sends raw bytes over TLS and never ends the connection itself: resolves with what came back
 * and whether the server closed the connection (false if the 30 s safety net fired instead).
 */
export function untilServerCloses(payload: string): Promise<{ out: string; closed: boolean }> {
  const { port } = new URL(endpoint)
  return new Promise((resolve, reject) => {
    const sock = tlsConnect(
      { host: '127.0.0.1', port: Number(port), ca: readFileSync(ca), servername: 'localhost' },
      () => sock.write(payload),
    )
    let out = ''
    let closed = false
    sock.on('data', (d: Buffer) => (out += d.toString()))
    sock.on('end', () => (closed = true))
    sock.on('close', () => resolve({ out, closed }))
    sock.on('error', reject)
    setTimeout(() => sock.destroy(), 30_000).unref()
  })
}

/**
 * The raw response headers of a successful call (those the SDK's output leaves out, such as
 * Strongroom's x-strongroom-scan verdict headers).
 */
export async function responseHeaders(
  s3: S3Client,
  call: (s3: S3Client) => Promise<unknown>,
): Promise<Record<string, string>> {
  let seen: Record<string, string> = {}
  const name = `capture-${String(Math.random())}`
  s3.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args)
      const res = out.response as { headers?: Record<string, string> }
      seen = res.headers ?? {}
      return out
    },
    { step: 'deserialize', name },
  )
  try {
    await call(s3)
  } finally {
    s3.middlewareStack.remove(name)
  }
  return seen
}
