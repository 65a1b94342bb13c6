/**
 * Multipart uploads without a second pass. Each part is sealed on its own at
 * UploadPart, under its own data key, bound to `{tenant, bucket, key,
 * uploadId, part}`. CompleteMultipartUpload does not touch the parts: it is
 * one metadata transaction that makes them the object's body as they are
 * (the row's blob names the upload, `object_parts` lists the parts with their
 * data keys and header digests). Reading checks every part against that list:
 * its header digest, data-key id and length (`BLOB_MISMATCH`), and its binding
 * to this tenant, bucket, key, upload id and part number (`CONTEXT_MISMATCH`),
 * so a part blob swapped, reordered or rolled back on disk is refused.
 */
import { createHash } from 'node:crypto'
import type { ByteSource as CryptoSource } from '../crypto/stream.ts'
import { StrongroomError } from '../errors.ts'
import { storedDataKey } from '../kms/envelope.ts'
import {
  MULTIPART_BLOB,
  type BucketRecord,
  type ObjectPart,
  type ObjectRecord,
  type PartRecord,
  type ScanRecord,
  type UploadRecord,
  type WriteCondition,
} from '../meta/objects.ts'
import type { TenantRecord } from '../meta/store.ts'
import { newChecksum, type ChecksumAlgorithm } from './checksums.ts'
import type { BodyExpectation } from './expect.ts'
import { expectedOf, newVersionId, type ObjectService } from './objects.ts'
import { openParts } from './parts-body.ts'
import { ScanRejected, scanStored, type OpenedStoredObject } from './scanning.ts'

/** A stored part, with the checksums its request declared and the service verified. */
export interface UploadedPart extends PartRecord {
  readonly checksums: Readonly<Record<string, string>>
}

/** The context a part is sealed with (the tenant's name is added by the key service). */
export function partContext(upload: UploadRecord, number: number): Record<string, string> {
  return { bucket: upload.bucket, key: upload.key, uploadId: upload.id, part: String(number) }
}

export async function putPart(
  service: ObjectService,
  input: {
    readonly upload: UploadRecord
    readonly tenant: TenantRecord
    readonly number: number
    readonly body: CryptoSource
    readonly expect: BodyExpectation
  },
): Promise<UploadedPart> {
  const { upload, number } = input
  const sealed = await service.seal({
    keyId: upload.keyId,
    tenant: input.tenant,
    context: partContext(upload, number),
    body: input.body,
    expect: input.expect,
  })
  const part: PartRecord = {
    uploadId: upload.id,
    number,
    size: input.expect.length,
    etag: `"${sealed.digests.md5.toString('hex')}"`,
    blob: sealed.blob,
    dataKeyId: sealed.dataKeyId,
    headerDigest: sealed.headerDigest,
    ...(Object.keys(sealed.digests.checksums).length === 0
      ? {}
      : { checksums: sealed.digests.checksums }),
    createdAt: service.clock.now(),
  }
  let replaced: PartRecord | undefined
  try {
    replaced = await service.meta.putPart(part, sealed.wrapped)
  } catch (e) {
    await service.blobs.delete(sealed.blob)
    throw e
  }
  if (replaced !== undefined) await service.blobs.delete(replaced.blob)
  return { ...part, checksums: sealed.digests.checksums }
}

/**
 * The composite checksum of a multipart object
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums):
 * the algorithm over the parts' binary checksums, then `-N`. CRC64NVME has no composite form
 * (S3 keeps a full-object CRC for it, which Strongroom does not compute): none then, and none
 * when a part lacks the checksum.
 */
