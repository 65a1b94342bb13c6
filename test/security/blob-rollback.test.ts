/**
 * Blob rollback and substitution, through the gateway (issue 9, item 14).
 *
 * Whoever can write the blob directory (or, after scale-out, the backend
 * bucket) copies one sealed body over another on disk. Every read of the
 * victim must then fail with a 500 InternalError and release no byte of the
 * other body: the metadata row names the data key, the plaintext length and
 * the SHA-256 of the sealed header, and the body is bound to tenant, bucket,
 * key and version id (docs/formats/encrypted-object.md, "Stored objects").
 */
import assert from 'node:assert/strict'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { p } from '../scan/builders.ts'
import {
  alice,
  bob,
  dataDir,
  newKey,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
} from '../e2e/harness.ts'

before(() => start())
after(stop)

/** Above the 128 KiB kept inline in the metadata database: these bodies are files in blobs/. */
const SIZE = 300 * 1024
const body = (fill: number) => Buffer.alloc(SIZE, fill)

/** The blob id a version's row names (the current row, or an older one in `versions`). */
function blobOf(bucket: string, key: string, versionId?: string): string {
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
    assert.ok(row !== undefined, `no row for ${bucket}/${key} ${versionId ?? ''}`)
    return row.blob
  } finally {
    db.close()
  }
}

/** Where the filesystem BlobStore keeps a blob (src/store/blobs.ts). */
const blobPath = (id: string) => join(dataDir, 'blobs', id.slice(0, 2), id)

/** The attacker's move: one sealed body copied over another on disk. */
function swap(from: string, over: string): void {
  assert.ok(!from.startsWith('inline-') && !over.startsWith('inline-'))
  copyFileSync(blobPath(from), blobPath(over))
}

