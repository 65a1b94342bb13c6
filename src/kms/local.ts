/**
 * The local key provider and the lifecycle of customer-managed keys: create,
 * describe, list, enable, disable, rotate (on demand and on a schedule),
 * schedule and cancel deletion. Key material is generated here, sealed under
 * the root key before it reaches the metadata store, cached unsealed in memory
 * only while this process runs, and zeroed on close. Deleting a key erases
 * every version of its material: whatever was sealed under it is gone.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { encodeContext, type EncryptionContext } from '../crypto/context.ts'
import { defaultKeyPolicy } from './default-policy.ts'
import { openSecret, sealSecret } from '../crypto/seal.ts'
import { StrongroomError } from '../errors.ts'
import { parsePolicyText, type Issue } from '../iam/policy.ts'
import type { Clock } from '../clock.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type {
  KeyRecord,
  KeyRotation,
  KeyStore,
  KeyTag,
  KeyVersionRecord,
  RotationType,
} from '../meta/keys.ts'
import { KeyAliases, normalizeAlias } from './aliases.ts'
import { notFound, stateError } from './key-errors.ts'
import type { KeyCatalog, MaintenanceReport } from './catalog.ts'
import type { KeyProvider, RotatingKeyProvider, WrappedKey } from './provider.ts'
import type { RootSealer } from './sealer.ts'
import { keyReference, resolveKey } from './resolve.ts'
import { deriveRootKeys, deriveSystemKey } from './root.ts'
import { unwrapExternal, wrapExternal } from './external/material.ts'
import type { ExternalRoot } from './external/port.ts'

const DAY = 86_400_000
export const DELETION_WINDOW_DAYS = { min: 7, max: 30, default: 30 } as const
export const ROTATION_PERIOD_DAYS = { min: 90, max: 2560, default: 365 } as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * AES-GCM with random 96-bit nonces stays within NIST SP 800-38D's bound
 * (collision probability under 2^-32) for at most 2^32 invocations under one
 * key. Each data-key wrap is one invocation under a key version's material, so
 * a version is retired (the key rotates) after 2^30 wraps: a quarter of the
 * limit, whatever the clock-driven rotation schedule says.
 */
export const MAX_WRAPS_PER_VERSION = 2 ** 30
/** Wraps reserved in the metadata store at a time (one write per block; a crash loses at most one block). */
export const WRAP_BLOCK = 4096

export interface LocalKmsOptions {
  readonly region: string
  /** Stamps key versions, rotation and deletion dates (default: the system clock). */
  readonly clock?: Clock
  /** The same as `clock`, as a function (older form). */
  readonly now?: () => number
  /** Wraps one key version may perform before the key rotates (tests set a small number). */
  readonly maxWrapsPerVersion?: number
  /**
   * The external key store that wraps key material (format 3) when the root is kept in one;
   * material sealed under a local root (formats 1, 2) is then refused: a migration left it.
   */
  readonly external?: ExternalRoot
  /**
   * Resolves when the installation's root is still the one this process opened; checked
   * before each new key version is sealed, so that a process left running across a
   * `root migrate` refuses to make versions under the store the installation has left.
   */
  readonly rootUnchanged?: () => Promise<void>
}

export type { MaintenanceReport } from './catalog.ts'
export { normalizeAlias }

/**
 * The local key service: KeyProvider, KeyCatalog and RootSealer over the
 * metadata store's KeyStore. Code that uses it depends on those interfaces;
 * only app.ts names this class.
 */
export class LocalKms implements KeyProvider, RotatingKeyProvider, KeyCatalog, RootSealer {
  readonly kind = 'local' as const
  private readonly store: KeyStore
  /** The raw root key: only to open secrets sealed before format 2 (they are re-sealed on open). */
  private rootKey: Buffer | undefined
  /** The root's derived sealing key (format 2). */
  private sealKey: Buffer | undefined
  private readonly region: string
  private readonly maxWraps: number
  /** Wrap slots reserved and not yet used, by `keyId#version`: [next, end). */
  private readonly slots = new Map<string, { next: number; end: number }>()
  /** One reservation or rotation per key at a time in this process. */
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly now: () => number
  /** Unsealed material by `keyId#version`; zeroed on close. */
  private readonly cache = new Map<string, Buffer>()
  readonly aliases: KeyAliases
  private readonly external: ExternalRoot | undefined
  private readonly rootUnchanged: () => Promise<void>

