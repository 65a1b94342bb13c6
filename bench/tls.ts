/**
 * TLS handshakes per second (issue 17: each profile at least 90% of a plain Node TLS server
 * with default settings, same run), full and resumed, against servers in this process that
 * do nothing but the handshake: a plain `tls.createServer` with Node's defaults (the baseline),
 * and one per Strongroom profile (`profileOptions`, src/net/tls.ts), all with the same ECDSA
 * P-256 certificate from the built-in PKI's code. The client is Node's, one connection at a
 * time, alternating between servers in rounds so that noise falls on all alike.
 *
 * Usage: node bench/tls.ts [--seconds N] [--json]
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { connect, createServer, type SecureContextOptions, type Server } from 'node:tls'
import { parseArgs } from 'node:util'
import { testCertificates } from '../src/net/testing.ts'
import { profileOptions } from '../src/net/tls.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)
const ROUNDS = 4

const certs = testCertificates(['127.0.0.1'])
async function server(options: SecureContextOptions): Promise<{ s: Server; port: number }> {
  const s = createServer({ key: certs.keyPem, cert: certs.certPem, ...options }, (c) => c.end())
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  return { s, port: (s.address() as AddressInfo).port }
}

/** Handshakes in `ms` milliseconds; with `resume`, each offers the session of the last. */
async function handshakes(port: number, ms: number, resume: boolean): Promise<number> {
  let n = 0
  let session: Buffer | undefined
  const end = performance.now() + ms
  while (performance.now() < end) {
    await new Promise<void>((resolve, reject) => {
      const c = connect({
        host: '127.0.0.1',
        port,
        ca: certs.caPem,
        ...(resume && session !== undefined ? { session } : {}),
      })
      c.once('session', (s: Buffer) => (session = s))
      c.once('secureConnect', () => {
        if (resume && session !== undefined && !c.isSessionReused())
          reject(new Error('a session offered for resumption was not resumed'))
        // TLS 1.3 sends its ticket after the handshake: wait for it before closing.
        if (resume) c.once('session', () => c.end())
        else c.end()
      })
      c.once('close', () => resolve())
      c.once('error', reject)
    })
    n++
  }
  return n
}

const targets = {
  plain: await server({}),
  intermediate: await server(profileOptions('intermediate')),
  modern: await server(profileOptions('modern')),
}
try {
  const result: Record<string, { full: number; resumed: number }> = {}
  for (const name of Object.keys(targets)) result[name] = { full: 0, resumed: 0 }
  const slice = (seconds * 1000) / ROUNDS
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, t] of Object.entries(targets)) {
      const row = result[name] ?? { full: 0, resumed: 0 }
      row.full += await handshakes(t.port, slice, false)
      row.resumed += await handshakes(t.port, slice, true)
    }
  const rate = (n: number) => n / seconds
  const base = result.plain ?? { full: 1, resumed: 1 }
  const out = Object.fromEntries(
    Object.entries(result).map(([name, r]) => [
      name,
      {
        full: rate(r.full),
        resumed: rate(r.resumed),
        fullRatio: r.full / base.full,
        resumedRatio: r.resumed / base.resumed,
      },
    ]),
  )
  if (values.json) console.log(JSON.stringify({ seconds, ...out }))
  else {
    const f = (n: number) => Math.round(n).toLocaleString('en-US').padStart(6)
    console.log(`TLS handshakes per second, one client, ${String(seconds)} s per kind`)
    for (const [name, r] of Object.entries(out))
      console.log(
        `  ${name.padEnd(12)} full ${f(r.full)}/s (${r.fullRatio.toFixed(2)})   resumed ${f(r.resumed)}/s (${r.resumedRatio.toFixed(2)})`,
      )
  }
} finally {
  for (const t of Object.values(targets)) t.s.close()
}
