/**
 * Issue 9, item 10: meta.sqlite and its -wal/-shm files were created under the
 * process umask (0644 with the usual 022) while everything else in the data
 * directory was 0600; and a data directory that group or others could reach
 * was used as it was. Now every file is 0600 and every directory 0700 whatever
 * the umask, and a data directory open to group or others is refused, as
 * PostgreSQL refuses such a data directory, with the fix in the message.
 *
 * This file runs its processes under umask 000, the most permissive, so a file
 * created without an explicit mode would show up as 0666 or 0644.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { alice, BIN, bob, dataDir, sdk, start, stop, strongroom, work } from '../e2e/harness.ts'

process.umask(0o000)
before(() => start())
after(stop)

const ROOT = randomBytes(32).toString('hex')

/** Runs the CLI with a root key and no inherited data directory. */
function sr(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, STRONGROOM_ROOT_KEY: ROOT }
  delete env.STRONGROOM_DATA_DIR
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env })
}

/** Every entry under `dir` (itself included) whose mode is not 0700 (directories) or 0600 (files). */
function looseModes(dir: string): string[] {
  const out: string[] = []
  const check = (path: string) => {
    const st = statSync(path)
    const want = st.isDirectory() ? 0o700 : 0o600
    if ((st.mode & 0o777) !== want) out.push(`${path}: ${(st.mode & 0o777).toString(8)}`)
  }
  check(dir)
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    check(join(e.parentPath, e.name))
  return out
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)

const refusal = (dir: string, m: string) =>
  `strongroom: data directory \`${dir}\` is accessible to group or others (mode ${m}); make it private with \`chmod 700 ${dir}\`, and if others could read it, treat the secrets inside as exposed [DATA_DIR_INSECURE]\n`

describe('data directory file modes', () => {
  it('after the gateway has written objects, uploads, policies and audit records, every file is 0600 and every directory 0700', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'modes-models' }))
    await s3.send(new PutObjectCommand({ Bucket: 'modes-models', Key: 'a/model.pt', Body: 'w' }))
    const up = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'modes-models', Key: 'big.bin' }),
    )
    await s3.send(
      new UploadPartCommand({
        Bucket: 'modes-models',
        Key: 'big.bin',
        UploadId: up.UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(1024, 1),
      }),
    )
    // A denial, so the decision log is written.
    await sdk(bob)
      .send(new GetObjectCommand({ Bucket: 'modes-models', Key: 'a/model.pt' }))
      .catch(() => undefined)
    strongroom(['key', 'create', '--tenant', 'vision', '--alias', 'modes'])
    for (const f of ['meta.sqlite', 'meta.sqlite-wal', 'meta.sqlite-shm', 'ca.pem', 'blobs'])
      assert.ok(existsSync(join(dataDir, f)), f)
    assert.equal(mode(join(dataDir, 'meta.sqlite')), '600')
    assert.equal(mode(join(dataDir, 'meta.sqlite-wal')), '600')
    assert.equal(mode(join(dataDir, 'meta.sqlite-shm')), '600')
    assert.deepEqual(looseModes(dataDir), [])
  })

  it('strongroom init under umask 000 creates only 0600 files and 0700 directories', () => {
    const dir = join(work, 'init-fresh')
    const r = sr(['init', '--data-dir', dir])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(looseModes(dir), [])
    // Opening it (any command) keeps it so.
    assert.equal(sr(['tenant', 'create', 'modes', '--data-dir', dir]).status, 0)
    assert.deepEqual(looseModes(dir), [])
  })

  it('strongroom init makes an existing empty 0755 directory owner-only', () => {
    const dir = join(work, 'init-existing')
    mkdirSync(dir, { mode: 0o755 })
    assert.equal(mode(dir), '755')
    assert.equal(sr(['init', '--data-dir', dir]).status, 0)
    assert.deepEqual(looseModes(dir), [])
  })

  it('a metadata database left 0644 by an older version is tightened to 0600 when opened', () => {
    const dir = join(work, 'init-upgrade')
    assert.equal(sr(['init', '--data-dir', dir]).status, 0)
    chmodSync(join(dir, 'meta.sqlite'), 0o644)
    assert.equal(sr(['tenant', 'list', '--data-dir', dir]).status, 0)
    assert.deepEqual(looseModes(dir), [])
  })

  it('folders inside the data directory loosened to 0755 (blobs, blobs/XX, audit, pki) are tightened when opened', () => {
    const dir = join(work, 'init-folders')
    assert.equal(sr(['init', '--data-dir', dir]).status, 0)
    for (const f of ['blobs', join('blobs', 'ab'), 'audit', 'pki'])
      mkdirSync(join(dir, f), { recursive: true, mode: 0o755 })
    for (const f of ['blobs', join('blobs', 'ab'), 'audit', 'pki']) chmodSync(join(dir, f), 0o755)
    assert.notDeepEqual(looseModes(dir), [])
    assert.equal(sr(['tenant', 'list', '--data-dir', dir]).status, 0)
    assert.deepEqual(looseModes(dir), [])
  })

  it('a data directory chmod 0755, 0750 or 0701 is refused by serve and every command', () => {
    const dir = join(work, 'init-opened')
    assert.equal(sr(['init', '--data-dir', dir]).status, 0)
    for (const m of [0o755, 0o750, 0o701]) {
      chmodSync(dir, m)
      const octal = `0${m.toString(8)}`
      for (const args of [
        ['tenant', 'list'],
        ['serve', '--listen', '127.0.0.1:0'],
      ]) {
        const r = sr([...args, '--data-dir', dir])
        assert.equal(r.status, 1, `${args.join(' ')} under ${octal}`)
        assert.equal(r.stdout, '')
        assert.equal(r.stderr, refusal(dir, octal))
      }
      // Nothing was changed: the operator decides.
      assert.equal(mode(dir), m.toString(8))
    }
    chmodSync(dir, 0o700)
    assert.equal(sr(['tenant', 'list', '--data-dir', dir]).status, 0)
  })
})
