/**
 * The one place that wires concrete implementations from configuration: the
 * data directory, the metadata store, the root of trust and the key provider.
 *
 *   strongroom-data/   mode 0700: the gateway refuses a data directory that group or
 *                      others can reach; every file inside is created 0600
 *     meta.sqlite     metadata (WAL); key material inside it sealed under the root key
 *     dev-root.key    only in --dev mode: the generated root key
 */
import { Pki } from './net/pki.ts'
import { Organization } from './org/organization.ts'
import { randomBytes, randomUUID } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { chmod, mkdir, open, readdir, rm, stat } from 'node:fs/promises'
import { join, relative, isAbsolute } from 'node:path'
import { systemClock, type Clock } from './clock.ts'
import type { Config } from './config.ts'
import { StrongroomError } from './errors.ts'
import { IdentityService } from './identity/service.ts'
import type { KeyCatalog } from './kms/catalog.ts'
import { LocalKms } from './kms/local.ts'
import {
  isExternal,
  migrateRoot,
  newExternalRoot,
  openExternalRoot,
  type MigrationReport,
} from './kms/external/install.ts'
import { openKeyStore } from './kms/external/index.ts'
import type { ExternalRoot } from './kms/external/port.ts'
import type { KeyProvider } from './kms/provider.ts'
import type { RootSealer } from './kms/sealer.ts'
import { SessionTokens, tokenKeyLabel } from './sts/token.ts'
import { JwksCache } from './sts/web-identity.ts'
import {
  deriveRootKey,
  newScryptParams,
  parseScryptParams,
  readPassphraseFile,
  readRootKeyFile,
  rootCheck,
  rootKeyFromHex,
  verifyRootCheck,
  type ScryptParams,
} from './kms/root.ts'
import type { AuditStore } from './meta/audit.ts'
import type { InstallationRecord, SystemValues } from './meta/installation.ts'
import type { RootKeyMode } from './meta/installation.ts'
import { PgMetadataStore } from './meta/postgres/store.ts'
import { MIGRATIONS } from './meta/sqlite/migrations.ts'
import { SqliteMetadataStore } from './meta/sqlite/store.ts'
import type { MetadataStore } from './meta/store.ts'
import { FsBlobStore, type BlobStore } from './store/blobs.ts'
import { BucketService } from './store/buckets.ts'
import { ObjectMetadata } from './store/object-metadata.ts'
import { ObjectService } from './store/objects.ts'
import { ScanPool } from './store/scan-pool.ts'

export const META_FILE = 'meta.sqlite'
export const DEV_KEY_FILE = 'dev-root.key'
export const BLOBS_DIR = 'blobs'

/** The blob store the configuration names: the data directory's, or an S3-compatible bucket. */
export async function openBlobs(config: Config): Promise<BlobStore> {
  if (config.blobs === undefined) return new FsBlobStore(join(config.dataDir, BLOBS_DIR))
  // The AWS SDK loads only for a deployment that uses it.
  const { S3BlobStore } = await import('./store/s3/blobs.ts')
  return new S3BlobStore(config.blobs)
}

/**
 * The composed installation: services only. The metadata store and the local
 * key service behind them are composed here and reached by nothing else.
 */
