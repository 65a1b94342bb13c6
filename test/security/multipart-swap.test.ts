/**
 * Part swap and rollback for multipart objects (issue 11: multipart without a
 * second pass). A completed upload keeps its parts as UploadPart sealed them;
 * the object's row names the upload, and `object_parts` lists each part's
 * blob, data key, length and header digest. Whoever can write the blob
 * directory swaps two parts of one object, puts back a part that was
 * re-uploaded (rolled back), or copies a part of another upload or another
 * version over one: every read must then fail (500 InternalError, no byte of
 * the other body). And the binding holds without the digest too: rows that
 * name the right blobs in the wrong order are refused by the parts' own
 * context (upload id, part number): CONTEXT_MISMATCH.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { systemClock } from '../../src/clock.ts'
import { isStrongroomError } from '../../src/errors.ts'
import { createTenant } from '../../src/identity/tenants.ts'
import { LocalKms } from '../../src/kms/local.ts'
import { ALL_BLOCKED, type BucketRecord, type PartRecord } from '../../src/meta/objects.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import { MemoryBlobStore } from '../../src/store/memory-blobs.ts'
import { ObjectService } from '../../src/store/objects.ts'
import { alice, dataDir, sdk, start, stop, work } from '../e2e/harness.ts'

before(() => start())
after(stop)

const MiB = 1024 * 1024

/** The part blobs of a key's version, in part order, from `object_parts`. */
function partBlobs(bucket: string, key: string, versionId?: string): string[] {
  const db = new DatabaseSync(join(dataDir, 'meta.sqlite'), { readOnly: true })
  try {
    const q = (table: string) =>
      db
        .prepare(
          `SELECT blob FROM ${table} WHERE bucket = ? AND key = ?${versionId === undefined ? '' : ' AND version_id = ?'}`,
        )
        .get(...[bucket, key, ...(versionId === undefined ? [] : [versionId])]) as
        { blob: string } | undefined
    const row = q('objects') ?? (versionId === undefined ? undefined : q('versions'))
    assert.ok(row !== undefined, `no row for ${bucket}/${key}`)
    assert.ok(row.blob.startsWith('multipart-'), `${bucket}/${key} is not a multipart object`)
    const upload = row.blob.slice('multipart-'.length)
    return (
      db
        .prepare('SELECT blob FROM object_parts WHERE upload_id = ? ORDER BY number')
        .all(upload) as { blob: string }[]
    ).map((r) => r.blob)
  } finally {
    db.close()
  }
}

const blobPath = (id: string) => join(dataDir, 'blobs', id.slice(0, 2), id)

async function upload(
  s3: S3Client,
  Bucket: string,
  Key: string,
  bodies: Buffer[],
  before?: (uploadId: string) => Promise<void>,
): Promise<string | undefined> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
  if (before !== undefined) await before(UploadId ?? '')
  const Parts = []
  for (const [i, Body] of bodies.entries()) {
    const r = await s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }),
    )
    Parts.push({ PartNumber: i + 1, ETag: r.ETag ?? '' })
  }
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
  )
  return done.VersionId
}

async function get(s3: S3Client, Bucket: string, Key: string, extra = {}): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket, Key, ...extra }))
  return Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array(0))
}

