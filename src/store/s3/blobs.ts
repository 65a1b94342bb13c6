/**
 * BlobStore on any S3-compatible service (Ceph RGW, MinIO, AWS S3), through the AWS SDK for
 * JavaScript v3. The backend holds only sealed bytes under opaque names (`PREFIX` + a random
 * blob id): it never sees plaintext, object keys, tenants or sizes other than the sealed ones.
 *
 * - A put is atomic as S3 makes it: a single PutObject below one part, else a multipart upload
 *   whose object appears only at CompleteMultipartUpload; a source that throws aborts the upload,
 *   so nothing is left under the blob's name.
 * - Every write carries Content-MD5, which the backend checks before it stores the bytes
 *   (BadDigest otherwise); every read is of sealed segments that the object format
 *   authenticates, against the header digest the metadata row holds.
 * - Reads are ranged GETs of what the reader asks for, with read-ahead that doubles while reads
 *   stay sequential (a whole-object download) and stays small for a Range GET.
 * - Requests are retried by the SDK (standard mode: exponential backoff with jitter); a
 *   backend that still cannot be reached is SERVICE_UNAVAILABLE (503 on the wire), never a hang.
 */
import { createHash } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import { isStrongroomError, StrongroomError } from '../../errors.ts'
import { parseBlobsUrl } from './url.ts'
import { blobId, type BlobEntry, type BlobStore, type OpenBlob } from '../blobs.ts'

export interface S3BlobStoreOptions {
  /** `s3://BUCKET[/PREFIX]`: where the blobs go. */
  readonly url: string
  /** The service's URL (RGW, MinIO); absent for AWS S3 itself. */
  readonly endpoint?: string | undefined
  readonly region: string
  /** Static credentials; absent, the SDK's default chain (environment, profile, web identity, instance role). */
  readonly credentials?:
    { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined
  /** Bytes per multipart part (at least 5 MiB, S3's minimum); 8 MiB by default. */
  readonly partSize?: number
}

const ID = /^[0-9a-f]{32}$/
const MIB = 1024 * 1024
/** Parts of one put in flight at once: the put's memory is (this + 1) × the part size. */
const PARTS_IN_FLIGHT = 3
/** The first read of a blob (its header and first segments), and read-ahead's ceiling. */
const FIRST_READ = 64 * 1024
const MAX_READ_AHEAD = 8 * MIB
/** Incomplete multipart uploads older than this were left by a crashed gateway. */
const STALE_UPLOAD_MS = 24 * 3600 * 1000

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client
  private readonly bucket: string
  private readonly prefix: string
  private readonly partSize: number
  private readonly where: string
  /** Bytes read from the backend so far (ranged reads fetch only what they cover). */
  fetched = 0

