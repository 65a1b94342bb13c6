/**
 * Every delete path of the SQLite store against its foreign keys: a bucket
 * that still holds an unfinished multipart upload (with or without parts),
 * versions, delete markers, tags, verdicts or inline bodies is reported as
 * not empty, never as a constraint failure, and once emptied it deletes and
 * leaves no row behind (data keys and inline bodies shredded with their
 * versions). A random sequence of writes and deletes never fails on a
 * constraint and leaves `PRAGMA foreign_key_check` clean.
 * S3 counts unfinished multipart uploads as content that must be aborted
 * before the bucket can go
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/directory-bucket-empty.html).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { createTenant } from '../../identity/tenants.ts'
import { LocalKms } from '../../kms/local.ts'
import { ALL_BLOCKED, type ObjectRecord, type ScanRecord, type Versioning } from '../objects.ts'
import { SqliteMetadataStore } from './store.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-delete-'))
after(() => rmSync(dir, { recursive: true, force: true }))

let fixtures = 0

async function fixture() {
  const path = join(dir, `${String(++fixtures)}.sqlite`)
  const store = SqliteMetadataStore.open(path, { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
  const tenant = await createTenant(store, 'vision')
  const key = await kms.createKey(tenant, { alias: 'models' })
  const bucket = (name: string) =>
    store.createBucket({
      name,
      tenantId: tenant.id,
      keyId: key.id,
      policy: null,
      createdAt: 1,
      versioning: 'Unversioned',
      publicAccessBlock: ALL_BLOCKED,
      scanPolicy: 'report',
    })
  await bucket('b')
  const wk = { keyId: key.id, keyVersion: 1, wrapped: Buffer.alloc(8), tenantId: tenant.id }
  let n = 0
  /** A version (or a delete marker) of `k`; small ones inline, as the object service writes them. */
  const put = async (k: string, mode: Versioning, marker = false, small = false) => {
    n++
    const inline = small && !marker
    const versionId = mode === 'Enabled' ? n.toString(16).padStart(32, '0') : 'null'
    const o: ObjectRecord = {
      bucket: 'b',
      key: k,
      versionId,
      deleteMarker: marker,
      size: marker ? 0 : n,
      etag: marker ? '' : `"${String(n)}"`,
      contentType: null,
      metadata: {},
      tags: marker ? [] : [['team', 'vision']],
      checksums: {},
      blob: marker ? '' : `${inline ? 'inline-' : ''}blob-${String(n)}`,
      dataKeyId: marker ? '' : `dk-${String(n)}`,
      keyId: marker ? '' : key.id,
      createdAt: n,
      scan: null,
    }
    await store.putObject(o, marker ? undefined : wk, mode, inline ? Buffer.alloc(4) : undefined)
    return versionId
  }
  const verdict: ScanRecord = {
    verdict: 'malicious',
    format: 'pickle',
    rules: '1',
    at: 1,
    findings: [],
  }
  const upload = async (id: string, parts: number) => {
    await store.createUpload({
      id,
      bucket: 'b',
      key: 'big',
      contentType: null,
      metadata: {},
      tags: [],
      keyId: key.id,
      createdAt: 1,
    })
    for (let p = 1; p <= parts; p++)
      await store.putPart(
        {
          uploadId: id,
          number: p,
          size: 1,
          etag: '"e"',
          blob: `${id}-part-${String(p)}`,
          dataKeyId: `${id}-dk-${String(p)}`,
          createdAt: 1,
        },
        wk,
      )
  }
  /** Rows left in each table, read through a second connection. */
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
        objectKeys: count('object_keys'),
        inlineBodies: count('inline_bodies'),
        foreignKeyErrors: db.prepare('PRAGMA foreign_key_check').all().length,
      }
    } finally {
      db.close()
    }
  }
  return { store, tenant, bucket, put, upload, verdict, rows }
}

const EMPTY = {
  objects: 0,
  versions: 0,
  uploads: 0,
  parts: 0,
  objectKeys: 0,
  inlineBodies: 0,
  foreignKeyErrors: 0,
}

