/**
 * The MAC each record of the shared log is stored with: HMAC-SHA256 over its index (8 bytes,
 * big-endian) and its bytes, under a key derived from the deployment's audit HMAC key (sealed
 * under the root key). Whoever administers the database but holds no root key cannot insert a
 * record, move one to another index or replay it: the gateway that seals, and the export,
 * refuse a record whose MAC does not verify.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import type { StoredAuditRecord } from '../meta/audit.ts'

/** The record-MAC key, kept apart from the key that correlates secrets in events. */
export function recordMacKey(hmacKey: Uint8Array): Buffer {
  return createHmac('sha256', hmacKey).update('strongroom/audit/record-mac/v1').digest()
}

export function recordMac(key: Uint8Array, index: number, record: Uint8Array): Buffer {
  const at = Buffer.alloc(8)
  at.writeBigUInt64BE(BigInt(index))
  return createHmac('sha256', key).update(at).update(record).digest()
}

/** LOG_TAMPERED unless `r` carries the MAC a gateway of this installation gave it. */
export function checkRecordMac(key: Uint8Array, r: StoredAuditRecord): void {
  const want = recordMac(key, r.index, r.record)
  if (r.mac.length !== want.length || !timingSafeEqual(r.mac, want))
    throw new StrongroomError(
      'LOG_TAMPERED',
      `audit record ${r.index} in the shared log was not written there by a gateway of this installation (its MAC does not verify): it was inserted, moved or changed in the database`,
    )
}
