/** The filesystem and in-memory blob stores against the BlobStore contract (src/store/conformance.ts). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlobStore } from './blobs.ts'
import { blobStoreConformance } from './conformance/blobs.ts'
import { MemoryBlobStore } from './memory-blobs.ts'

blobStoreConformance('filesystem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-blob-conf-'))
  return Promise.resolve({
    store: new FsBlobStore(dir),
    large: 40 << 20,
    stray: () => {
      writeFileSync(join(dir, 'stray'), '')
      mkdirSync(join(dir, 'ff'), { recursive: true })
      writeFileSync(join(dir, 'ff', 'not-a-blob'), '')
      return Promise.resolve()
    },
    close: () => {
      rmSync(dir, { recursive: true, force: true })
      return Promise.resolve()
    },
  })
})

blobStoreConformance('memory', () =>
  Promise.resolve({
    store: new MemoryBlobStore(),
    large: 3 << 20,
    stray: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }),
)