describe('delete paths of the SQLite store', () => {
  it('a bucket with an unfinished upload that has parts is not empty (no FOREIGN KEY failure), then deletes once it is aborted', async () => {
    const { store, upload, rows } = await fixture()
    await upload('u1', 2)
    assert.equal(await store.deleteBucket('b', 10), 'uploads')
    assert.ok(await store.getBucket('b'), 'nothing was deleted')
    assert.equal((await store.deleteUpload('u1')).length, 2)
    assert.equal(await store.deleteBucket('b', 10), 'deleted')
    assert.equal(await store.getBucket('b'), undefined)
    assert.deepEqual(rows(), EMPTY, "the parts' data keys are shredded with them")
  })

  it('a bucket with an unfinished upload without parts is not empty either', async () => {
    const { store, upload } = await fixture()
    await upload('u1', 0)
    assert.equal(await store.deleteBucket('b', 10), 'uploads')
    await store.deleteUpload('u1')
    assert.equal(await store.deleteBucket('b', 10), 'deleted')
  })

  it('versions, delete markers, tags, verdicts and inline bodies: not empty until the last version goes, then nothing is left', async () => {
    const { store, put, verdict, rows } = await fixture()
    await put('a', 'Unversioned', false, true)
    const v1 = await put('a', 'Enabled')
    await store.setObjectScan('b', 'a', v1, verdict)
    const m = await put('a', 'Enabled', true)
    await put('c', 'Enabled', false, true)
    await store.setObjectTags('b', 'a', v1, [['k', 'v']])
    assert.equal(await store.deleteBucket('b', 10), 'objects')
    assert.equal(await store.deleteObject('b', 'a', m).then((o) => o?.deleteMarker), true)
    assert.equal(await store.deleteBucket('b', 10), 'objects')
    for (const v of await store.listVersions('b', '', '', undefined, 100))
      assert.ok(await store.deleteObject('b', v.key, v.versionId))
    assert.equal(await store.deleteBucket('b', 10), 'deleted')
    assert.deepEqual(rows(), EMPTY)
  })

  it('deleting a bucket holds its name for its tenant; creating it again ends the hold', async () => {
    const { store, tenant, bucket } = await fixture()
    assert.equal(await store.bucketHold('b'), undefined)
    assert.equal(await store.deleteBucket('b', 1234), 'deleted')
    assert.deepEqual(await store.bucketHold('b'), {
      name: 'b',
      tenantId: tenant.id,
      deletedAt: 1234,
    })
    assert.equal(await store.deleteBucket('b', 99), 'deleted', 'a bucket already gone is gone')
    assert.equal((await store.bucketHold('b'))?.deletedAt, 1234)
    await bucket('b')
    assert.equal(await store.bucketHold('b'), undefined)
  })

  it('any sequence of writes and deletes keeps every foreign key, and an emptied bucket always deletes', async () => {
    type Op =
      | { op: 'put'; key: string; mode: Versioning; marker: boolean; inline: boolean }
      | { op: 'delete'; key: string; nth: number | undefined }
      | { op: 'tag'; key: string }
      | { op: 'scan'; key: string }
      | { op: 'upload'; parts: number }
      | { op: 'abort'; nth: number }
      | { op: 'deleteBucket' }
    const key = fc.constantFrom('a', 'b/c', 'd')
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('put' as const),
        key,
        mode: fc.constantFrom<Versioning>('Unversioned', 'Enabled', 'Suspended'),
        marker: fc.boolean(),
        inline: fc.boolean(),
      }),
      fc.record({
        op: fc.constant('delete' as const),
        key,
        nth: fc.option(fc.nat(4), { nil: undefined }),
      }),
      fc.record({ op: fc.constant('tag' as const), key }),
      fc.record({ op: fc.constant('scan' as const), key }),
      fc.record({ op: fc.constant('upload' as const), parts: fc.nat(3) }),
      fc.record({ op: fc.constant('abort' as const), nth: fc.nat(3) }),
      fc.record({ op: fc.constant('deleteBucket' as const) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        const f = await fixture()
        const { store } = f
        let uploads: string[] = []
        let u = 0
        let gone = false
        for (const o of ops) {
          if (gone) break
          switch (o.op) {
            case 'put':
              await f.put(o.key, o.mode, o.marker, o.inline)
              break
            case 'delete': {
              const vs = (await store.listVersions('b', o.key, '', undefined, 100)).filter(
                (v) => v.key === o.key,
              )
              const v = o.nth === undefined ? undefined : vs[o.nth % Math.max(1, vs.length)]
              await store.deleteObject('b', o.key, v?.versionId)
              break
            }
            case 'tag':
              await store.setObjectTags('b', o.key, undefined, [['t', 'x']])
              break
            case 'scan': {
              const cur = await store.getObject('b', o.key)
              if (cur !== undefined) await store.setObjectScan('b', o.key, cur.versionId, f.verdict)
              break
            }
            case 'upload':
              await f.upload(`u${String(++u)}`, o.parts)
              uploads.push(`u${String(u)}`)
              break
            case 'abort': {
              const id = uploads[o.nth % Math.max(1, uploads.length)]
              if (id !== undefined) {
                await store.deleteUpload(id)
                uploads = uploads.filter((x) => x !== id)
              }
              break
            }
            case 'deleteBucket': {
              const r = await store.deleteBucket('b', 5)
              const left = f.rows()
              if (left.objects + left.versions > 0) assert.equal(r, 'objects')
              else if (left.uploads > 0) assert.equal(r, 'uploads')
              else {
                assert.equal(r, 'deleted')
                gone = true
              }
              break
            }
          }
          assert.equal(f.rows().foreignKeyErrors, 0)
        }
        if (!gone) {
          // Empty it as a client would: every version and marker, every upload.
          for (const v of await store.listVersions('b', '', '', undefined, 1000))
            await store.deleteObject('b', v.key, v.versionId)
          for (const id of uploads) await store.deleteUpload(id)
          assert.equal(await store.deleteBucket('b', 5), 'deleted')
        }
        assert.deepEqual(f.rows(), EMPTY)
        await store.close()
      }),
      { numRuns: 40 },
    )
  })
})
