/**
 * Which external key store holds the root, from the operator's configuration
 * (`--key-provider` and `--key-store`), and opening it. Settings always come from the
 * configuration, never from the metadata database: a database that could name the
 * PKCS#11 module to load or the Vault address to send a token to would be code
 * execution or a stolen token for whoever can write to it. The installation record
 * keeps a copy only to say, when none is given, which store the directory needs.
 */
import { StrongroomError } from '../../errors.ts'
import { readSmallFile } from '../root.ts'
import {
  shownSpec,
  type ExternalKind,
  type ExternalRoot,
  type ExternalSecrets,
  type ExternalSettings,
} from './port.ts'
import { parsePkcs11Uri } from './pkcs11.ts'

export const KEY_PROVIDERS = ['local', 'pkcs11', 'vault', 'awskms'] as const
export type KeyProviderKind = (typeof KEY_PROVIDERS)[number]

export const KEY_STORE_FORMS: Readonly<Record<ExternalKind, string>> = {
  pkcs11: 'pkcs11:token=LABEL;object=KEY-LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so',
  vault: 'https://VAULT:8200/v1/MOUNT/keys/KEY (Transit; ?namespace=NS optional)',
  awskms: 'arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (or alias/NAME with AWS_REGION)',
}

/** A configured external store: what it is and where its secrets come from. */
export interface KeyStoreChoice {
  readonly settings: ExternalSettings
  /** From the PKCS#11 URI's pin-source. */
  readonly pinFile?: string
}

/** The settings `spec` names for `kind`; CONFIG_INVALID with the expected form when it names nothing usable. */
export function parseKeyStore(
  kind: ExternalKind,
  spec: string,
  env: NodeJS.ProcessEnv,
): KeyStoreChoice {
  const bad = (why: string): never => {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the key store \`${shownSpec(spec)}\` ${why}; for ${kind} give ${KEY_STORE_FORMS[kind]}`,
    )
  }
  if (spec.length > 2048) bad('is longer than 2048 characters')
  if (kind === 'pkcs11') return parsePkcs11Uri(spec)
  if (kind === 'vault') {
    let u: URL
    try {
      u = new URL(spec)
    } catch {
      return bad('is not a URL')
    }
    const m = /^\/v1\/((?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+)\/keys\/([A-Za-z0-9_.-]{1,128})$/.exec(
      u.pathname,
    )
    if (m === null || (u.protocol !== 'https:' && u.protocol !== 'http:'))
      bad('is not a Transit key URL')
    if (u.username !== '' || u.password !== '' || u.hash !== '')
      bad('holds a user, password or fragment')
    if (u.protocol === 'http:' && !loopback(u))
      bad('uses plain http to a host other than this one (the token would travel in the clear)')
    for (const name of new Set(u.searchParams.keys()))
      if (name !== 'namespace' || u.searchParams.getAll(name).length > 1)
        bad(
          `has the query parameter \`${name}\` ${name === 'namespace' ? 'twice' : '(only namespace is read)'}`,
        )
    const namespace = u.searchParams.get('namespace') ?? undefined
    return {
      settings: {
        kind: 'vault',
        address: u.origin,
        mount: m?.[1] ?? '',
        key: m?.[2] ?? '',
        ...(namespace === undefined ? {} : { namespace }),
      },
    }
  }
  const arn =
    /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(key\/[A-Za-z0-9-]+|alias\/[A-Za-z0-9/_-]+)$/.exec(
      spec,
    )
  const bare = /^(?:[A-Za-z0-9-]{1,64}|alias\/[A-Za-z0-9/_-]{1,250})$/.test(spec)
  if (arn === null && !bare) bad('is not a KMS key ARN, key id or alias')
  const region = arn?.[1] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION
  if (region === undefined) bad('does not say its region: give the key ARN, or set AWS_REGION')
  // The service's own variable first, then the SDKs' global one; a config file's endpoint_url is
  // not read (the client is told to ignore it).
  const endpoint = env.AWS_ENDPOINT_URL_KMS || env.AWS_ENDPOINT_URL || undefined
  if (endpoint !== undefined) kmsEndpoint(endpoint)
  return {
    settings: {
      kind: 'awskms',
      keyId: spec,
      region: region ?? '',
      ...(endpoint === undefined ? {} : { endpoint }),
    },
  }
}

/** Plain http is for a server on this machine only: what is sent would otherwise cross the network in the clear. */
function loopback(u: URL): boolean {
  return ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)
}