export function compositeChecksum(
  alg: ChecksumAlgorithm | undefined,
  parts: readonly { checksums?: Readonly<Record<string, string>> }[],
): Record<string, string> {
  if (alg === undefined || alg === 'crc64nvme') return {}
  const name = `x-amz-checksum-${alg}`
  const sums = parts.map((p) => p.checksums?.[name])
  if (sums.some((v) => v === undefined)) return {}
  const c = newChecksum(alg)
  c.update(Buffer.concat(sums.map((v) => Buffer.from(v ?? '', 'base64'))))
  return { [name]: `${c.digest()}-${parts.length}` }
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-N`. */
export function multipartEtag(parts: readonly { etag: string }[]): string {
  const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')))
  return `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`
}

/**
 * Makes the validated parts (ascending numbers, ETags and sizes checked by
 * the caller) the body of a new version. The scan, when the bucket asks for
 * one, reads the parts back (decrypting only: no part is re-sealed) before
 * anything commits; a `reject` verdict leaves the upload as it was.
 */
export async function completeUpload(
  service: ObjectService,
  input: {
    readonly upload: UploadRecord
    readonly bucket: BucketRecord
    readonly tenant: TenantRecord
    readonly parts: readonly PartRecord[]
    readonly condition?: WriteCondition | undefined
  },
): Promise<ObjectRecord> {
  const { upload, bucket, parts } = input
  const layout: ObjectPart[] = parts.map((p) => ({
    number: p.number,
    size: p.size,
    etag: p.etag,
    blob: p.blob,
    dataKeyId: p.dataKeyId,
    ...(p.headerDigest === undefined ? {} : { headerDigest: p.headerDigest }),
    ...(p.checksums === undefined ? {} : { checksums: p.checksums }),
  }))
  const draft: ObjectRecord = {
    bucket: bucket.name,
    key: upload.key,
    versionId: bucket.versioning === 'Enabled' ? newVersionId() : 'null',
    deleteMarker: false,
    size: parts.reduce((n, p) => n + p.size, 0),
    etag: multipartEtag(parts),
    contentType: upload.contentType,
    metadata: upload.metadata,
    ...(upload.system === undefined ? {} : { system: upload.system }),
    ...(upload.lock === undefined ? {} : { lock: upload.lock }),
    tags: upload.tags,
    checksums: compositeChecksum(upload.checksumAlgorithm, parts),
    blob: `${MULTIPART_BLOB}${upload.id}`,
    dataKeyId: '',
    keyId: upload.keyId,
    createdAt: service.clock.now(),
    scan: null,
    parts: layout,
  }
  let scan: ScanRecord | null = null
  if (bucket.scanPolicy !== 'off') {
    const target = { object: draft, uploadId: upload.id, owner: input.tenant, bucket }
    scan = await scanStored(
      upload.key,
      draft.size,
      () => openMultipart(service, target),
      service.pool,
      service.clock,
    )
    if (bucket.scanPolicy === 'reject' && scan.verdict !== 'clean')
      throw new ScanRejected(scan, upload.key)
  }
  const record: ObjectRecord = { ...draft, scan }
  const { replaced, unused } = await service.meta.completeUpload(
    record,
    parts,
    bucket.versioning,
    input.condition,
  )
  await service.removeBlobs(replaced)
  await service.deleteBlobs(unused.map((p) => p.blob))
  return record
}

/**
 * Opens a multipart object's body: the parts its row names (loaded when the
 * record does not carry them), each checked as it is opened. The parts must
 * add up to the row's size, in ascending part order.
 */
export async function openMultipart(
  service: ObjectService,
  target: {
    readonly object: ObjectRecord
    readonly uploadId: string
    readonly owner: TenantRecord
    readonly bucket: BucketRecord
  },
): Promise<OpenedStoredObject> {
  const { object, uploadId, owner, bucket } = target
  const what = `${object.bucket}/${object.key} version ${object.versionId}`
  const parts = object.parts ?? (await service.meta.objectParts(uploadId))
  const total = parts.reduce((n, p) => n + p.size, 0)
  const ordered = parts.every((p, i) => i === 0 || p.number > (parts[i - 1]?.number ?? 0))
  if (parts.length === 0 || total !== object.size || !ordered)
    throw new StrongroomError(
      'BLOB_MISMATCH',
      `the parts of \`${what}\` do not make up its body (${parts.length} parts, ${total} of ${object.size} bytes)`,
    )
  return openParts(
    parts.map((p) => ({
      size: p.size,
      open: () =>
        service.openSealed(
          p.blob,
          {
            tenant: owner.name,
            bucket: object.bucket,
            key: object.key,
            uploadId,
            part: String(p.number),
          },
          expectedOf(p, `${what} part ${p.number}`),
          storedDataKey(service.provider, service.meta, p.dataKeyId, bucket.tenantId),
        ),
    })),
  )
}
