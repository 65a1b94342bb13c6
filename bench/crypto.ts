/**
 * Encryption-at-rest benchmarks (issue 2). Every figure is reported next to a
 * baseline measured in the same run, because the machines are shared:
 *
 *   1. encrypt throughput of a stream vs a bare AES-256-GCM loop over the same bytes
 *   2. decrypt throughput vs a bare AES-256-GCM decrypt loop over the same segments
 *   3. peak RSS growth while streaming the whole size through encrypt and decrypt (child process)
 *   4. latency of a 1 MiB range from the middle of the sealed file (open + unwrap + decrypt)
 *   5. data-key wrap and unwrap per second through the local KMS vs bare sealing
 *
 * Usage: node bench/crypto.ts [--gib N] [--rounds N] [--json]
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { spawnSync } from 'node:child_process'
import { byteStream, openInput } from '../src/cli/io.ts'
import { openObject } from '../src/crypto/range.ts'
import { openSecret, sealSecret } from '../src/crypto/seal.ts'
import { parseHeader, segmentNonce, TAG_BYTES, verifyHeader } from '../src/crypto/header.ts'
import { decrypt, encrypt } from '../src/crypto/stream.ts'
import { createTenant } from '../src/identity/tenants.ts'
import { headerDataKey, newDataKey } from '../src/kms/envelope.ts'
import { LocalKms } from '../src/kms/local.ts'
import { SqliteMetadataStore } from '../src/meta/sqlite/store.ts'

const MiB = 1024 * 1024
const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'rss-child': { type: 'string' },
  },
})
const total = Math.round(Number(values.gib) * 1024) * MiB
const rounds = Number(values.rounds)
const SEGMENT = MiB
const segments = total / SEGMENT
const block = randomBytes(SEGMENT)

function* plaintext(): Generator<Buffer> {
  for (let i = 0; i < segments; i++) yield block
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9

// ---- 3. RSS child: streams `total` bytes through encrypt, then the file through decrypt.
if (values['rss-child'] !== undefined) {
  const file = values['rss-child']
  const key = Buffer.alloc(32, 1)
  const base = process.memoryUsage.rss()
  let peak = base
  const sample = () => {
    const r = process.memoryUsage.rss()
    if (r > peak) peak = r
  }
  const timer = setInterval(sample, 5)
  async function* counted(src: AsyncIterable<Uint8Array>) {
    for await (const c of src) {
      sample()
      yield c
    }
  }
  const sealOpts = {
    dataKey: key,
    dataKeyId: 'dk-bench',
    context: { tenant: 'bench' },
    plaintextLength: total,
  }
  await pipeline(byteStream(counted(encrypt(plaintext(), sealOpts))), createWriteStream(file))
  const encPeak = peak - base
  peak = process.memoryUsage.rss()
  const base2 = peak
  let n = 0
  for await (const c of counted(
    decrypt(createReadStream(file, { highWaterMark: MiB }), { dataKey: () => Buffer.from(key) }),
  ))
    n += c.byteLength
  clearInterval(timer)
  if (n !== total) throw new Error('decrypted length differs')
  process.stdout.write(
    JSON.stringify({
      encryptRssGrowthMiB: encPeak / MiB,
      decryptRssGrowthMiB: (peak - base2) / MiB,
    }),
  )
  process.exit(0)
}

const results: Record<string, unknown> = {
  bytes: total,
  segmentSize: SEGMENT,
  node: process.version,
}
const log = (s: string) => {
  if (!values.json) console.log(s)
}
log(
  `strongroom crypto bench: ${total / MiB} MiB stream, ${SEGMENT / MiB} MiB segments, ${rounds} rounds, ${process.version}`,
)

// ---- 1. encrypt throughput
const key = randomBytes(32)
const aad = randomBytes(32)
const prefix = randomBytes(7)

function bareEncrypt(): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < segments; i++) {
    const c = createCipheriv('aes-256-gcm', key, segmentNonce(prefix, i, i === segments - 1))
    c.setAAD(aad)
    c.update(block)
    c.final()
    c.getAuthTag()
  }
  return total / seconds(t0)
}

async function oursEncrypt(): Promise<number> {
  const t0 = process.hrtime.bigint()
  let n = 0
  for await (const c of encrypt(plaintext(), {
    dataKey: key,
    dataKeyId: 'dk-bench',
    context: { tenant: 'bench' },
    plaintextLength: total,
  })) {
    n += c.byteLength
  }
  if (n < total) throw new Error('short ciphertext')
  return total / seconds(t0)
}

const best = (xs: number[]) => Math.max(...xs)
const enc = { bare: [] as number[], ours: [] as number[] }
for (let r = 0; r < rounds; r++) {
  enc.bare.push(bareEncrypt())
  enc.ours.push(await oursEncrypt())
}
const encRatio = best(enc.ours) / best(enc.bare)
results.encrypt = {
  bareMiBs: best(enc.bare) / MiB,
  oursMiBs: best(enc.ours) / MiB,
  ratio: encRatio,
}
log(
  `encrypt: ours ${(best(enc.ours) / MiB).toFixed(0)} MiB/s, bare AES-256-GCM ${(best(enc.bare) / MiB).toFixed(0)} MiB/s, ratio ${encRatio.toFixed(3)} (target >= 0.85)`,
)

// ---- seal the sealed file used by 2 and 4, through the real KMS
const dir = mkdtempSync(join(tmpdir(), 'sr-bench-'))
try {
  const store = SqliteMetadataStore.open(join(dir, 'meta.sqlite'), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1' })
  const tenant = await createTenant(store, 'bench')
  const cmk = await kms.createKey(tenant, { alias: 'bench' })
  const dk = await newDataKey(kms, { tenant, keyId: cmk.id, keyVersion: 1 }, { purpose: 'bench' })
  const file = join(dir, 'sealed.sr')
  await pipeline(
    encrypt(plaintext(), {
      dataKey: dk.dataKey,
      dataKeyId: dk.dataKeyId,
      context: dk.context,
      wrappedKey: dk.wrappedBytes,
      plaintextLength: total,
    }),
    createWriteStream(file),
  )

  // ---- 4. a 1 MiB range from the middle of the sealed file: open, unwrap, verify, decrypt.
  // Baseline: the same two segments read with one positioned read and decrypted with a
  // bare AES-256-GCM loop (no header, no unwrap, no checks), interleaved with ours.
  {
    const input = await openInput(file)
    const random = input.random
    if (random === undefined) throw new Error('not a file')
    const mid = Math.floor(total / 2) + 12_345 // unaligned: covers two segments
    const ours: number[] = []
    const bare: number[] = []
    const header = (await openObject(random, { dataKey: headerDataKey(kms) })).header
    const objectKey = verifyHeader(header, Buffer.from(dk.dataKey))
    const first = Math.floor(mid / SEGMENT)
    for (let i = -10; i < 300; i++) {
      let t0 = process.hrtime.bigint()
      const obj = await openObject(random, { dataKey: headerDataKey(kms) })
      let n = 0
      for await (const c of obj.range(mid, mid + MiB - 1)) n += c.byteLength
      obj.close()
      if (n !== MiB) throw new Error('short range')
      if (i >= 0) ours.push(seconds(t0) * 1000) // the first ten warm the page cache and the JIT
      t0 = process.hrtime.bigint()
      const full = SEGMENT + TAG_BYTES
      const both = await random.read(header.bytes.length + first * full, 2 * full)
      for (let s = 0; s < 2; s++) {
        const seg = both.subarray(s * full, (s + 1) * full)
        const d = createDecipheriv(
          'aes-256-gcm',
          objectKey,
          segmentNonce(header.noncePrefix, first + s, first + s === segments - 1),
        )
        d.setAAD(header.aad)
        d.setAuthTag(seg.subarray(SEGMENT))
        d.update(seg.subarray(0, SEGMENT))
        d.final()
      }
      if (i >= 0) bare.push(seconds(t0) * 1000)
    }
    await input.close()
    const pct = (xs: number[], q: number) =>
      [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN
    results.range = {
      p50ms: pct(ours, 0.5),
      p99ms: pct(ours, 0.99),
      bareP50ms: pct(bare, 0.5),
      bareP99ms: pct(bare, 0.99),
      ratioP50: pct(ours, 0.5) / pct(bare, 0.5),
    }
    log(
      `1 MiB range from the middle, open + unwrap + decrypt: p50 ${pct(ours, 0.5).toFixed(2)} ms, p99 ${pct(ours, 0.99).toFixed(2)} ms (target < 5 ms); bare read + 2 segment decrypts p50 ${pct(bare, 0.5).toFixed(2)} ms, p99 ${pct(bare, 0.99).toFixed(2)} ms`,
    )
  }

  // ---- 2. decrypt throughput, from memory, segment-aligned chunks shared by both loops
  {
    const fh = await open(file, 'r')
    const headerBytes = Buffer.alloc(64 * 1024)
    await fh.read(headerBytes, 0, headerBytes.length, 0)
    const header = parseHeader(headerBytes.subarray(0, headerBytes.readUInt32BE(8)))
    const chunks: Buffer[] = [header.bytes]
    for (let i = 0; i < segments; i++) {
      const b = Buffer.allocUnsafe(SEGMENT + TAG_BYTES)
      await fh.read(b, 0, b.length, header.bytes.length + i * b.length)
      chunks.push(b)
    }
    await fh.close()
    const objectKey = (await import('../src/crypto/header.ts')).verifyHeader(
      header,
      Buffer.from(dk.dataKey),
    )
    const bareDecrypt = () => {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < segments; i++) {
        const seg = chunks[i + 1] as Buffer
        const d = createDecipheriv(
          'aes-256-gcm',
          objectKey,
          segmentNonce(header.noncePrefix, i, i === segments - 1),
        )
        d.setAAD(header.aad)
        d.setAuthTag(seg.subarray(SEGMENT))
        d.update(seg.subarray(0, SEGMENT))
        d.final()
      }
      return total / seconds(t0)
    }
    const oursDecrypt = async () => {
      const t0 = process.hrtime.bigint()
      let n = 0
      for await (const c of decrypt(chunks, { dataKey: () => Buffer.from(dk.dataKey) }))
        n += c.byteLength
      if (n !== total) throw new Error('short plaintext')
      return total / seconds(t0)
    }
    const dec = { bare: [] as number[], ours: [] as number[] }
    for (let r = 0; r < rounds; r++) {
      dec.bare.push(bareDecrypt())
      dec.ours.push(await oursDecrypt())
    }
    const decRatio = best(dec.ours) / best(dec.bare)
    results.decrypt = {
      bareMiBs: best(dec.bare) / MiB,
      oursMiBs: best(dec.ours) / MiB,
      ratio: decRatio,
    }
    log(
      `decrypt: ours ${(best(dec.ours) / MiB).toFixed(0)} MiB/s, bare AES-256-GCM ${(best(dec.bare) / MiB).toFixed(0)} MiB/s, ratio ${decRatio.toFixed(3)} (target >= 0.85)`,
    )
  }
  dk.dataKey.fill(0)

  // ---- 5. wrap / unwrap per second through the local KMS (SQLite state check per call) vs bare sealing
  {
    const N = 20_000
    const ctx = { tenant: 'bench', bucket: 'b', key: 'k', keyId: cmk.id, keyVersion: '1' }
    const plainKey = randomBytes(32)
    const wrapped = []
    let t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i++) wrapped.push(await kms.wrap(cmk.id, plainKey, ctx))
    const wrapPerSec = N / seconds(t0)
    t0 = process.hrtime.bigint()
    for (const w of wrapped) await kms.unwrap(w, ctx)
    const unwrapPerSec = N / seconds(t0)
    const material = randomBytes(32)
    const aadB = Buffer.alloc(100, 1)
    t0 = process.hrtime.bigint()
    const sealedAll = []
    for (let i = 0; i < N; i++) sealedAll.push(sealSecret(material, plainKey, aadB))
    const bareSeal = N / seconds(t0)
    t0 = process.hrtime.bigint()
    for (const s of sealedAll) openSecret(material, s, aadB, () => new Error('x') as never)
    const bareOpen = N / seconds(t0)
    results.keys = { wrapPerSec, unwrapPerSec, bareSealPerSec: bareSeal, bareOpenPerSec: bareOpen }
    log(
      `data-key wrap ${wrapPerSec.toFixed(0)}/s, unwrap ${unwrapPerSec.toFixed(0)}/s (target >= 20,000/s); bare AES-GCM seal ${bareSeal.toFixed(0)}/s, open ${bareOpen.toFixed(0)}/s`,
    )
  }
  kms.close()
  await store.close()

  // ---- 3. RSS growth, in a fresh process so the in-memory phases above do not count
  {
    const child = spawnSync(
      process.execPath,
      [import.meta.filename, '--gib', values.gib, '--rss-child', join(dir, 'rss.sr')],
      {
        encoding: 'utf8',
      },
    )
    if (child.status !== 0) throw new Error(`rss child failed: ${child.stderr}`)
    const rss = JSON.parse(child.stdout) as {
      encryptRssGrowthMiB: number
      decryptRssGrowthMiB: number
    }
    results.rss = rss
    log(
      `peak RSS growth streaming ${total / MiB} MiB: encrypt ${rss.encryptRssGrowthMiB.toFixed(1)} MiB, decrypt ${rss.decryptRssGrowthMiB.toFixed(1)} MiB (target < 64 MiB)`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
if (values.json) console.log(JSON.stringify(results, null, 2))