  constructor(options: S3BlobStoreOptions) {
    const parsed = parseBlobsUrl(options.url)
    if (parsed === undefined)
      throw new StrongroomError('CONFIG_INVALID', `\`${options.url}\` is not s3://BUCKET[/PREFIX]`)
    this.bucket = parsed.bucket
    this.prefix = parsed.prefix
    this.partSize = options.partSize ?? 8 * MIB
    if (this.partSize < 5 * MIB)
      throw new StrongroomError('CONFIG_INVALID', 'a multipart part is at least 5 MiB')
    this.where = `${options.endpoint ?? 'AWS S3'} (bucket \`${this.bucket}\`)`
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint === undefined
        ? {}
        : { endpoint: options.endpoint, forcePathStyle: true }),
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
      maxAttempts: 4,
      retryMode: 'standard',
      // Content-MD5 is the end-to-end check every S3 implementation verifies; the newer
      // flexible checksums (CRC32 trailers) are not understood by every RGW release.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
    })
  }

  private key(id: string): string {
    return this.prefix + blobId(id)
  }

  async put(id: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    const Key = this.key(id)
    let part: Buffer[] = []
    let filled = 0
    let upload:
      { id: string; parts: Promise<CompletedPart>[]; inFlight: Set<Promise<void>> } | undefined
    let failed: unknown
    const ship = async (body: Buffer) => {
      if (upload === undefined) {
        const created = await this.call('create an upload of', id, () =>
          this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key })),
        )
        upload = { id: created.UploadId ?? '', parts: [], inFlight: new Set() }
      }
      const u = upload
      const PartNumber = u.parts.length + 1
      const sent = this.call('upload a part of', id, () =>
        this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId: u.id,
            PartNumber,
            Body: body,
            ContentLength: body.length,
            ContentMD5: md5(body),
          }),
        ),
      ).then((r) => ({ PartNumber, ETag: r.ETag }))
      u.parts.push(sent)
      const tracked: Promise<void> = sent.then(
        () => void u.inFlight.delete(tracked),
        (e: unknown) => {
          failed ??= e
          u.inFlight.delete(tracked)
        },
      )
      u.inFlight.add(tracked)
      // Keeps at most PARTS_IN_FLIGHT parts in memory; a failed part fails the put now.
      if (u.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(u.inFlight)
      if (failed !== undefined)
        throw failed instanceof Error ? failed : new Error('a part failed', { cause: failed })
    }
    try {
      for await (const chunk of source) {
        part.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        filled += chunk.byteLength
        while (filled >= this.partSize) {
          const all = Buffer.concat(part, filled)
          await ship(Buffer.from(all.subarray(0, this.partSize)))
          part = filled > this.partSize ? [all.subarray(this.partSize)] : []
          filled -= this.partSize
        }
      }
      const rest = Buffer.concat(part, filled)
      if (upload === undefined) {
        await this.call('write', id, () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key,
              Body: rest,
              ContentLength: rest.length,
              ContentMD5: md5(rest),
            }),
          ),
        )
        return
      }
      if (filled > 0) await ship(rest)
      const u: { id: string; parts: Promise<CompletedPart>[] } = upload
      const Parts = await Promise.all(u.parts)
      await this.call('complete the upload of', id, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId: u.id,
            MultipartUpload: { Parts },
          }),
        ),
      )
    } catch (e) {
      const u = upload as { id: string; parts: Promise<unknown>[] } | undefined
      if (u !== undefined) {
        await Promise.allSettled(u.parts)
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: u.id }))
          .catch(() => undefined)
      }
      throw e
    }
  }

  async open(id: string): Promise<OpenBlob> {
    const Key = this.key(id)
    const get = async (first: number, last: number) => {
      const r = await this.call('read', id, () =>
        this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${first}-${last}` }),
        ),
      )
      const bytes = Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array())
      this.fetched += bytes.length
      const total = /\/(\d+)$/.exec(r.ContentRange ?? '')?.[1]
      return { bytes, total: total === undefined ? undefined : Number(total) }
    }
    // The first window is read at open: the header is what every reader asks for first, and
    // its Content-Range gives the size without a HEAD.
    let window: { start: number; bytes: Buffer }
    let size: number
    try {
      const first = await get(0, FIRST_READ - 1)
      window = { start: 0, bytes: first.bytes }
      size = first.total ?? first.bytes.length
    } catch (e) {
      // An empty blob has no byte 0 to range over (416); its size comes from a HEAD.
      if (!isStatus(e, 416)) throw e
      const head = await this.call('read', id, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key })),
      )
      window = { start: 0, bytes: Buffer.alloc(0) }
      size = head.ContentLength ?? 0
    }
    let ahead = FIRST_READ
    return {
      size,
      read: async (position, length) => {
        const end = Math.min(size, position + length)
        if (position >= end) return new Uint8Array()
        const w = window
        if (position >= w.start && end <= w.start + w.bytes.length)
          return w.bytes.subarray(position - w.start, end - w.start)
        // Sequential reads (the next bytes after the window) double the read-ahead.
        ahead =
          position === w.start + w.bytes.length ? Math.min(ahead * 2, MAX_READ_AHEAD) : FIRST_READ
        const last = Math.min(size, position + Math.max(length, ahead)) - 1
        const got = await get(position, last)
        window = { start: position, bytes: got.bytes }
        return got.bytes.subarray(0, end - position)
      },
      close: () => Promise.resolve(),
    }
  }

  async delete(id: string): Promise<void> {
    const Key = this.key(id)
    await this.call('delete', id, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })),
    )
  }

  async stat(id: string): Promise<(BlobEntry & { readonly size: number }) | undefined> {
    const Key = this.key(id)
    try {
      const head = await this.call('read', id, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key })),
      )
      return { id, modified: head.LastModified?.getTime() ?? 0, size: head.ContentLength ?? 0 }
    } catch (e) {
      if (isStrongroomError(e, 'IO')) return undefined
      throw e
    }
  }

  async list(): Promise<BlobEntry[]> {
    const out: BlobEntry[] = []
    let ContinuationToken: string | undefined
    do {
      const page = await this.call('list', '', () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken }),
        ),
      )
      for (const o of page.Contents ?? []) {
        const id = (o.Key ?? '').slice(this.prefix.length)
        if (ID.test(id)) out.push({ id, modified: o.LastModified?.getTime() ?? 0 })
      }
      ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (ContinuationToken !== undefined)
    await this.abortStaleUploads()
    return out
  }

  /** Aborts multipart uploads a crashed gateway left behind (a day old: no put runs that long). */
  private async abortStaleUploads(): Promise<void> {
    let KeyMarker: string | undefined
    let UploadIdMarker: string | undefined
    do {
      const page = await this.call('list uploads in', '', () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix,
            KeyMarker,
            UploadIdMarker,
          }),
        ),
      )
      for (const u of page.Uploads ?? []) {
        const started = u.Initiated?.getTime() ?? Date.now()
        if (Date.now() - started < STALE_UPLOAD_MS) continue
        await this.client
          .send(
            new AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: u.Key,
              UploadId: u.UploadId,
            }),
          )
          .catch(() => undefined)
      }
      const more = page.IsTruncated === true
      KeyMarker = more ? page.NextKeyMarker : undefined
      UploadIdMarker = more ? page.NextUploadIdMarker : undefined
    } while (KeyMarker !== undefined)
  }

  /**
   * One backend call, its failure said in our terms: a blob that is not there is IO (the reader
   * reports it as missing), a backend that cannot be reached or answers 5xx after the SDK's
   * retries is SERVICE_UNAVAILABLE, and anything else (credentials refused, bucket missing) is
   * SERVICE_UNAVAILABLE too, with the backend's own code, since no client request can fix it.
   */
  private async call<T>(what: string, id: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (e) {
      if (isStatus(e, 416)) throw e
      const name = (e as { name?: string }).name ?? 'Error'
      const blob = id === '' ? 'blobs' : `blob ${id}`
      if (isStatus(e, 404) && name !== 'NoSuchBucket')
        throw new StrongroomError('IO', `${blob} is not in ${this.where}`, { cause: e })
      throw new StrongroomError(
        'SERVICE_UNAVAILABLE',
        `the blob store ${this.where} could not ${what} ${blob} (${name})`,
        { cause: e },
      )
    }
  }

  /** Stops the client's sockets (a closing gateway). */
  close(): void {
    this.client.destroy()
  }
}

function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64')
}

function isStatus(e: unknown, status: number): boolean {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === status
}
