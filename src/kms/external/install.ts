/**
 * A root kept in an external key store: what `init` makes, what every start opens,
 * and `strongroom root migrate`.
 *
 * With an external store, each tenant key version's material is wrapped by the store
 * (format 3, ./material.ts) and unwrapped there when the version is first used in a
 * process. The installation's own secrets (access key secrets, audit keys, the CA) stay
 * sealed under the system root: 32 bytes that exist only wrapped by the store in the
 * installation record, bound to the installation id.
 *
 * A migration re-wraps every tenant key version under the new store and re-wraps the
 * system root, then records the new store in one write; object data is never touched
 * (its data keys are wrapped by the tenant keys, which do not change). It resumes: a
 * version the new store already opens is left as it is.
 */
import { randomBytes } from 'node:crypto'
import type { Config } from '../../config.ts'
import { StrongroomError } from '../../errors.ts'
import type { InstallationRecord, RootKeyMode } from '../../meta/installation.ts'
import type { MetadataStore } from '../../meta/store.ts'
import { materialAad, ROOT_SEAL_V2 } from '../local.ts'
import { openSecret } from '../../crypto/seal.ts'
import { deriveRootKeys, rootCheck } from '../root.ts'
import { openKeyStore, recordedStore, settingsText } from './index.ts'
import { externalKind, unwrapExternal, wrapExternal } from './material.ts'
import type { ExternalRoot, ExternalSettings } from './port.ts'

export function systemRootAad(installationId: string): Buffer {
  return Buffer.from(`strongroom/system-root/v1\0${installationId}`)
}

export function isExternal(mode: RootKeyMode): mode is 'pkcs11' | 'vault' | 'awskms' {
  return mode === 'pkcs11' || mode === 'vault' || mode === 'awskms'
}

/** Opens the configured store (ROOT_KEY_MISSING, naming the recorded one, when none is configured). */
export async function configured(
  config: Config,
  inst: Pick<InstallationRecord, 'rootMode' | 'rootStore'> | undefined,
  create = false,
): Promise<{ store: ExternalRoot; settings: ExternalSettings }> {
  const ks = config.keyStore
  if (ks === undefined || (inst !== undefined && ks.settings.kind !== inst.rootMode))
    throw new StrongroomError(
      'ROOT_KEY_MISSING',
      `this data directory's root is kept in ${inst?.rootMode ?? 'an external key store'} (${recordedStore(inst?.rootStore ?? null)}): pass --key-provider ${inst?.rootMode ?? 'KIND'} and --key-store naming that key`,
    )
  return { store: await openKeyStore(ks.settings, ks.secrets(), { create }), settings: ks.settings }
}

/** For `init`: a new system root, wrapped by the configured store. */
export async function newExternalRoot(
  config: Config,
  installationId: string,
): Promise<{ rootKey: Buffer; rootStore: string; rootWrapped: Buffer }> {
  const { store, settings } = await configured(config, undefined, true)
  try {
    const rootKey = randomBytes(32)
    const rootWrapped = await store.wrap(rootKey, systemRootAad(installationId))
    return { rootKey, rootStore: settingsText(settings), rootWrapped }
  } finally {
    await store.close()
  }
}

/** For every start: the store, and the system root it unwraps. */
export async function openExternalRoot(
  config: Config,
  inst: InstallationRecord,
): Promise<{ rootKey: Buffer; external: ExternalRoot }> {
  const { store: external } = await configured(config, inst)
  try {
    if (inst.rootWrapped === null)
      throw new StrongroomError('ROOT_KEY_WRONG', 'the installation record holds no wrapped root')
    const rootKey = await external.unwrap(inst.rootWrapped, systemRootAad(inst.id))
    return { rootKey, external }
  } catch (e) {
    await external.close()
    throw e
  }
}

