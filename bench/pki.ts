/**
 * The built-in CA's issuance rate (issue 17: at least 200 certificates a second): workload
 * certificates (X.509-SVIDs) issued through `Pki.issueWorkload` as `strongroom cert issue`
 * does (a P-256 key pair made, the certificate built, signed, parsed back and verified, the
 * record written to the metadata database, SQLite here), beside the floor of that work measured
 * in the same run: a P-256 key pair and one ECDSA signature with node:crypto alone.
 *
 * Usage: node bench/pki.ts [--seconds N] [--json]
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { StrongroomError } from '../src/errors.ts'
import { deriveRootKeys } from '../src/kms/root.ts'
import { openSecret, sealSecret } from '../src/crypto/seal.ts'
import { SqliteMetadataStore } from '../src/meta/sqlite/store.ts'
import { Pki } from '../src/net/pki.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)

async function rate(op: () => unknown): Promise<number> {
  for (let i = 0; i < 20; i++) await op()
  let n = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) await op()
    n += 10
  }
  return n / ((performance.now() - start) / 1000)
}

const work = mkdtempSync(join(tmpdir(), 'sr-bench-pki-'))
const store = SqliteMetadataStore.open(join(work, 'meta.sqlite'), { create: true })
try {
  const { seal } = deriveRootKeys(randomBytes(32))
  const aad = (label: string) => Buffer.from(label)
  const pki = new Pki({
    dataDir: work,
    sealer: {
      seal: (l, d) => sealSecret(seal, d, aad(l)),
      open: (l, d) =>
        openSecret(seal, d, aad(l), () => new StrongroomError('ROOT_KEY_WRONG', 'does not open')),
    },
    values: store,
    certs: store,
    trustDomain: 'bench.example',
    now: Date.now,
  })
  await pki.issuing()
  const tbs = randomBytes(420)
  const floor = await rate(() => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    sign('sha256', tbs, pair.privateKey)
  })
  const issued = await rate(() =>
    pki.issueWorkload({ tenantId: '111122223333', tenantName: 'vision', role: 'trainer' }),
  )
  const result = { seconds, issued, floor, ratio: issued / floor }
  if (values.json) console.log(JSON.stringify(result))
  else {
    const f = (n: number) => Math.round(n).toLocaleString('en-US')
    console.log(`workload certificates issued, ${String(seconds)} s each`)
    console.log(`  issued (Pki.issueWorkload, SQLite)   ${f(issued).padStart(7)}/s`)
    console.log(`  floor (P-256 key pair + one sign)    ${f(floor).padStart(7)}/s`)
    console.log(`  ratio                                ${result.ratio.toFixed(3)}`)
  }
} finally {
  await store.close()
  rmSync(work, { recursive: true, force: true })
}
