/**
 * The object service on the real SQLite metadata store and an in-memory
 * BlobStore: writes, reads and ranges, deletes that shred, bodies that do not
 * match their request's declarations (refused with a typed error, nothing
 * left behind), and multipart objects kept as their parts: ranges across part
 * boundaries equal the concatenation of the parts (property test), Complete
 * writes no blob, and deleting or aborting removes every part blob and key.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { fixedClock } from '../clock.ts'
import { isStrongroomError, type ErrorCode } from '../errors.ts'
import { createTenant } from '../identity/tenants.ts'
import { LocalKms } from '../kms/local.ts'
import {
  ALL_BLOCKED,
  type BucketRecord,
  type PartRecord,
  type ScanPolicy,
  type UploadRecord,
  type Versioning,
} from '../meta/objects.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { newChecksum } from './checksums.ts'
import { MemoryBlobStore } from './memory-blobs.ts'
import { ObjectService, type BodyExpectation } from './objects.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-objects-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let fixtures = 0

/** A fresh store, KMS, tenant and bucket; small segments so that bodies span many. */
async function fixture(
  options: { versioning?: Versioning; scanPolicy?: ScanPolicy; segment?: number } = {},
) {
  const path = join(dir, `${String(++fixtures)}.sqlite`)
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
    versioning: options.versioning ?? 'Unversioned',
    publicAccessBlock: ALL_BLOCKED,
    scanPolicy: options.scanPolicy ?? 'off',
  }
  await store.createBucket(bucket)
  const blobs = new MemoryBlobStore()
  const clock = fixedClock(1_700_000_000_000)
  const objects = new ObjectService({
    meta: store,
    blobs,
    provider: kms,
    keys: kms,
    clock,
    segmentSize: options.segment ?? 64,
  })
  const put = (k: string, body: Buffer, expect: Partial<BodyExpectation> = {}) =>
    objects.put({
      bucket,
      tenant,
      key: k,
      body: chunks(body),
      expect: { length: body.length, ...expect },
      contentType: null,
      metadata: {},
      tags: [],
    })
  let uploads = 0
  const upload = async (k: string): Promise<UploadRecord> => {
    const u: UploadRecord = {
      id: `upload-${String(++uploads)}`,
      bucket: 'b',
      key: k,
      contentType: 'application/x-model',
      metadata: { team: 'vision' },
      tags: [],
      keyId: key.id,
      createdAt: 1,
    }
    await store.createUpload(u)
    return u
  }
  const part = (u: UploadRecord, n: number, body: Buffer) =>
    objects.putPart(u, tenant, n, chunks(body), { length: body.length })
  /** Reads a version's plaintext [first, last] through the service. */
  const read = async (k: string, first?: number, last?: number, versionId?: string) => {
    const o = await store.getObject('b', k, versionId)
    assert.ok(o !== undefined && !o.deleteMarker, `no object ${k}`)
    const opened = await objects.open(o)
    try {
      if (o.size === 0) return Buffer.alloc(0)
      const out: Buffer[] = []
      for await (const c of opened.object.range(first ?? 0, last ?? o.size - 1)) out.push(c)
      return Buffer.concat(out)
    } finally {
      await opened.close()
    }
  }
  const rows = () => {
    const db = new DatabaseSync(path, { readOnly: true })
    try {
      const count = (t: string) =>
        (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n
      return {
        objects: count('objects'),
        versions: count('versions'),
        uploads: count('uploads'),
        parts: count('parts'),
        objectParts: count('object_parts'),
        objectKeys: count('object_keys'),
        inlineBodies: count('inline_bodies'),
      }
    } finally {
      db.close()
    }
  }
  return { store, kms, clock, tenant, bucket, blobs, objects, put, upload, part, read, rows }
}

/** The body in uneven chunks, as a socket delivers it. */
function* chunks(body: Buffer): Generator<Uint8Array> {
  for (let off = 0, n = 1; off < body.length; off += n, n = (n * 3 + 7) % 1000) {
    yield body.subarray(off, off + n)
  }
}

async function refusal(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p
  } catch (e) {
    assert.ok(isStrongroomError(e), String(e))
    return e.code
  }
  assert.fail('expected a refusal')
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest()
const BIG = 200 * 1024 // above INLINE_MAX: a blob