export interface MigrationReport {
  readonly from: RootKeyMode
  readonly to: RootKeyMode
  /** Key versions re-wrapped now, and ones the new store already held (an earlier run). */
  readonly rewrapped: number
  readonly already: number
  /** Versions of deleted keys: their material is gone, nothing to re-wrap. */
  readonly shredded: number
  /** Keys whose current version was re-wrapped now: it predates the move, so they rotate. */
  readonly stale: readonly string[]
}

/**
 * Moves the root from the store the installation has now (`rootKey` and `from`, already
 * proven by the check value) to `to`. Gateways must be stopped: a gateway still holding the
 * old store cannot open versions re-wrapped under the new one.
 */
export async function migrateRoot(
  store: MetadataStore,
  inst: InstallationRecord,
  rootKey: Buffer,
  from: ExternalRoot | undefined,
  to: ExternalRoot,
  toSettings: ExternalSettings,
  progress: (done: number) => void = () => undefined,
): Promise<MigrationReport> {
  const seal = deriveRootKeys(rootKey)
  seal.check.fill(0)
  let rewrapped = 0
  let already = 0
  let shredded = 0
  const stale = new Set<string>()
  /**
   * Re-wraps every version not yet under `to` and counts what it found; with `check`, only
   * opens each one, so that one that will not open stops the migration before anything moved.
   */
  const pass = async (check = false): Promise<void> => {
    for (const tenant of await store.listTenants()) {
      for (const key of await store.listKeys(tenant.id)) {
        for (let version = 1; version <= key.currentVersion; version++) {
          const v = await store.getKeyVersion(key.id, version)
          if (v === undefined || v.material.byteLength === 0) {
            shredded++
            continue
          }
          const aad = materialAad(key.id, version)
          const what = `the material of key \`${key.id}\` version ${version}`
          if (externalKind(v.material) === to.kind) {
            // Made by an earlier run (or already under this store): proven, left as it is.
            try {
              ;(await to.unwrap(v.material.subarray(2), aad)).fill(0)
              already++
              continue
            } catch (e) {
              if (!(e instanceof StrongroomError) || e.code !== 'ROOT_KEY_WRONG') throw e
            }
          }
          // Format 2 under the root's derived sealing key, format 1 (older) under the raw root key,
          // opened only while the installation's root is local: once it is external, local
          // material is refused (unwrapExternal says so), never opened with the system root.
          const plain =
            externalKind(v.material) !== undefined || isExternal(inst.rootMode)
              ? await unwrapExternal(from, v.material, aad, what)
              : v.material[0] === ROOT_SEAL_V2
                ? openSecret(seal.seal, v.material, aad, () => wrong(what), ROOT_SEAL_V2)
                : openSecret(rootKey, v.material, aad, () => wrong(what), 1)
          try {
            if (check) continue
            await store.resealKeyVersion(key.id, version, await wrapExternal(to, plain, aad))
          } finally {
            plain.fill(0)
          }
          rewrapped++
          if (version === key.currentVersion && key.state !== 'PendingDeletion') stale.add(key.id)
          progress(rewrapped + already)
        }
      }
    }
  }
  try {
    await pass(true)
    ;[rewrapped, already, shredded] = [0, 0, 0]
    await pass()
    const binding = { installationId: inst.id, rootMode: to.kind, rootKdf: null }
    await store.setRoot({
      rootMode: to.kind,
      rootKdf: null,
      rootCheck: rootCheck(rootKey, binding),
      rootStore: settingsText(toSettings),
      rootWrapped: await to.wrap(rootKey, systemRootAad(inst.id)),
    })
    // A process left running on the old root refuses new versions once the record changed
    // (LocalKms's rootUnchanged); one it made before it saw the change is re-wrapped here.
    const counted = { already, shredded }
    await pass()
    return { from: inst.rootMode, to: to.kind, rewrapped, ...counted, stale: [...stale] }
  } finally {
    seal.seal.fill(0)
  }
}

function wrong(what: string): StrongroomError {
  return new StrongroomError('ROOT_KEY_WRONG', `${what} does not open under this root key`)
}
