/**
 * `strongroom doctor`: what an operator checks before (or instead of) reading logs. Each check
 * answers ok, warn or fail with one line saying what it saw and what to do:
 *
 * - metadata: reachable, its schema version against this build's (without migrating it);
 * - clock: this machine's against PostgreSQL's, the blob store's and each gateway's (SigV4
 *   refuses requests 15 minutes off, and session expiry and lifecycle read the clock);
 * - blobs: a probe blob written, read back byte for byte, and deleted;
 * - root key: it opens the installation (its check value matches);
 * - CA: the CA and server certificates parse, chain, and how long they have left.
 */
import { certificatesIn } from './net/x509.ts'
import { randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { DatabaseSync } from 'node:sqlite'
import { META_FILE, openApp, openBlobs } from './app.ts'
import type { Config } from './config.ts'
import { MIGRATIONS } from './meta/sqlite/migrations.ts'
import { sharedCaPem } from './net/ca.ts'
import { newBlobId } from './store/blobs.ts'

export interface Finding {
  readonly check: 'metadata' | 'clock' | 'blobs' | 'root key' | 'ca'
  readonly status: 'ok' | 'warn' | 'fail'
  readonly detail: string
}

/** Clock offsets (ms) past which a check warns, and fails. */
const SKEW_WARN = 2_000
const SKEW_FAIL = 60_000

export async function diagnose(config: Config, gateways: readonly string[]): Promise<Finding[]> {
  const out: Finding[] = []
  const schema = await metadata(config, out)
  await blobs(config, out)
  // Gateways sharing PostgreSQL share one CA, kept there; on one machine it is in DATA_DIR/pki.
  const caFile = join(config.dataDir, 'pki', 'ca.pem')
  let ca: { pem: string; from: string } | undefined = existsSync(caFile)
    ? { pem: readFileSync(caFile, 'utf8'), from: caFile }
    : undefined
  if (schema === 'current') {
    try {
      const app = await openApp(config)
      try {
        if (app.shared !== undefined) {
          const pem = await sharedCaPem(app.shared)
          ca = pem === undefined ? undefined : { pem, from: 'the CA in the metadata database' }
        }
      } finally {
        await app.close()
      }
      out.push({ check: 'root key', status: 'ok', detail: 'opens the installation' })
    } catch (e) {
      out.push({ check: 'root key', status: 'fail', detail: messageOf(e) })
    }
  }
  checkCa(config, ca, out)
  for (const url of gateways) await gateway(url, ca?.pem, out)
  return out
}

function skewFinding(what: string, skewMs: number, resolution = ''): Finding {
  const off = Math.abs(skewMs)
  const said = `${what} is ${(skewMs / 1000).toFixed(1)} s ${skewMs >= 0 ? 'ahead of' : 'behind'} this machine${resolution}`
  return {
    check: 'clock',
    status: off < SKEW_WARN ? 'ok' : off < SKEW_FAIL ? 'warn' : 'fail',
    detail:
      off < SKEW_WARN ? said : `${said}: synchronise clocks with NTP (chrony, systemd-timesyncd)`,
  }
}

async function metadata(config: Config, out: Finding[]): Promise<'current' | 'other'> {
  const want = MIGRATIONS.length
  let version: number
  let where: string
  try {
    if (config.meta === undefined) {
      const file = join(config.dataDir, META_FILE)
      if (!existsSync(file)) {
        out.push({
          check: 'metadata',
          status: 'fail',
          detail: `no ${file}; run \`strongroom init\``,
        })
        return 'other'
      }
      const db = new DatabaseSync(file, { readOnly: true })
      try {
        version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
      } finally {
        db.close()
      }
      where = `SQLite ${file}`
    } else {
      const { PgDb } = await import('./meta/postgres/db.ts')
      const db = new PgDb(config.meta, { maxConnections: 1 })
      try {
        const sent = Date.now()
        const [row] = await db.query<{ now: string; v: string; has: boolean }>(
          `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now,
                  current_setting('server_version') AS v,
                  to_regclass('schema_version') IS NOT NULL AS has`,
        )
        const got = Date.now()
        version =
          row?.has === true
            ? ((await db.query<{ version: number }>('SELECT version FROM schema_version'))[0]
                ?.version ?? 0)
            : 0
        where = `PostgreSQL ${row?.v ?? '?'}`
        out.push(skewFinding('PostgreSQL’s clock', Number(row?.now) - (sent + got) / 2))
      } finally {
        await db.close()
      }
    }
  } catch (e) {
    out.push({ check: 'metadata', status: 'fail', detail: `cannot be reached: ${messageOf(e)}` })
    return 'other'
  }
  if (version === want) {
    out.push({
      check: 'metadata',
      status: 'ok',
      detail: `${where}, schema ${String(version)} (this build’s)`,
    })
    return 'current'
  }
  out.push({
    check: 'metadata',
    status: 'fail',
    detail:
      version < want
        ? `${where} is at schema ${String(version)}, this build needs ${String(want)}: run \`strongroom migrate\``
        : `${where} is at schema ${String(version)}, newer than this build (${String(want)}): upgrade Strongroom`,
  })
  return 'other'
}

async function blobs(config: Config, out: Finding[]): Promise<void> {
  const where = config.blobs === undefined ? join(config.dataDir, 'blobs') : config.blobs.url
  const store = await openBlobs(config)
  const id = newBlobId()
  const probe = randomBytes(4096)
  try {
    const sent = Date.now()
    await store.put(id, Readable.from([probe]))
    const done = Date.now()
    const stat = await store.stat(id)
    const blob = await store.open(id)
    const back = Buffer.from(await blob.read(0, probe.length))
    await blob.close()
    await store.delete(id)
    if (!back.equals(probe) || stat?.size !== probe.length) {
      out.push({
        check: 'blobs',
        status: 'fail',
        detail: `${where} gave back other bytes than the probe`,
      })
      return
    }
    out.push({
      check: 'blobs',
      status: 'ok',
      detail: `${where}: probe written, read back and deleted in ${String(Date.now() - sent)} ms`,
    })
    // S3 keeps whole seconds: the blob store's clock is known to within one second.
    if (config.blobs !== undefined)
      out.push(
        skewFinding('the blob store’s clock', stat.modified + 500 - (sent + done) / 2, ' (±1 s)'),
      )
  } catch (e) {
    await store.delete(id).catch(() => undefined)
    out.push({ check: 'blobs', status: 'fail', detail: `${where}: ${messageOf(e)}` })
  } finally {
    store.close?.()
  }
}

function checkCa(
  config: Config,
  found: { pem: string; from: string } | undefined,
  out: Finding[],
): void {
  const dir = join(config.dataDir, 'pki')
  const serverFile = join(dir, 'server.pem')
  if (found === undefined) {
    out.push({
      check: 'ca',
      status: 'warn',
      detail: `no CA ${config.meta === undefined ? `in ${dir}` : 'in the metadata database'} yet: \`strongroom serve\` makes one on its first start`,
    })
    return
  }
  const caFile = found.from
  try {
    const caCert = new X509Certificate(found.pem)
    const days = (c: X509Certificate) =>
      Math.floor((Date.parse(c.validTo) - Date.now()) / 86_400_000)
    if (days(caCert) < 0) {
      out.push({
        check: 'ca',
        status: 'fail',
        detail: `the CA certificate ${caFile} expired on ${caCert.validTo}`,
      })
      return
    }
    let server = ''
    if (existsSync(serverFile)) {
      // The server certificate, then the issuing CA that signed it (none from an older root).
      const [cert, issuing] = certificatesIn(readFileSync(serverFile, 'utf8'))
      const chained =
        cert !== undefined &&
        (issuing === undefined
          ? cert.verify(caCert.publicKey)
          : cert.verify(issuing.publicKey) && issuing.verify(caCert.publicKey))
      if (!chained) {
        out.push({
          check: 'ca',
          status: 'fail',
          detail: `${serverFile} does not chain to ${caFile}`,
        })
        return
      }
      const hours = Math.floor((Date.parse(cert.validTo) - Date.now()) / 3_600_000)
      server = `; server certificate for ${cert.subjectAltName ?? cert.subject}, ${String(hours)} hours left (renewed by \`serve\` at two thirds of its life)`
    }
    const left = days(caCert)
    out.push({
      check: 'ca',
      status: left < 30 ? 'warn' : 'ok',
      detail: `${caFile} (${caCert.subject.replace(/\n/g, ', ')}), ${String(left)} days left${server}`,
    })
  } catch (e) {
    out.push({ check: 'ca', status: 'fail', detail: `${caFile}: ${messageOf(e)}` })
  }
}

/** A gateway's clock, from the Date header of an anonymous request (answered 403, still dated). */
async function gateway(url: string, ca: string | undefined, out: Finding[]): Promise<void> {
  const sent = Date.now()
  try {
    const date = await new Promise<string | undefined>((resolve, reject) => {
      const options = {
        method: 'GET',
        timeout: 5000,
        ...(ca === undefined ? {} : { ca }),
      }
      const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
        res.resume()
        resolve(res.headers.date)
      })
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')))
      req.on('error', reject)
      req.end()
    })
    const got = Date.now()
    if (date === undefined) throw new Error('its answer has no Date header')
    out.push(
      skewFinding(`the gateway at ${url}`, Date.parse(date) + 500 - (sent + got) / 2, ' (±1 s)'),
    )
  } catch (e) {
    out.push({
      check: 'clock',
      status: 'fail',
      detail: `the gateway at ${url} cannot be reached: ${messageOf(e)}`,
    })
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