export interface App {
  readonly config: Config
  /** Where every recorded time comes from. */
  readonly clock: Clock
  /** Tenants, users, access keys and identity policies. */
  readonly identity: IdentityService
  /** Buckets and their configuration. */
  readonly buckets: BucketService
  /** Object, version and multipart metadata: listings, reads, tags. */
  readonly objectMeta: ObjectMetadata
  /** Object bodies: put, open, delete, rescan. */
  readonly objects: ObjectService
  /** The key catalogue: create, describe, rotate, schedule deletion, aliases, key policies. */
  readonly keys: KeyCatalog
  /** The organization: every tenant an account; its guardrails (SCPs, RCPs). */
  readonly organization: Organization
  /** Wraps and unwraps data keys. */
  readonly keyProvider: KeyProvider
  /** Seals and opens the system's own secrets under the root key. */
  readonly sealer: RootSealer
  /** Issues and opens session credentials (STS), under a token key derived from the root key. */
  readonly sessions: SessionTokens
  /** OIDC providers' signing keys (AssumeRoleWithWebIdentity), fetched and kept for an hour. */
  readonly oidcKeys: JwksCache
  /**
   * What gateways sharing the metadata database (`meta` set) share besides the services: the
   * audit log's records and checkpoints, and the values made once for the installation (the
   * sealed audit keys, the CA). Undefined on a single machine, whose log and CA are in files.
   */
  readonly shared: SharedState | undefined
  /** The built-in CA: server and workload (SPIFFE) certificates, revocation, CRLs. */
  readonly pki: Pki
  close(): Promise<void>
}

export type SharedState = AuditStore & SystemValues

export interface AppOptions {
  /** Clock for every recorded time and key schedule (default: the system clock); tests fix or move it. */
  readonly clock?: Clock
  /** The same, as a function (older form); `clock` wins when both are given. */
  readonly now?: () => number
  /** Scan workers: every scan runs in one (spawned on first use, under `scanMemoryMiB`). Default 1. */
  readonly scanWorkers?: number
}

function clockOf(options: AppOptions): Clock {
  const now = options.now
  return options.clock ?? (now === undefined ? systemClock : { now: () => now() })
}

type RootSource =
  | { kind: 'hex'; hex: string }
  | { kind: 'file'; path: string }
  | { kind: 'passphrase'; path: string }

/** The root key the configuration names; exactly one source may be given. */
function rootSource(config: Config): RootSource | undefined {
  const given: RootSource[] = []
  if (config.rootKeyHex !== undefined) given.push({ kind: 'hex', hex: config.rootKeyHex })
  if (config.rootKeyFile !== undefined) given.push({ kind: 'file', path: config.rootKeyFile })
  if (config.passphraseFile !== undefined)
    given.push({ kind: 'passphrase', path: config.passphraseFile })
  if (given.length > 1) {
    throw new StrongroomError(
      'USAGE',
      'more than one root key source is set (STRONGROOM_ROOT_KEY, --root-key-file, --passphrase-file); give exactly one',
    )
  }
  return given[0]
}

const NO_ROOT_KEY =
  'no root key: set STRONGROOM_ROOT_KEY to 64 hex characters (`openssl rand -hex 32`), or pass --root-key-file FILE or --passphrase-file FILE'

export interface InitResult {
  readonly installationId: string
  readonly dataDir: string
  readonly rootMode: RootKeyMode
}

