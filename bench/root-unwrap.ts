/**
 * The root in an HSM (issue 16): how fast the SoftHSM2 provider wraps and unwraps a tenant key
 * version's 32-byte material, beside the local provider doing the same in the same run: AES-256-GCM
 * under the root's derived sealing key (src/kms/local.ts, format 2), the same AAD. An unwrap
 * happens when a process first uses a key version, never per request, so this is the cost of a
 * cold start per key version, not of a request.
 *
 * Needs Debian's softhsm2 and the pkcs11js build (npm ci with g++, make, python3).
 *
 * Usage: node bench/root-unwrap.ts [--seconds N] [--json]
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { openSecret, sealSecret } from '../src/crypto/seal.ts'
import { StrongroomError } from '../src/errors.ts'
import { pkcs11Root } from '../src/kms/external/pkcs11.ts'
import { materialAad, ROOT_SEAL_V2 } from '../src/kms/local.ts'
import { deriveRootKeys } from '../src/kms/root.ts'
import { NEEDS_SOFTHSM, softHsm } from '../test/kms/softhsm.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)

const hsm = softHsm()
if (hsm === undefined) {
  console.log(`bench/root-unwrap.ts: skipped, ${NEEDS_SOFTHSM}`)
  process.exit(0)
}

/** Operations per second of `op`, run for `seconds` (after a short warm-up). */
async function rate(op: () => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await op()
  let n = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await op()
    n += 50
  }
  return n / ((performance.now() - start) / 1000)
}

try {
  hsm.token('Bench', '1234-bench')
  const store = pkcs11Root(
    { kind: 'pkcs11', module: '/usr/lib/softhsm/libsofthsm2.so', token: 'Bench', key: 'root' },
    { pin: '1234-bench' },
    { create: true },
  )
  const { seal } = deriveRootKeys(randomBytes(32))
  const material = randomBytes(32)
  const aad = materialAad('1234abcd-12ab-34cd-56ef-1234567890ab', 1)
  const failure = () => new StrongroomError('ROOT_KEY_WRONG', 'does not open')
  const local = sealSecret(seal, material, aad, ROOT_SEAL_V2)
  const wrapped = await store.wrap(material, aad)

  const localWrap = await rate(() => sealSecret(seal, material, aad, ROOT_SEAL_V2))
  const hsmWrap = await rate(() => store.wrap(material, aad))
  const localUnwrap = await rate(() => openSecret(seal, local, aad, failure, ROOT_SEAL_V2))
  const hsmUnwrap = await rate(() => store.unwrap(wrapped, aad))
  await store.close()

  const result = {
    seconds,
    wrap: { local: localWrap, softhsm: hsmWrap, ratio: hsmWrap / localWrap },
    unwrap: { local: localUnwrap, softhsm: hsmUnwrap, ratio: hsmUnwrap / localUnwrap },
  }
  if (values.json) console.log(JSON.stringify(result))
  else {
    const f = (n: number) => Math.round(n).toLocaleString('en-US')
    console.log(`root wrap and unwrap of a key version's material, ${String(seconds)} s each`)
    for (const [name, r] of [
      ['wrap', result.wrap],
      ['unwrap', result.unwrap],
    ] as const)
      console.log(
        `  ${name.padEnd(6)}  local ${f(r.local).padStart(9)}/s   SoftHSM2 ${f(r.softhsm).padStart(8)}/s   ratio ${r.ratio.toFixed(3)}`,
      )
  }
} finally {
  hsm.stop()
}
