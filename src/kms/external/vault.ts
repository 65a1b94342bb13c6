/**
 * ExternalRoot over HashiCorp Vault / OpenBao Transit: an aes256-gcm96 key under a mount
 * wraps each key version's material with the AAD bound as `associated_data`.
 *
 * The wire, from the public documentation and sources:
 * - Transit encrypt/decrypt, `vault:vN:` ciphertexts, key rotation:
 *   https://developer.hashicorp.com/vault/api-docs/secret/transit#encrypt-data
 *   https://github.com/hashicorp/vault/blob/main/website/content/api-docs/secret/transit.mdx
 * - `associated_data` (AEAD keys, base64-decoded by Vault: AssocDataFactory in
 *   builtin/logical/transit/path_encrypt.go; unknown key → 400 "encryption key not found"):
 *   https://github.com/hashicorp/vault-client-go/blob/main/docs/TransitEncryptRequest.md
 *   https://github.com/hashicorp/vault/pull/17638
 * - HTTP API: `X-Vault-Token`, `{"errors": [...]}`, status codes (400, 403, 404, 412, 429, 5xx,
 *   503 sealed): https://developer.hashicorp.com/vault/api-docs/v1.8.x,
 *   https://github.com/hashicorp/vault/issues/213
 * - X-Vault-Namespace: https://developer.hashicorp.com/vault/api-docs/v1.4.x/system/namespaces,
 *   https://openbao.org/api-docs/system/namespaces
 *
 * Never the token, a plaintext or a ciphertext in a message or a cause.
 */
import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import { rootCertificates } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import { StrongroomError } from '../../errors.ts'
import type { ExternalRoot, ExternalSecrets, VaultSettings } from './port.ts'

const TIMEOUT_MS = 10_000
const MAX_BODY = 1 << 20
const MAX_BLOB = 4096
const ATTEMPTS = 3
const BACKOFF_MS = [100, 400]
const BLOB = /^vault:v[1-9][0-9]{0,9}:[A-Za-z0-9+/]+={0,2}$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

type Op = 'encrypt' | 'decrypt'
type Answer = { readonly status: number; readonly json: unknown }

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

function parseAddress(address: string): URL {
  let url: URL
  try {
    url = new URL(address)
  } catch {
    throw new StrongroomError(
      'CONFIG_INVALID',
      'the vault address is not a URL (https://host:8200)',
    )
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `vault address \`${shown}\` must carry no credentials, query or fragment; give the token in VAULT_TOKEN`,
    )
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `vault address \`${shown}\` uses plain http to a host that is not loopback; use https://`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StrongroomError('CONFIG_INVALID', `vault address \`${shown}\` must be https://`)
  }
  return url
}

function checkPath(what: string, value: string, nested: boolean): string[] {
  const parts = nested ? value.replace(/^\/+|\/+$/g, '').split('/') : [value]
  if (parts.some((p) => !SEGMENT.test(p) || p.length > 128)) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `vault ${what} \`${value}\` is not a valid name (letters, digits, \`.\`, \`_\`, \`-\`${nested ? ', segments split by `/`' : ''})`,
    )
  }
  return parts
}

/** Vault's `errors` strings, trimmed, for a cause: the token and anything like a blob removed. */
function vaultErrors(json: unknown, token: string): string {
  const errors = (json as { errors?: unknown } | null)?.errors
  const list = Array.isArray(errors) ? errors.filter((e) => typeof e === 'string') : []
  const joined = list.join('; ')
  return (token === '' ? joined : joined.split(token).join('[token]'))
    .replace(/vault:v\d+:[A-Za-z0-9+/=]*/g, '[ciphertext]')
    .replace(/[A-Za-z0-9+/]{24,}={0,2}/g, '[data]')
    .replace(/\s+/g, ' ')
    .slice(0, 300)
}

