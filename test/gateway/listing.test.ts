/**
 * Listing through the in-process gateway: ListObjectsV2 and ListObjects (v1) with prefix,
 * delimiter, pages, start-after, marker and encoding-type=url
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html, API_ListObjects.html).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-listing'
/** In S3's order (UTF-8 bytes): what every listing below is checked against. */
const KEYS = [
  'a.txt',
  'b/1.txt',
  'b/2.txt',
  'b/c/3.txt',
  'b/d/4.txt',
  'e f.txt',
  'logs/2026/01.log',
  'logs/2026/02.log',
  'z.txt',
  'é.txt',
].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
  for (const k of KEYS) await a.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }))
})
after(() => gw.stop())

const keys = (l: { Contents?: { Key?: string | undefined }[] | undefined }) =>
  (l.Contents ?? []).map((o) => o.Key)
const prefixes = (l: { CommonPrefixes?: { Prefix?: string | undefined }[] | undefined }) =>
  (l.CommonPrefixes ?? []).map((p) => p.Prefix)

describe('listing, in process', () => {
  it('ListObjectsV2: every key once, in byte order, with sizes and ETags', async () => {
    const l = await a.send(new ListObjectsV2Command({ Bucket: B }))
    assert.deepEqual(keys(l), KEYS)
    assert.equal(l.KeyCount, KEYS.length)
    assert.equal(l.IsTruncated, false)
    for (const o of l.Contents ?? []) assert.equal(o.Size, Buffer.byteLength(o.Key ?? ''))
  })

  it('pages of 3 with continuation tokens cover every key exactly once', async () => {
    const seen: (string | undefined)[] = []
    let token: string | undefined
    let pages = 0
    for (;;) {
      const page: ListObjectsV2CommandOutput = await a.send(
        new ListObjectsV2Command({ Bucket: B, MaxKeys: 3, ContinuationToken: token }),
      )
      pages++
      seen.push(...keys(page))
      assert.ok((page.KeyCount ?? 0) <= 3)
      if (page.IsTruncated !== true) break
      token = page.NextContinuationToken
      assert.ok(token !== undefined)
    }
    assert.deepEqual(seen, KEYS)
    assert.equal(pages, Math.ceil(KEYS.length / 3))
  })

  it('a delimiter rolls keys up into common prefixes; a prefix narrows it', async () => {
    const top = await a.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/' }))
    assert.deepEqual(keys(top), ['a.txt', 'e f.txt', 'z.txt', 'é.txt'])
    assert.deepEqual(prefixes(top), ['b/', 'logs/'])
    const b = await a.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/', Prefix: 'b/' }))
    assert.deepEqual(keys(b), ['b/1.txt', 'b/2.txt'])
    assert.deepEqual(prefixes(b), ['b/c/', 'b/d/'])
    const none = await a.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'nothing/' }))
    assert.deepEqual([keys(none), none.KeyCount], [[], 0])
  })

  it('common prefixes count toward MaxKeys and are not repeated on the next page', async () => {
    const first = await a.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/', MaxKeys: 2 }))
    assert.deepEqual([keys(first), prefixes(first), first.IsTruncated], [['a.txt'], ['b/'], true])
    const rest = await a.send(
      new ListObjectsV2Command({
        Bucket: B,
        Delimiter: '/',
        ContinuationToken: first.NextContinuationToken,
      }),
    )
    assert.deepEqual(keys(rest), ['e f.txt', 'z.txt', 'é.txt'])
    assert.deepEqual(prefixes(rest), ['logs/'])
  })

  it('with a prefix and a delimiter, a page that ends in a common prefix is truncated only if something else follows', async () => {
    // b/ holds b/1.txt, b/2.txt, b/c/3.txt, b/d/4.txt: with MaxKeys 3 the page is b/1.txt,
    // b/2.txt, b/c/; only b/d/ follows. With MaxKeys 4 nothing does: keys left under the last
    // common prefix neither count nor truncate (ceph s3-tests
    // test_bucket_list_delimiter_prefix; API_ListObjectsV2.html, IsTruncated).
    const page = await a.send(
      new ListObjectsV2Command({ Bucket: B, Prefix: 'b/', Delimiter: '/', MaxKeys: 3 }),
    )
    assert.deepEqual(
      [keys(page), prefixes(page), page.IsTruncated, page.KeyCount],
      [['b/1.txt', 'b/2.txt'], ['b/c/'], true, 3],
    )
    const rest = await a.send(
      new ListObjectsV2Command({
        Bucket: B,
        Prefix: 'b/',
        Delimiter: '/',
        ContinuationToken: page.NextContinuationToken,
      }),
    )
    assert.deepEqual([keys(rest), prefixes(rest), rest.IsTruncated], [[], ['b/d/'], false])
    const all = await a.send(
      new ListObjectsV2Command({ Bucket: B, Prefix: 'b/', Delimiter: '/', MaxKeys: 4 }),
    )
    assert.deepEqual([prefixes(all), all.IsTruncated], [['b/c/', 'b/d/'], false])
    const logs = await a.send(
      new ListObjectsCommand({ Bucket: B, Prefix: 'logs/', Delimiter: '/', MaxKeys: 1 }),
    )
    assert.deepEqual(
      [keys(logs), prefixes(logs), logs.IsTruncated, logs.NextMarker],
      [[], ['logs/2026/'], false, undefined],
    )
  })

  it('an empty continuation-token lists from the start and is echoed (as S3 does)', async () => {
    const r = await gw.call(gw.alice, {
      method: 'GET',
      path: `/${B}?list-type=2&continuation-token=`,
    })
    assert.equal(r.status, 200, r.text)
    assert.match(r.text, /<ContinuationToken><\/ContinuationToken>/)
    assert.equal([...r.text.matchAll(/<Key>/g)].length, KEYS.length)
    const bad = await gw.call(gw.alice, {
      method: 'GET',
      path: `/${B}?list-type=2&continuation-token=bm9wZQ`,
    })
    assert.equal(errorOf(bad.text).Code, 'InvalidArgument')
  })

  it('StartAfter starts after a key that need not exist', async () => {
    const l = await a.send(new ListObjectsV2Command({ Bucket: B, StartAfter: 'b/c' }))
    assert.deepEqual(
      keys(l),
      KEYS.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('b/c')) > 0),
    )
  })

  it('ListObjects (v1): Marker, and NextMarker only when a delimiter is given', async () => {
    const p1 = await a.send(new ListObjectsCommand({ Bucket: B, MaxKeys: 4 }))
    assert.deepEqual(keys(p1), KEYS.slice(0, 4))
    assert.equal(p1.IsTruncated, true)
    assert.equal(p1.NextMarker, undefined)
    const p2 = await a.send(new ListObjectsCommand({ Bucket: B, Marker: KEYS[3] }))
    assert.deepEqual(keys(p2), KEYS.slice(4))
    const d = await a.send(new ListObjectsCommand({ Bucket: B, Delimiter: '/', MaxKeys: 2 }))
    assert.deepEqual(
      [keys(d), prefixes(d), d.IsTruncated, d.NextMarker],
      [['a.txt'], ['b/'], true, 'b/'],
    )
  })

  it('encoding-type=url percent-encodes keys in the XML (the JS SDK v3 leaves them encoded)', async () => {
    const r = await gw.call(gw.alice, {
      method: 'GET',
      path: `/${B}?list-type=2&encoding-type=url&prefix=e`,
    })
    assert.equal(r.status, 200)
    assert.match(r.text, /<Key>e%20f.txt<\/Key>/)
    assert.match(r.text, /<EncodingType>url<\/EncodingType>/)
    const sdk = await a.send(
      new ListObjectsV2Command({ Bucket: B, Prefix: 'é', EncodingType: 'url' }),
    )
    assert.deepEqual(keys(sdk), ['%C3%A9.txt'])
    // Prefixes, common prefixes and the delimiter are encoded too; '+' is %2B, a space %20.
    const enc = await a.send(
      new ListObjectsV2Command({ Bucket: B, Delimiter: ' ', EncodingType: 'url' }),
    )
    assert.deepEqual(prefixes(enc), ['e%20'])
    assert.equal(enc.Delimiter, '%20')
  })

  it('encoding-type=url carries keys with control characters that XML 1.0 cannot', async () => {
    const Bucket = 'gw-listing-controls'
    await a.send(new CreateBucketCommand({ Bucket }))
    await a.send(new PutObjectCommand({ Bucket, Key: 'x\u0001+y', Body: '' }))
    const r = await gw.call(gw.alice, { method: 'GET', path: `/${Bucket}?encoding-type=url` })
    assert.match(r.text, /<Key>x%01%2By<\/Key>/)
  })

  it('max-keys that is not a number from 0 up is InvalidArgument; 0 lists nothing', async () => {
    const bad = await gw.call(gw.alice, { method: 'GET', path: `/${B}?list-type=2&max-keys=-1` })
    assert.deepEqual([bad.status, errorOf(bad.text).Code], [400, 'InvalidArgument'])
    const zero = await a.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 0 }))
    assert.deepEqual([keys(zero), zero.KeyCount], [[], 0])
  })

  it('another tenant cannot list the bucket', async () => {
    const r = await gw.call(gw.bob, { method: 'GET', path: `/${B}?list-type=2` })
    assert.deepEqual([r.status, errorOf(r.text).Code], [403, 'AccessDenied'])
    assert.doesNotMatch(r.text, /a\.txt/)
  })
})
