/**
 * Envelope encryption: one fresh data key per object, wrapped by the tenant's
 * key with the object's encryption context bound as AAD. Store objects keep
 * the wrapped key in their metadata row (deleting the row shreds the object);
 * standalone files carry it in their header so they can travel.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { EncryptionContext } from '../crypto/context.ts'
import type { Header } from '../crypto/header.ts'
import type { SealOptions } from '../crypto/stream.ts'
import { StrongroomError } from '../errors.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyStore } from '../meta/keys.ts'
import {
  decodeWrappedKey,
  encodeWrappedKey,
  type KeyProvider,
  type WrappedKey,
} from './provider.ts'

/** Context entries Strongroom sets itself; callers cannot supply them. */
export const RESERVED_CONTEXT_KEYS = ['tenant', 'keyId', 'keyVersion'] as const

export interface SealedDataKey {
  /** 32 bytes; zero it once the object is sealed. */
  readonly dataKey: Buffer
  readonly dataKeyId: string
  readonly context: EncryptionContext
  readonly wrapped: WrappedKey
  readonly wrappedBytes: Buffer
}

export interface KeyChoice {
  readonly tenant: TenantRecord
  readonly keyId: string
  /** The key's current version, as last seen; a rotation in between is handled. */
  readonly keyVersion: number
}

/** Makes and wraps a data key for one object. */
export async function newDataKey(
  provider: KeyProvider,
  choice: KeyChoice,
  callerContext: EncryptionContext,
): Promise<SealedDataKey> {
  for (const k of RESERVED_CONTEXT_KEYS) {
    if (Object.hasOwn(callerContext, k)) {
      throw new StrongroomError(
        'USAGE',
        `encryption context key \`${k}\` is set by Strongroom and cannot be given`,
      )
    }
  }
  const dataKey = randomBytes(32)
  let version = choice.keyVersion
  // The version is part of the context that the wrap binds; if the key rotates
  // between choosing and wrapping, wrap again under the version actually used.
  for (let attempt = 0; attempt < 3; attempt++) {
    const context = {
      ...callerContext,
      tenant: choice.tenant.name,
      keyId: choice.keyId,
      keyVersion: String(version),
    }
    const wrapped = await provider.wrap(choice.keyId, dataKey, context)
    if (wrapped.keyVersion === version) {
      return {
        dataKey,
        dataKeyId: `dk-${randomUUID()}`,
        context,
        wrapped,
        wrappedBytes: encodeWrappedKey(wrapped),
      }
    }
    version = wrapped.keyVersion
  }
  dataKey.fill(0)
  throw new StrongroomError('INTERNAL', 'the key kept rotating while a data key was being wrapped')
}

/** Seal options for a standalone file: the wrapped data key travels in its header. */
export function standaloneSealOptions(
  dk: SealedDataKey,
  plaintextLength: number,
  segmentSize: number,
): SealOptions {
  return {
    dataKey: dk.dataKey,
    dataKeyId: dk.dataKeyId,
    context: dk.context,
    wrappedKey: dk.wrappedBytes,
    plaintextLength,
    segmentSize,
  }
}

/** Unwraps the data key a standalone file carries in its header. */
export function headerDataKey(provider: KeyProvider): (header: Header) => Promise<Uint8Array> {
  return (header) => {
    if (header.wrappedKey.length === 0) {
      throw new StrongroomError(
        'KEY_NOT_FOUND',
        'this object carries no wrapped data key: it belongs to a bucket and is read through the store',
      )
    }
    return provider.unwrap(checkedWrapped(header.wrappedKey, header.context), header.context)
  }
}

/**
 * Unwraps the data key of a stored object. The key is looked up by the id the
 * object's metadata record names (`dataKeyId`), never by the id in the blob's
 * own header: blob storage is untrusted, and a header naming another data key
 * is a substituted blob (`BLOB_MISMATCH`). When `tenantId` is given, the
 * wrapped key must belong to that tenant.
 */
export function storedDataKey(
  provider: KeyProvider,
  store: Pick<KeyStore, 'getObjectKey'>,
  dataKeyId: string,
  tenantId?: string,
): (header: Header) => Promise<Uint8Array> {
  return async (header) => {
    if (header.dataKeyId !== dataKeyId) {
      throw new StrongroomError(
        'BLOB_MISMATCH',
        'the stored body names another data key than its metadata record: it was replaced or rolled back',
      )
    }
    const row = await store.getObjectKey(dataKeyId)
    if (row === undefined) {
      throw new StrongroomError(
        'KEY_DELETED',
        `the data key of this object (\`${dataKeyId}\`) was deleted: the object is unrecoverable`,
      )
    }
    if (tenantId !== undefined && row.tenantId !== tenantId) {
      throw new StrongroomError(
        'BLOB_MISMATCH',
        "the data key named by this object's record belongs to another tenant",
      )
    }
    return provider.unwrap(checkedWrapped(row.wrapped, header.context), header.context)
  }
}

/** The wrapped key must name the key and version the header's context names. */
function checkedWrapped(bytes: Uint8Array, context: EncryptionContext): WrappedKey {
  const w = decodeWrappedKey(bytes)
  if (context.keyId !== w.keyId || context.keyVersion !== String(w.keyVersion)) {
    throw new StrongroomError(
      'HEADER_TAMPERED',
      'the wrapped data key does not match the key named in the encryption context',
    )
  }
  return w
}