/** Creates a data directory and its installation record. */
export async function initDataDir(
  config: Config,
  options: { dev: boolean; clock?: Clock },
): Promise<InitResult> {
  const dir = config.dataDir
  const external = config.keyStore !== undefined
  const source = options.dev ? undefined : rootSource(config)
  if (external && (options.dev || source !== undefined))
    throw new StrongroomError(
      'USAGE',
      `--key-provider ${config.keyProvider ?? ''} keeps the root in the key store: give no root key, passphrase or --dev with it`,
    )
  if (!options.dev && !external && source === undefined)
    throw new StrongroomError(
      'ROOT_KEY_MISSING',
      `${NO_ROOT_KEY}, or use --dev for a throwaway key stored beside the data`,
    )
  if (source !== undefined && source.kind !== 'hex' && isInside(source.path, dir)) {
    throw new StrongroomError(
      'ROOT_KEY_INVALID',
      `the root key must not live inside the data directory it protects: move \`${source.path}\` elsewhere`,
    )
  }
  if (existsSync(dir)) {
    const entries = await readdir(dir).catch((e: unknown) => {
      throw new StrongroomError(
        'DATA_DIR_FOREIGN',
        `\`${dir}\` exists and is not a readable directory`,
        { cause: e },
      )
    })
    if (entries.includes(META_FILE)) {
      throw new StrongroomError(
        'DATA_DIR_EXISTS',
        `\`${dir}\` is already a Strongroom data directory; use it as it is, or choose another --data-dir`,
      )
    }
    if (entries.length > 0) {
      throw new StrongroomError(
        'DATA_DIR_FOREIGN',
        `refusing to initialise \`${dir}\`: it is not empty and not a Strongroom data directory`,
      )
    }
  }
  let rootKey: Buffer | undefined
  let rootMode: RootKeyMode
  let kdf: ScryptParams | null = null
  const id = randomUUID()
  let wrapped: { rootStore: string; rootWrapped: Buffer } | undefined
  if (config.keyStore !== undefined) {
    rootMode = config.keyStore.settings.kind
  } else if (source === undefined) {
    rootKey = randomBytes(32)
    rootMode = 'dev'
  } else if (source.kind === 'passphrase') {
    kdf = newScryptParams()
    rootKey = await derive(source.path, kdf)
    rootMode = 'passphrase'
  } else {
    rootKey =
      source.kind === 'hex'
        ? rootKeyFromHex(source.hex, 'STRONGROOM_ROOT_KEY')
        : await readRootKeyFile(source.path)
    rootMode = 'key'
  }
  const created = !existsSync(dir)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // An empty directory given to init (made with a plain `mkdir`) becomes owner-only too.
  await chmod(dir, 0o700)
  try {
    if (rootMode === 'dev' && rootKey !== undefined)
      await writeSecretFile(join(dir, DEV_KEY_FILE), rootKey.toString('hex') + '\n')
    if (external) {
      const made = await newExternalRoot(config, id)
      rootKey = made.rootKey
      wrapped = made
    }
    if (rootKey === undefined) throw new StrongroomError('INTERNAL', 'no root key was made')
    const store = await openStore(config, true)
    try {
      if (config.meta !== undefined && (await store.getInstallation()) !== undefined)
        throw new StrongroomError(
          'DATA_DIR_EXISTS',
          'the metadata database `meta` names already holds an installation; open it with its root key, or name another database',
        )
      await store.putInstallation({
        id,
        createdAt: (options.clock ?? systemClock).now(),
        rootMode,
        rootKdf: kdf === null ? null : JSON.stringify(kdf),
        rootCheck: rootCheck(rootKey, {
          installationId: id,
          rootMode,
          rootKdf: kdf === null ? null : JSON.stringify(kdf),
        }),
        rootStore: wrapped?.rootStore ?? null,
        rootWrapped: wrapped?.rootWrapped ?? null,
      })
    } finally {
      await store.close()
    }
    return { installationId: id, dataDir: dir, rootMode }
  } catch (e) {
    // Leave nothing half-made behind.
    if (created) await rm(dir, { recursive: true, force: true })
    else for (const f of await readdir(dir)) await rm(join(dir, f), { force: true })
    throw e
  } finally {
    rootKey?.fill(0)
  }
}

/**
 * The metadata store: PostgreSQL at `meta` (migrated to this build's schema as it opens), else
 * the SQLite file in the data directory.
 */
async function openStore(config: Config, create: boolean): Promise<MetadataStore> {
  if (config.meta !== undefined) return PgMetadataStore.open(config.meta)
  return SqliteMetadataStore.open(join(config.dataDir, META_FILE), { create })
}

/**
 * Brings the metadata database to this build's schema (PostgreSQL under an advisory lock, so
 * several gateways or operators at once migrate once) without the root key; answers where it is.
 */
