/**
 * Scanner throughput on one core, side by side with Python's own
 * pickletools.genops walking the same files in the same run:
 *
 *  - bytes: a pickle of big byte strings (64 × 8 MiB), which the scanner must
 *    skip without copying;
 *  - floats: an opcode-dense pickle of tens of millions of small floats.
 *
 * Also the peak RSS of the scanning process over its baseline, which must stay
 * bounded by the read window, not grow with the file.
 *
 * Usage: node bench/scan.ts [--floats N] [--rounds R]
 */
import { spawnSync } from 'node:child_process'
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { scan } from '../src/scan/scan.ts'
import { fdByteSource } from '../src/store/file-source.ts'

const { values } = parseArgs({
  options: {
    floats: { type: 'string', default: '20000000' },
    rounds: { type: 'string', default: '3' },
  },
})
const FLOATS = Number(values.floats)
const ROUNDS = Number(values.rounds)
const dir = mkdtempSync(join(tmpdir(), 'sr-bench-scan-'))

function writeBytesPickle(path: string): void {
  const fd = openSync(path, 'w')
  const chunk = new Uint8Array(8 << 20).map((_, i) => (i * 2654435761) >>> 24)
  writeSync(fd, Uint8Array.of(0x80, 4, 0x5d, 0x28)) // PROTO 4, EMPTY_LIST, MARK
  const head = new Uint8Array(9)
  head[0] = 0x8e // BINBYTES8
  new DataView(head.buffer).setBigUint64(1, BigInt(chunk.length), true)
  for (let i = 0; i < 64; i++) {
    writeSync(fd, head)
    writeSync(fd, chunk)
  }
  writeSync(fd, Uint8Array.of(0x65, 0x2e)) // APPENDS, STOP
  closeSync(fd)
}

function writeFloatPickle(path: string, n: number): void {
  const fd = openSync(path, 'w')
  writeSync(fd, Uint8Array.of(0x80, 4, 0x5d))
  const batch = new Uint8Array(1 + 1000 * 9 + 1)
  const view = new DataView(batch.buffer)
  for (let done = 0; done < n; done += 1000) {
    batch[0] = 0x28 // MARK
    for (let j = 0; j < 1000; j++) {
      batch[1 + j * 9] = 0x47 // BINFLOAT
      view.setFloat64(2 + j * 9, (done + j) / 3, false)
    }
    batch[batch.length - 1] = 0x65 // APPENDS
    writeSync(fd, batch)
  }
  writeSync(fd, Uint8Array.of(0x2e))
  closeSync(fd)
}

function ours(path: string): { seconds: number; size: number; verdict: string } {
  const fd = openSync(path, 'r')
  try {
    const src = fdByteSource(fd, fstatSync(fd).size)
    const t = performance.now()
    const r = scan(src, path)
    return { seconds: (performance.now() - t) / 1000, size: src.size, verdict: r.verdict }
  } finally {
    closeSync(fd)
  }
}

function python(path: string): number {
  const code = `import pickletools, time, sys
f = open(sys.argv[1], 'rb')
t = time.perf_counter()
for _ in pickletools.genops(f):
    pass
print(time.perf_counter() - t)`
  const r = spawnSync('python3', ['-c', code, path], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`)
  return Number(r.stdout.trim())
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

try {
  const files = { bytes: join(dir, 'bytes.pkl'), floats: join(dir, 'floats.pkl') }
  writeBytesPickle(files.bytes)
  writeFloatPickle(files.floats, FLOATS)
  const rssBefore = process.memoryUsage().rss
  console.log(
    `scanner vs python3 pickletools.genops, ${ROUNDS} rounds each, medians (${FLOATS} floats)`,
  )
  for (const [name, path] of Object.entries(files)) {
    const mine: number[] = []
    const theirs: number[] = []
    let size = 0
    // Alternate the two so that machine noise falls on both.
    for (let r = 0; r < ROUNDS; r++) {
      const o = ours(path)
      if (o.verdict !== 'clean') throw new Error(`${name}: scanned ${o.verdict}`)
      size = o.size
      mine.push(o.seconds)
      theirs.push(python(path))
    }
    const mb = size / 1e6
    const a = mb / median(mine)
    const b = mb / median(theirs)
    console.log(
      `${name.padEnd(7)} ${(size / 2 ** 20).toFixed(0).padStart(5)} MiB  scanner ${a.toFixed(0).padStart(6)} MB/s  genops ${b.toFixed(0).padStart(5)} MB/s  ratio ${(a / b).toFixed(1)}×`,
    )
  }
  const peak = process.resourceUsage().maxRSS * 1024
  console.log(
    `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB, ${((peak - rssBefore) / 2 ** 20).toFixed(0)} MiB over the process before scanning`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
