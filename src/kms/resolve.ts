/**
 * Key resolution: the key a reference names (a key id, `alias/NAME`, or either ARN) among one
 * tenant's keys. Pure apart from the two lookups it is given. It returns `undefined` for a key
 * that does not exist and for another tenant's key alike, so that no answer built on it can tell
 * whether another tenant has the key; each caller words its own error (the S3 gateway's must not
 * name a tenant).
 */
import type { KeyRecord } from '../meta/store.ts'

export interface KeyLookup {
  getKey(id: string): Promise<KeyRecord | undefined>
  getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined>
}

const KEY_ARN = /^arn:aws:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/

/**
 * What a reference names, before any lookup: `alias/NAME` or a key id (an ARN's own part), and
 * the account of an ARN.
 */
export function keyReference(given: string): { ref: string; account: string | undefined } {
  const arn = KEY_ARN.exec(given)
  if (arn === null) return { ref: given, account: undefined }
  return {
    ref: arn[3] === 'alias' ? `alias/${arn[4] ?? ''}` : (arn[4] ?? ''),
    account: arn[2] ?? '',
  }
}

export async function resolveKey(
  lookup: KeyLookup,
  tenantId: string,
  given: string,
): Promise<KeyRecord | undefined> {
  const { ref, account } = keyReference(given)
  // An ARN in another account never resolves, whatever that account holds.
  if (account !== undefined && account !== tenantId) return undefined
  const key = ref.startsWith('alias/')
    ? await lookup.getKeyByAlias(tenantId, ref)
    : await lookup.getKey(ref)
  return key?.tenantId === tenantId ? key : undefined
}