export async function migrateMetadata(
  config: Config,
): Promise<{ readonly backend: 'postgres' | 'sqlite'; readonly version: number }> {
  if (config.meta === undefined && !existsSync(join(config.dataDir, META_FILE)))
    throw new StrongroomError(
      'DATA_DIR_MISSING',
      `no metadata database at \`${join(config.dataDir, META_FILE)}\`; create one with \`strongroom init\``,
    )
  const store = await openStore(config, false)
  await store.close()
  return { backend: config.meta === undefined ? 'sqlite' : 'postgres', version: MIGRATIONS.length }
}

/** Opens an initialised data directory: metadata, root key check, key service, due key maintenance. */
/** What every opening of a data directory starts with: its store, and its root, proven. */
interface OpenRoot {
  readonly store: MetadataStore
  readonly inst: InstallationRecord
  readonly rootKey: Buffer
  readonly external: ExternalRoot | undefined
}

/**
 * Opens the metadata store, finds the installation and proves its root: the root key (given,
 * from the passphrase or --dev), or the system root the external key store unwraps.
 */
async function openRoot(config: Config): Promise<OpenRoot> {
  const dir = config.dataDir
  const info = await stat(dir).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StrongroomError('IO', `cannot read the data directory \`${dir}\``, { cause: e })
  })
  if (info === undefined) {
    throw new StrongroomError(
      'DATA_DIR_MISSING',
      `no data directory at \`${dir}\`; create one with \`strongroom init --data-dir ${dir}\``,
    )
  }
  if (!info.isDirectory())
    throw new StrongroomError('DATA_DIR_FOREIGN', `\`${dir}\` is not a directory`)
  if (config.meta === undefined && !existsSync(join(dir, META_FILE))) {
    const empty = (await readdir(dir)).length === 0
    throw new StrongroomError(
      empty ? 'DATA_DIR_MISSING' : 'DATA_DIR_FOREIGN',
      empty
        ? `\`${dir}\` is empty; initialise it with \`strongroom init --data-dir ${dir}\``
        : `\`${dir}\` is not a Strongroom data directory (it has no ${META_FILE}); check --data-dir`,
    )
  }
  const store = await openStore(config, false)
  let external: ExternalRoot | undefined
  try {
    // Checked once the directory is known to be ours: a foreign one is reported as such.
    refuseOpenDirectory(dir, info.mode)
    tightenSubdirectories(dir)
    const inst = await store.getInstallation()
    if (inst === undefined) {
      throw new StrongroomError(
        'DATA_DIR_FOREIGN',
        config.meta === undefined
          ? `\`${dir}\` was never fully initialised; remove it and run \`strongroom init\` again`
          : 'the metadata database `meta` names holds no installation; run `strongroom init` with this configuration first',
      )
    }
    let rootKey: Buffer
    if (isExternal(inst.rootMode)) {
      const opened = await openExternalRoot(config, inst)
      external = opened.external
      rootKey = opened.rootKey
    } else if (config.keyStore !== undefined) {
      // The operator keeps this root in a store, the record says a local key: never asked for one.
      throw new StrongroomError(
        'ROOT_KEY_WRONG',
        `--key-provider ${config.keyStore.settings.kind} is configured, but this data directory's record says its root is a local key (${inst.rootMode}): refused. A root is never moved back from a key store; if nobody initialised this directory with a local key, its installation record was changed`,
      )
    } else rootKey = await loadRootKey(config, inst.rootMode, inst.rootKdf)
    const binding = { installationId: inst.id, rootMode: inst.rootMode, rootKdf: inst.rootKdf }
    const { legacy } = verifyRootCheck(
      rootKey,
      binding,
      inst.rootCheck,
      inst.rootMode === 'passphrase',
    )
    // A format-1 check value (a MAC under the raw root key) is replaced once the key is proven.
    if (legacy) await store.setRootCheck(rootCheck(rootKey, binding))
    return { store, inst, rootKey, external }
  } catch (e) {
    await external?.close()
    await store.close()
    throw e
  }
}

