/**
 * KMS API benchmarks (issue 16): Encrypt and Decrypt of 4 KiB, and GenerateDataKey, over HTTP on
 * loopback (keep-alive, 16 in flight), the gateway on the main thread (Node serves on one
 * thread: one core) and the client signing and sending from a worker thread on the other.
 * Each beside DescribeKey on the same path: the same codec, SigV4, key lookup and key-policy
 * decision, without the cryptography, so the ratio is what the cryptography costs.
 *
 * Usage: node bench/kms-api.ts [--seconds N] [--json]
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { isMainThread, workerData } from 'node:worker_threads'
import type { SigningKeys } from '../src/api/sign.ts'
import { callJson, startInProcess } from '../test/api/inprocess.ts'
import { client, throughput, type ClientJob } from './api-client.ts'

if (!isMainThread) await client(workerData as ClientJob)

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)

const dir = mkdtempSync(join(tmpdir(), 'sr-bench-kms-'))
const g = await startInProcess(dir)
const admin: SigningKeys = { id: g.admin.id, secret: g.admin.secret }
const region = g.app.config.region
const made = await callJson(g.running.url, g.admin, 'kms', 'TrentService.CreateKey', {})
const keyId = String((made.body.KeyMetadata as Record<string, unknown>).KeyId)
const EncryptionContext = { project: 'bench' }
const Plaintext = randomBytes(4096).toString('base64')
const sealed = await callJson(g.running.url, g.admin, 'kms', 'TrentService.Encrypt', {
  KeyId: keyId,
  Plaintext,
  EncryptionContext,
})
if (sealed.status !== 200) throw new Error(JSON.stringify(sealed.body))

/** Answers per second of `op` with `input`, 16 in flight from a worker thread. */
const rate = (op: string, input: object) =>
  throughput(new URL(import.meta.url), {
    url: `${g.running.url}/`,
    keys: admin,
    region,
    service: 'kms',
    body: JSON.stringify(input),
    seconds,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `TrentService.${op}`,
    },
  })

const describe = await rate('DescribeKey', { KeyId: keyId })
const encrypt = await rate('Encrypt', { KeyId: keyId, Plaintext, EncryptionContext })
const decrypt = await rate('Decrypt', {
  CiphertextBlob: sealed.body.CiphertextBlob,
  EncryptionContext,
})
const dataKey = await rate('GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' })
const describeAgain = await rate('DescribeKey', { KeyId: keyId })
const baseline = Math.max(describe, describeAgain)

await g.close()
rmSync(dir, { recursive: true, force: true })

const fmt = (n: number) => `${Math.round(n).toLocaleString('en')}/s`
const rows = [
  ['Encrypt, 4 KiB, encryption context', encrypt],
  ['Decrypt, 4 KiB, encryption context', decrypt],
  ['GenerateDataKey, AES_256', dataKey],
].map(([what, r]) => ({
  what: `${String(what)} (16 in flight; the gateway on one core)`,
  strongroom: fmt(Number(r)),
  baseline: `DescribeKey on the same path (faster of before and after): ${fmt(baseline)}`,
  ratio: Number(r) / baseline,
  target: '≥ 5,000/s',
}))
if (values.json) console.log(JSON.stringify(rows))
else
  for (const r of rows)
    console.log(
      `${r.what}: ${r.strongroom}; ${r.baseline}; ratio ${r.ratio.toFixed(2)} (target ${r.target})`,
    )