describe('ObjectService: single bodies', () => {
  it('puts, opens, reads ranges and deletes, inline and as a blob', async () => {
    const f = await fixture()
    for (const size of [0, 1, 100, BIG]) {
      const body = randomBytes(size)
      const o = await f.put(`k${size}`, body)
      assert.equal(o.etag, `"${md5(body).toString('hex')}"`)
      assert.equal(o.size, size)
      assert.deepEqual(await f.read(`k${size}`), body)
      if (size > 10) assert.deepEqual(await f.read(`k${size}`, 3, size - 5), body.subarray(3, -4))
    }
    assert.equal((await f.blobs.list()).length, 1, 'only the large body is a blob')
    assert.deepEqual(f.rows().objectKeys, 4)
    const blob = (await f.store.getObject('b', `k${BIG}`))?.blob ?? ''
    await f.objects.delete(f.bucket, `k${BIG}`)
    assert.equal(f.blobs.get(blob), undefined)
    assert.equal(f.rows().objectKeys, 3)
  })

  it('records verified checksums and refuses each kind of mismatch, leaving nothing behind', async () => {
    const f = await fixture()
    const body = randomBytes(BIG)
    const crc = newChecksum('crc32c')
    crc.update(body)
    const sha = createHash('sha256').update(body).digest('hex')
    const ok = await f.put('ok', body, {
      md5: md5(body),
      sha256: sha,
      checksums: new Map([['x-amz-checksum-crc32c', crc.digest()]]),
    })
    assert.deepEqual(Object.keys(ok.checksums), ['x-amz-checksum-crc32c'])
    const before = { rows: f.rows(), blobs: (await f.blobs.list()).map((b) => b.id).sort() }
    const cases: [Partial<BodyExpectation>, ErrorCode][] = [
      [{ length: BIG + 1 }, 'LENGTH_MISMATCH'],
      [{ length: BIG - 1 }, 'LENGTH_MISMATCH'],
      [{ md5: md5(Buffer.from('other')) }, 'BAD_DIGEST'],
      [{ sha256: 'ab'.repeat(32) }, 'CONTENT_SHA256_MISMATCH'],
      [{ checksums: new Map([['x-amz-checksum-crc32', 'AAAAAA==']]) }, 'CHECKSUM_MISMATCH'],
      [{ checksums: new Map([['x-amz-checksum-sha1', undefined]]) }, 'CHECKSUM_MISSING'],
      [
        {
          checksums: new Map([['x-amz-checksum-crc32c', undefined]]),
          trailers: () => new Map([['x-amz-checksum-crc32c', 'AAAAAA==']]),
        },
        'CHECKSUM_MISMATCH',
      ],
    ]
    for (const small of [false, true]) {
      const b = small ? body.subarray(0, 1000) : body
      for (const [expect, code] of cases) {
        const e = { ...expect }
        if (small && e.length !== undefined) e.length = e.length - BIG + 1000
        assert.equal(await refusal(f.put('bad', b, e)), code, JSON.stringify([small, code]))
      }
    }
    assert.deepEqual(
      { rows: f.rows(), blobs: (await f.blobs.list()).map((b) => b.id).sort() },
      before,
    )
    assert.equal(await f.store.getObject('b', 'bad'), undefined)
    // A trailer that arrives with the right value is accepted.
    const good = await f.put('trailed', body, {
      checksums: new Map([['x-amz-checksum-crc32c', undefined]]),
      trailers: () =>
        new Map([['x-amz-checksum-crc32c', ok.checksums['x-amz-checksum-crc32c'] ?? '']]),
    })
    assert.deepEqual(good.checksums, ok.checksums)
  })
})