  constructor(store: KeyStore, rootKey: Buffer, options: LocalKmsOptions) {
    this.store = store
    this.rootKey = rootKey
    const derived = deriveRootKeys(rootKey)
    derived.check.fill(0)
    this.sealKey = derived.seal
    this.region = options.region
    const clock = options.clock
    this.now = clock !== undefined ? () => clock.now() : (options.now ?? Date.now)
    this.aliases = new KeyAliases(store, this.now)
    this.external = options.external
    this.rootUnchanged = options.rootUnchanged ?? (() => Promise.resolve())
    this.maxWraps = options.maxWrapsPerVersion ?? MAX_WRAPS_PER_VERSION
    if (!Number.isSafeInteger(this.maxWraps) || this.maxWraps < 1)
      throw new StrongroomError('CONFIG_INVALID', 'maxWrapsPerVersion must be a positive integer')
  }

  arn(tenant: TenantRecord, keyId: string): string {
    return `arn:aws:kms:${this.region}:${tenant.id}:key/${keyId}`
  }

  private root(): Buffer {
    if (this.rootKey === undefined)
      throw new StrongroomError('INTERNAL', 'the key service is closed')
    return this.rootKey
  }

  /** Seals under the root's derived sealing key (format 2), never under the raw root key. */
  private rootSeal(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    if (this.sealKey === undefined)
      throw new StrongroomError('INTERNAL', 'the key service is closed')
    return sealSecret(this.sealKey, plaintext, aad, ROOT_SEAL_V2)
  }

  /** Opens a root-sealed secret: format 2 under the derived key; format 1 (legacy) under the raw root key. */
  private rootOpen(
    sealed: Uint8Array,
    aad: Uint8Array,
    failure: () => StrongroomError,
  ): { plain: Buffer; legacy: boolean } {
    if (sealed[0] === ROOT_SEAL_V2) {
      if (this.sealKey === undefined)
        throw new StrongroomError('INTERNAL', 'the key service is closed')
      return { plain: openSecret(this.sealKey, sealed, aad, failure, ROOT_SEAL_V2), legacy: false }
    }
    return { plain: openSecret(this.root(), sealed, aad, failure, 1), legacy: true }
  }

  private async newVersion(keyId: string, version: number): Promise<KeyVersionRecord> {
    await this.rootUnchanged()
    const material = randomBytes(32)
    const aad = materialAad(keyId, version)
    try {
      return {
        keyId,
        version,
        material:
          this.external === undefined
            ? this.rootSeal(material, aad)
            : await wrapExternal(this.external, material, aad),
        createdAt: this.now(),
      }
    } finally {
      material.fill(0)
    }
  }

  async createKey(
    tenant: TenantRecord,
    options: { alias?: string; description?: string; tags?: readonly KeyTag[] } = {},
  ): Promise<KeyRecord> {
    const description = options.description ?? ''
    if (description.length > 8192)
      throw new StrongroomError('NAME_INVALID', 'a key description is at most 8,192 characters')
    const id = randomUUID()
    const now = this.now()
    const key: KeyRecord = {
      id,
      tenantId: tenant.id,
      alias: options.alias === undefined ? null : normalizeAlias(options.alias),
      description,
      state: 'Enabled',
      currentVersion: 1,
      createdAt: now,
      rotationPeriodDays: null,
      nextRotationAt: null,
      deletionAt: null,
      deletedAt: null,
      tags: options.tags ?? [],
    }
    await this.store.createKey(key, await this.newVersion(id, 1))
    return key
  }

  /**
   * Finds a tenant's key by `alias/NAME`, key id or key ARN. A key of another
   * tenant answers exactly as a key that does not exist: the same error, which
   * echoes the reference as given, so it cannot tell whether the key exists.
   */
  async resolve(tenant: TenantRecord, given: string): Promise<KeyRecord> {
    const { ref } = keyReference(given)
    if (ref.startsWith('alias/')) normalizeAlias(ref)
    else if (!UUID.test(ref))
      throw new StrongroomError(
        'USAGE',
        `\`${ref}\` is not a key reference: use alias/NAME, a key id or a key ARN`,
      )
    const key = await this.find(tenant, given)
    if (key === undefined) throw notFound(given, tenant)
    return key
  }

  /** The one key resolution (./resolve.ts), over this service's store. */
  find(tenant: TenantRecord, given: string): Promise<KeyRecord | undefined> {
    return resolveKey(this.store, tenant.id, given)
  }

  describe(keyId: string): Promise<KeyRecord | undefined> {
    return this.store.getKey(keyId)
  }

