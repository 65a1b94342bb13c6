/**
 * Configuration: a JSON file, then STRONGROOM_* environment variables, then
 * command-line flags, each overriding the one before. Every setting is
 * declared once below with its three names and its validation, so the
 * messages, the docs and `--help` cannot drift apart.
 */
import { join, resolve } from 'node:path'
import { StrongroomError } from './errors.ts'
import { parseBlobsUrl } from './store/s3/url.ts'
import { parseSinkSpecs, type SinkSpec } from './audit/sinks/config.ts'
import { parseWitnessKey } from './audit/tlog/cosignature.ts'
import type { WitnessTarget } from './audit/witness-client.ts'
import { MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, DEFAULT_SEGMENT_SIZE } from './crypto/header.ts'
import { DEFAULT_LIMITS } from './scan/types.ts'
import { availableMemory, defaultLimits, type AdmissionLimits } from './api/admission.ts'
import type { ExternalSecrets } from './kms/external/port.ts'
import { readSmallFile } from './kms/root.ts'
import { checkTrustDomain, hostPort, parseListeners, type ListenerSpec } from './net/listeners.ts'
import {
  KEY_PROVIDERS,
  keyStoreOf,
  type KeyProviderKind,
  type KeyStoreChoice,
} from './kms/external/index.ts'

export interface Config {
  readonly dataDir: string
  readonly region: string
  readonly segmentSize: number
  /** Seconds a client may take to send its request headers. */
  readonly headerTimeout: number
  /** Seconds a connection may stay silent (no bytes either way) before it is closed. */
  readonly idleTimeout: number
  /** Where the gateway listens (HOST:PORT; port 0 picks a free one). */
  readonly listen: { readonly host: string; readonly port: number }
  /** HTTPS listeners beside `listen`, each with its TLS profile and client-certificate mode. */
  readonly listeners: readonly ListenerSpec[]
  /**
   * Seconds a deleted bucket's name stays reserved for the tenant that deleted
   * it, so that a deletion cannot be turned into a takeover of the name.
   */
  readonly bucketNameHold: number
  /** MiB one model scan may hold at once (buffers read whole, decompressed members). */
  readonly scanMemoryMiB: number
  /**
   * Admission control: requests in flight, bytes they may buffer, requests that may wait and
   * for how long before 503 SlowDown. Each unset limit is derived from memory (admission.ts).
   */
  readonly admission: AdmissionLimits
  readonly rootKeyFile: string | undefined
  readonly passphraseFile: string | undefined
  /**
   * Where the root is kept: `local` (a root key or passphrase; the default) or an external
   * key store (PKCS#11 HSM, Vault/OpenBao Transit, AWS KMS) and which key in it.
   */
  readonly keyProvider: KeyProviderKind | undefined
  /** The key store's settings, and its secrets (PIN, token, credentials) read when asked. */
  readonly keyStore: (KeyStoreChoice & { readonly secrets: () => ExternalSecrets }) | undefined
  /** PEM certificates trusted (besides the system's) for the key store's HTTPS. */
  readonly keyStoreCaFile: string | undefined
  /** PEM certificates trusted (besides the system's) when fetching OIDC discovery documents and JWKS. */
  readonly oidcCaFile: string | undefined
  /** The SPIFFE trust domain of workload certificates (default strongroom.internal). */
  readonly trustDomain: string
  /**
   * The session-token key new sessions are sealed under; raising it on every replica rotates
   * the key (sessions of the one before stay valid until they expire; older ones are refused).
   */
  readonly tokenKeyId: number
  /**
   * The metadata database: a postgres:// URL (several gateways share it), or undefined for the
   * embedded SQLite file in the data directory. It may hold a password: never echoed.
   */
  readonly meta: string | undefined
  /**
   * Where sealed blobs live: undefined for the data directory, or an S3-compatible bucket
   * (`url` s3://BUCKET[/PREFIX], the service's `endpoint` for RGW or MinIO, its `region`).
   * Credentials come from STRONGROOM_BLOBS_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, else the AWS
   * SDK's default chain (environment, profile, web identity, instance role).
   */
  readonly blobs:
    | {
        readonly url: string
        readonly endpoint: string | undefined
        readonly region: string
        readonly credentials:
          { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined
      }
    | undefined
  /** From STRONGROOM_ROOT_KEY only: a secret never belongs in a config file or on a command line. */
  readonly rootKeyHex: string | undefined
  /**
   * Where this process writes its audit log (journal, lock and the tiled log under `log/`):
   * DATA_DIR/audit by default. Gateways that share a data directory each need their own.
   */
  readonly auditDir: string
  /** `fail-closed` (default): reads wait for their events like writes; `best-effort`: they do not. */
  readonly auditReads: 'fail-closed' | 'best-effort'
  /** Where audit events are exported (files, webhooks, syslog): ../audit/stream.ts. */
  readonly auditSinks: readonly SinkSpec[]
  /** Detection rules: a YAML file, `off`, or undefined for the built-in rules. */
  readonly auditRules: string | undefined
  /** Witnesses that cosign the audit log's checkpoints (docs/audit.md, "Witnesses"). */
  readonly auditWitnesses: readonly WitnessTarget[]
}

interface Setting<T> {
  readonly file: string
  readonly env: string
  readonly flag: string | undefined
  readonly accepted: string
  readonly parse: (raw: unknown) => T | undefined
  /** The value may hold a secret (a password in a URL): an error names the setting, not the value. */
  readonly secret?: true
}

const path = (raw: unknown): string | undefined =>
  typeof raw === 'string' && raw.length > 0 && !raw.includes('\0') ? raw : undefined

export function parseSize(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined
  if (typeof raw !== 'string') return undefined
  const m = /^(\d{1,15})\s*(|b|k|kib|m|mib|g|gib)$/i.exec(raw.trim())
  if (m === null) return undefined
  const unit = (m[2] ?? '').toLowerCase()
  const mult = unit.startsWith('k')
    ? 1024
    : unit.startsWith('m')
      ? 1024 ** 2
      : unit.startsWith('g')
        ? 1024 ** 3
        : 1
  const n = Number(m[1]) * mult
  return Number.isSafeInteger(n) ? n : undefined
}

/** A number of seconds from `min` to `max`, fractions allowed. */
function seconds(raw: unknown, max: number, min = 0.1): number | undefined {
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim())
        ? Number(raw)
        : Number.NaN
  return n >= min && n <= max ? n : undefined
}

