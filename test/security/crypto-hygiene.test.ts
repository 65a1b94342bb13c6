/**
 * Crypto hygiene from the outside cryptographic review (issue 9, item 15):
 * separate keys derived from the root key for sealing and for the check value,
 * authenticated scrypt parameters, a nonce budget per tenant-key version, and
 * the empty object's tag verified on every read path. Real CLI, real SQLite,
 * real gateway (test/e2e/harness.ts) with the AWS SDK for JavaScript.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import { createTenant } from '../../src/identity/tenants.ts'
import { newDataKey, storedDataKey } from '../../src/kms/envelope.ts'
import { LocalKms, MAX_WRAPS_PER_VERSION } from '../../src/kms/local.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import { alice, BIN, dataDir, sdk, start, stop } from '../e2e/harness.ts'

const tmp = mkdtempSync(join(tmpdir(), 'sr-hygiene-'))
before(() => start())
after(async () => {
  rmSync(tmp, { recursive: true, force: true })
  await stop()
})

const ROOT = Buffer.alloc(32, 0x5a)

/** Runs the CLI on a data directory of its own; returns status and stderr. */
function cli(dir: string, args: string[], env: Record<string, string> = {}, input?: Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dir], {
    env: { ...process.env, ...env },
    input,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() }
}
const ok = (r: ReturnType<typeof cli>) => {
  assert.equal(r.status, 0, r.stderr)
  return r
}

/** The derivation docs/formats/root-sealing.md specifies, written here from the document. */
const derived = (info: string) =>
  Buffer.from(hkdfSync('sha256', ROOT, Buffer.from('strongroom/root/v2'), info, 32))

function gcmOpen(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13))
  d.setAAD(aad)
  d.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()])
}