  byAlias(tenant: TenantRecord, alias: string): Promise<KeyRecord | undefined> {
    return this.store.getKeyByAlias(tenant.id, normalizeAlias(alias))
  }

  list(tenant: TenantRecord): Promise<KeyRecord[]> {
    return this.store.listKeys(tenant.id)
  }

  async enable(tenant: TenantRecord, ref: string): Promise<KeyRecord> {
    const key = await this.resolve(tenant, ref)
    if (key.state === 'PendingDeletion' || key.state === 'Deleted') throw stateError(key, 'enable')
    return this.save({ ...key, state: 'Enabled' })
  }

  async disable(tenant: TenantRecord, ref: string): Promise<KeyRecord> {
    const key = await this.resolve(tenant, ref)
    if (key.state === 'PendingDeletion' || key.state === 'Deleted') throw stateError(key, 'disable')
    return this.save({ ...key, state: 'Disabled' })
  }

  /**
   * On demand: new data uses the new version; every older version still decrypts. After the
   * root moved (`rootMoved`), any key not being deleted, not counted as on demand.
   */
  async rotate(keyId: string, rootMoved = false): Promise<number> {
    const key = await this.store.getKey(keyId)
    if (key === undefined)
      throw new StrongroomError('KEY_NOT_FOUND', `key \`${keyId}\` does not exist`)
    if (
      rootMoved
        ? key.state === 'PendingDeletion' || key.state === 'Deleted'
        : key.state !== 'Enabled'
    )
      throw stateError(key, 'rotate')
    return (await this.rotateRecord(key, rootMoved ? 'AUTOMATIC' : 'ON_DEMAND')).currentVersion
  }

  rotations(keyId: string): Promise<KeyRotation[]> {
    return this.store.listKeyRotations(keyId)
  }

  /** Replaces the key's tags (a list checked by the caller). */
  async setTags(tenant: TenantRecord, ref: string, tags: readonly KeyTag[]): Promise<KeyRecord> {
    const key = await this.resolve(tenant, ref)
    if (key.state === 'Deleted') throw stateError(key, 'tag')
    return this.save({ ...key, tags })
  }

  private async rotateRecord(key: KeyRecord, type: RotationType = 'AUTOMATIC'): Promise<KeyRecord> {
    const version = key.currentVersion + 1
    const next: KeyRecord = {
      ...key,
      currentVersion: version,
      nextRotationAt:
        key.rotationPeriodDays === null ? null : this.now() + key.rotationPeriodDays * DAY,
    }
    await this.store.addKeyVersion(next, await this.newVersion(key.id, version), type)
    return next
  }

  /** Turns scheduled rotation on (a period in days) or off (null). */
  async setRotation(
    tenant: TenantRecord,
    ref: string,
    periodDays: number | null,
  ): Promise<KeyRecord> {
    const key = await this.resolve(tenant, ref)
    if (key.state !== 'Enabled') throw stateError(key, 'change the rotation of')
    if (
      periodDays !== null &&
      (!Number.isInteger(periodDays) ||
        periodDays < ROTATION_PERIOD_DAYS.min ||
        periodDays > ROTATION_PERIOD_DAYS.max)
    ) {
      throw new StrongroomError(
        'USAGE',
        `rotation period must be a whole number of days from ${ROTATION_PERIOD_DAYS.min} to ${ROTATION_PERIOD_DAYS.max}, got \`${periodDays}\``,
      )
    }
    return this.save({
      ...key,
      rotationPeriodDays: periodDays,
      nextRotationAt: periodDays === null ? null : this.now() + periodDays * DAY,
    })
  }

  async scheduleDeletion(
    tenant: TenantRecord,
    ref: string,
    days: number = DELETION_WINDOW_DAYS.default,
  ): Promise<KeyRecord> {
    if (
      !Number.isInteger(days) ||
      days < DELETION_WINDOW_DAYS.min ||
      days > DELETION_WINDOW_DAYS.max
    ) {
      throw new StrongroomError(
        'USAGE',
        `the deletion window must be a whole number of days from ${DELETION_WINDOW_DAYS.min} to ${DELETION_WINDOW_DAYS.max}, got \`${days}\``,
      )
    }
    const key = await this.resolve(tenant, ref)
    if (key.state === 'PendingDeletion' || key.state === 'Deleted')
      throw stateError(key, 'schedule the deletion of')
    return this.save({ ...key, state: 'PendingDeletion', deletionAt: this.now() + days * DAY })
  }

