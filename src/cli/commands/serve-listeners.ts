/**
 * The listeners `serve` starts beside its main one (the `listeners` setting, src/net/listeners.ts):
 * each with its TLS profile and client-certificate mode, all sharing the gateway, its admission
 * bound and its audit events. Listeners that ask for client certificates trust the built-in
 * root and check the CRLs, signed afresh every minute so a revocation reaches them within one.
 */
import type { App } from '../../app.ts'
import type { EventSink } from '../../api/audit-stage.ts'
import type { Admission } from '../../api/admission.ts'
import type { S3Gateway } from '../../api/s3.ts'
import { listen, type RunningServer } from '../../api/server.ts'
import type { Config } from '../../config.ts'
import { StrongroomError } from '../../errors.ts'

const CRL_REFRESH_MS = 60_000

export interface Listeners {
  /** One line per listener: its URL, profile and client-certificate mode. */
  readonly described: readonly string[]
  setCertificate(tls: { readonly key: string; readonly cert: string }): void
  close(): Promise<void>
}

export async function startListeners(
  app: App,
  gateway: S3Gateway,
  config: Config,
  o: {
    readonly tls: { readonly key: string; readonly cert: string }
    readonly log: (line: Record<string, unknown>) => void
    readonly events: EventSink | undefined
    readonly admission: Admission
  },
): Promise<Listeners> {
  const asking = config.listeners.some((l) => l.clientCertificates !== 'none')
  const ca = asking ? (await app.pki.root()).pem : undefined
  let crl = asking ? await app.pki.crls() : undefined
  const started: { spec: Config['listeners'][number]; server: RunningServer }[] = []
  const close = () => Promise.all(started.map((s) => s.server.close())).then(() => undefined)
  try {
    for (const spec of config.listeners) {
      const server = await listen(gateway, {
        host: spec.host,
        port: spec.port,
        tls: {
          ...o.tls,
          profile: spec.tlsProfile,
          clientCertificates: spec.clientCertificates,
          ...(spec.clientCertificates === 'none' || ca === undefined || crl === undefined
            ? {}
            : { ca, crl }),
        },
        log: o.log,
        headerTimeoutMs: config.headerTimeout * 1000,
        idleTimeoutMs: config.idleTimeout * 1000,
        sharedAdmission: o.admission,
        segmentSize: config.segmentSize,
        ...(o.events === undefined ? {} : { events: o.events }),
      }).catch((e: unknown) => {
        throw new StrongroomError(
          'IO',
          `listener ${spec.host}:${String(spec.port)} (the listeners setting) cannot start: ${(e as Error).message}`,
          { cause: e },
        )
      })
      started.push({ spec, server })
    }
  } catch (e) {
    await close()
    throw e
  }
  const refresh = setInterval(() => {
    void app.pki.crls().then(
      (fresh) => {
        crl = fresh
        for (const s of started)
          if (s.spec.clientCertificates !== 'none') s.server.setTls({ crl: fresh })
      },
      (e: unknown) =>
        o.log({
          time: new Date().toISOString(),
          level: 'error',
          message: `the CRLs could not be refreshed (tried again in a minute): ${(e as Error).message}`,
        }),
    )
  }, CRL_REFRESH_MS)
  refresh.unref()
  if (!asking) clearInterval(refresh)
  return {
    described: started.map(
      ({ spec, server }) =>
        `${server.url} (TLS profile ${spec.tlsProfile}, client certificates ${spec.clientCertificates})`,
    ),
    setCertificate: (tls) => {
      for (const s of started) s.server.setTls(tls)
    },
    close: () => {
      clearInterval(refresh)
      return close()
    },
  }
}