/** The outcome of a request: the bytes read, or `status code`. */
async function outcome(send: () => Promise<unknown>): Promise<string | Uint8Array> {
  try {
    const r = await send()
    return r instanceof Uint8Array ? r : 'ok'
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${e.$metadata.httpStatusCode} ${e.name}`
  }
}

async function get(
  s3: S3Client,
  bucket: string,
  key: string,
  extra: { VersionId?: string | undefined; Range?: string } = {},
): Promise<Uint8Array> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }))
  return (await r.Body?.transformToByteArray()) ?? new Uint8Array(0)
}

/** Every read path of the gateway refuses the substituted body with a 500 and no bytes. */
async function everyReadRefused(s3: S3Client, bucket: string, key: string, versionId?: string) {
  const v = versionId === undefined ? {} : { VersionId: versionId }
  assert.equal(await outcome(() => get(s3, bucket, key, v)), '500 InternalError', 'GET')
  assert.equal(
    await outcome(() => get(s3, bucket, key, { ...v, Range: 'bytes=1000-2000' })),
    '500 InternalError',
    'ranged GET',
  )
  assert.equal(
    await outcome(() => get(s3, bucket, key, { ...v, Range: `bytes=-100` })),
    '500 InternalError',
    'suffix GET',
  )
  const source = `${bucket}/${key}${versionId === undefined ? '' : `?versionId=${versionId}`}`
  assert.equal(
    await outcome(() =>
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: `${key}.copy`, CopySource: source })),
    ),
    '500 InternalError',
    'CopyObject',
  )
  assert.equal(
    await outcome(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${key}.copy` }))),
    '404 NotFound',
    'a refused copy leaves nothing behind',
  )
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${key}.mp` }))
  assert.equal(
    await outcome(() =>
      s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: `${key}.mp`,
          UploadId: up.UploadId,
          PartNumber: 1,
          CopySource: source,
        }),
      ),
    ),
    '500 InternalError',
    'UploadPartCopy',
  )
}

describe('blob rollback: a body copied over another on disk is refused, never served', () => {
  it('an older version of the same object copied over the newer one is refused', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'rb-versions' }))
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'rb-versions',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    )
    const v1 = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-versions', Key: 'model.pt', Body: body(1) }),
    )
    const v2 = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-versions', Key: 'model.pt', Body: body(2) }),
    )
    assert.ok(v1.VersionId !== undefined && v2.VersionId !== undefined)
    swap(blobOf('rb-versions', 'model.pt', v1.VersionId), blobOf('rb-versions', 'model.pt'))
    await everyReadRefused(s3, 'rb-versions', 'model.pt')
    await everyReadRefused(s3, 'rb-versions', 'model.pt', v2.VersionId)
    // The older version's own body is untouched and still reads.
    assert.deepEqual(
      Buffer.from(await get(s3, 'rb-versions', 'model.pt', { VersionId: v1.VersionId })),
      body(1),
    )
    s3.destroy()
  })

  it("another object's blob copied over this one is refused", async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'rb-objects' }))
    await s3.send(new PutObjectCommand({ Bucket: 'rb-objects', Key: 'a.bin', Body: body(0xa) }))
    await s3.send(new PutObjectCommand({ Bucket: 'rb-objects', Key: 'b.bin', Body: body(0xb) }))
    swap(blobOf('rb-objects', 'b.bin'), blobOf('rb-objects', 'a.bin'))
    await everyReadRefused(s3, 'rb-objects', 'a.bin')
    assert.deepEqual(Buffer.from(await get(s3, 'rb-objects', 'b.bin')), body(0xb))
    s3.destroy()
  })

  it("another tenant's blob copied over this one is refused", async () => {
    const mine = sdk(alice)
    const theirs = sdk(bob)
    await mine.send(new CreateBucketCommand({ Bucket: 'rb-vision' }))
    await theirs.send(new CreateBucketCommand({ Bucket: 'rb-audio' }))
    await mine.send(new PutObjectCommand({ Bucket: 'rb-vision', Key: 'm.bin', Body: body(0x11) }))
    await theirs.send(new PutObjectCommand({ Bucket: 'rb-audio', Key: 'm.bin', Body: body(0x22) }))
    swap(blobOf('rb-audio', 'm.bin'), blobOf('rb-vision', 'm.bin'))
    await everyReadRefused(mine, 'rb-vision', 'm.bin')
    assert.deepEqual(Buffer.from(await get(theirs, 'rb-audio', 'm.bin')), body(0x22))
    mine.destroy()
    theirs.destroy()
  })

  it('under enforce, the quarantined version copied over the clean one does not reach a reader refused it', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'rb-enforce' }))
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'rb-enforce',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    )
    strongroom(['bucket', 'scan-policy', 'rb-enforce', 'enforce'])
    // Pickles above the inline limit: a list of floats (clean), the same ending in os.system (malicious).
    const floats = () => {
      const b = p().proto(4).emptyList().mark()
      for (let i = 0; i < 40_000; i++) b.float(i)
      return b.appends()
    }
    const clean = floats().stop().done()
    const evil = floats().pop().call('os', 'system', 'id', true).stop().done()
    assert.ok(clean.length > 128 * 1024 && evil.length > 128 * 1024)
    const bad = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-enforce', Key: 'model.pkl', Body: evil }),
    )
    const good = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-enforce', Key: 'model.pkl', Body: clean }),
    )
    assert.ok(bad.VersionId !== undefined && good.VersionId !== undefined)
    // Alice may read the clean version but is refused the quarantined one.
    assert.match(
      String(await outcome(() => get(s3, 'rb-enforce', 'model.pkl', { VersionId: bad.VersionId }))),
      /^403 AccessDenied$/,
    )
    assert.deepEqual(Buffer.from(await get(s3, 'rb-enforce', 'model.pkl')), Buffer.from(clean))
    swap(blobOf('rb-enforce', 'model.pkl', bad.VersionId), blobOf('rb-enforce', 'model.pkl'))
    await everyReadRefused(s3, 'rb-enforce', 'model.pkl')

    // And the other way round: the clean body over the quarantined one does not pass for it either.
    strongroom(['user', 'create', '--tenant', 'vision', 'rb-secops'])
    const doc = policyFile('rb-secops.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion', 'strongroom:GetQuarantinedObject'],
          Resource: 'arn:aws:s3:::rb-enforce/*',
        },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
      ],
    })
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'rb-secops',
      '--name',
      'q',
      '--document',
      doc,
    ])
    const secops = sdk(newKey('vision', 'rb-secops'))
    const badBlob = blobOf('rb-enforce', 'model.pkl', bad.VersionId)
    assert.deepEqual(
      Buffer.from(await get(secops, 'rb-enforce', 'model.pkl', { VersionId: bad.VersionId })),
      Buffer.from(evil),
    )
    await s3.send(new PutObjectCommand({ Bucket: 'rb-enforce', Key: 'fresh.pkl', Body: clean }))
    swap(blobOf('rb-enforce', 'fresh.pkl'), badBlob)
    assert.equal(
      await outcome(() => get(secops, 'rb-enforce', 'model.pkl', { VersionId: bad.VersionId })),
      '500 InternalError',
    )
    secops.destroy()
    s3.destroy()
  })

  it('a row written before header digests were kept still refuses a rolled-back body (by its data-key id)', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'rb-legacy' }))
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'rb-legacy',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    )
    const v1 = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-legacy', Key: 'old.bin', Body: body(3) }),
    )
    await s3.send(new PutObjectCommand({ Bucket: 'rb-legacy', Key: 'old.bin', Body: body(4) }))
    // As a row from before migration 8 looks: no header digest.
    const db = new DatabaseSync(join(dataDir, 'meta.sqlite'))
    try {
      db.prepare("UPDATE objects SET header_sha256 = NULL WHERE bucket = 'rb-legacy'").run()
      db.prepare("UPDATE versions SET header_sha256 = NULL WHERE bucket = 'rb-legacy'").run()
    } finally {
      db.close()
    }
    assert.deepEqual(Buffer.from(await get(s3, 'rb-legacy', 'old.bin')), body(4))
    swap(blobOf('rb-legacy', 'old.bin', v1.VersionId), blobOf('rb-legacy', 'old.bin'))
    assert.equal(await outcome(() => get(s3, 'rb-legacy', 'old.bin')), '500 InternalError')
    s3.destroy()
  })

  it('an inline body (kept in the metadata database) swapped for an older version is refused', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'rb-inline' }))
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'rb-inline',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    )
    const v1 = await s3.send(
      new PutObjectCommand({ Bucket: 'rb-inline', Key: 'small.txt', Body: 'version one' }),
    )
    await s3.send(
      new PutObjectCommand({ Bucket: 'rb-inline', Key: 'small.txt', Body: 'version 2' }),
    )
    const older = blobOf('rb-inline', 'small.txt', v1.VersionId)
    const newer = blobOf('rb-inline', 'small.txt')
    assert.ok(older.startsWith('inline-') && newer.startsWith('inline-'))
    const db = new DatabaseSync(join(dataDir, 'meta.sqlite'))
    try {
      db.prepare(
        'UPDATE inline_bodies SET data = (SELECT data FROM inline_bodies WHERE id = ?) WHERE id = ?',
      ).run(older, newer)
    } finally {
      db.close()
    }
    assert.equal(await outcome(() => get(s3, 'rb-inline', 'small.txt')), '500 InternalError')
    assert.equal(
      Buffer.from(await get(s3, 'rb-inline', 'small.txt', { VersionId: v1.VersionId })).toString(),
      'version one',
    )
    s3.destroy()
  })
})