/** A whole number from `min` to `max`, as a JSON number or a decimal string. */
function count(raw: unknown, min: number, max: number): number | undefined {
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d{1,9}$/.test(raw.trim())
        ? Number(raw)
        : Number.NaN
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined
}

export const SETTINGS = {
  dataDir: {
    file: 'dataDir',
    env: 'STRONGROOM_DATA_DIR',
    flag: 'data-dir',
    accepted: 'a directory path',
    parse: path,
  },
  region: {
    file: 'region',
    env: 'STRONGROOM_REGION',
    flag: 'region',
    accepted: 'an AWS-style region name such as us-east-1',
    parse: (raw) =>
      typeof raw === 'string' && /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(raw) ? raw : undefined,
  },
  segmentSize: {
    file: 'segmentSize',
    env: 'STRONGROOM_SEGMENT_SIZE',
    flag: 'segment-size',
    accepted: `a size from ${MIN_SEGMENT_SIZE} B to 64MiB, in bytes or with a KiB/MiB suffix`,
    parse: (raw) => {
      const n = parseSize(raw)
      return n !== undefined && n >= MIN_SEGMENT_SIZE && n <= MAX_SEGMENT_SIZE ? n : undefined
    },
  },
  headerTimeout: {
    file: 'headerTimeout',
    env: 'STRONGROOM_HEADER_TIMEOUT',
    flag: undefined,
    accepted: 'a number of seconds from 0.1 to 600',
    parse: (raw) => seconds(raw, 600),
  },
  idleTimeout: {
    file: 'idleTimeout',
    env: 'STRONGROOM_IDLE_TIMEOUT',
    flag: undefined,
    accepted: 'a number of seconds from 0.1 to 3600',
    parse: (raw) => seconds(raw, 3600),
  },
  listen: {
    file: 'listen',
    env: 'STRONGROOM_LISTEN',
    flag: 'listen',
    accepted: 'HOST:PORT such as 127.0.0.1:9443 (port 0 picks a free one)',
    parse: hostPort,
  },
  listeners: {
    file: 'listeners',
    env: 'STRONGROOM_LISTENERS',
    flag: undefined,
    accepted:
      'a list of at most 16 listeners, each {"listen": "HOST:PORT", "tlsProfile": "intermediate" or "modern", "clientCertificates": "none", "optional" or "required"}',
    parse: (raw) => parseListeners(typeof raw === 'string' ? jsonOf(raw) : raw),
  },
  bucketNameHold: {
    file: 'bucketNameHold',
    env: 'STRONGROOM_BUCKET_NAME_HOLD',
    flag: undefined,
    accepted: 'a number of seconds from 0 to 31536000 (a year)',
    parse: (raw) => seconds(raw, 31_536_000, 0),
  },
  scanMemoryMiB: {
    file: 'scanMemoryMiB',
    env: 'STRONGROOM_SCAN_MEMORY_MIB',
    flag: undefined,
    accepted: 'a whole number of MiB from 16 to 65536',
    parse: (raw) => count(raw, 16, 65_536),
  },
  maxInFlight: {
    file: 'maxInFlight',
    env: 'STRONGROOM_MAX_IN_FLIGHT',
    flag: 'max-in-flight',
    accepted: 'a number of requests from 1 to 100000',
    parse: (raw) => count(raw, 1, 100_000),
  },
  maxBuffered: {
    file: 'maxBuffered',
    env: 'STRONGROOM_MAX_BUFFERED',
    flag: 'max-buffered',
    accepted: 'a size from 1MiB to 64GiB, in bytes or with a KiB/MiB/GiB suffix',
    parse: (raw) => {
      const n = parseSize(raw)
      return n !== undefined && n >= 1024 ** 2 && n <= 64 * 1024 ** 3 ? n : undefined
    },
  },
  admissionQueue: {
    file: 'admissionQueue',
    env: 'STRONGROOM_ADMISSION_QUEUE',
    flag: 'admission-queue',
    accepted: 'a number of requests from 0 to 100000',
    parse: (raw) => count(raw, 0, 100_000),
  },
  admissionWait: {
    file: 'admissionWait',
    env: 'STRONGROOM_ADMISSION_WAIT',
    flag: 'admission-wait',
    accepted: 'a number of seconds from 0 to 60',
    parse: (raw) => seconds(raw, 60, 0),
  },
  rootKeyFile: {
    file: 'rootKeyFile',
    env: 'STRONGROOM_ROOT_KEY_FILE',
    flag: 'root-key-file',
    accepted: 'the path of a file holding 32 raw bytes or 64 hex characters',
    parse: path,
  },
  passphraseFile: {
    file: 'passphraseFile',
    env: 'STRONGROOM_PASSPHRASE_FILE',
    flag: 'passphrase-file',
    accepted: 'the path of a file holding the passphrase',
    parse: path,
  },
  keyProvider: {
    file: 'keyProvider',
    env: 'STRONGROOM_KEY_PROVIDER',
    flag: 'key-provider',
    accepted: `one of ${KEY_PROVIDERS.join(', ')}`,
    parse: (raw) =>
      typeof raw === 'string' && (KEY_PROVIDERS as readonly string[]).includes(raw)
        ? raw
        : undefined,
  },
  keyStore: {
    file: 'keyStore',
    env: 'STRONGROOM_KEY_STORE',
    flag: 'key-store',
    accepted: 'the key in the external key store (docs/keys.md, "External key stores")',
    // Not shown when refused: a mistyped value may hold a PIN or a token.
    secret: true,
    parse: (raw) =>
      typeof raw === 'string' && raw.length > 0 && raw.length <= 2048 && !/[\0\s]/.test(raw)
        ? raw
        : undefined,
  },
  keyStoreCaFile: {
    file: 'keyStoreCaFile',
    env: 'STRONGROOM_KEY_STORE_CA_FILE',
    flag: undefined,
    accepted: 'the path of a PEM file of CA certificates trusted for the key store',
    parse: path,
  },
  tokenKeyId: {
    file: 'tokenKeyId',
    env: 'STRONGROOM_TOKEN_KEY_ID',
    flag: undefined,
    accepted: 'a whole number from 1 to 1000000',
    parse: (raw) => count(raw, 1, 1_000_000),
  },
  meta: {
    file: 'meta',
    env: 'STRONGROOM_META',
    flag: undefined,
    accepted: 'a postgres:// or postgresql:// URL of the metadata database',
    parse: (raw) =>
      typeof raw === 'string' && /^postgres(?:ql)?:\/\/[^\0\s]+$/.test(raw) && raw.length <= 4096
        ? raw
        : undefined,
    secret: true,
  },
  blobs: {
    file: 'blobs',
    env: 'STRONGROOM_BLOBS',
    flag: undefined,
    accepted: 'an s3://BUCKET[/PREFIX] URL of the bucket that holds the sealed blobs',
    parse: (raw) => (typeof raw === 'string' && parseBlobsUrl(raw) !== undefined ? raw : undefined),
  },
  blobsEndpoint: {
    file: 'blobsEndpoint',
    env: 'STRONGROOM_BLOBS_ENDPOINT',
    flag: undefined,
    accepted: 'the http:// or https:// URL of the S3-compatible service (no user, path or query)',
    parse: (raw) =>
      typeof raw === 'string' && /^https?:\/\/[a-zA-Z0-9.[\]:-]{1,300}\/?$/.test(raw)
        ? raw
        : undefined,
  },
  blobsRegion: {
    file: 'blobsRegion',
    env: 'STRONGROOM_BLOBS_REGION',
    flag: undefined,
    accepted: 'a region name such as us-east-1',
    parse: (raw) => (typeof raw === 'string' && /^[a-z0-9-]{1,64}$/.test(raw) ? raw : undefined),
  },
  auditDir: {
    file: 'auditDir',
    env: 'STRONGROOM_AUDIT_DIR',
    flag: undefined,
    accepted: 'the path of the directory this gateway writes its audit log to',
    parse: path,
  },
  auditReads: {
    file: 'auditReads',
    env: 'STRONGROOM_AUDIT_READS',
    flag: undefined,
    accepted: '`fail-closed` (reads wait for their audit events) or `best-effort`',
    parse: (raw) => (raw === 'fail-closed' || raw === 'best-effort' ? raw : undefined),
  },
  auditSinks: {
    file: 'auditSinks',
    env: 'STRONGROOM_AUDIT_SINKS',
    flag: undefined,
    accepted: 'a list of audit sinks (docs/audit.md)',
    parse: (raw) => parseSinkSpecs(typeof raw === 'string' ? jsonOf(raw) : raw),
  },
  auditRules: {
    file: 'auditRules',
    env: 'STRONGROOM_AUDIT_RULES',
    flag: undefined,
    accepted: 'the path of a detection rules file, or `off`',
    parse: (raw) => (raw === 'off' ? raw : path(raw)),
  },
  auditWitnesses: {
    file: 'auditWitnesses',
    env: 'STRONGROOM_AUDIT_WITNESSES',
    flag: undefined,
    accepted:
      'a list of witnesses, each `{"url": "https://…", "key": "NAME+KEYID+KEY"}` (its cosigner key, from `strongroom audit witness key`); plain http:// only on loopback',
    parse: (raw) => witnessTargets(typeof raw === 'string' ? jsonOf(raw) : raw),
  },
  trustDomain: {
    file: 'trustDomain',
    env: 'STRONGROOM_TRUST_DOMAIN',
    flag: undefined,
    accepted: 'a SPIFFE trust domain: lowercase letters, digits, dots, dashes, underscores',
    parse: (raw) => (typeof raw === 'string' ? checkTrustDomain(raw) : undefined),
  },
  oidcCaFile: {
    file: 'oidcCaFile',
    env: 'STRONGROOM_OIDC_CA_FILE',
    flag: undefined,
    accepted: 'the path of a PEM file of CA certificates trusted for OIDC issuers',
    parse: path,
  },
} as const satisfies Record<string, Setting<unknown>>

