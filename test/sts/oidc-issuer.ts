/**
 * A test OIDC issuer: keys generated here, its discovery document and JWKS served over HTTPS on
 * loopback under a CA made here (trusted through the gateway's setting, never the system's),
 * and tokens signed as Kubernetes and GitHub Actions sign theirs.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose'
import { testCertificates } from '../../src/net/testing.ts'

export interface Issuer {
  /** https://127.0.0.1:PORT/oidc */
  readonly url: string
  /** The PEM of the CA its certificate chains to. */
  readonly caPem: string
  /** The JWKS it publishes, as JSON (for an inline provider). */
  readonly jwks: string
  /** How many times its JWKS was fetched. */
  readonly fetches: () => number
  /** A token signed with its key (RS256, kid "k1" unless told). */
  sign(claims: JWTPayload, o?: { key?: KeyObject; kid?: string; alg?: string }): Promise<string>
  close(): Promise<void>
}

export async function startIssuer(): Promise<Issuer> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const {
    caPem,
    certPem: cert,
    keyPem,
  } = testCertificates(['127.0.0.1', 'localhost'], 'Test OIDC CA')
  const keys: JWK[] = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' },
  ]
  const jwks = JSON.stringify({ keys })
  let fetches = 0
  let url = ''
  const server: Server = createServer({ key: keyPem, cert: cert + caPem }, (req, res) => {
    if (req.url === '/oidc/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }))
    } else if (req.url === '/oidc/keys') {
      fetches++
      res.setHeader('content-type', 'application/json')
      res.end(jwks)
    } else if (req.url === '/slow/.well-known/openid-configuration') {
      // A server that never finishes: one byte a second.
      res.writeHead(200, { 'content-type': 'application/json' })
      const drip = setInterval(() => res.write(' '), 1000)
      res.on('close', () => clearInterval(drip))
    } else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/oidc`
  return {
    url,
    caPem,
    jwks,
    fetches: () => fetches,
    sign: (claims, o = {}) => {
      const alg = o.alg ?? (o.key?.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256')
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: o.kid ?? (alg === 'ES256' ? 'k2' : 'k1'), typ: 'JWT' })
        .sign(o.key ?? (alg === 'ES256' ? ec.privateKey : rsa.privateKey))
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Claims as a Kubernetes service-account token carries them, `iat`/`exp` around `now`. */
export function serviceAccountClaims(
  issuer: string,
  o: { namespace?: string; account?: string; audience?: string; now?: number } = {},
): JWTPayload {
  const now = Math.floor((o.now ?? Date.now()) / 1000)
  return {
    iss: issuer,
    sub: `system:serviceaccount:${o.namespace ?? 'ml'}:${o.account ?? 'trainer'}`,
    aud: o.audience ?? 'sts.amazonaws.com',
    iat: now,
    nbf: now,
    exp: now + 3600,
    'kubernetes.io': { namespace: o.namespace ?? 'ml' },
  }
}
