/**
 * Scanning off the event loop, under a memory budget: a zip member too large
 * for the budget is a limit finding (the rest of the archive is still
 * scanned, and the verdict is never clean), and rescanning a large stored
 * model runs in a scan worker while this thread only serves its reads, so
 * the event loop stays responsive throughout.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { after, describe, it } from 'node:test'
import { systemClock } from '../../src/clock.ts'
import { createTenant } from '../../src/identity/tenants.ts'
import { LocalKms } from '../../src/kms/local.ts'
import { ALL_BLOCKED } from '../../src/meta/objects.ts'
import { SqliteMetadataStore } from '../../src/meta/sqlite/store.ts'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { FsBlobStore } from '../../src/store/blobs.ts'
import { ObjectService } from '../../src/store/objects.ts'
import { INLINE_LIMITS, INLINE_SCAN_MAX, ScanPool } from '../../src/store/scan-pool.ts'
import { p, zip } from './builders.ts'

const MiB = 1024 * 1024
const dir = mkdtempSync(join(tmpdir(), 'sr-off-loop-'))
const pool = new ScanPool(1, 16)
after(async () => {
  await pool.close()
  rmSync(dir, { recursive: true, force: true })
})

const evil = p().proto(2).call('os', 'system', 'id').stop().done()

/** A protocol-4 pickle of about `bytes` bytes: BINFLOATs appended to a list 100,000 at a time; the scanner reads every byte. */
function floats(bytes: number): Uint8Array {
  const unit = Buffer.from([0x47, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0])
  const batch = Buffer.concat([
    Buffer.from([0x28]),
    Buffer.alloc(100_000 * 9, unit),
    Buffer.from([0x65]),
  ])
  const n = Math.ceil(bytes / batch.length)
  return Buffer.concat([
    Buffer.from([0x80, 0x04, 0x5d]),
    ...Array.from({ length: n }, () => batch),
    Buffer.from([0x2e]),
  ])
}

describe('a zip member over the memory budget', () => {
  const bomb = zip([
    { name: 'archive/big.bin', data: new Uint8Array(32 * MiB), deflate: true },
    { name: 'archive/data.pkl', data: evil },
  ])

  it('is a limit finding, and the members after it are still scanned', () => {
    const r = scan(bufferSource(bomb), 'model.pt', { limits: { maxMemory: 16 * MiB } })
    const limit = r.findings.filter((f) => f.rule === 'limit.maxMemory')
    assert.deepEqual(
      limit.map((f) => [f.path, f.verdict]),
      [['model.pt!archive/big.bin', 'suspicious']],
    )
    assert.match(limit[0]?.reason ?? '', /^scan incomplete: the member decompresses \(deflate\)/)
    assert.ok(
      r.findings.some((f) => f.rule === 'pickle.dangerous-global'),
      'the pickle after it is still found',
    )
    assert.equal(r.verdict, 'malicious')
  })

  it('alone makes the verdict suspicious, never clean', () => {
    const only = zip([{ name: 'notes.txt', data: Buffer.alloc(32 * MiB, 'a'), deflate: true }])
    assert.equal(
      scan(bufferSource(only), 'f', { limits: { maxMemory: 16 * MiB } }).verdict,
      'suspicious',
    )
    assert.equal(
      scan(bufferSource(only), 'f', { limits: { maxMemory: 64 * MiB } }).verdict,
      'clean',
    )
  })

  it('gives the same limit verdict in a scan worker with a 16 MiB budget', async () => {
    const o = await pool.scanBuffer(bomb, 'model.pt')
    assert.ok('report' in o, JSON.stringify(o))
    assert.equal(o.report.verdict, 'malicious')
    assert.deepEqual(
      o.report.findings.filter((f) => f.rule === 'limit.maxMemory').map((f) => f.path),
      ['model.pt!archive/big.bin'],
    )
  })

  it('is read as a central directory only if the directory fits the budget', () => {
    const many = zip(
      Array.from({ length: 3000 }, (_, i) => ({ name: `m/${'x'.repeat(200)}${i}`, data: evil })),
    )
    const r = scan(bufferSource(many), 'f', { limits: { maxMemory: 256 * 1024 } })
    assert.ok(
      r.findings.some(
        (f) => f.rule === 'limit.maxMemory' && f.reason.includes('central directory'),
      ),
    )
    assert.equal(r.verdict, 'malicious', 'members are still found by their local headers')
  })
})