  /** As in AWS KMS, a key whose deletion is cancelled comes back Disabled. */
  async cancelDeletion(tenant: TenantRecord, ref: string): Promise<KeyRecord> {
    const key = await this.resolve(tenant, ref)
    if (key.state !== 'PendingDeletion') throw stateError(key, 'cancel the deletion of')
    return this.save({ ...key, state: 'Disabled', deletionAt: null })
  }

  /** The key's policy (GetKeyPolicy): the stored document, or the default that delegates to its account. */
  async getKeyPolicy(
    tenant: TenantRecord,
    ref: string,
  ): Promise<{ key: KeyRecord; policy: string; isDefault: boolean }> {
    const key = await this.resolve(tenant, ref)
    const stored = await this.store.getKeyPolicy(key.id)
    return stored === undefined
      ? { key, policy: defaultKeyPolicy(tenant.id), isDefault: true }
      : { key, policy: stored, isDefault: false }
  }

  /** The policy text the gateway decides kms:* requests on (the default when none is stored). */
  async policyText(key: KeyRecord): Promise<string> {
    return (await this.store.getKeyPolicy(key.id)) ?? defaultKeyPolicy(key.tenantId)
  }

  /** Validates and stores a key policy (PutKeyPolicy); returns its warnings. */
  async putKeyPolicy(
    tenant: TenantRecord,
    ref: string,
    document: string,
  ): Promise<{ key: KeyRecord; warnings: Issue[] }> {
    const key = await this.resolve(tenant, ref)
    if (key.state === 'Deleted') throw stateError(key, 'change the policy of')
    const r = parsePolicyText(document, 'key', `key policy of ${key.alias ?? key.id}`)
    if (r.policy === undefined) {
      const e = r.errors[0]
      throw new StrongroomError(
        'CONFIG_INVALID',
        `the key policy is not valid: ${e === undefined ? '' : `${e.line}:${e.column}: ${e.message} at ${e.path}`}${r.errors.length > 1 ? ` (and ${r.errors.length - 1} more)` : ''}`,
      )
    }
    await this.store.putKeyPolicy(key.id, document)
    return { key, warnings: [...r.warnings] }
  }

  /** Carries out due deletions (erasing material) and due scheduled rotations. */
  async maintain(): Promise<MaintenanceReport> {
    const now = this.now()
    const report: MaintenanceReport = { deleted: [], rotated: [] }
    for (const key of await this.store.dueKeys(now)) {
      if (key.state === 'PendingDeletion') {
        const deleted: KeyRecord = {
          ...key,
          state: 'Deleted',
          deletedAt: now,
          nextRotationAt: null,
        }
        await this.store.shredKey(deleted)
        this.forget(key.id)
        report.deleted.push(deleted)
      } else {
        report.rotated.push(await this.rotateRecord(key))
      }
    }
    return report
  }

  private async save(key: KeyRecord): Promise<KeyRecord> {
    await this.store.updateKey(key)
    return key
  }

  private forget(keyId: string): void {
    for (const [k, v] of this.cache) {
      if (k.startsWith(`${keyId}#`)) {
        v.fill(0)
        this.cache.delete(k)
      }
    }
  }

  private async material(key: KeyRecord, version: number): Promise<Buffer> {
    const id = `${key.id}#${version}`
    const hit = this.cache.get(id)
    if (hit !== undefined) return hit
    const v = await this.store.getKeyVersion(key.id, version)
    if (v === undefined) {
      throw new StrongroomError(
        'KEY_DELETED',
        `version ${version} of key \`${key.id}\` no longer exists: data sealed under it is unrecoverable`,
      )
    }
    const aad = materialAad(key.id, version)
    if (this.external !== undefined) {
      const m = await unwrapExternal(
        this.external,
        v.material,
        aad,
        `the material of key \`${key.id}\``,
      )
      this.cache.set(id, m)
      return m
    }
    const { plain: m, legacy } = this.rootOpen(
      v.material,
      aad,
      () =>
        new StrongroomError(
          'ROOT_KEY_WRONG',
          `the material of key \`${key.id}\` does not open under this root key`,
        ),
    )
    // Sealed before format 2 (under the raw root key): re-sealed under the derived key now.
    if (legacy) await this.store.resealKeyVersion(key.id, version, this.rootSeal(m, aad))
    this.cache.set(id, m)
    return m
  }

  /** The key, if it may be used right now; otherwise the error that says why not and what to do. */
  private async usable(keyId: string): Promise<KeyRecord> {
    const key = await this.store.getKey(keyId)
    if (key === undefined)
      throw new StrongroomError(
        'KEY_NOT_FOUND',
        `key \`${keyId}\` does not exist in this installation`,
      )
    if (key.state !== 'Enabled') throw stateError(key, 'use')
    return key
  }

