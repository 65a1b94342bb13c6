/**
 * An endpoint compatible with the EC2 instance metadata service, version 2 only
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
 * `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1 to 21,600) answers a
 * session token; every GET must carry it as `X-aws-ec2-metadata-token` (IMDSv1, a GET without
 * one, is refused with 401). It serves one job's role:
 *
 *   /latest/meta-data/iam/security-credentials/        the role's name
 *   /latest/meta-data/iam/security-credentials/ROLE    Code, LastUpdated, Type, AccessKeyId,
 *                                                      SecretAccessKey, Token, Expiration
 *   /latest/meta-data/iam/info                         Code, LastUpdated, InstanceProfileArn, InstanceProfileId
 *   /latest/meta-data/placement/region, …/availability-zone
 *   /latest/dynamic/instance-identity/document         accountId, region, availabilityZone, …
 *
 * As on EC2, a token PUT that carries X-Forwarded-For is refused (a proxy in front must not
 * open the service to the network), and the listener is loopback only. SDKs find it through
 * AWS_EC2_METADATA_SERVICE_ENDPOINT.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  renewing,
  rfc3339,
  RENEW_BEFORE_MS,
  type CredentialsEndpoint,
} from './credentials-endpoint.ts'
import type { SessionCredentials } from './token.ts'

export const MAX_TTL_SECONDS = 21_600
/** Tokens held at once; past it the oldest goes (a job asks for one per client, not per call). */
const MAX_TOKENS = 1024

export interface MetadataOptions {
  /** Issues a new session for the job's role. */
  readonly issue: () => SessionCredentials
  readonly accountId: string
  readonly region: string
  readonly roleName: string
  /** The role's unique id (AROA…): the instance profile's id is derived from it. */
  readonly roleId: string
  readonly renewBefore?: number
  readonly now?: () => number
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex')

export async function serveInstanceMetadata(o: MetadataOptions): Promise<CredentialsEndpoint> {
  const now = o.now ?? Date.now
  const session = renewing(o.issue, o.renewBefore ?? RENEW_BEFORE_MS, now)
  /** Token digests to their expiry (epoch ms). */
  const tokens = new Map<string, number>()
  let lastUpdated = now()
  let issuedFor: SessionCredentials | undefined
  const credentials = () => {
    const c = session()
    if (c !== issuedFor) {
      issuedFor = c
      lastUpdated = now()
    }
    return c
  }
  const instanceId = `i-${createHash('sha256').update(o.roleId).digest('hex').slice(0, 17)}`
  const zone = `${o.region}a`
  const text = (res: ServerResponse, status: number, body: string, type = 'text/plain') => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    })
    res.end(body)
  }
  const json = (res: ServerResponse, body: unknown) =>
    text(res, 200, JSON.stringify(body, null, 2), 'application/json')

  const putToken = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers['x-forwarded-for'] !== undefined) {
      text(res, 403, 'Forbidden')
      return
    }
    const ttl = req.headers['x-aws-ec2-metadata-token-ttl-seconds']
    const seconds = typeof ttl === 'string' && /^\d{1,5}$/.test(ttl) ? Number(ttl) : 0
    if (seconds < 1 || seconds > MAX_TTL_SECONDS) {
      text(res, 400, 'Bad Request: X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600')
      return
    }
    const t = now()
    for (const [k, exp] of tokens) if (exp <= t) tokens.delete(k)
    if (tokens.size >= MAX_TOKENS) {
      const oldest = tokens.keys().next().value
      if (oldest !== undefined) tokens.delete(oldest)
    }
    const token = randomBytes(32).toString('base64url')
    tokens.set(digest(token), t + seconds * 1000)
    res.setHeader('x-aws-ec2-metadata-token-ttl-seconds', String(seconds))
    text(res, 200, token)
  }

  const get = (path: string, res: ServerResponse) => {
    const base = '/latest/meta-data/iam/security-credentials/'
    if (path === base || path === base.slice(0, -1)) {
      text(res, 200, o.roleName)
      return
    }
    if (path === base + o.roleName) {
      const c = credentials()
      json(res, {
        Code: 'Success',
        LastUpdated: rfc3339(lastUpdated),
        Type: 'AWS-HMAC',
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: rfc3339(c.expiration),
      })
      return
    }
    switch (path) {
      case '/latest/meta-data/iam/info': {
        json(res, {
          Code: 'Success',
          LastUpdated: rfc3339(lastUpdated),
          InstanceProfileArn: `arn:aws:iam::${o.accountId}:instance-profile/${o.roleName}`,
          InstanceProfileId: `AIPA${o.roleId.slice(4)}`,
        })
        return
      }
      case '/latest/meta-data/placement/region': {
        text(res, 200, o.region)
        return
      }
      case '/latest/meta-data/placement/availability-zone': {
        text(res, 200, zone)
        return
      }
      case '/latest/meta-data/instance-id': {
        text(res, 200, instanceId)
        return
      }
      case '/latest/dynamic/instance-identity/document': {
        json(res, {
          accountId: o.accountId,
          architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
          availabilityZone: zone,
          instanceId,
          region: o.region,
          version: '2017-09-30',
        })
        return
      }
    }
    text(res, 404, 'Not Found')
  }

  const server = createServer((req, res) => {
    req.resume()
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/latest/api/token') {
      if (req.method === 'PUT') putToken(req, res)
      else text(res, 405, 'Method Not Allowed')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      text(res, 405, 'Method Not Allowed')
      return
    }
    const given = req.headers['x-aws-ec2-metadata-token']
    const expires = typeof given === 'string' ? tokens.get(digest(given)) : undefined
    // IMDSv1 (no token) and an expired or unknown token are refused alike.
    if (expires === undefined || expires <= now()) {
      text(res, 401, 'Unauthorized')
      return
    }
    get(path, res)
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.maxHeadersCount = 50
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
