/** The S3 blob store's settings; its behaviour against a real RGW is test/ceph/blobs.test.ts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { S3BlobStore } from './blobs.ts'
import { parseBlobsUrl } from './url.ts'

describe('parseBlobsUrl', () => {
  it('takes a bucket and an optional prefix, which always ends in one slash', () => {
    assert.deepEqual(parseBlobsUrl('s3://strongroom-blobs'), {
      bucket: 'strongroom-blobs',
      prefix: '',
    })
    assert.deepEqual(parseBlobsUrl('s3://b-1.x/a/b/'), { bucket: 'b-1.x', prefix: 'a/b/' })
    assert.deepEqual(parseBlobsUrl('s3://bkt//p//'), { bucket: 'bkt', prefix: 'p/' })
  })

  it('refuses what is not a bucket name, and prefixes that climb or hold odd characters', () => {
    for (const bad of [
      'http://b/x',
      's3://',
      's3://B',
      's3://a',
      's3://b/../x',
      's3://b/x y',
      's3://b?x=1',
      's3://b/a\0',
    ])
      assert.equal(parseBlobsUrl(bad), undefined, bad)
  })

  it('refuses to build a store on a URL it cannot read, or parts below S3’s 5 MiB', () => {
    assert.throws(
      () => new S3BlobStore({ url: 's3://UPPER', region: 'us-east-1' }),
      (e) => isStrongroomError(e, 'CONFIG_INVALID'),
    )
    assert.throws(
      () => new S3BlobStore({ url: 's3://bkt', region: 'us-east-1', partSize: 1 << 20 }),
      (e) => isStrongroomError(e, 'CONFIG_INVALID'),
    )
  })
})