type Key = keyof typeof SETTINGS

const DEFAULTS = {
  dataDir: './strongroom-data',
  region: 'us-east-1',
  segmentSize: DEFAULT_SEGMENT_SIZE,
  headerTimeout: 20,
  idleTimeout: 120,
  listen: { host: '127.0.0.1', port: 9443 },
  bucketNameHold: 3600,
  scanMemoryMiB: DEFAULT_LIMITS.maxMemory / (1024 * 1024),
}

export interface ConfigSources {
  /** Path of the config file, from --config or STRONGROOM_CONFIG. */
  readonly configFile?: string | undefined
  readonly env: NodeJS.ProcessEnv
  /** Flag values by flag name, as parsed from the command line. */
  readonly flags: Readonly<Record<string, unknown>>
  /** The memory the admission defaults are derived from (default: the machine's or the container's). */
  readonly memory?: number
}

export function loadConfig(sources: ConfigSources): Config {
  const file = sources.configFile ?? sources.env.STRONGROOM_CONFIG
  const fromFile = file === undefined ? {} : readConfigFile(file)
  const values: Partial<Record<Key, unknown>> = {}
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const s: Setting<unknown> = SETTINGS[key]
    const layers: [unknown, string][] = [
      [fromFile[s.file], `\`${s.file}\` in ${file ?? ''}`],
      [sources.env[s.env], s.env],
      [s.flag === undefined ? undefined : sources.flags[s.flag], `--${s.flag ?? ''}`],
    ]
    for (const [raw, where] of layers) {
      if (raw === undefined) continue
      const v = s.parse(raw)
      if (v === undefined) {
        throw new StrongroomError(
          'CONFIG_INVALID',
          s.secret === true
            ? `${where} is not ${s.accepted} (its value is not shown: it may hold a password)`
            : `${where} is \`${JSON.stringify(raw).slice(0, 80)}\`; expected ${s.accepted}`,
        )
      }
      values[key] = v
    }
  }
  const rootKeyHex = sources.env.STRONGROOM_ROOT_KEY
  const derived = defaultLimits(sources.memory ?? availableMemory())
  const admissionWait = values.admissionWait as number | undefined
  const region = (values.region as string | undefined) ?? DEFAULTS.region
  const dataDir = resolve((values.dataDir as string | undefined) ?? DEFAULTS.dataDir)
  return {
    dataDir,
    region,
    segmentSize: (values.segmentSize as number | undefined) ?? DEFAULTS.segmentSize,
    headerTimeout: (values.headerTimeout as number | undefined) ?? DEFAULTS.headerTimeout,
    idleTimeout: (values.idleTimeout as number | undefined) ?? DEFAULTS.idleTimeout,
    listen: (values.listen as Config['listen'] | undefined) ?? DEFAULTS.listen,
    listeners: (values.listeners as ListenerSpec[] | undefined) ?? [],
    bucketNameHold: (values.bucketNameHold as number | undefined) ?? DEFAULTS.bucketNameHold,
    scanMemoryMiB: (values.scanMemoryMiB as number | undefined) ?? DEFAULTS.scanMemoryMiB,
    admission: {
      maxInFlight: (values.maxInFlight as number | undefined) ?? derived.maxInFlight,
      maxBufferedBytes: (values.maxBuffered as number | undefined) ?? derived.maxBufferedBytes,
      maxQueued: (values.admissionQueue as number | undefined) ?? derived.maxQueued,
      maxWaitMs: admissionWait === undefined ? derived.maxWaitMs : Math.round(admissionWait * 1000),
    },
    rootKeyFile:
      values.rootKeyFile === undefined ? undefined : resolve(values.rootKeyFile as string),
    passphraseFile:
      values.passphraseFile === undefined ? undefined : resolve(values.passphraseFile as string),
    rootKeyHex: rootKeyHex === undefined || rootKeyHex === '' ? undefined : rootKeyHex,
    oidcCaFile: values.oidcCaFile === undefined ? undefined : resolve(values.oidcCaFile as string),
    trustDomain: (values.trustDomain as string | undefined) ?? 'strongroom.internal',
    tokenKeyId: (values.tokenKeyId as number | undefined) ?? 1,
    ...keyStoreOf(
      values.keyProvider as KeyProviderKind | undefined,
      values.keyStore as string | undefined,
      values.keyStoreCaFile === undefined ? undefined : resolve(values.keyStoreCaFile as string),
      sources.env,
    ),
    meta: values.meta as string | undefined,
    blobs: blobsOf(values, sources.env, region),
    auditDir: resolve((values.auditDir as string | undefined) ?? join(dataDir, 'audit')),
    auditReads: (values.auditReads as Config['auditReads'] | undefined) ?? 'fail-closed',
    auditSinks: (values.auditSinks as SinkSpec[] | undefined) ?? [],
    auditWitnesses: (values.auditWitnesses as WitnessTarget[] | undefined) ?? [],
    auditRules:
      values.auditRules === undefined || values.auditRules === 'off'
        ? values.auditRules
        : resolve(values.auditRules as string),
  }
}

