/**
 * Sums up V8 CPU profiles (`node --cpu-prof`, e.g. bench/gateway.ts --cpu-prof DIR): for
 * each .cpuprofile file in DIR, one per thread, the functions with the most self time, and
 * for the top few, the callers that time came through.
 *
 * Usage: node bench/profile-top.ts DIR [--top N]
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: readonly number[]
}
interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '15' } },
})
const dir = positionals[0]
if (dir === undefined) {
  process.stderr.write('usage: node bench/profile-top.ts DIR [--top N]\n')
  process.exit(2)
}
const TOP = Number(values.top)

const name = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // A sample's time is the delta to the next sample.
  const time = new Map<number, number>()
  let total = 0
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i + 1] ?? 0
    time.set(id, (time.get(id) ?? 0) + us)
    total += us
  })
  const self = new Map<string, number>()
  const callers = new Map<string, Map<string, number>>()
  for (const [id, us] of time) {
    const node = byId.get(id)
    if (node === undefined) continue
    const key = name(node)
    self.set(key, (self.get(key) ?? 0) + us)
    const up = parent.get(id)
    const caller = up === undefined ? undefined : byId.get(up)
    const via = caller === undefined ? '(root)' : name(caller)
    const m = callers.get(key) ?? new Map<string, number>()
    m.set(via, (m.get(via) ?? 0) + us)
    callers.set(key, m)
  }
  const idle = self.get('(idle) :0') ?? 0
  console.log(
    `${file}: ${(total / 1e3).toFixed(0)} ms sampled, ${((total - idle) / 1e3).toFixed(0)} ms busy`,
  )
  const rows = [...self].filter(([k]) => k !== '(idle) :0').sort((a, b) => b[1] - a[1])
  for (const [key, us] of rows.slice(0, TOP)) {
    const share = (100 * us) / Math.max(1, total - idle)
    console.log(
      `  ${(us / 1e3).toFixed(0).padStart(6)} ms ${share.toFixed(1).padStart(5)}% of busy  ${key}`,
    )
    if (share >= 5)
      for (const [via, t] of [...(callers.get(key) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 3))
        console.log(`  ${''.padStart(6)}    ${(t / 1e3).toFixed(0).padStart(6)} ms via ${via}`)
  }
}