export async function openApp(config: Config, options: AppOptions = {}): Promise<App> {
  const { store, inst, rootKey, external } = await openRoot(config)
  try {
    const clock = clockOf(options)
    const kms = new LocalKms(store, rootKey, {
      region: config.region,
      clock,
      ...(external === undefined ? {} : { external }),
      rootUnchanged: async () => {
        if (!sameRoot(inst, await store.getInstallation()))
          throw new StrongroomError(
            'ROOT_KEY_WRONG',
            'the root was moved to another key store (strongroom root migrate) after this process started: restart it with the new --key-provider and --key-store',
          )
      },
    })
    await kms.maintain()
    // Every scan runs in a worker (spawned on first use), under the configured memory budget.
    const pool = new ScanPool(options.scanWorkers ?? 1, config.scanMemoryMiB)
    const blobs = await openBlobs(config)
    const identity = new IdentityService(store, kms, clock)
    return {
      config,
      clock,
      identity,
      organization: new Organization(store, identity, clock),
      buckets: new BucketService(store, kms, clock, { nameHoldSeconds: config.bucketNameHold }),
      objectMeta: new ObjectMetadata(store, store, clock),
      objects: new ObjectService({
        meta: store,
        blobs,
        provider: kms,
        keys: kms,
        clock,
        segmentSize: config.segmentSize,
        pool,
      }),
      keys: kms,
      keyProvider: kms,
      sealer: kms,
      sessions: sessionTokens(kms, config.tokenKeyId),
      oidcKeys: new JwksCache({ ca: oidcCa(config), now: () => clock.now() }),
      shared: config.meta === undefined ? undefined : store,
      pki: new Pki({
        dataDir: config.dataDir,
        sealer: {
          seal: (l, d) => kms.sealSystemSecret(l, d),
          open: (l, d) => kms.openSystemSecret(l, d),
        },
        values: store,
        certs: store,
        trustDomain: config.trustDomain,
        now: () => clock.now(),
      }),
      async close() {
        kms.close()
        await external?.close()
        blobs.close?.()
        try {
          await pool.close()
        } finally {
          await store.close()
        }
      },
    }
  } catch (e) {
    await external?.close()
    await store.close()
    throw e
  }
}

/** Whether `now` records the same root as `opened` (mode, check value, wrapped system root). */
function sameRoot(opened: InstallationRecord, now: InstallationRecord | undefined): boolean {
  const same = (a: Uint8Array | null, b: Uint8Array | null) =>
    a === null || b === null ? a === b : Buffer.compare(a, b) === 0
  return (
    now !== undefined &&
    now.rootMode === opened.rootMode &&
    same(now.rootCheck, opened.rootCheck) &&
    same(now.rootWrapped, opened.rootWrapped)
  )
}

/**
 * `strongroom root migrate`: moves the root to another key store (gateways stopped), re-wrapping
 * every tenant key version and the system root under it; object data is not touched.
 */
export async function migrateRootTo(
  config: Config,
  to: NonNullable<Config['keyStore']>,
  progress?: (done: number) => void,
): Promise<MigrationReport> {
  const { store, inst, rootKey, external } = await openRoot(config)
  let target: ExternalRoot | undefined
  try {
    target = await openKeyStore(to.settings, to.secrets(), { create: true })
    const report = await migrateRoot(store, inst, rootKey, external, target, to.settings, progress)
    // Each key's current version predates the move: new data gets a version only the new store opens.
    const kms = new LocalKms(store, rootKey, { region: config.region, external: target })
    try {
      for (const id of report.stale) await kms.rotate(id, true)
    } finally {
      kms.close()
    }
    // A --dev root key kept beside the data would still open the installation's own secrets.
    if (inst.rootMode === 'dev') await rm(join(config.dataDir, DEV_KEY_FILE), { force: true })
    return report
  } finally {
    rootKey.fill(0)
    await target?.close()
    await external?.close()
    await store.close()
  }
}