/** AWS_ENDPOINT_URL_KMS: https, or http on loopback; no user information. */
function kmsEndpoint(endpoint: string): void {
  const bad = (why: string): never => {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the KMS endpoint (AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL) \`${shownSpec(endpoint)}\` ${why}; give https://HOST[:PORT]`,
    )
  }
  let u: URL
  try {
    u = new URL(endpoint)
  } catch {
    return bad('is not a URL')
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') bad('is not an http(s) URL')
  if (u.username !== '' || u.password !== '') bad('holds a user or password')
  if (u.protocol === 'http:' && !loopback(u))
    bad(
      'uses plain http to a host other than this one (the root key material would travel in the clear)',
    )
}

/** The secrets to reach the store, from the environment (and the PIN file the URI names). */
export function keyStoreSecrets(
  choice: KeyStoreChoice,
  env: NodeJS.ProcessEnv,
  caFile: string | undefined,
): ExternalSecrets {
  const read = (file: string, what: string, max: number): string =>
    readSmallFile(file, `the ${what} file`, max, 'ROOT_KEY_MISSING')
      .toString('utf8')
      .replace(/\r?\n$/, '')
  const ca = caFile === undefined ? {} : { ca: read(caFile, 'key store CA', 1024 * 1024) }
  const s = choice.settings
  if (s.kind === 'pkcs11') {
    const pin =
      choice.pinFile === undefined ? env.STRONGROOM_PKCS11_PIN : read(choice.pinFile, 'PIN', 4096)
    return pin === undefined ? ca : { ...ca, pin }
  }
  if (s.kind === 'vault') {
    const token = env.VAULT_TOKEN ?? env.BAO_TOKEN
    return token === undefined ? ca : { ...ca, vaultToken: token }
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (accessKeyId === undefined || secretAccessKey === undefined) return ca
  const sessionToken = env.AWS_SESSION_TOKEN
  return {
    ...ca,
    aws: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
  }
}

/** Opens the store; `create` lets a PKCS#11 token make its key (init only). */
export async function openKeyStore(
  settings: ExternalSettings,
  secrets: ExternalSecrets,
  options: { create?: boolean } = {},
): Promise<ExternalRoot> {
  switch (settings.kind) {
    case 'pkcs11': {
      const { pkcs11Root } = await import('./pkcs11.ts')
      return pkcs11Root(settings, secrets, options)
    }
    case 'vault': {
      const { vaultRoot } = await import('./vault.ts')
      return vaultRoot(settings, secrets)
    }
    case 'awskms': {
      const { awsKmsRoot } = await import('./awskms.ts')
      return awsKmsRoot(settings, secrets)
    }
  }
}

/** The settings as kept in the installation record: canonical JSON, no secrets. */
export function settingsText(s: ExternalSettings): string {
  return JSON.stringify(s, Object.keys(s).sort())
}

/** What the record says, for messages (never used to reach anything). */
export function recordedStore(text: string | null): string {
  if (text === null) return 'an external key store'
  try {
    const s = JSON.parse(text) as Record<string, unknown>
    return Object.entries(s)
      .filter(([k]) => k !== 'kind')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')
  } catch {
    return 'an external key store'
  }
}

/** The configured key store, from the settings `keyProvider`, `keyStore` and `keyStoreCaFile`. */
export function keyStoreOf(
  kind: KeyProviderKind | undefined,
  spec: string | undefined,
  keyStoreCaFile: string | undefined,
  env: NodeJS.ProcessEnv,
): {
  keyProvider: KeyProviderKind | undefined
  keyStore: (KeyStoreChoice & { readonly secrets: () => ExternalSecrets }) | undefined
  keyStoreCaFile: string | undefined
} {
  if (kind === undefined || kind === 'local') {
    if (spec !== undefined)
      throw new StrongroomError(
        'CONFIG_INVALID',
        '`keyStore` (--key-store) is set but the key provider is local: set --key-provider pkcs11, vault or awskms too',
      )
    return { keyProvider: kind, keyStore: undefined, keyStoreCaFile }
  }
  if (spec === undefined)
    throw new StrongroomError(
      'CONFIG_INVALID',
      `--key-provider ${kind} needs --key-store (or \`keyStore\`): the key to use (docs/keys.md, "External key stores")`,
    )
  const choice = parseKeyStore(kind, spec, env)
  return {
    keyProvider: kind,
    keyStore: { ...choice, secrets: () => keyStoreSecrets(choice, env, keyStoreCaFile) },
    keyStoreCaFile,
  }
}
