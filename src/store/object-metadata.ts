/**
 * ObjectMetadata: what the gateway and the CLI read about objects without
 * opening a body (one version, listings, every version, multipart uploads and
 * their parts) and the one metadata-only write on objects, their tags. Bodies
 * go through the ObjectService (./objects.ts); this service never touches a
 * blob or a key.
 */
import type { Clock } from '../clock.ts'
import type { MultipartStore, PartRecord, UploadCursor, UploadRecord } from '../meta/multipart.ts'
import type {
  ListPage,
  ObjectLock,
  ObjectRecord,
  ObjectStore,
  Tags,
  VersionRecord,
} from '../meta/objects.ts'

/** Rows read per page when walking every version. */
const PAGE = 1000

export class ObjectMetadata {
  private readonly objects: ObjectStore
  private readonly multipart: MultipartStore
  private readonly clock: Clock

  constructor(objects: ObjectStore, multipart: MultipartStore, clock: Clock) {
    this.objects = objects
    this.multipart = multipart
    this.clock = clock
  }

  /** The current version (which may be a delete marker), or the version named. */
  getObject(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined> {
    return this.objects.getObject(bucket, key, versionId)
  }

  /** Current versions that are not delete markers: keys in byte order after `after`, starting with `prefix`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): Promise<ListPage> {
    return this.objects.listObjects(bucket, prefix, after, limit)
  }

  /** Versions and delete markers by key then newest first, after a key (and version) marker. */
  listVersions(
    bucket: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]> {
    return this.objects.listVersions(bucket, prefix, afterKey, afterVersionId, limit)
  }

  /** Every version of every object under `prefix` (delete markers left out), page by page. */
  async *allVersions(bucket: string, prefix = ''): AsyncGenerator<VersionRecord> {
    let afterKey = ''
    let afterVersion: string | undefined
    for (;;) {
      const page = await this.objects.listVersions(bucket, prefix, afterKey, afterVersion, PAGE)
      for (const v of page) if (!v.deleteMarker) yield v
      const last = page.at(-1)
      if (last === undefined || page.length < PAGE) return
      afterKey = last.key
      afterVersion = last.versionId
    }
  }

  /** Replaces the tags of the current version or of the version named; false when there is none. */
  setObjectTags(
    bucket: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean> {
    return this.objects.setObjectTags(bucket, key, versionId, tags)
  }

  /** Changes a version's Object Lock state in one transaction (ObjectStore.updateObjectLock). */
  updateObjectLock(
    bucket: string,
    key: string,
    versionId: string,
    update: (current: ObjectLock | undefined) => ObjectLock | undefined,
  ): Promise<boolean> {
    return this.objects.updateObjectLock(bucket, key, versionId, update)
  }

  /** Starts a multipart upload, created now by the injected clock. */
  async createUpload(upload: Omit<UploadRecord, 'createdAt'>): Promise<UploadRecord> {
    const record: UploadRecord = { ...upload, createdAt: this.clock.now() }
    await this.multipart.createUpload(record)
    return record
  }

  getUpload(id: string): Promise<UploadRecord | undefined> {
    return this.multipart.getUpload(id)
  }

  /** The bucket's uploads under `prefix`, by key then oldest first, after `after`. */
  listUploads(
    bucket: string,
    prefix: string,
    after: UploadCursor | undefined,
    limit: number,
  ): Promise<UploadRecord[]> {
    return this.multipart.listUploads(bucket, prefix, after, limit)
  }

  /** By part number. */
  listParts(uploadId: string): Promise<PartRecord[]> {
    return this.multipart.listParts(uploadId)
  }
}