/** One row of the data directory's database (the caller names its columns' types). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller states the row's shape
function row<T extends object>(dir: string, sql: string, ...args: (string | number)[]): T {
  const db = new DatabaseSync(join(dir, 'meta.sqlite'), { readOnly: true })
  try {
    const r: object | undefined = db.prepare(sql).get(...args)
    assert.ok(r !== undefined, sql)
    return r as T
  } finally {
    db.close()
  }
}
function exec(dir: string, sql: string, ...args: (string | number | Uint8Array | null)[]) {
  const db = new DatabaseSync(join(dir, 'meta.sqlite'))
  try {
    db.prepare(sql).run(...args)
  } finally {
    db.close()
  }
}

describe('crypto hygiene: keys derived from the root key', () => {
  const dir = join(tmp, 'keyed')
  const env = { STRONGROOM_ROOT_KEY: ROOT.toString('hex') }

  it('the raw root key is never used directly as a MAC key', () => {
    ok(cli(dir, ['init'], env))
    const inst = row<{ id: string; root_check: Uint8Array }>(
      dir,
      'SELECT id, root_check FROM installation',
    )
    const check = Buffer.from(inst.root_check)
    const legacy = createHmac('sha256', ROOT)
      .update(`strongroom/root-check/v1\0${inst.id}`)
      .digest()
    assert.notDeepEqual(check.subarray(check.length - 32), legacy)
    const expected = createHmac('sha256', derived('check'))
      .update(`strongroom/root-check/v2\0${inst.id}\0key\0none`)
      .digest()
    assert.deepEqual(check, Buffer.concat([Buffer.from([2]), expected]))
  })

  it('tenant key material is sealed under the derived sealing key, not the raw root key', () => {
    ok(cli(dir, ['tenant', 'create', 'vision'], env))
    ok(cli(dir, ['key', 'create', '--tenant', 'vision', '--alias', 'models'], env))
    const v = row<{ key_id: string; version: number; material: Uint8Array }>(
      dir,
      'SELECT key_id, version, material FROM key_versions',
    )
    const sealed = Buffer.from(v.material)
    const aad = Buffer.from(`strongroom/key-material/v1\0${v.key_id}\0${v.version}`)
    assert.equal(sealed[0], 2, 'format 2: sealed under the derived key')
    assert.equal(gcmOpen(derived('seal'), sealed, aad).length, 32)
    assert.throws(() => gcmOpen(ROOT, sealed, aad), 'the raw root key does not open it')
  })

  it('an installation from before the derived keys still opens, and is upgraded on open', () => {
    // Rewrite the check value and the key material as format 1 had them: under the raw root key.
    const inst = row<{ id: string }>(dir, 'SELECT id FROM installation')
    exec(
      dir,
      'UPDATE installation SET root_check = ?',
      createHmac('sha256', ROOT).update(`strongroom/root-check/v1\0${inst.id}`).digest(),
    )
    const v = row<{ key_id: string; version: number; material: Uint8Array }>(
      dir,
      'SELECT key_id, version, material FROM key_versions',
    )
    const aad = Buffer.from(`strongroom/key-material/v1\0${v.key_id}\0${v.version}`)
    const material = gcmOpen(derived('seal'), Buffer.from(v.material), aad)
    const nonce = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', ROOT, nonce)
    c.setAAD(aad)
    const ct = Buffer.concat([c.update(material), c.final()])
    exec(
      dir,
      'UPDATE key_versions SET material = ?',
      Buffer.concat([Buffer.from([1]), nonce, ct, c.getAuthTag()]),
    )
    // Opening and using the key: the file seals and opens again, and nothing stays under the raw key.
    const plain = join(tmp, 'plain.bin')
    writeFileSync(plain, 'weights')
    ok(
      cli(
        dir,
        ['encrypt', '--tenant', 'vision', '--key', 'alias/models', plain, `${plain}.sr`],
        env,
      ),
    )
    ok(cli(dir, ['decrypt', `${plain}.sr`, `${plain}.out`], env))
    assert.equal(readFileSync(`${plain}.out`, 'utf8'), 'weights')
    const after = row<{ root_check: Uint8Array }>(dir, 'SELECT root_check FROM installation')
    assert.equal(after.root_check.length, 33)
    assert.equal(after.root_check[0], 2)
    const resealed = row<{ material: Uint8Array }>(dir, 'SELECT material FROM key_versions')
    assert.equal(resealed.material[0], 2)
    assert.deepEqual(gcmOpen(derived('seal'), Buffer.from(resealed.material), aad), material)
  })
})

describe('crypto hygiene: the stored scrypt parameters are authenticated', () => {
  const dir = join(tmp, 'pass')
  const pass = join(tmp, 'passphrase')

  it('tampered scrypt parameters are refused (N, r, p, salt)', () => {
    writeFileSync(pass, 'correct horse battery staple\n')
    const r = cli(dir, ['init', '--passphrase-file', pass])
    assert.equal(r.status, 0, r.stderr)
    ok(cli(dir, ['tenant', 'list', '--passphrase-file', pass]))
    const stored = row<{ root_kdf: string }>(dir, 'SELECT root_kdf FROM installation').root_kdf
    const params = JSON.parse(stored) as { N: number; r: number; p: number; salt: string }
    const salt = params.salt
    const flipped = `${salt[0] === '0' ? '1' : '0'}${salt.slice(1)}`
    for (const [name, tampered] of [
      ['N', { ...params, N: params.N / 2 }],
      ['r', { ...params, r: 4 }],
      ['p', { ...params, p: 2 }],
      ['salt', { ...params, salt: flipped }],
    ] as const) {
      exec(dir, 'UPDATE installation SET root_kdf = ?', JSON.stringify(tampered))
      const out = cli(dir, ['tenant', 'list', '--passphrase-file', pass])
      assert.equal(out.status, 1, `${name}: ${out.stderr}`)
      assert.match(out.stderr, /\[ROOT_KEY_WRONG\]$/m, name)
      assert.match(out.stderr, /passphrase parameters were altered/, name)
    }
    exec(dir, 'UPDATE installation SET root_kdf = ?', stored)
    ok(cli(dir, ['tenant', 'list', '--passphrase-file', pass]))
  })
})

describe('crypto hygiene: AES-GCM nonce budget per tenant-key version', () => {
  it('a tenant key version rotates before 2^30 wraps', async () => {
    assert.equal(MAX_WRAPS_PER_VERSION, 2 ** 30, 'the documented threshold')
    const store = SqliteMetadataStore.open(join(tmp, 'wraps.sqlite'), { create: true })
    const root = randomBytes(32)
    const kms = new LocalKms(store, Buffer.from(root), {
      region: 'us-east-1',
      maxWrapsPerVersion: 3,
    })
    const tenant = await createTenant(store, 'vision')
    const key = await kms.createKey(tenant, { alias: 'models' })
    const versions: number[] = []
    const sealed: { id: string; context: Record<string, string>; wrapped: Buffer }[] = []
    // As the store does: the key's current version is read just before each data key.
    const current = async () => (await store.getKey(key.id))?.currentVersion ?? 0
    for (let i = 0; i < 7; i++) {
      const keyVersion = await current()
      const dk = await newDataKey(kms, { tenant, keyId: key.id, keyVersion }, { n: String(i) })
      versions.push(dk.wrapped.keyVersion)
      await store.putObjectKey({
        dataKeyId: dk.dataKeyId,
        tenantId: tenant.id,
        keyId: key.id,
        keyVersion: dk.wrapped.keyVersion,
        wrapped: dk.wrappedBytes,
        createdAt: Date.now(),
      })
      sealed.push({ id: dk.dataKeyId, context: { ...dk.context }, wrapped: dk.dataKey })
    }
    // A wrap that finds its version's budget spent rotates the key; the data key is then
    // wrapped again under the new version (its number is in the context), which uses a slot.
    assert.deepEqual(versions, [1, 1, 1, 2, 2, 3, 3])
    // Every data key still unwraps under its own version.
    for (const s of sealed) {
      const unwrap = storedDataKey(kms, store, s.id)
      const got = await unwrap({ dataKeyId: s.id, context: s.context } as never)
      assert.equal(got.length, 32)
    }
    // The count is kept in the store: a restarted key service carries on where it stopped.
    kms.close()
    const again = new LocalKms(store, root, { region: 'us-east-1', maxWrapsPerVersion: 3 })
    const more: number[] = []
    for (let i = 0; i < 3; i++)
      more.push(
        (await newDataKey(again, { tenant, keyId: key.id, keyVersion: await current() }, {}))
          .wrapped.keyVersion,
      )
    assert.deepEqual(more, [4, 4, 5], 'version 3 had every slot reserved by the first process')
    // No version ever wrapped more than its budget.
    const db = new DatabaseSync(join(tmp, 'wraps.sqlite'), { readOnly: true })
    const counts = db.prepare('SELECT version, wraps FROM key_versions ORDER BY version').all()
    db.close()
    assert.deepEqual(
      counts.map((r) => [r.version, r.wraps]),
      [
        [1, 3],
        [2, 3],
        [3, 3],
        [4, 3],
        [5, 3],
      ],
      'slots are reserved three at a time (the budget), never more',
    )
    again.close()
    await store.close()
  })
})

describe('crypto hygiene: an empty object is authenticated by its tag on every read path', () => {
  /** Outcome of a request through the SDK: 'ok' or `status Code`. */
  async function outcome(send: () => Promise<unknown>): Promise<string> {
    try {
      await send()
      return 'ok'
    } catch (e) {
      assert.ok(e instanceof S3ServiceException, String(e))
      return `${e.$metadata.httpStatusCode} ${e.name}`
    }
  }

  it('an empty object with a forged tag is refused on every read path', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'hyg-empty' }))
    await s3.send(new PutObjectCommand({ Bucket: 'hyg-empty', Key: 'empty', Body: '' }))
    const get = async () => {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'hyg-empty', Key: 'empty' }))
      return r.Body?.transformToByteArray()
    }
    assert.equal(await outcome(get), 'ok')
    // The body is inline (in the metadata database): flip a bit of its only tag, the last byte.
    const { blob } = row<{ blob: string }>(
      dataDir,
      "SELECT blob FROM objects WHERE bucket = 'hyg-empty' AND key = 'empty'",
    )
    const { data } = row<{ data: Uint8Array }>(
      dataDir,
      'SELECT data FROM inline_bodies WHERE id = ?',
      blob,
    )
    const forged = Buffer.from(data)
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1
    exec(dataDir, 'UPDATE inline_bodies SET data = ? WHERE id = ?', forged, blob)

    assert.equal(await outcome(get), '500 InternalError', 'GET')
    assert.equal(
      await outcome(() =>
        s3.send(
          new CopyObjectCommand({
            Bucket: 'hyg-empty',
            Key: 'copy',
            CopySource: 'hyg-empty/empty',
          }),
        ),
      ),
      '500 InternalError',
      'CopyObject',
    )
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'hyg-empty', Key: 'mp' }))
    assert.equal(
      await outcome(() =>
        s3.send(
          new UploadPartCopyCommand({
            Bucket: 'hyg-empty',
            Key: 'mp',
            UploadId: up.UploadId,
            PartNumber: 1,
            CopySource: 'hyg-empty/empty',
          }),
        ),
      ),
      '500 InternalError',
      'UploadPartCopy',
    )
    // HEAD answers from the metadata record alone and never reads a body (docs/formats).
    assert.equal(
      await outcome(() => s3.send(new HeadObjectCommand({ Bucket: 'hyg-empty', Key: 'empty' }))),
      'ok',
    )
    s3.destroy()
  })

  it('an empty standalone file with a forged tag is refused by the CLI, from a file and from stdin', () => {
    const dir = join(tmp, 'cli-empty')
    const env = { STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex') }
    ok(cli(dir, ['init'], env))
    ok(cli(dir, ['tenant', 'create', 'vision'], env))
    ok(cli(dir, ['key', 'create', '--tenant', 'vision', '--alias', 'models'], env))
    const empty = join(tmp, 'empty.bin')
    writeFileSync(empty, '')
    ok(
      cli(
        dir,
        ['encrypt', '--tenant', 'vision', '--key', 'alias/models', empty, `${empty}.sr`],
        env,
      ),
    )
    ok(cli(dir, ['decrypt', `${empty}.sr`, `${empty}.out`], env))
    const sealed = readFileSync(`${empty}.sr`)
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1
    writeFileSync(`${empty}.sr`, sealed)
    const fromFile = cli(dir, ['decrypt', `${empty}.sr`, `${empty}.out2`], env)
    assert.equal(fromFile.status, 1)
    assert.match(fromFile.stderr, /\[SEGMENT_FORGED\]$/m)
    const fromStdin = cli(dir, ['decrypt', '-', `${empty}.out3`], env, sealed)
    assert.equal(fromStdin.status, 1)
    assert.match(fromStdin.stderr, /\[SEGMENT_FORGED\]$/m)
  })
})
