/**
 * The AWS KMS provider of ExternalRoot: a symmetric KMS key (by id, ARN or alias) wraps and
 * unwraps with Encrypt and Decrypt, on AWS or on any endpoint speaking KMS's JSON 1.1 protocol.
 *
 * - Encrypt (https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html) binds the
 *   encryption context as additional authenticated data: the AAD travels in it, base64, and
 *   must be presented again, exactly, to Decrypt.
 * - Decrypt (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html) is given the
 *   configured KeyId as well, so KMS refuses a ciphertext made under another key
 *   (IncorrectKeyException) instead of opening it with whatever key it names.
 *
 * KMS's errors are mapped by name: the bytes or the AAD → ROOT_KEY_WRONG; credentials refused
 * → ROOT_KEY_MISSING; the key missing, disabled or in another state → CONFIG_INVALID; the rest
 * (network, throttling, unexpected answers) → IO with the cause. Messages name the key, never
 * the credentials or what is wrapped.
 */
import { Agent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms'
import { StrongroomError, isStrongroomError } from '../../errors.ts'
import type { AwsKmsSettings, ExternalRoot, ExternalSecrets } from './port.ts'

/**
 * The encryption context entry that carries the AAD. Not `strongroom:…`: Strongroom's own KMS
 * API reserves that prefix (src/api/kms/operations.ts), and one installation may keep its root
 * in another's KMS API. Fixed forever: every wrapped blob was made with it.
 */
export const AAD_CONTEXT_KEY = 'strongroom-aad'

/** KMS's answers to a blob that does not open under this key with this context. */
const WRONG = new Set(['InvalidCiphertextException', 'IncorrectKeyException'])
/** Credentials absent, unknown, badly signed or expired, or not allowed the action. */
const REFUSED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
])
/** What each key-state error says about the key. */
const STATE: Readonly<Record<string, string>> = {
  NotFoundException: 'does not exist (or is not visible to these credentials)',
  DisabledException: 'is disabled; enable it (EnableKey) or configure another key',
  KMSInvalidStateException:
    'is in a state that refuses Encrypt and Decrypt (pending deletion, pending import or unavailable); cancel its deletion or configure another key',
}

export function awsKmsRoot(settings: AwsKmsSettings, secrets: ExternalSecrets): ExternalRoot {
  const { keyId, region, endpoint } = settings
  const describe = `aws kms key ${keyId} in ${region}${endpoint === undefined ? '' : ` at ${endpoint}`}`
  if (keyId === '' || region === '')
    throw new StrongroomError(
      'CONFIG_INVALID',
      `${describe}: the key id and the region are required`,
    )
  const aws = secrets.aws
  if (aws === undefined || aws.accessKeyId === '' || aws.secretAccessKey === '')
    throw new StrongroomError(
      'ROOT_KEY_MISSING',
      `${describe}: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)`,
    )
  const client = new KMSClient({
    region,
    // The endpoint is the one the key store settings checked (https, or http on loopback),
    // never one the SDK would pick up from AWS_ENDPOINT_URL or a config file's endpoint_url
    // unchecked: the root's bytes travel in the request.
    ignoreConfiguredEndpointUrls: true,
    ...(endpoint === undefined ? {} : { endpoint }),
    credentials: {
      accessKeyId: aws.accessKeyId,
      secretAccessKey: aws.secretAccessKey,
      ...(aws.sessionToken === undefined ? {} : { sessionToken: aws.sessionToken }),
    },
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: 5000,
      requestTimeout: 10000,
      ...(secrets.ca === undefined
        ? {}
        : { httpsAgent: new Agent({ keepAlive: true, ca: [...rootCertificates, secrets.ca] }) }),
    },
  })

  // The same context for Encrypt and Decrypt: AWS compares it exactly (case included).
  const context = (aad: Uint8Array) => ({ [AAD_CONTEXT_KEY]: Buffer.from(aad).toString('base64') })

  /** One KMS call, its errors mapped to Strongroom's codes. */
  async function call<T>(op: 'Encrypt' | 'Decrypt', send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (e) {
      throw mapError(e, op, describe)
    }
  }

  return {
    kind: 'awskms',
    describe,
    async wrap(plaintext, aad) {
      const out = await call('Encrypt', () =>
        client.send(
          new EncryptCommand({
            KeyId: keyId,
            Plaintext: plaintext,
            EncryptionContext: context(aad),
          }),
        ),
      )
      if (out.CiphertextBlob === undefined || out.CiphertextBlob.length === 0)
        throw new StrongroomError('IO', `${describe}: Encrypt answered no ciphertext`)
      return Buffer.from(out.CiphertextBlob)
    },
    async unwrap(blob, aad) {
      const out = await call('Decrypt', () =>
        client.send(
          new DecryptCommand({
            CiphertextBlob: blob,
            KeyId: keyId,
            EncryptionContext: context(aad),
          }),
        ),
      )
      const p = out.Plaintext
      if (p === undefined)
        throw new StrongroomError('IO', `${describe}: Decrypt answered no plaintext`)
      const copy = Buffer.from(p)
      p.fill(0)
      return copy
    },
    close() {
      client.destroy()
      return Promise.resolve()
    },
  }
}

/** KMS's error (by its name) as Strongroom's; never its text, which a server could fill with anything. */
function mapError(e: unknown, op: 'Encrypt' | 'Decrypt', describe: string): StrongroomError {
  if (isStrongroomError(e)) return e
  const name = e instanceof Error ? e.name : ''
  if (WRONG.has(name))
    return new StrongroomError(
      'ROOT_KEY_WRONG',
      `${describe}: the wrapped bytes do not open under this key with this context (${name}): another key, another installation or altered bytes`,
    )
  if (REFUSED.has(name))
    return new StrongroomError(
      'ROOT_KEY_MISSING',
      `${describe}: the credentials were refused for ${op} (${name}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the principal is allowed kms:Encrypt and kms:Decrypt on the key`,
    )
  const state = STATE[name]
  if (state !== undefined)
    return new StrongroomError('CONFIG_INVALID', `${describe}: the key ${state} (${name})`)
  const what = SAFE_NAME.test(name) ? name : errnoOf(e)
  return new StrongroomError(
    'IO',
    `${describe}: ${op} failed${what === undefined ? '' : ` (${what})`}; check that the endpoint is reachable and serves KMS in this region`,
    { cause: e },
  )
}

/** An error name shown as is: a short word ending as error names do (never an echoed payload). */
const SAFE_NAME = /^[A-Za-z]{1,48}(Exception|Error|Fault|Timeout)$/

/** ECONNREFUSED, ENOTFOUND…: a network error's code, when it has one of that shape. */
function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : undefined
}
