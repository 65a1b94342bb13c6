/**
 * A small stand-in for Vault / OpenBao Transit, written from the public API documentation
 * (https://developer.hashicorp.com/vault/api-docs/secret/transit) and Vault's transit sources:
 * aes256-gcm96 keys with versions, ciphertexts `vault:vN:` + base64(12-byte nonce ‖ ciphertext ‖
 * 16-byte tag), `associated_data` (base64) bound as AAD, `X-Vault-Token` checked, errors as
 * `{"errors": [...]}`. One preconfigured mount; no sys/ endpoints. Loopback only.
 *
 * Where it departs from Vault on purpose: an unknown key answers 404 here (Vault itself answers
 * 400 "encryption key not found" on decrypt, and with `create` capability makes the key on
 * encrypt); the client must map both.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { testCertificates } from '../../src/net/testing.ts'

export interface VaultFakeOptions {
  /** Transit mount path (default `transit`). */
  readonly mount?: string
  /** Key names made at start, each with one version (default `['strongroom']`). */
  readonly keys?: readonly string[]
  /** The one token accepted (default: random). */
  readonly token?: string
  /** Serve https with a certificate for 127.0.0.1 from a fresh CA (its PEM is `caPem`). */
  readonly tls?: boolean
}

export interface VaultFake {
  readonly url: string
  readonly token: string
  /** The CA of the https certificate (with `tls`). */
  readonly caPem: string | undefined
  /** Adds a version to `key`; later encryptions use it, older versions still decrypt. */
  rotate(key: string): number
  /** While sealed, every request answers 503 `Vault is sealed`. */
  seal(sealed: boolean): void
  /** The next `count` requests answer `status` (default 500) before anything else. */
  failNext(count: number, status?: number): void
  /** Requests seen so far, and the X-Vault-Namespace of the last one. */
  readonly stats: { requests: number; lastNamespace: string | undefined }
  close(): Promise<void>
}

const NONCE = 12
const TAG = 16
const MAX_BODY = 1 << 20

class Answer extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

function b64(field: string, v: unknown): Buffer {
  if (v === undefined || v === '') return Buffer.alloc(0)
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
    throw new Answer(400, `failed to base64-decode ${field}`)
  }
  return Buffer.from(v, 'base64')
}

