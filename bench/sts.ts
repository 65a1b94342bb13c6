/**
 * Session-token benchmarks (issue 13), one core, each figure beside a baseline in the same run:
 *
 *   1. validating a session token (what every request with a session does before SigV4), seen
 *      before and on first sight, vs the bare crypto a first sight cannot avoid: one
 *      AES-256-GCM open of the same bytes and one HMAC-SHA512
 *   2. issuing a session token vs the same bare crypto, sealing
 *
 * Usage: node bench/sts.ts [--seconds N] [--json]
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
} from 'node:crypto'
import { parseArgs } from 'node:util'
import { SessionTokens, type SessionClaims } from '../src/sts/token.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
})
const budget = Number(values.seconds) * 1e9

/** Calls per second of `f`, run for the time budget after a warm-up. */
function rate(f: () => void): number {
  for (let i = 0; i < 2000; i++) f()
  let n = 0
  const t0 = process.hrtime.bigint()
  let elapsed = 0
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) f()
    n += 1000
    elapsed = Number(process.hrtime.bigint() - t0)
  }
  return n / (elapsed / 1e9)
}

const now = Date.now()
const claims: SessionClaims = {
  tenantId: '111122223333',
  kind: 'role',
  name: 'trainer',
  principalId: 'AROAEXAMPLEEXAMPLE12',
  sessionName: 'job-42',
  issuedAt: now,
  expiresAt: now + 3_600_000,
  tags: [['team', 'vision']],
}
const tokens = new SessionTokens(new Map([[1, randomBytes(32)]]), 1)
const c = tokens.issue(claims)
const body = Buffer.from(c.sessionToken, 'base64')

// Keys as KeyObjects, as the token code holds them (a raw key costs Node ~35 µs per cipher).
const key = createSecretKey(randomBytes(32))
const mac = createSecretKey(randomBytes(32))
const nonce = randomBytes(12)
const plain = body.subarray(17, body.byteLength - 16)
const cipher = createCipheriv('aes-256-gcm', key, nonce)
const sealed = Buffer.concat([cipher.update(plain), cipher.final()])
const tag = cipher.getAuthTag()
const bareOpen = () => {
  createHmac('sha512', mac).update(body).digest()
  const d = createDecipheriv('aes-256-gcm', key, nonce)
  d.setAuthTag(tag)
  d.update(sealed)
  d.final()
}
const bareSeal = () => {
  const e = createCipheriv('aes-256-gcm', key, randomBytes(12))
  e.update(plain)
  e.final()
  e.getAuthTag()
  createHmac('sha512', mac).update(body).digest()
}

// Seen: the same session again (a job signs every request with it). First sight: tokens
// never opened before, more of them than the opened-session cache holds, so every one misses.
const open = rate(() => tokens.open(c.accessKeyId, c.sessionToken, now))
const many = Array.from({ length: 20_000 }, () => tokens.issue(claims))
let next = 0
const cold = rate(() => {
  const t = many[next++ % many.length] ?? c
  tokens.open(t.accessKeyId, t.sessionToken, now)
})
const openBase = rate(bareOpen)
const issue = rate(() => tokens.issue(claims))
const issueBase = rate(bareSeal)
const rows = [
  {
    what: `validate a session token seen before (${String(c.sessionToken.length)} characters)`,
    strongroom: open,
    baseline: openBase,
    target: '≥ 100,000/s',
  },
  {
    what: 'validate a session token on first sight',
    strongroom: cold,
    baseline: openBase,
    target: '—',
  },
  { what: 'issue a session token', strongroom: issue, baseline: issueBase, target: '—' },
]
if (values.json) console.log(JSON.stringify(rows))
else
  for (const r of rows)
    console.log(
      `${r.what}: ${Math.round(r.strongroom).toLocaleString('en')}/s, bare crypto ${Math.round(r.baseline).toLocaleString('en')}/s, ratio ${(r.strongroom / r.baseline).toFixed(2)} (target ${r.target})`,
    )
