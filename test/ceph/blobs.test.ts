/**
 * The S3 blob store against a real Ceph RGW: the BlobStore conformance suite the filesystem
 * store passes, ranged reads that fetch only what they cover, the backend's own Content-MD5
 * check, and a backend that goes away (503 SERVICE_UNAVAILABLE, bounded, then recovery).
 * Uses the RGW that STRONGROOM_TEST_RGW_* name (scripts/with-rgw.ts), else starts one.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { isStrongroomError } from '../../src/errors.ts'
import { newBlobId } from '../../src/store/blobs.ts'
import { blobStoreConformance } from '../../src/store/conformance/blobs.ts'
import { S3BlobStore } from '../../src/store/s3/blobs.ts'
import { NEEDS_CEPH, rgwFromEnv, startRgw, type Rgw } from './server.ts'

const own: Rgw | undefined = rgwFromEnv() === undefined ? await startRgw() : undefined
const service =
  rgwFromEnv() ??
  (own === undefined
    ? undefined
    : {
        endpoint: own.endpoint,
        credentials: { accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey },
      })

if (service === undefined) {
  it('S3 blob store on Ceph RGW', { skip: NEEDS_CEPH }, () => {})
} else {
  after(() => own?.stop())
  const admin = new S3Client({ ...service, region: 'us-east-1', forcePathStyle: true })
  after(() => admin.destroy())
  const bucket = `blobs-${randomBytes(4).toString('hex')}`
  await admin.send(new CreateBucketCommand({ Bucket: bucket }))
  let n = 0
  const store = (prefix = `t${String(++n)}`) =>
    new S3BlobStore({
      url: `s3://${bucket}/${prefix}`,
      region: 'us-east-1',
      partSize: 5 << 20,
      ...service,
    })

  blobStoreConformance('S3 (Ceph RGW)', () => {
    const prefix = `c${String(++n)}`
    const s = store(prefix)
    return Promise.resolve({
      store: s,
      // Three parts of 5 MiB and a tail: the multipart path.
      large: (15 << 20) + 4321,
      // A key beside the prefix's blobs that is not a blob id, and one in another prefix.
      stray: async () => {
        await admin.send(
          new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/not-a-blob`, Body: 'x' }),
        )
        await admin.send(
          new PutObjectCommand({ Bucket: bucket, Key: `${prefix}x/${newBlobId()}`, Body: 'x' }),
        )
      },
      close: () => {
        s.close()
        return Promise.resolve()
      },
    })
  })

  describe('S3 blob store on Ceph RGW', () => {
    it('fetches only the bytes a range covers, and reads ahead while reads stay sequential', async () => {
      const s = store()
      const id = newBlobId()
      const data = randomBytes(20 << 20)
      await s.put(id, Readable.from([data]))
      s.fetched = 0
      const blob = await s.open(id)
      assert.equal(blob.size, data.length)
      assert.ok(
        Buffer.from(await blob.read(10 << 20, 100)).equals(
          data.subarray(10 << 20, (10 << 20) + 100),
        ),
      )
      // The open's first window (64 KiB: the header) and one 64 KiB read at the range.
      assert.equal(s.fetched, 128 * 1024)
      s.fetched = 0
      let requests = 0
      for (let p = 0; p < data.length; p += 1 << 16) {
        const before = s.fetched
        const got = await blob.read(p, 1 << 16)
        assert.ok(Buffer.from(got).equals(data.subarray(p, p + (1 << 16))))
        if (s.fetched > before) requests++
      }
      // 320 reads of 64 KiB, in windows that double from 64 KiB to 8 MiB: nine GETs.
      assert.ok(requests <= 10, `${String(requests)} GETs for a sequential read of 20 MiB`)
      assert.ok(s.fetched < 2 * data.length)
      await blob.close()
      s.close()
    })

    it('lets the backend refuse a body whose Content-MD5 does not match (BadDigest)', async () => {
      await assert.rejects(
        admin.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'md5-check',
            Body: 'the bytes',
            ContentMD5: Buffer.alloc(16).toString('base64'),
          }),
        ),
        (e: Error) => e.name === 'BadDigest',
      )
    })

    it('answers SERVICE_UNAVAILABLE, within seconds, while the backend cannot be reached', async () => {
      const s = new S3BlobStore({
        url: `s3://${bucket}/down`,
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:9',
        credentials: service.credentials,
      })
      const started = Date.now()
      await assert.rejects(s.put(newBlobId(), Readable.from([Buffer.from('x')])), (e) =>
        isStrongroomError(e, 'SERVICE_UNAVAILABLE'),
      )
      await assert.rejects(s.open(newBlobId()), (e) => isStrongroomError(e, 'SERVICE_UNAVAILABLE'))
      assert.ok(Date.now() - started < 20_000)
      s.close()
    })

    it('says a bucket that does not exist is a backend problem, not a missing blob', async () => {
      const s = new S3BlobStore({
        url: 's3://no-such-bucket-here',
        region: 'us-east-1',
        ...service,
      })
      await assert.rejects(
        s.open(newBlobId()),
        (e) => isStrongroomError(e, 'SERVICE_UNAVAILABLE') && /NoSuchBucket/.test(e.message),
      )
      s.close()
    })
  })
}