export async function startVaultFake(options: VaultFakeOptions = {}): Promise<VaultFake> {
  const mount = options.mount ?? 'transit'
  const token = options.token ?? `hvs.${randomBytes(18).toString('base64url')}`
  const keys = new Map<string, Buffer[]>()
  for (const k of options.keys ?? ['strongroom']) keys.set(k, [randomBytes(32)])
  let sealed = false
  let failing = { count: 0, status: 500 }
  const stats: VaultFake['stats'] = { requests: 0, lastNamespace: undefined }

  const versionsOf = (name: string): Buffer[] => {
    const v = keys.get(name)
    if (v === undefined) throw new Answer(404, 'encryption key not found')
    return v
  }

  function encrypt(name: string, body: Record<string, unknown>): Record<string, unknown> {
    const versions = versionsOf(name)
    const plaintext = b64('plaintext', body.plaintext)
    const aad = b64('associated_data', body.associated_data)
    const version = versions.length
    const nonce = randomBytes(NONCE)
    const c = createCipheriv('aes-256-gcm', versions[version - 1] as Buffer, nonce)
    c.setAAD(aad)
    const ct = Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()])
    return { ciphertext: `vault:v${version}:${ct.toString('base64')}`, key_version: version }
  }

  function decrypt(name: string, body: Record<string, unknown>): Record<string, unknown> {
    const versions = versionsOf(name)
    const ciphertext = body.ciphertext
    if (typeof ciphertext !== 'string' || ciphertext === '') {
      throw new Answer(400, 'missing ciphertext to decrypt')
    }
    const m = /^vault:v(\d+):(.*)$/s.exec(ciphertext)
    if (m === null) throw new Answer(400, 'invalid ciphertext: no prefix')
    const version = Number(m[1])
    const key = versions[version - 1]
    if (key === undefined) throw new Answer(400, 'invalid key version')
    const raw = b64('ciphertext', m[2])
    if (raw.length < NONCE + TAG) throw new Answer(400, 'invalid ciphertext: could not decode')
    const aad = b64('associated_data', body.associated_data)
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE))
    d.setAAD(aad)
    d.setAuthTag(raw.subarray(raw.length - TAG))
    try {
      const pt = Buffer.concat([d.update(raw.subarray(NONCE, raw.length - TAG)), d.final()])
      return { plaintext: pt.toString('base64') }
    } catch {
      throw new Answer(400, 'cipher: message authentication failed')
    }
  }

  function rotate(name: string): number {
    const versions = versionsOf(name)
    versions.push(randomBytes(32))
    return versions.length
  }

  function route(method: string, path: string, body: Record<string, unknown>): unknown {
    const prefix = `/v1/${mount}/`
    if (method !== 'POST' || !path.startsWith(prefix)) {
      throw new Answer(404, '1 error occurred:\n\t* unsupported path\n\n')
    }
    const rest = path.slice(prefix.length).split('/').map(decodeURIComponent)
    const [op, name, extra] = rest
    if (rest.length === 2 && op === 'encrypt' && name !== undefined) return encrypt(name, body)
    if (rest.length === 2 && op === 'decrypt' && name !== undefined) return decrypt(name, body)
    if (rest.length === 3 && op === 'keys' && name !== undefined && extra === 'rotate') {
      rotate(name)
      return null
    }
    throw new Answer(404, '1 error occurred:\n\t* unsupported path\n\n')
  }

  function handle(req: http.IncomingMessage, raw: Buffer): { status: number; json: unknown } {
    stats.requests++
    const ns = req.headers['x-vault-namespace']
    stats.lastNamespace = typeof ns === 'string' ? ns : undefined
    if (failing.count > 0) {
      failing.count--
      throw new Answer(failing.status, 'internal error')
    }
    if (sealed) throw new Answer(503, 'Vault is sealed')
    if (req.headers['x-vault-token'] !== token) throw new Answer(403, 'permission denied')
    let body: unknown = {}
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'))
      } catch {
        throw new Answer(400, 'failed to parse JSON input')
      }
    }
    if (typeof body !== 'object' || body === null) throw new Answer(400, 'invalid request')
    const data = route(req.method ?? '', (req.url ?? '').split('?')[0] ?? '', body as never)
    if (data === null) return { status: 204, json: undefined }
    return {
      status: 200,
      json: {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data,
        wrap_info: null,
        warnings: null,
        auth: null,
      },
    }
  }

  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
    })
    req.on('end', () => {
      let out: { status: number; json: unknown }
      try {
        if (size > MAX_BODY) throw new Answer(413, 'request body too large')
        out = handle(req, Buffer.concat(chunks))
      } catch (e) {
        out =
          e instanceof Answer
            ? { status: e.status, json: { errors: [e.message] } }
            : { status: 500, json: { errors: ['internal error'] } }
      }
      const text = out.json === undefined ? '' : JSON.stringify(out.json)
      res.writeHead(out.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      })
      res.end(text)
    })
  }
  const pki = options.tls === true ? testPki() : undefined
  const server = pki
    ? https.createServer({ cert: pki.cert, key: pki.key }, listener)
    : http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `${pki ? 'https' : 'http'}://127.0.0.1:${port}`,
    token,
    caPem: pki?.caPem,
    rotate,
    seal(s) {
      sealed = s
    },
    failNext(count, status = 500) {
      failing = { count, status }
    },
    stats,
    close() {
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) =>
        server.close((e) => (e ? reject(e) : resolve())),
      )
    },
  }
}

/** A one-day CA and a server certificate it signs for 127.0.0.1. */
function testPki(): { caPem: string; cert: string; key: string } {
  const c = testCertificates(['127.0.0.1'], 'Vault Fake CA')
  return { caPem: c.caPem, cert: c.certPem, key: c.keyPem }
}
