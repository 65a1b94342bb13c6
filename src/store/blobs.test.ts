/** FsBlobStore's listing: a missing directory is no blobs; a failure to read one is an I/O error. */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../errors.ts'
import { FsBlobStore, newBlobId } from './blobs.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-blobs-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('FsBlobStore.list', () => {
  it('lists no blobs when the blob directory does not exist yet', async () => {
    assert.deepEqual(await new FsBlobStore(join(dir, 'none')).list(), [])
  })

  it('lists the blobs, skipping a stray file where a folder would be', async () => {
    const root = join(dir, 'some')
    const id = newBlobId()
    const store = new FsBlobStore(root)
    await store.put(id, Readable.from([Buffer.from('x')]))
    writeFileSync(join(root, 'stray'), '')
    mkdirSync(join(root, 'ff'))
    assert.deepEqual(
      (await store.list()).map((b) => b.id),
      [id],
    )
  })

  it('does not call a blob directory that cannot be read empty: it fails with IO and the cause', async () => {
    const file = join(dir, 'not-a-dir')
    writeFileSync(file, '')
    await assert.rejects(
      new FsBlobStore(file).list(),
      (e) => isStrongroomError(e, 'IO') && (e.cause as NodeJS.ErrnoException).code === 'ENOTDIR',
    )
  })

  it('refuses an id that is not a blob id with BLOB_ID_INVALID', async () => {
    await assert.rejects(new FsBlobStore(dir).open('../../etc/passwd'), (e) =>
      isStrongroomError(e, 'BLOB_ID_INVALID'),
    )
  })
})