export function vaultRoot(settings: VaultSettings, secrets: ExternalSecrets): ExternalRoot {
  const url = parseAddress(settings.address)
  const mountParts = checkPath('mount', settings.mount, true)
  checkPath('key', settings.key, false)
  const mount = mountParts.join('/')
  const key = settings.key
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`
  const describe = `vault ${mount}/keys/${key} at ${base}`
  const namespace = settings.namespace
  if (namespace !== undefined && !/^[A-Za-z0-9/._-]{1,256}$/.test(namespace)) {
    throw new StrongroomError('CONFIG_INVALID', `vault namespace \`${namespace}\` is not valid`)
  }
  const token = secrets.vaultToken ?? ''
  const tls = url.protocol === 'https:'
  const agent = tls
    ? new https.Agent({
        keepAlive: true,
        maxSockets: 8,
        ...(secrets.ca !== undefined ? { ca: [...rootCertificates, secrets.ca] } : {}),
      })
    : new http.Agent({ keepAlive: true, maxSockets: 8 })
  const pathOf = (op: Op) =>
    `${url.pathname.replace(/\/+$/, '')}/v1/${mountParts.map(encodeURIComponent).join('/')}/${op}/${encodeURIComponent(key)}`

  function requireToken(): void {
    if (token === '') {
      throw new StrongroomError(
        'ROOT_KEY_MISSING',
        `no vault token for ${describe}; set VAULT_TOKEN to a token allowed to use the transit key`,
      )
    }
    if (!/^[\x21-\x7e]{1,4096}$/.test(token)) {
      throw new StrongroomError(
        'ROOT_KEY_MISSING',
        `the vault token for ${describe} has characters a token cannot have; check VAULT_TOKEN`,
      )
    }
  }

  function once(op: Op, body: string): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string | number> = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
        'x-vault-token': token,
      }
      if (namespace !== undefined) headers['x-vault-namespace'] = namespace
      const options: https.RequestOptions = {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? undefined : Number(url.port),
        path: pathOf(op),
        headers,
        agent,
        timeout: TIMEOUT_MS,
      }
      const req = (tls ? https : http).request(options, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_BODY) {
            req.destroy(new StrongroomError('IO', `vault answered over 1 MiB (${describe})`))
            return
          }
          chunks.push(c)
        })
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = text === '' ? null : JSON.parse(text)
          } catch {
            json = null
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  function fail(op: Op, a: Answer): StrongroomError {
    const said = vaultErrors(a.json, token)
    const cause = new Error(`vault answered ${a.status}${said === '' ? '' : `: ${said}`}`)
    const lower = said.toLowerCase()
    if (a.status === 401 || a.status === 403) {
      return new StrongroomError(
        'ROOT_KEY_MISSING',
        `vault refused the token for ${describe}; it needs a policy granting \`update\` on \`${mount}/encrypt/${key}\` and \`${mount}/decrypt/${key}\` (check VAULT_TOKEN, its expiry and namespace)`,
        { cause },
      )
    }
    if (a.status === 404 || lower.includes('encryption key not found')) {
      return new StrongroomError(
        'CONFIG_INVALID',
        `vault has no transit key \`${key}\` under mount \`${mount}\` (${describe}); enable the engine (\`vault secrets enable -path=${mount} transit\`) and create the key with \`vault write -f ${mount}/keys/${key}\``,
        { cause },
      )
    }
    const unfit = lower.includes('does not support') || lower.includes('key derivation')
    if (a.status === 400 && op === 'decrypt' && !unfit) {
      return new StrongroomError(
        'ROOT_KEY_WRONG',
        `the wrapped key does not open under ${describe}: another key, another installation, or altered bytes`,
        { cause },
      )
    }
    if (a.status === 400) {
      return new StrongroomError(
        'CONFIG_INVALID',
        `vault refused to encrypt with ${describe}; the key must be an aes256-gcm96 (or other AEAD) key that allows encryption`,
        { cause },
      )
    }
    const what = a.status === 503 ? 'is sealed or unavailable' : `answered ${a.status}`
    return new StrongroomError('IO', `vault ${what} (${describe}); try again later`, { cause })
  }

  async function call(op: Op, payload: Record<string, string>): Promise<Record<string, unknown>> {
    requireToken()
    const body = JSON.stringify(payload)
    let last: StrongroomError | undefined
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(BACKOFF_MS[attempt - 1] ?? 400)
      let a: Answer
      try {
        a = await once(op, body)
      } catch (e) {
        if (e instanceof StrongroomError) throw e
        const tlsCode = String((e as NodeJS.ErrnoException).code)
        if (/CERT|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(tlsCode)) {
          const hint = 'give the CA that signed it as the key store CA bundle'
          throw new StrongroomError(
            'IO',
            `vault's certificate is not trusted (${describe}); ${hint}`,
            {
              cause: e,
            },
          )
        }
        last = new StrongroomError('IO', `cannot reach vault (${describe})`, { cause: e })
        continue
      }
      if (a.status === 200) {
        const data = (a.json as { data?: unknown } | null)?.data
        if (typeof data === 'object' && data !== null) return data as Record<string, unknown>
        throw new StrongroomError('IO', `vault answered without data (${describe})`)
      }
      last = fail(op, a)
      const retry = a.status >= 500 || a.status === 429 || a.status === 412
      if (!retry) throw last
    }
    throw last ?? new StrongroomError('IO', `cannot reach vault (${describe})`)
  }

  return {
    kind: 'vault',
    describe,
    async wrap(plaintext, aad) {
      const data = await call('encrypt', {
        plaintext: Buffer.from(plaintext).toString('base64'),
        associated_data: Buffer.from(aad).toString('base64'),
      })
      const ct = data.ciphertext
      if (typeof ct !== 'string' || ct.length > MAX_BLOB || !BLOB.test(ct)) {
        throw new StrongroomError('IO', `vault answered an unexpected ciphertext (${describe})`)
      }
      return Buffer.from(ct, 'utf8')
    },
    async unwrap(blob, aad) {
      const ct = Buffer.from(blob).toString('utf8')
      if (blob.length > MAX_BLOB || !BLOB.test(ct)) {
        throw new StrongroomError(
          'ROOT_KEY_WRONG',
          `the wrapped key is not a vault transit ciphertext (${describe})`,
        )
      }
      const data = await call('decrypt', {
        ciphertext: ct,
        associated_data: Buffer.from(aad).toString('base64'),
      })
      const pt = data.plaintext
      if (typeof pt !== 'string' || !BASE64.test(pt)) {
        throw new StrongroomError('IO', `vault answered an unexpected plaintext (${describe})`)
      }
      return Buffer.from(pt, 'base64')
    },
    close() {
      agent.destroy()
      return Promise.resolve()
    },
  }
}
