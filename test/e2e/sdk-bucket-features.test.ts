/**
 * Versioning and object tagging (with the tag condition keys) end to end with nothing but
 * Node and npm: the AWS SDK for JavaScript against a real `strongroom serve` over TLS.
 * Covers what bucket-features.test.ts proves with boto3 and Debian's aws CLI v2; bucket
 * encryption, key choice and the public access block are in sdk-encryption-access.test.ts,
 * UploadPartCopy in sdk-multipart.test.ts.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  type BucketVersioningStatus,
  type ListObjectVersionsCommandInput,
} from '@aws-sdk/client-s3'
import { alice, newKey, policyFile, sdk, start, stop, strongroom } from './harness.ts'
import { refused, text } from './sdk-util.ts'

let a: S3Client
before(async () => {
  await start()
  a = sdk(alice)
})
after(async () => {
  a.destroy()
  await stop()
})

describe('versioning and tagging with the AWS SDK for JavaScript', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersioningEnabledBuckets.html
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html (404, x-amz-delete-marker; 405 by version)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html (KeyMarker, VersionIdMarker)
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html
  it('versioning: version ids, delete markers, GET/HEAD/DELETE by version, listing and pagination', async () => {
    const Bucket = 'vision-versions'
    const put = async (Key: string, Body: string) =>
      (await a.send(new PutObjectCommand({ Bucket, Key, Body }))).VersionId
    const get = (Key: string, VersionId?: string) =>
      a.send(new GetObjectCommand({ Bucket, Key, VersionId }))
    const del = (Key: string, VersionId?: string) =>
      a.send(new DeleteObjectCommand({ Bucket, Key, VersionId }))
    const versioning = (Status: string) =>
      a.send(
        new PutBucketVersioningCommand({
          Bucket,
          VersioningConfiguration: { Status: Status as BucketVersioningStatus },
        }),
      )
    const versions = (more: Partial<ListObjectVersionsCommandInput> = {}) =>
      a.send(new ListObjectVersionsCommand({ Bucket, ...more }))

    await a.send(new CreateBucketCommand({ Bucket }))
    assert.equal((await a.send(new GetBucketVersioningCommand({ Bucket }))).Status, undefined)
    assert.equal(await put('m.pt', 'v0'), undefined, 'no version id before versioning')
    await versioning('Enabled')
    assert.equal((await a.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled')
    const v1 = (await put('m.pt', 'v1')) ?? ''
    const v2 = (await put('m.pt', 'v2')) ?? ''
    assert.equal(new Set([v1, v2, 'null', '']).size, 4)
    const g = await get('m.pt')
    assert.equal(g.VersionId, v2)
    assert.equal(await text(g), 'v2')
    assert.equal(await text(await get('m.pt', v1)), 'v1')
    assert.equal(await text(await get('m.pt', 'null')), 'v0')
    const h = await a.send(new HeadObjectCommand({ Bucket, Key: 'm.pt', VersionId: v1 }))
    assert.deepEqual([h.ContentLength, h.VersionId], [2, v1])

    const d = await del('m.pt')
    assert.equal(d.DeleteMarker, true)
    const marker = d.VersionId ?? ''
    await refused(get('m.pt'), 404, 'NoSuchKey')
    const gone = await refused(
      a.send(new HeadObjectCommand({ Bucket, Key: 'm.pt' })),
      404,
      'NotFound',
    )
    assert.equal(gone.headers['x-amz-delete-marker'], 'true')
    await refused(get('m.pt', marker), 405, 'MethodNotAllowed')
    await refused(get('m.pt', 'A'.repeat(32)), 404, 'NoSuchVersion')
    await refused(get('m.pt', 'not-ours'), 400, 'InvalidArgument')
    const lv = await versions()
    assert.deepEqual(
      lv.Versions?.map((v) => [v.VersionId, v.IsLatest]),
      [
        [v2, false],
        [v1, false],
        ['null', false],
      ],
    )
    assert.deepEqual(
      lv.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]),
      [[marker, true]],
    )
    assert.equal((await a.send(new ListObjectsV2Command({ Bucket }))).KeyCount, 0)

    // Removing the delete marker brings the object back; removing the current version promotes the one before.
    assert.equal((await del('m.pt', marker)).DeleteMarker, true)
    assert.equal(await text(await get('m.pt')), 'v2')
    await del('m.pt', v2)
    assert.equal(await text(await get('m.pt')), 'v1')
    await refused(get('m.pt', v2), 404, 'NoSuchVersion')

    // Restoring an old version is a copy of it onto the same key.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/RestoringPreviousVersions.html
    const c = await a.send(
      new CopyObjectCommand({ Bucket, Key: 'm.pt', CopySource: `${Bucket}/m.pt?versionId=null` }),
    )
    assert.equal(c.CopySourceVersionId, 'null')
    assert.ok(c.VersionId !== undefined && ![v1, v2, 'null'].includes(c.VersionId))
    assert.equal(await text(await get('m.pt')), 'v0')

    // Pagination through versions with key and version-id markers.
    const made: string[] = []
    for (let i = 0; i < 5; i++) made.push((await put('p.bin', String(i))) ?? '')
    const seen: string[] = []
    let page = await versions({ Prefix: 'p.bin', MaxKeys: 2 })
    for (;;) {
      assert.ok((page.Versions?.length ?? 0) <= 2)
      seen.push(...(page.Versions ?? []).map((v) => v.VersionId ?? ''))
      if (page.IsTruncated !== true) break
      page = await versions({
        Prefix: 'p.bin',
        MaxKeys: 2,
        KeyMarker: page.NextKeyMarker,
        VersionIdMarker: page.NextVersionIdMarker,
      })
    }
    assert.deepEqual(seen, made.toReversed())

    // DeleteObjects with version ids removes those versions for good.
    const r = await a.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: made.slice(0, 2).map((VersionId) => ({ Key: 'p.bin', VersionId })) },
      }),
    )
    assert.deepEqual(r.Deleted?.map((x) => x.VersionId).sort(), made.slice(0, 2).sort())
    assert.equal((await versions({ Prefix: 'p.bin' })).Versions?.length, 3)

    // Suspended: new writes replace the one null version.
    await versioning('Suspended')
    assert.equal(await put('m.pt', 's1'), 'null')
    await put('m.pt', 's2')
    const vs = (await versions({ Prefix: 'm.pt' })).Versions ?? []
    assert.equal(vs.filter((v) => v.VersionId === 'null').length, 1)
    assert.deepEqual([vs[0]?.VersionId, vs[0]?.IsLatest, vs[0]?.Size], ['null', true, 2])
    assert.equal(await text(await get('m.pt')), 's2')
    await refused(versioning('Off'), 400, 'MalformedXML')

    // A bucket holding only old versions or delete markers is not empty.
    await del('m.pt')
    await refused(a.send(new DeleteBucketCommand({ Bucket })), 409, 'BucketNotEmpty')
    const all = await versions()
    for (const v of [...(all.Versions ?? []), ...(all.DeleteMarkers ?? [])])
      await del(v.Key ?? '', v.VersionId)
    await a.send(new DeleteBucketCommand({ Bucket }))
  })

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html (10 tags, unique keys, no aws: prefix)
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html
  it('object tagging: x-amz-tagging, Put/Get/DeleteObjectTagging, limits, and tag condition keys', async () => {
    strongroom(['user', 'create', '--tenant', 'vision', 'carol'])
    const doc = policyFile('carol.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::vision-tags/*',
          Condition: { StringEquals: { 's3:ExistingObjectTag/stage': 'prod' } },
        },
        {
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:PutObjectTagging'],
          Resource: 'arn:aws:s3:::vision-tags/*',
          Condition: { StringEquals: { 's3:RequestObjectTag/team': 'vision' } },
        },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
      ],
    })
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'carol',
      '--name',
      'tags',
      '--document',
      doc,
    ])
    const Bucket = 'vision-tags'
    const tags = async (Key: string) =>
      (await a.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet ?? []
    const setTags = (Key: string, TagSet: { Key: string; Value: string }[]) =>
      a.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet } }))
    await a.send(new CreateBucketCommand({ Bucket }))
    await a.send(
      new PutObjectCommand({
        Bucket,
        Key: 'model.pt',
        Body: 'w',
        Tagging: 'stage=prod&team=vision%20core',
      }),
    )
    assert.deepEqual(await tags('model.pt'), [
      { Key: 'stage', Value: 'prod' },
      { Key: 'team', Value: 'vision core' },
    ])
    assert.equal((await a.send(new GetObjectCommand({ Bucket, Key: 'model.pt' }))).TagCount, 2)
    await a.send(new PutObjectCommand({ Bucket, Key: 'draft.pt', Body: 'd', Tagging: 'stage=dev' }))
    await setTags('draft.pt', [{ Key: 'stage', Value: 'review' }])
    assert.deepEqual(await tags('draft.pt'), [{ Key: 'stage', Value: 'review' }])
    await a.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'draft.pt' }))
    assert.deepEqual(await tags('draft.pt'), [])
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${String(i)}`, Value: 'v' }))
    await refused(setTags('draft.pt', eleven), 400, 'BadRequest')
    await setTags('draft.pt', eleven.slice(0, 10)) // control: ten is the limit, not less
    await refused(
      setTags('draft.pt', [
        { Key: 'a', Value: '1' },
        { Key: 'a', Value: '2' },
      ]),
      400,
      'InvalidTag',
    )
    await refused(
      a.send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'x', Tagging: 'aws:owner=me' })),
      400,
      'InvalidTag',
    )
    await refused(a.send(new HeadObjectCommand({ Bucket, Key: 'x' })), 404, 'NotFound')
    await refused(a.send(new GetObjectTaggingCommand({ Bucket, Key: 'missing' })), 404, 'NoSuchKey')

    // carol may read only objects tagged stage=prod, and write only with team=vision.
    const carol = sdk(newKey('vision', 'carol'))
    const asCarol = (Key: string, Tagging?: string) =>
      carol.send(new PutObjectCommand({ Bucket, Key, Body: 'c', Tagging }))
    assert.equal(
      await text(await carol.send(new GetObjectCommand({ Bucket, Key: 'model.pt' }))),
      'w',
    )
    await refused(
      carol.send(new GetObjectCommand({ Bucket, Key: 'draft.pt' })),
      403,
      'AccessDenied',
    )
    await asCarol('mine.pt', 'team=vision')
    await refused(asCarol('mine.pt'), 403, 'AccessDenied')
    await refused(asCarol('mine.pt', 'team=audio'), 403, 'AccessDenied')
    assert.deepEqual(await tags('mine.pt'), [{ Key: 'team', Value: 'vision' }])
    carol.destroy()
  })
})