  /** Runs `f` alone among the calls holding the same lock name in this process. */
  private async locked<T>(name: string, f: () => Promise<T>): Promise<T> {
    const before = this.locks.get(name) ?? Promise.resolve()
    const run = before.then(f, f)
    const tail = run.catch(() => undefined)
    this.locks.set(name, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(name) === tail) this.locks.delete(name)
    }
  }

  /**
   * Takes one wrap slot under the key's current version, rotating the key when
   * that version has used its budget (MAX_WRAPS_PER_VERSION). Returns the key
   * record whose current version the slot belongs to.
   */
  private takeWrapSlot(keyId: string): Promise<KeyRecord> {
    return this.locked(keyId, async () => {
      for (let attempt = 0; attempt < 4; attempt++) {
        const key = await this.usable(keyId)
        const id = `${key.id}#${key.currentVersion}`
        const slot = this.slots.get(id)
        if (slot !== undefined && slot.next < slot.end) {
          slot.next++
          return key
        }
        const { start, end } = await this.store.reserveWraps(
          key.id,
          key.currentVersion,
          WRAP_BLOCK,
          this.maxWraps,
        )
        if (start < end) {
          this.slots.set(id, { next: start + 1, end })
          return key
        }
        // This version has wrapped as many data keys as its nonce budget allows: rotate.
        this.slots.delete(id)
        await this.rotateRecord(key)
      }
      throw new StrongroomError('INTERNAL', `key \`${keyId}\` could not get a wrap slot`)
    })
  }

  async wrap(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext,
  ): Promise<WrappedKey> {
    const key = await this.takeWrapSlot(keyId)
    const version = key.currentVersion
    const material = await this.material(key, version)
    return {
      keyId,
      keyVersion: version,
      ciphertext: sealSecret(material, plaintext, dataKeyAad(keyId, version, context)),
    }
  }

  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Uint8Array> {
    const key = await this.usable(wrapped.keyId)
    if (wrapped.keyVersion < 1 || wrapped.keyVersion > key.currentVersion) {
      throw new StrongroomError(
        'KEY_UNWRAP_FAILED',
        `key \`${key.id}\` has no version ${wrapped.keyVersion}`,
      )
    }
    const material = await this.material(key, wrapped.keyVersion)
    return openSecret(
      material,
      wrapped.ciphertext,
      dataKeyAad(wrapped.keyId, wrapped.keyVersion, context),
      () =>
        new StrongroomError(
          'KEY_UNWRAP_FAILED',
          `key \`${key.alias ?? key.id}\` cannot unwrap this data key: the encryption context differs from the one it was sealed with, or the wrapped key was altered`,
        ),
    )
  }

  /** Seals a system secret (such as a secret access key) under the root key; `label` is bound as AAD. */
  sealSystemSecret(label: string, plaintext: Uint8Array): Buffer {
    return this.rootSeal(plaintext, Buffer.from(`strongroom/system-secret/v1\0${label}`))
  }

  /** Opens a system secret; one sealed before format 2 still opens (it is re-sealed when next written). */
  openSystemSecret(label: string, sealed: Uint8Array): Buffer {
    return this.rootOpen(
      sealed,
      Buffer.from(`strongroom/system-secret/v1\0${label}`),
      () =>
        new StrongroomError(
          'ROOT_KEY_WRONG',
          `the secret \`${label}\` does not open under this root key`,
        ),
    ).plain
  }

  /** A key of the system derived from the root key for `label` (deriveSystemKey). */
  systemKey(label: string): Buffer {
    return deriveSystemKey(this.root(), label)
  }

  /** Zeroes the root key and every cached key material. */
  close(): void {
    for (const v of this.cache.values()) v.fill(0)
    this.cache.clear()
    this.rootKey?.fill(0)
    this.rootKey = undefined
    this.sealKey?.fill(0)
    this.sealKey = undefined
  }
}

/** Format byte of secrets sealed under the root's derived sealing key. */
export const ROOT_SEAL_V2 = 2

export function materialAad(keyId: string, version: number): Buffer {
  return Buffer.from(`strongroom/key-material/v1\0${keyId}\0${version}`)
}

export function dataKeyAad(keyId: string, version: number, context: EncryptionContext): Buffer {
  return Buffer.concat([
    Buffer.from(`strongroom/data-key/v1\0${keyId}\0${version}\0`),
    encodeContext(context),
  ])
}