describe('a deflated member read front to back', () => {
  it('is scanned as it inflates, whatever its size against the budget', () => {
    const pickle = Buffer.concat([floats(48 * MiB).subarray(0, -1), evil.subarray(2)])
    const archive = zip([{ name: 'archive/data.pkl', data: pickle, deflate: true }])
    const r = scan(bufferSource(archive), 'model.pt', { limits: { maxMemory: 16 * MiB } })
    assert.deepEqual(
      r.findings.map((f) => f.rule),
      ['pickle.dangerous-global'],
      'found past 48 MiB of floats, with no limit finding',
    )
    assert.equal(r.verdict, 'malicious')
  })

  it('keeps a large compressed .npz clean under a small budget (only its headers are inflated)', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5242880,), }"
    const npy = Buffer.concat([
      Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length + 1, 0]),
      Buffer.from(header + '\n'),
      Buffer.alloc(40 * MiB),
    ])
    const npz = zip([{ name: 'weights.npy', data: npy, deflate: true }])
    const r = scan(bufferSource(npz), 'arrays.npz', { limits: { maxMemory: 16 * MiB } })
    assert.deepEqual(r.findings, [])
    assert.equal(r.format, 'zip')
  })

  it('falls back to a whole inflate when the format needs random access, within the budget', () => {
    const inner = zip([{ name: 'archive/data.pkl', data: evil }])
    const outer = zip([{ name: 'bundle/model.pt', data: inner, deflate: true }])
    const r = scan(bufferSource(outer), 'b.zip', { limits: { maxMemory: 16 * MiB } })
    assert.equal(r.verdict, 'malicious')
    assert.deepEqual(
      r.findings.map((f) => f.path),
      ['b.zip!bundle/model.pt!archive/data.pkl'],
      'the abandoned streaming attempt left no findings behind',
    )
  })
})

describe('a small body', () => {
  it('is scanned on this thread: no worker runs for a 4 KiB pickle', async () => {
    const jobs = pool.workerJobs
    const body = Buffer.concat([
      evil.subarray(0, -1),
      Buffer.alloc(4096 - evil.length, 0x4e),
      evil.subarray(-1),
    ])
    const o = await pool.scanBuffer(body, 'small.pkl')
    assert.ok('report' in o, JSON.stringify(o))
    assert.equal(o.report.verdict, 'malicious')
    assert.equal(pool.workerJobs, jobs)
  })

  it('goes to a worker when it reaches the inline budget, with the verdict of a full-budget scan', async () => {
    // Under 64 KiB, but 4 MiB once inflated: past INLINE_LIMITS, well within the pool's 16 MiB.
    const body = zip([
      { name: 'archive/zeros.bin', data: new Uint8Array(4 * MiB), deflate: true },
      { name: 'archive/data.pkl', data: evil },
    ])
    assert.ok(body.length <= INLINE_SCAN_MAX)
    const here = scan(bufferSource(body), 'm.pt', { limits: INLINE_LIMITS })
    assert.ok(
      here.findings.some((f) => f.rule.startsWith('limit.')),
      'the inline budget is reached',
    )
    const jobs = pool.workerJobs
    const o = await pool.scanBuffer(body, 'm.pt')
    assert.ok('report' in o, JSON.stringify(o))
    assert.equal(pool.workerJobs, jobs + 1)
    const full = scan(bufferSource(body), 'm.pt', { limits: { maxMemory: 16 * MiB } })
    assert.equal(o.report.verdict, full.verdict)
    assert.deepEqual(o.report.findings, full.findings)
    assert.equal(
      o.report.findings.some((f) => f.rule.startsWith('limit.')),
      false,
    )
  })
})

describe('rescanning a stored model', () => {
  it('runs in the scan worker: the event loop never stalls for 200 ms while 96 MiB are read back', async () => {
    const store = SqliteMetadataStore.open(join(dir, 'meta.sqlite'), { create: true })
    const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
    const tenant = await createTenant(store, 'vision')
    const key = await kms.createKey(tenant, { alias: 'models' })
    const bucket = {
      name: 'models',
      tenantId: tenant.id,
      keyId: key.id,
      policy: null,
      createdAt: 1,
      versioning: 'Unversioned' as const,
      publicAccessBlock: ALL_BLOCKED,
      scanPolicy: 'off' as const,
    }
    await store.createBucket(bucket)
    const objects = new ObjectService({
      meta: store,
      blobs: new FsBlobStore(join(dir, 'blobs')),
      provider: kms,
      keys: kms,
      clock: systemClock,
      segmentSize: MiB,
      pool,
    })
    // A .pt-like zip: 96 MiB of tensor pickle, stored, then the payload.
    const body = zip([
      { name: 'archive/data/0', data: floats(96 * MiB) },
      { name: 'archive/data.pkl', data: evil },
    ])
    const record = await objects.put({
      bucket,
      tenant,
      key: 'model.pt',
      body: [body],
      expect: { length: body.length },
      contentType: null,
      metadata: {},
      tags: [],
    })
    assert.equal(record.scan, null, 'not scanned while the policy was off')

    const delay = monitorEventLoopDelay({ resolution: 10 })
    let ticks = 0
    const timer = setInterval(() => ticks++, 20)
    delay.enable()
    const started = performance.now()
    const scanned = await objects.rescan(record)
    const took = performance.now() - started
    delay.disable()
    clearInterval(timer)

    assert.equal(scanned.verdict, 'malicious')
    assert.equal(scanned.format, 'zip')
    const maxMs = delay.max / 1e6
    assert.ok(
      maxMs < 200,
      `the event loop stalled for ${maxMs.toFixed(0)} ms during a ${took.toFixed(0)} ms rescan`,
    )
    assert.ok(
      ticks >= Math.floor(took / 20 / 4),
      `a 20 ms timer fired ${ticks} times in ${took.toFixed(0)} ms`,
    )
    store.close()
  })
})
