/**
 * The load generator of the API benchmarks (sts-api.ts, kms-api.ts): a worker thread that
 * signs and sends one request body over and over, 16 in flight on keep-alive connections, on
 * the core the gateway does not use, and posts the rate it was answered at. Every answer but
 * 200 fails the run: a benchmark that measured refusals would measure nothing.
 */
import { Agent, request } from 'node:http'
import { parentPort, Worker } from 'node:worker_threads'
import { signedFormHeaders, type SigningKeys } from '../src/api/sign.ts'

export interface ClientJob {
  readonly url: string
  readonly keys: SigningKeys
  readonly region: string
  readonly service: string
  readonly body: string
  readonly seconds: number
  /** More headers, signed (a JSON request's content-type and x-amz-target). */
  readonly headers?: Readonly<Record<string, string>>
  /** Sent without a signature (AssumeRoleWithWebIdentity carries its own proof). */
  readonly unsigned?: boolean
}

/** Runs in the worker: 300 requests to warm up, then as many as `seconds` allow. */
export async function client(job: ClientJob): Promise<never> {
  const target = new URL(job.url)
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const post = () => {
    const headers =
      job.unsigned === true
        ? { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
        : signedFormHeaders(job.keys, {
            host: target.host,
            region: job.region,
            service: job.service,
            body: job.body,
            ...(job.headers === undefined ? {} : { headers: job.headers }),
          })
    return new Promise<number>((resolve, reject) => {
      const req = request(target, { method: 'POST', headers, agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end(job.body)
    })
  }
  const refused = () => new Error(`refused: ${job.body.slice(0, 200)}`)
  for (let i = 0; i < 300; i++) if ((await post()) !== 200) throw refused()
  let n = 0
  const end = performance.now() + job.seconds * 1000
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        if ((await post()) !== 200) throw refused()
        n++
      }
    }),
  )
  parentPort?.postMessage(n / ((performance.now() - t0) / 1000))
  agent.destroy()
  process.exit(0)
}

/** Requests per second answered, from a worker running `script` (which calls `client`). */
export function throughput(script: URL, job: ClientJob): Promise<number> {
  const w = new Worker(script, { workerData: job })
  return new Promise((resolve, reject) => {
    w.once('message', (rate: number) => resolve(rate))
    w.once('error', reject)
  })
}
