/**
 * `strongroom whoami`: STS GetCallerIdentity with the credentials the AWS SDKs would use here
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else a container credentials
 * endpoint such as the one `strongroom run` gives a job), signed with SigV4 and sent to the
 * gateway. It answers what the gateway thinks the caller is: a user, or a role's session.
 */
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { XMLParser } from 'fast-xml-parser'
import { signedFormHeaders, type SigningKeys } from '../../api/sign.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, type Command } from '../command.ts'
import { gatewayUrl } from '../endpoint.ts'

const BODY = 'Action=GetCallerIdentity&Version=2011-06-15'
const MAX_ANSWER = 64 * 1024

export const whoami: Command = {
  name: 'whoami',
  summary: 'Ask the gateway who the current AWS credentials are (STS GetCallerIdentity).',
  args: '',
  positionals: [0, 0],
  options: {
    endpoint: {
      type: 'string',
      value: 'URL',
      description:
        'the gateway (default AWS_ENDPOINT_URL, STRONGROOM_ENDPOINT, else the address a running `serve` recorded)',
    },
  },
  help: [
    'Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN),',
    'else from AWS_CONTAINER_CREDENTIALS_FULL_URI, as inside `strongroom run`. Prints the ARN;',
    'with --json, UserId, Account and Arn as `aws sts get-caller-identity` does.',
    '',
    'Examples:',
    '  strongroom whoami',
    '  strongroom run --tenant vision --role trainer -- strongroom whoami',
  ].join('\n'),
  async run(ctx) {
    const config = ctx.config()
    const endpoint = gatewayUrl(
      stringOpt(ctx, 'endpoint') ?? ctx.env.AWS_ENDPOINT_URL ?? ctx.env.STRONGROOM_ENDPOINT,
      config.dataDir,
    )
    const caFile = ctx.env.AWS_CA_BUNDLE ?? join(config.dataDir, 'ca.pem')
    const ca = endpoint.startsWith('https:') ? readCa(caFile) : undefined
    const keys = await credentials(ctx.env)
    const headers = signedFormHeaders(keys, {
      host: new URL(endpoint).host,
      region: config.region,
      service: 'sts',
      body: BODY,
    })
    const answer = await post(`${endpoint}/`, headers, ca)
    const doc = new XMLParser().parse(answer.body) as Record<string, Record<string, unknown>>
    if (answer.status !== 200) {
      const err = (doc.ErrorResponse?.Error ?? {}) as { Code?: string; Message?: string }
      throw new StrongroomError(
        'ACCESS_DENIED',
        `the gateway at ${endpoint} refused GetCallerIdentity: ${err.Code ?? String(answer.status)}: ${err.Message ?? ''}`,
      )
    }
    const r = (doc.GetCallerIdentityResponse?.GetCallerIdentityResult ?? {}) as Record<
      string,
      unknown
    >
    const who = { UserId: String(r.UserId), Account: String(r.Account), Arn: String(r.Arn) }
    ctx.print(who.Arn, who)
    return 0
  },
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new StrongroomError(
      'USAGE',
      `cannot read the gateway's CA certificate at ${file}: set AWS_CA_BUNDLE to its file`,
      { cause: e },
    )
  }
}

/** The credentials the SDKs' chain would find first: the environment, then a container endpoint. */
async function credentials(env: NodeJS.ProcessEnv): Promise<SigningKeys> {
  const id = env.AWS_ACCESS_KEY_ID
  const secret = env.AWS_SECRET_ACCESS_KEY
  if (id !== undefined && id !== '' && secret !== undefined && secret !== '')
    return { id, secret, token: env.AWS_SESSION_TOKEN || undefined }
  const uri = env.AWS_CONTAINER_CREDENTIALS_FULL_URI
  if (uri === undefined || uri === '')
    throw new StrongroomError(
      'USAGE',
      'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run inside `strongroom run`',
    )
  const tokenFile = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
  const token =
    tokenFile !== undefined && tokenFile !== ''
      ? readFileSync(tokenFile, 'utf8').trim()
      : (env.AWS_CONTAINER_AUTHORIZATION_TOKEN ?? '')
  const r = await get(uri, { authorization: token })
  if (r.status !== 200)
    throw new StrongroomError(
      'ACCESS_DENIED',
      `the credentials endpoint ${uri} answered ${String(r.status)}`,
    )
  const c = JSON.parse(r.body) as { AccessKeyId: string; SecretAccessKey: string; Token: string }
  return { id: c.AccessKeyId, secret: c.SecretAccessKey, token: c.Token }
}

function post(
  url: string,
  headers: Record<string, string>,
  ca: string | undefined,
): Promise<{ status: number; body: string }> {
  return call(url, 'POST', headers, ca, BODY)
}

function get(url: string, headers: Record<string, string>) {
  return call(url, 'GET', headers, undefined, undefined)
}

function call(
  url: string,
  method: string,
  headers: Record<string, string>,
  ca: string | undefined,
  body: string | undefined,
): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, ca, timeout: 10_000 }, (res) => {
      const parts: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_ANSWER) req.destroy(new Error('the answer is too large'))
        else parts.push(c)
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
      )
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer within 10 seconds`)))
    req.on('error', (e) =>
      reject(new StrongroomError('IO', `cannot reach ${url}: ${e.message}`, { cause: e })),
    )
    req.end(body)
  })
}
