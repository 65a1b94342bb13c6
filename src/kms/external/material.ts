/**
 * Key material wrapped by an external key store, as kept in a key version's row:
 *
 *   0x03 ‖ store kind (1 pkcs11, 2 vault, 3 awskms) ‖ the store's wrapped bytes
 *
 * beside format 1 and 2 (sealed under a local root key, src/kms/local.ts). The kind
 * byte lets an error say which store a version needs.
 */
import { StrongroomError } from '../../errors.ts'
import type { ExternalKind, ExternalRoot } from './port.ts'

export const EXTERNAL_V3 = 3
const KINDS: readonly ExternalKind[] = ['pkcs11', 'vault', 'awskms']

export async function wrapExternal(
  store: ExternalRoot,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Buffer> {
  const wrapped = await store.wrap(plaintext, aad)
  return Buffer.concat([Buffer.from([EXTERNAL_V3, KINDS.indexOf(store.kind) + 1]), wrapped])
}

/** The store kind a format-3 blob was wrapped by, or undefined for another format. */
export function externalKind(blob: Uint8Array): ExternalKind | undefined {
  return blob[0] === EXTERNAL_V3 ? KINDS[(blob[1] ?? 0) - 1] : undefined
}

/** Opens a format-3 blob with `store`; ROOT_KEY_WRONG when another kind of store wrapped it. */
export async function unwrapExternal(
  store: ExternalRoot | undefined,
  blob: Uint8Array,
  aad: Uint8Array,
  what: string,
): Promise<Buffer> {
  const kind = externalKind(blob)
  if (kind === undefined)
    throw new StrongroomError(
      'ROOT_KEY_WRONG',
      `${what} is sealed under a local root key, but this installation's root is in an external key store: refused (a migration records the store only once every version is wrapped by it, so this was written since, by a process still holding the old root key, or by someone with write access to the database)`,
    )
  if (store === undefined || store.kind !== kind)
    throw new StrongroomError(
      'ROOT_KEY_WRONG',
      `${what} is wrapped by a ${kind} key store, but this installation opens ${store === undefined ? 'a local root key' : `a ${store.kind} one`}`,
    )
  return store.unwrap(blob.subarray(2), aad)
}
