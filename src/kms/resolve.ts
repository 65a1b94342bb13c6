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

export async function resolveKey(
  lookup: KeyLookup,
  tenantId: string,
  given: string,
): Promise<KeyRecord | undefined> {
  const arn = KEY_ARN.exec(given)
  // An ARN in another account never resolves, whatever that account holds.
  if (arn !== null && arn[2] !== tenantId) return undefined
  const ref = arn === null ? given : arn[3] === 'alias' ? `alias/${arn[4] ?? ''}` : (arn[4] ?? '')
  const key = ref.startsWith('alias/')
    ? await lookup.getKeyByAlias(tenantId, ref)
    : await lookup.getKey(ref)
  return key?.tenantId === tenantId ? key : undefined
}
