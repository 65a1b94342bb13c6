/**
 * A credentials endpoint as the AWS SDKs' container credentials provider reads it
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html): a GET
 * to AWS_CONTAINER_CREDENTIALS_FULL_URI on loopback, with the token from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as its Authorization header, answers
 * `{AccessKeyId, SecretAccessKey, Token, Expiration, AccountId}`. One endpoint serves one job
 * and one role; the credentials are session credentials, renewed well before they expire.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SessionCredentials } from './token.ts'

/** A session is renewed once less than this is left of it (botocore refreshes 15 minutes ahead). */
export const RENEW_BEFORE_MS = 20 * 60_000

export interface CredentialsEndpoint {
  /** http://127.0.0.1:PORT/credentials */
  readonly url: string
  close(): Promise<void>
}

export interface EndpointOptions {
  /** The token a request must carry as its Authorization header. */
  readonly token: string
  /** Issues a new session for the job's role. */
  readonly issue: () => SessionCredentials
  readonly accountId: string
  /** Renew a session once less than this is left (default RENEW_BEFORE_MS); below a session's length. */
  readonly renewBefore?: number
  readonly now?: () => number
}

const digest = (s: string) => createHash('sha256').update(s).digest()

/** The job's session: issued on first use, issued again once less than `renewBefore` is left. */
export function renewing(
  issue: () => SessionCredentials,
  renewBefore: number,
  now: () => number,
): () => SessionCredentials {
  let current: SessionCredentials | undefined
  return () => {
    if (current === undefined || current.expiration - now() < renewBefore) current = issue()
    return current
  }
}

/** RFC 3339 in UTC without fractions, as the credential providers print Expiration. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export async function serveCredentials(o: EndpointOptions): Promise<CredentialsEndpoint> {
  const session = renewing(o.issue, o.renewBefore ?? RENEW_BEFORE_MS, o.now ?? Date.now)
  const want = digest(o.token)
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    })
    res.end(text)
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/credentials') {
      answer(res, 404, { code: 'NotFound', message: 'GET /credentials is the only resource here' })
      return
    }
    // Compared in constant time (as digests, so that the length is not compared either).
    const given = req.headers.authorization ?? ''
    if (!timingSafeEqual(digest(given), want)) {
      answer(res, 401, {
        code: 'Unauthorized',
        message: 'send the token of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as Authorization',
      })
      return
    }
    const current = session()
    answer(res, 200, {
      AccessKeyId: current.accessKeyId,
      SecretAccessKey: current.secretAccessKey,
      Token: current.sessionToken,
      Expiration: rfc3339(current.expiration),
      AccountId: o.accountId,
    })
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
    url: `http://127.0.0.1:${String(port)}/credentials`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