describe('ObjectService: multipart objects keep their parts', () => {
  it('Complete writes no blob; ranges across part boundaries equal the concatenation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 12 }),
        async (sizes, ranges) => {
          const f = await fixture()
          const u = await f.upload('model.bin')
          const bodies = sizes.map((n) => randomBytes(n))
          const parts: PartRecord[] = []
          for (const [i, b] of bodies.entries()) parts.push(await f.part(u, i + 1, b))
          const blobs = (await f.blobs.list()).map((b) => b.id).sort()
          const o = await f.objects.complete(u, f.bucket, f.tenant, parts)
          assert.deepEqual(
            (await f.blobs.list()).map((b) => b.id).sort(),
            blobs,
            'Complete writes no blob',
          )
          const whole = Buffer.concat(bodies)
          const etag = createHash('md5')
            .update(Buffer.concat(bodies.map(md5)))
            .digest('hex')
          assert.equal(o.etag, `"${etag}-${sizes.length}"`)
          assert.equal(o.size, whole.length)
          assert.deepEqual(await f.read('model.bin'), whole)
          for (const [x, y] of ranges) {
            if (whole.length === 0) break
            const a = x % whole.length
            const b = a + (y % (whole.length - a))
            assert.deepEqual(await f.read('model.bin', a, b), whole.subarray(a, b + 1))
          }
          const r = f.rows()
          assert.deepEqual([r.uploads, r.parts, r.objectParts], [0, 0, sizes.length])
          await f.store.close()
        },
      ),
      { numRuns: 25 },
    )
  })

  it('a part re-uploaded or left out is removed at Complete; delete removes every part blob and key', async () => {
    const f = await fixture({ versioning: 'Enabled' })
    const u = await f.upload('m')
    const p1 = await f.part(u, 1, randomBytes(300))
    const first2 = await f.part(u, 2, randomBytes(300))
    const p2 = await f.part(u, 2, randomBytes(200))
    const p3 = await f.part(u, 3, randomBytes(10))
    assert.equal(f.blobs.get(first2.blob), undefined, 'the replaced part is gone')
    const o = await f.objects.complete(u, f.bucket, f.tenant, [p1, p2])
    assert.equal(f.blobs.get(p3.blob), undefined, 'the part left out is gone')
    assert.deepEqual((await f.blobs.list()).map((b) => b.id).sort(), [p1.blob, p2.blob].sort())
    assert.equal(f.rows().objectKeys, 2)
    // A newer version on top; the multipart one stays readable as noncurrent.
    await f.put('m', randomBytes(BIG))
    assert.equal((await f.read('m', 0, 9, o.versionId)).length, 10)
    await f.objects.delete(f.bucket, 'm', o.versionId)
    assert.equal(f.blobs.get(p1.blob), undefined)
    assert.equal(f.blobs.get(p2.blob), undefined)
    const r = f.rows()
    assert.deepEqual([r.objectParts, r.objectKeys, r.versions, r.objects], [0, 1, 0, 1])
    assert.equal(await f.objects.removeOrphans(), 0)
  })

  it('an unversioned overwrite removes the parts of the object it replaces; abort removes an upload', async () => {
    const f = await fixture()
    const u = await f.upload('m')
    const parts = [await f.part(u, 1, randomBytes(100)), await f.part(u, 2, randomBytes(50))]
    await f.objects.complete(u, f.bucket, f.tenant, parts)
    assert.equal(await f.objects.removeOrphans(), 0, 'the parts are named by object_parts')
    const v = await f.upload('m')
    const q = await f.part(v, 1, randomBytes(70))
    await f.objects.abort(v)
    assert.equal(f.blobs.get(q.blob), undefined)
    await f.put('m', randomBytes(BIG))
    for (const p of parts) assert.equal(f.blobs.get(p.blob), undefined)
    const r = f.rows()
    assert.deepEqual([r.objectParts, r.objectKeys, r.uploads, r.parts], [0, 1, 0, 0])
  })

  it('a part changed after validation (re-uploaded meanwhile) fails Complete and changes nothing', async () => {
    const f = await fixture()
    const u = await f.upload('m')
    const p1 = await f.part(u, 1, randomBytes(100))
    await f.part(u, 1, randomBytes(100))
    assert.equal(await refusal(f.objects.complete(u, f.bucket, f.tenant, [p1])), 'INTERNAL')
    assert.equal(await f.store.getObject('b', 'm'), undefined)
    assert.deepEqual([f.rows().uploads, f.rows().parts], [1, 1])
  })

  it('a part blob replaced in the blob store fails every range that covers it before any byte (BLOB_MISMATCH)', async () => {
    const f = await fixture()
    const u = await f.upload('m')
    const bodies = [randomBytes(300), randomBytes(300), Buffer.alloc(0)]
    const parts: PartRecord[] = []
    for (const [i, b] of bodies.entries()) parts.push(await f.part(u, i + 1, b))
    const other = await f.upload('n')
    const stranger = await f.part(other, 3, Buffer.alloc(0))
    await f.objects.complete(u, f.bucket, f.tenant, parts)
    const [p1, p2, p3] = parts
    assert.ok(p1 !== undefined && p2 !== undefined && p3 !== undefined)
    const bytesBeforeFailure = async (first: number, last: number) => {
      const got: Buffer[] = []
      try {
        const o = await f.store.getObject('b', 'm')
        assert.ok(o)
        const opened = await f.objects.open(o)
        try {
          for await (const c of opened.object.range(first, last)) got.push(c)
        } finally {
          await opened.close()
        }
      } catch (e) {
        assert.ok(isStrongroomError(e, 'BLOB_MISMATCH'), String(e))
        return Buffer.concat(got).length
      }
      return 'read'
    }
    // Part 2's blob replaced by part 1's: ranges touching part 2 fail before any byte, others read.
    const original = f.blobs.get(p2.blob)
    assert.ok(original)
    f.blobs.set(p2.blob, f.blobs.get(p1.blob) ?? Buffer.alloc(0))
    assert.equal(await bytesBeforeFailure(0, 599), 0)
    assert.equal(await bytesBeforeFailure(290, 310), 0)
    assert.equal(await bytesBeforeFailure(0, 299), 'read')
    f.blobs.set(p2.blob, original)
    assert.equal(await bytesBeforeFailure(0, 599), 'read')
    // The empty last part replaced by another upload's empty part: a range reaching the end fails.
    f.blobs.set(p3.blob, f.blobs.get(stranger.blob) ?? Buffer.alloc(0))
    assert.equal(await bytesBeforeFailure(500, 599), 0)
    assert.equal(await bytesBeforeFailure(0, 598), 'read')
  })

  it('scans the assembled parts (read back by the scan worker above the in-memory size)', async () => {
    const f = await fixture({ scanPolicy: 'report', segment: 64 * 1024 })
    const u = await f.upload('m.bin')
    const parts = [
      await f.part(u, 1, randomBytes(700 * 1024)),
      await f.part(u, 2, randomBytes(700 * 1024)),
    ]
    const o = await f.objects.complete(u, f.bucket, f.tenant, parts)
    assert.ok(o.scan !== null)
    assert.equal((await f.store.getObject('b', 'm.bin'))?.scan?.verdict, o.scan.verdict)
    // As the CLI rescans: a listed record, which does not carry its parts (the service loads them).
    const [listed] = await f.store.listVersions('b', '', '', undefined, 10)
    assert.ok(listed !== undefined && listed.parts === undefined)
    const again = await f.objects.rescan(listed)
    assert.equal(again.verdict, o.scan.verdict)
  })

  it('takes every time it records from its clock: objects, parts, delete markers, scans', async () => {
    const f = await fixture({ scanPolicy: 'report', versioning: 'Enabled' })
    f.clock.set(1_800_000_000_000)
    const o = await f.put('small', randomBytes(10))
    assert.equal(o.createdAt, 1_800_000_000_000)
    assert.equal(o.scan?.at, 1_800_000_000_000)
    f.clock.advance(5)
    const u = await f.upload('m.bin')
    const part = await f.part(u, 1, randomBytes(100))
    assert.equal(part.createdAt, 1_800_000_000_005)
    assert.equal((await f.store.listParts(u.id))[0]?.createdAt, 1_800_000_000_005)
    f.clock.advance(5)
    const done = await f.objects.complete(u, f.bucket, f.tenant, [part])
    assert.equal(done.createdAt, 1_800_000_000_010)
    assert.equal(done.scan?.at, 1_800_000_000_010)
    f.clock.advance(5)
    const rescanned = await f.objects.rescan(done)
    assert.equal(rescanned.at, 1_800_000_000_015)
    await f.objects.delete(f.bucket, 'small')
    assert.equal((await f.store.getObject('b', 'small'))?.createdAt, 1_800_000_000_015)
  })
})