async function loadRootKey(config: Config, mode: RootKeyMode, kdf: string | null): Promise<Buffer> {
  if (mode === 'dev') return readRootKeyFile(join(config.dataDir, DEV_KEY_FILE))
  const source = rootSource(config)
  if (mode === 'passphrase') {
    if (source?.kind !== 'passphrase') {
      throw new StrongroomError(
        'ROOT_KEY_MISSING',
        'this data directory is protected by a passphrase: pass --passphrase-file FILE',
      )
    }
    return derive(source.path, parseScryptParams(kdf ?? ''))
  }
  if (source === undefined || source.kind === 'passphrase') {
    throw new StrongroomError(
      'ROOT_KEY_MISSING',
      'this data directory needs its root key: set STRONGROOM_ROOT_KEY (64 hex characters) or pass --root-key-file FILE',
    )
  }
  return source.kind === 'hex'
    ? rootKeyFromHex(source.hex, 'STRONGROOM_ROOT_KEY')
    : readRootKeyFile(source.path)
}

async function derive(path: string, params: ScryptParams): Promise<Buffer> {
  const pass = await readPassphraseFile(path)
  try {
    return await deriveRootKey(pass, params)
  } finally {
    pass.fill(0)
  }
}

/**
 * The data directory holds sealed keys, the audit trail and, in --dev mode, the root key
 * itself: as PostgreSQL does with its data directory, refuse one that group or others can
 * reach rather than fix it silently, since what was readable may already have been read.
 */
/**
 * The folders Strongroom keeps inside the data directory are owner-only too. The data directory
 * itself (0700, checked above) kept others out, so a looser folder exposed nothing yet: it is
 * tightened, not refused.
 */
function tightenSubdirectories(dir: string): void {
  const folders = [BLOBS_DIR, 'audit', 'pki'].map((f) => join(dir, f))
  const blobs = folders[0] ?? ''
  if (existsSync(blobs))
    for (const f of readdirSync(blobs, { withFileTypes: true }))
      if (f.isDirectory()) folders.push(join(blobs, f.name))
  for (const f of folders) {
    if (!existsSync(f)) continue
    if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o700)
  }
}

export function refuseOpenDirectory(dir: string, mode: number): void {
  if ((mode & 0o077) === 0) return
  const octal = (mode & 0o777).toString(8).padStart(4, '0')
  throw new StrongroomError(
    'DATA_DIR_INSECURE',
    `data directory \`${dir}\` is accessible to group or others (mode ${octal}); make it private with \`chmod 700 ${dir}\`, and if others could read it, treat the secrets inside as exposed`,
  )
}

function isInside(file: string, dir: string): boolean {
  const rel = relative(dir, file)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

async function writeSecretFile(path: string, content: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600)
  try {
    await fh.writeFile(content)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(path, 0o600)
}

/**
 * The installation's session-token keys, derived from the root key, so that every replica
 * holding the root key opens every session without a database read: the configured key
 * (`tokenKeyId`) seals new sessions; it and the one before open them. Raising `tokenKeyId` on
 * every replica rotates: sessions sealed under the previous key live out their time (36 hours
 * at most), those under any older key are refused.
 */
function sessionTokens(sealer: RootSealer, current: number): SessionTokens {
  const ids = current > 1 ? [current, current - 1] : [current]
  const keys = new Map(ids.map((id) => [id, sealer.systemKey(tokenKeyLabel(id))] as const))
  try {
    return new SessionTokens(keys, current)
  } finally {
    for (const k of keys.values()) k.fill(0)
  }
}

/** The extra CA certificates trusted for OIDC issuers (config oidcCaFile), if any. */
function oidcCa(config: Config): string | undefined {
  if (config.oidcCaFile === undefined) return undefined
  try {
    return readFileSync(config.oidcCaFile, 'utf8')
  } catch (e) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `cannot read the OIDC CA file \`${config.oidcCaFile}\` (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: e },
    )
  }
}