function blobsOf(
  values: Partial<Record<Key, unknown>>,
  env: NodeJS.ProcessEnv,
  region: string,
): Config['blobs'] {
  const url = values.blobs as string | undefined
  const endpoint = values.blobsEndpoint as string | undefined
  if (url === undefined) {
    if (endpoint !== undefined)
      throw new StrongroomError('CONFIG_INVALID', '`blobsEndpoint` is set but `blobs` is not')
    return undefined
  }
  const accessKeyId = env.STRONGROOM_BLOBS_ACCESS_KEY_ID
  const secretAccessKey = env.STRONGROOM_BLOBS_SECRET_ACCESS_KEY
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    throw new StrongroomError(
      'CONFIG_INVALID',
      'set both STRONGROOM_BLOBS_ACCESS_KEY_ID and STRONGROOM_BLOBS_SECRET_ACCESS_KEY, or neither (the AWS SDK’s default chain)',
    )
  return {
    url,
    endpoint,
    region: (values.blobsRegion as string | undefined) ?? region,
    credentials:
      accessKeyId === undefined || secretAccessKey === undefined
        ? undefined
        : { accessKeyId, secretAccessKey },
  }
}

/** A JSON value given as text (an environment variable); undefined when it is not JSON. */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** Reads a JSON config file; errors name the file, and line:column for syntax errors. */
function readConfigFile(file: string): Record<string, unknown> {
  // At most 1 MiB is read: /dev/zero or a huge file is refused, never read to its end.
  const text = readSmallFile(file, 'config file', 1024 * 1024, 'CONFIG_INVALID').toString('utf8')
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message)
    const at = m === null ? '' : `:${lineColumn(text, Number(m[1]))}`
    throw new StrongroomError(
      'CONFIG_INVALID',
      `${file}${at}: not valid JSON (${(e as Error).message.split('\n')[0] ?? ''})`,
    )
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new StrongroomError('CONFIG_INVALID', `${file}: the config must be a JSON object`)
  }
  const known: string[] = Object.values(SETTINGS).map((s) => s.file)
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      const line = lineColumn(text, text.indexOf(JSON.stringify(k)))
      throw new StrongroomError(
        'CONFIG_INVALID',
        `${file}:${line}: unknown setting \`${k}\`; known settings are ${known.join(', ')}`,
      )
    }
  }
  return v as Record<string, unknown>
}

function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, Math.max(0, pos))
  const line = before.split('\n').length
  return `${line}:${pos - before.lastIndexOf('\n')}`
}

/** At most 16 witnesses, each an http(s) URL and a cosigner key that parses; else undefined. */
function witnessTargets(raw: unknown): WitnessTarget[] | undefined {
  if (!Array.isArray(raw) || raw.length > 16) return undefined
  const out: WitnessTarget[] = []
  for (const w of raw as unknown[]) {
    const { url, key } = (w ?? {}) as { url?: unknown; key?: unknown }
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]{1,500}$/.test(url)) return undefined
    if (typeof key !== 'string') return undefined
    try {
      parseWitnessKey(key)
      const u = new URL(url)
      // A refusal from a witness stops the gateways: over plain HTTP anyone on the path could
      // forge one. Plain HTTP is for a witness on this machine only.
      if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined
      if (u.protocol === 'http:' && !['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname))
        return undefined
    } catch {
      return undefined
    }
    out.push({ url, key })
  }
  return out
}
