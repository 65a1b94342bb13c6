/**
 * Versioning and tagging through the in-process gateway
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html,
 * API_PutBucketVersioning.html, API_ListObjectVersions.html, DeletingObjectVersions.html,
 * API_PutObjectTagging.html, userguide/tagging-managing.html: 10 tags, key 128 and value 256
 * characters).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const V = 'gw-versions'
const T = 'gw-tags'

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: V }))
  await a.send(new CreateBucketCommand({ Bucket: T }))
})
after(() => gw.stop())

async function failure(call: Promise<unknown>) {
  try {
    await call
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return {
      status: e.$metadata.httpStatusCode,
      code: e.name,
      headers: e.$response?.headers ?? {},
    }
  }
  assert.fail('the call succeeded')
}

const text = async (out: { Body?: { transformToString(): Promise<string> } }) =>
  (await out.Body?.transformToString()) ?? ''

describe('versioning, in process', () => {
  const ids: string[] = []

  it('a new bucket has no versioning status; Enabled is read back', async () => {
    const before = await a.send(new GetBucketVersioningCommand({ Bucket: V }))
    assert.equal(before.Status, undefined)
    await a.send(
      new PutBucketVersioningCommand({ Bucket: V, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const after = await a.send(new GetBucketVersioningCommand({ Bucket: V }))
    assert.equal(after.Status, 'Enabled')
  })

  it('each PUT makes a version; GET without an id is the latest, with an id that version', async () => {
    for (const body of ['one', 'two', 'three']) {
      const p = await a.send(new PutObjectCommand({ Bucket: V, Key: 'k', Body: body }))
      assert.ok(p.VersionId !== undefined && p.VersionId !== 'null')
      ids.push(p.VersionId)
    }
    assert.equal(new Set(ids).size, 3)
    assert.equal(await text(await a.send(new GetObjectCommand({ Bucket: V, Key: 'k' }))), 'three')
    const first = await a.send(new GetObjectCommand({ Bucket: V, Key: 'k', VersionId: ids[0] }))
    assert.deepEqual([await text(first), first.VersionId], ['one', ids[0]])
  })

  it('ListObjectVersions: newest first, only the newest IsLatest', async () => {
    const l = await a.send(new ListObjectVersionsCommand({ Bucket: V }))
    assert.deepEqual(
      l.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]),
      [
        ['k', ids[2], true],
        ['k', ids[1], false],
        ['k', ids[0], false],
      ],
    )
  })

  it('DELETE without an id adds a delete marker: GET is 404 with x-amz-delete-marker, old versions stay', async () => {
    const d = await a.send(new DeleteObjectCommand({ Bucket: V, Key: 'k' }))
    assert.equal(d.DeleteMarker, true)
    assert.ok(d.VersionId !== undefined)
    const r = await gw.call(gw.alice, { method: 'GET', path: `/${V}/k` })
    assert.equal(r.status, 404)
    assert.equal(errorOf(r.text).Code, 'NoSuchKey')
    assert.equal(r.headers['x-amz-delete-marker'], 'true')
    const old = await a.send(new GetObjectCommand({ Bucket: V, Key: 'k', VersionId: ids[1] }))
    assert.equal(await text(old), 'two')
    const l = await a.send(new ListObjectVersionsCommand({ Bucket: V }))
    assert.deepEqual(
      l.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]),
      [[d.VersionId, true]],
    )
    // Removing the marker itself brings the latest version back.
    await a.send(new DeleteObjectCommand({ Bucket: V, Key: 'k', VersionId: d.VersionId }))
    assert.equal(await text(await a.send(new GetObjectCommand({ Bucket: V, Key: 'k' }))), 'three')
  })

  it('DELETE with a version id removes that version for good; an unknown id is NoSuchVersion', async () => {
    await a.send(new DeleteObjectCommand({ Bucket: V, Key: 'k', VersionId: ids[0] }))
    const f = await failure(
      a.send(new GetObjectCommand({ Bucket: V, Key: 'k', VersionId: ids[0] })),
    )
    assert.deepEqual([f.status, f.code], [404, 'NoSuchVersion'])
    const bad = await gw.call(gw.alice, { method: 'GET', path: `/${V}/k?versionId=not-a-version` })
    assert.equal(bad.status, 400)
  })

  it('a bucket that holds only old versions is not empty', async () => {
    await a.send(new DeleteObjectCommand({ Bucket: V, Key: 'k' }))
    const f = await failure(a.send(new DeleteBucketCommand({ Bucket: V })))
    assert.deepEqual([f.status, f.code], [409, 'BucketNotEmpty'])
  })

  it('Suspended: new writes get the null version id and replace each other', async () => {
    await a.send(
      new PutBucketVersioningCommand({
        Bucket: V,
        VersioningConfiguration: { Status: 'Suspended' },
      }),
    )
    await a.send(new PutObjectCommand({ Bucket: V, Key: 's', Body: 'first' }))
    await a.send(new PutObjectCommand({ Bucket: V, Key: 's', Body: 'second' }))
    const l = await a.send(new ListObjectVersionsCommand({ Bucket: V, Prefix: 's' }))
    assert.deepEqual(
      l.Versions?.map((v) => v.VersionId),
      ['null'],
    )
    assert.equal(await text(await a.send(new GetObjectCommand({ Bucket: V, Key: 's' }))), 'second')
  })

  it('emptying a bucket page by page, deleting each page before asking for the next, leaves nothing', async () => {
    // boto3's bucket.object_versions.delete() does this: the next page's version-id-marker is a
    // version just deleted. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    const E = 'gw-versions-empty'
    await a.send(new CreateBucketCommand({ Bucket: E }))
    await a.send(
      new PutBucketVersioningCommand({ Bucket: E, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    for (let i = 0; i < 7; i++)
      await a.send(new PutObjectCommand({ Bucket: E, Key: 'model.pt', Body: `v${String(i)}` }))
    for (let i = 0; i < 3; i++)
      await a.send(new PutObjectCommand({ Bucket: E, Key: 'z.txt', Body: `v${String(i)}` }))
    let marker: { KeyMarker?: string | undefined; VersionIdMarker?: string | undefined } = {}
    let deleted = 0
    for (let page = 0; page < 20; page++) {
      const l = await a.send(new ListObjectVersionsCommand({ Bucket: E, MaxKeys: 3, ...marker }))
      for (const v of l.Versions ?? []) {
        await a.send(new DeleteObjectCommand({ Bucket: E, Key: v.Key, VersionId: v.VersionId }))
        deleted++
      }
      if (l.IsTruncated !== true) break
      marker = { KeyMarker: l.NextKeyMarker, VersionIdMarker: l.NextVersionIdMarker }
    }
    assert.equal(deleted, 10)
    assert.equal((await a.send(new ListObjectVersionsCommand({ Bucket: E }))).Versions, undefined)
    await a.send(new DeleteBucketCommand({ Bucket: E }))
  })
})

describe('tagging, in process', () => {
  it('x-amz-tagging on PUT, then Get/Put/DeleteObjectTagging, and the tag count on GET', async () => {
    await a.send(
      new PutObjectCommand({ Bucket: T, Key: 'm', Body: 'x', Tagging: 'team=vision&stage=raw' }),
    )
    const got = await a.send(new GetObjectTaggingCommand({ Bucket: T, Key: 'm' }))
    assert.deepEqual((got.TagSet ?? []).map((t) => [t.Key, t.Value]).sort(), [
      ['stage', 'raw'],
      ['team', 'vision'],
    ])
    const g = await a.send(new GetObjectCommand({ Bucket: T, Key: 'm' }))
    assert.equal(g.TagCount, 2)
    await a.send(
      new PutObjectTaggingCommand({
        Bucket: T,
        Key: 'm',
        Tagging: { TagSet: [{ Key: 'stage', Value: 'reviewed' }] },
      }),
    )
    const replaced = await a.send(new GetObjectTaggingCommand({ Bucket: T, Key: 'm' }))
    assert.deepEqual(replaced.TagSet, [{ Key: 'stage', Value: 'reviewed' }])
    await a.send(new DeleteObjectTaggingCommand({ Bucket: T, Key: 'm' }))
    const none = await a.send(new GetObjectTaggingCommand({ Bucket: T, Key: 'm' }))
    assert.deepEqual(none.TagSet, [])
    const h = await a.send(new HeadObjectCommand({ Bucket: T, Key: 'm' }))
    assert.equal(h.$metadata.httpStatusCode, 200)
  })

  it('S3’s limits: 11 tags are BadRequest; a repeated key, a 129-character key or a 257-character value InvalidTag', async () => {
    const put = (TagSet: { Key: string; Value: string }[]) =>
      failure(a.send(new PutObjectTaggingCommand({ Bucket: T, Key: 'm', Tagging: { TagSet } })))
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${String(i)}`, Value: 'v' }))
    // More than 10 tags is BadRequest in S3 ("Object tags cannot be greater than 10").
    const tooMany = await put(eleven)
    assert.deepEqual([tooMany.status, tooMany.code], [400, 'BadRequest'])
    for (const set of [
      [
        { Key: 'a', Value: '1' },
        { Key: 'a', Value: '2' },
      ],
      [{ Key: 'k'.repeat(129), Value: 'v' }],
      [{ Key: 'k', Value: 'v'.repeat(257) }],
    ]) {
      const f = await put(set)
      assert.deepEqual([f.status, f.code], [400, 'InvalidTag'])
    }
    // At the limits exactly: accepted.
    await a.send(
      new PutObjectTaggingCommand({
        Bucket: T,
        Key: 'm',
        Tagging: {
          TagSet: [...eleven.slice(0, 9), { Key: 'k'.repeat(128), Value: 'v'.repeat(256) }],
        },
      }),
    )
  })

  it('tagging a key that does not exist is NoSuchKey; another tenant is refused', async () => {
    const f = await failure(
      a.send(new PutObjectTaggingCommand({ Bucket: T, Key: 'absent', Tagging: { TagSet: [] } })),
    )
    assert.deepEqual([f.status, f.code], [404, 'NoSuchKey'])
    const b = gw.sdk(gw.bob)
    const other = await failure(b.send(new GetObjectTaggingCommand({ Bucket: T, Key: 'm' })))
    assert.deepEqual([other.status, other.code], [403, 'AccessDenied'])
  })
})

describe('version headers as S3 sends them', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html (x-amz-delete-marker),
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html (DeleteMarkerVersionId),
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html (a bucket
  // never versioned has no version ids).
  it('a bucket never versioned: no x-amz-version-id on writes, no delete-marker header on deletes', async () => {
    const U = 'gw-never-versioned'
    await a.send(new CreateBucketCommand({ Bucket: U }))
    const put = await gw.call(gw.alice, { method: 'PUT', path: `/${U}/k`, body: 'x' })
    assert.equal(put.headers['x-amz-version-id'], undefined)
    const del = await gw.call(gw.alice, { method: 'DELETE', path: `/${U}/k` })
    assert.equal(del.status, 204)
    assert.equal(del.headers['x-amz-version-id'], undefined)
    assert.equal(del.headers['x-amz-delete-marker'], undefined)
  })

  it('DeleteObjects names the marker it made and the marker it removed by id', async () => {
    const W = 'gw-multi-markers'
    await a.send(new CreateBucketCommand({ Bucket: W }))
    await a.send(
      new PutBucketVersioningCommand({ Bucket: W, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    await a.send(new PutObjectCommand({ Bucket: W, Key: 'k', Body: 'x' }))
    const made = await a.send(
      new DeleteObjectsCommand({ Bucket: W, Delete: { Objects: [{ Key: 'k' }] } }),
    )
    const marker = made.Deleted?.[0]?.DeleteMarkerVersionId
    assert.equal(made.Deleted?.[0]?.DeleteMarker, true)
    assert.ok(marker !== undefined)
    const removed = await a.send(
      new DeleteObjectsCommand({
        Bucket: W,
        Delete: { Objects: [{ Key: 'k', VersionId: marker }] },
      }),
    )
    assert.deepEqual(
      [removed.Deleted?.[0]?.DeleteMarker, removed.Deleted?.[0]?.DeleteMarkerVersionId],
      [true, marker],
    )
    const single = await gw.call(gw.alice, {
      method: 'DELETE',
      path: `/${W}/k?versionId=${encodeURIComponent((await a.send(new PutObjectCommand({ Bucket: W, Key: 'k', Body: 'y' }))).VersionId ?? '')}`,
    })
    assert.equal(
      single.headers['x-amz-delete-marker'],
      undefined,
      'a version that was not a marker',
    )
  })
})