async function outcome(send: () => Promise<unknown>): Promise<string> {
  try {
    await send()
    return 'ok'
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${e.$metadata.httpStatusCode} ${e.name}`
  }
}

/**
 * GET, a range inside the tampered part (which starts at `at`), one across its
 * start, CopyObject: all refused. A suffix is refused when the tampered part
 * is the last (it is opened first); otherwise a suffix never touches it and is
 * served from the untouched last part, byte for byte (`tail`).
 */
async function everyReadRefused(
  s3: S3Client,
  Bucket: string,
  Key: string,
  at: number,
  tail: Buffer | 'refused',
  extra: { VersionId?: string } = {},
) {
  const refused = '500 InternalError'
  assert.equal(await outcome(() => get(s3, Bucket, Key, extra)), refused, 'GET')
  assert.equal(
    await outcome(() => get(s3, Bucket, Key, { ...extra, Range: `bytes=${at}-${at + 100}` })),
    refused,
    'range in the part',
  )
  assert.equal(
    await outcome(() => get(s3, Bucket, Key, { ...extra, Range: `bytes=${at - 10}-${at + 10}` })),
    refused,
    'range across the boundary',
  )
  if (tail === 'refused')
    assert.equal(
      await outcome(() => get(s3, Bucket, Key, { ...extra, Range: 'bytes=-10' })),
      refused,
      'suffix (the last part is opened first)',
    )
  else
    assert.deepEqual(
      await get(s3, Bucket, Key, { ...extra, Range: 'bytes=-10' }),
      tail.subarray(-10),
    )
  const source = `${Bucket}/${Key}${extra.VersionId === undefined ? '' : `?versionId=${extra.VersionId}`}`
  assert.equal(
    await outcome(() =>
      s3.send(new CopyObjectCommand({ Bucket, Key: `${Key}.copy`, CopySource: source })),
    ),
    refused,
    'CopyObject',
  )
}

describe('multipart part swap and rollback through the gateway', () => {
  it('two parts of one object swapped on disk are refused', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'mp-swap' }))
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)]
    await upload(s3, 'mp-swap', 'model.bin', bodies)
    assert.deepEqual(await get(s3, 'mp-swap', 'model.bin'), Buffer.concat(bodies))
    const [p1, p2] = partBlobs('mp-swap', 'model.bin')
    assert.ok(p1 !== undefined && p2 !== undefined)
    const saved = readFileSync(blobPath(p2))
    copyFileSync(blobPath(p1), blobPath(p2))
    await everyReadRefused(s3, 'mp-swap', 'model.bin', 5 * MiB, bodies[2] ?? Buffer.alloc(0))
    // The bytes before the swapped part are still served; restoring it restores the object.
    assert.deepEqual(
      await get(s3, 'mp-swap', 'model.bin', { Range: 'bytes=0-99' }),
      bodies[0]?.subarray(0, 100),
    )
    writeFileSync(blobPath(p2), saved)
    assert.deepEqual(await get(s3, 'mp-swap', 'model.bin'), Buffer.concat(bodies))
    s3.destroy()
  })

  it('a part rolled back to the body it had before it was uploaded again is refused', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'mp-rollback' }))
    const Key = 'model.bin'
    let old: Buffer | undefined
    const bodies = [randomBytes(5 * MiB), randomBytes(MiB)]
    await upload(s3, 'mp-rollback', Key, bodies, async (UploadId) => {
      // Part 2 first with other bytes; the attacker keeps a copy of its blob.
      await s3.send(
        new UploadPartCommand({
          Bucket: 'mp-rollback',
          Key,
          UploadId,
          PartNumber: 2,
          Body: randomBytes(MiB),
        }),
      )
      const db = new DatabaseSync(join(dataDir, 'meta.sqlite'), { readOnly: true })
      try {
        const row = db
          .prepare('SELECT blob FROM parts WHERE upload_id = ? AND number = 2')
          .get(UploadId) as { blob: string }
        old = readFileSync(blobPath(row.blob))
      } finally {
        db.close()
      }
    })
    const [, p2] = partBlobs('mp-rollback', Key)
    assert.ok(p2 !== undefined && old !== undefined)
    writeFileSync(blobPath(p2), old)
    await everyReadRefused(s3, 'mp-rollback', Key, 5 * MiB, 'refused')
    s3.destroy()
  })

  it("a part of another upload (an older version of the key) copied over this one's is refused", async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'mp-versions' }))
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'mp-versions',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    )
    const v1Bodies = [randomBytes(5 * MiB), randomBytes(MiB)]
    const v1 = await upload(s3, 'mp-versions', 'm.bin', v1Bodies)
    const v2Bodies = [randomBytes(5 * MiB), randomBytes(MiB)]
    const v2 = await upload(s3, 'mp-versions', 'm.bin', v2Bodies)
    assert.ok(v1 !== undefined && v2 !== undefined)
    const [old1] = partBlobs('mp-versions', 'm.bin', v1)
    const [new1] = partBlobs('mp-versions', 'm.bin', v2)
    assert.ok(old1 !== undefined && new1 !== undefined)
    copyFileSync(blobPath(old1), blobPath(new1))
    await everyReadRefused(s3, 'mp-versions', 'm.bin', 100, v2Bodies[1] ?? Buffer.alloc(0), {
      VersionId: v2,
    })
    // The older version's own parts are untouched and still read.
    assert.deepEqual(
      await get(s3, 'mp-versions', 'm.bin', { VersionId: v1 }),
      Buffer.concat(v1Bodies),
    )
    s3.destroy()
  })
})

describe('multipart part binding without the digest (object service)', () => {
  it('rows naming the right part blobs in the wrong order are refused: CONTEXT_MISMATCH', async () => {
    const path = join(work, 'mp-binding.sqlite')
    const store = SqliteMetadataStore.open(path, { create: true })
    const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
    const tenant = await createTenant(store, 'vision')
    const key = await kms.createKey(tenant, { alias: 'models' })
    const bucket: BucketRecord = {
      name: 'b',
      tenantId: tenant.id,
      keyId: key.id,
      policy: null,
      createdAt: 1,
      versioning: 'Unversioned',
      publicAccessBlock: ALL_BLOCKED,
      scanPolicy: 'off',
    }
    await store.createBucket(bucket)
    const objects = new ObjectService({
      meta: store,
      blobs: new MemoryBlobStore(),
      provider: kms,
      keys: kms,
      clock: systemClock,
      segmentSize: 64,
    })
    const u = {
      id: 'u1',
      bucket: 'b',
      key: 'k',
      contentType: null,
      metadata: {},
      tags: [],
      keyId: key.id,
      createdAt: 1,
    }
    await store.createUpload(u)
    const parts: PartRecord[] = []
    for (const n of [1, 2]) {
      const body = randomBytes(100)
      parts.push(await objects.putPart(u, tenant, n, [body], { length: body.length }))
    }
    const o = await objects.complete(u, bucket, tenant, parts)
    // Exchange what the two rows name (blob, data key, digest together), as a reordering would.
    const db = new DatabaseSync(path)
    db.exec(`UPDATE object_parts SET number = -number WHERE upload_id = 'u1';
      UPDATE object_parts SET number = CASE number WHEN -1 THEN 2 ELSE 1 END WHERE upload_id = 'u1'`)
    db.close()
    const current = await store.getObject('b', 'k')
    assert.deepEqual(
      current?.parts?.map((p) => p.blob),
      [parts[1]?.blob, parts[0]?.blob],
    )
    assert.ok(current)
    assert.equal(current.size, o.size)
    const opened = await objects.open(current)
    let code = ''
    try {
      for await (const c of opened.object.range(0, current.size - 1))
        assert.fail(`${c.length} bytes`)
    } catch (e) {
      assert.ok(isStrongroomError(e), String(e))
      code = e.code
    } finally {
      await opened.close()
    }
    assert.equal(code, 'CONTEXT_MISMATCH')
    await store.close()
  })
})
