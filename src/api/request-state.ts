/**
 * What one request has read and decided, so that each read and each decision happens once:
 * the pipeline's per-request cache (tenants, buckets, keys, key policies, decisions).
 */
import type { ServerResponse } from 'node:http'
import { StrongroomError } from '../errors.ts'
import type { BucketRecord, ObjectRecord, UploadRecord } from '../meta/objects.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { KeyRecord } from '../meta/keys.ts'
import type { Caller, Conditions, S3Request } from './operation.ts'
import type { CopySource } from './s3/common.ts'

export type Decided = { readonly decision: string; readonly outsider: boolean }

export class RequestState {
  readonly r: S3Request
  readonly res: ServerResponse
  readonly requestId: string
  readonly caller: Caller
  readonly conditions: Conditions
  readonly operation: string
  bucket: BucketRecord | undefined
  object: ObjectRecord | undefined
  source: CopySource | undefined
  keyId: string | undefined
  upload: UploadRecord | undefined
  earlyBody: Buffer | undefined
  /** The declaration's `recordsBody`: what the audit event keeps of the document read. */
  recordsBody: ((body: Buffer) => Readonly<Record<string, unknown>>) | undefined
  readonly buckets = new Map<string, Promise<BucketRecord | undefined>>()
  readonly tenants = new Map<string, Promise<TenantRecord | undefined>>()
  readonly keys = new Map<string, Promise<KeyRecord | undefined>>()
  readonly keyPolicies = new Map<string, Promise<string>>()
  readonly decisions = new Map<string, Decided>()

  constructor(
    r: S3Request,
    res: ServerResponse,
    requestId: string,
    caller: Caller,
    conditions: Conditions,
    operation: string,
  ) {
    this.r = r
    this.res = res
    this.requestId = requestId
    this.caller = caller
    this.conditions = conditions
    this.operation = operation
    if (caller.tenant !== undefined)
      this.tenants.set(caller.tenant.id, Promise.resolve(caller.tenant))
  }
}

export function once<K, V>(m: Map<K, Promise<V>>, k: K, read: () => Promise<V>): Promise<V> {
  let p = m.get(k)
  if (p === undefined) {
    p = read()
    m.set(k, p)
  }
  return p
}

export function loaded<T>(v: T | undefined, what: string): T {
  if (v === undefined)
    throw new StrongroomError('INTERNAL', `the operation's declaration does not load its ${what}`)
  return v
}
