/**
 * Scanning through the in-process gateway and the operator commands beside it (docs/scanner.md):
 * verdicts kept with each version, `enforce` quarantining what is not clean, `bucket verdicts`
 * listing them with filters and exit statuses, and `rescan`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { CASES } from '../scan/corpus.ts'
import { errorOf, startGateway, type Gateway } from './start.ts'

let gw: Gateway
let a: S3Client
const B = 'gw-models'
const bytesOf = (name: string) => {
  const c = CASES.find((x) => x.name === name)
  assert.ok(c !== undefined, name)
  return c.bytes
}

before(async () => {
  gw = await startGateway()
  a = gw.sdk(gw.alice)
  await a.send(new CreateBucketCommand({ Bucket: B }))
})
after(() => gw.stop())

describe('scanning, in process', () => {
  it('report (the default): verdicts are kept and shown by HEAD; nothing is blocked', async () => {
    const show = await gw.cli('bucket', 'scan-policy', B)
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /report/)
    await a.send(
      new PutObjectCommand({ Bucket: B, Key: 'evil.pt', Body: bytesOf('torch-zip-payload') }),
    )
    const h = await a.send(new HeadObjectCommand({ Bucket: B, Key: 'evil.pt' }))
    assert.deepEqual(h.Metadata, {}, 'the verdict is not user metadata')
    const read = await gw.call(gw.alice, { method: 'GET', path: `/${B}/evil.pt` })
    assert.equal(read.status, 200)
    assert.equal(read.headers['x-strongroom-scan'], 'malicious')
    assert.equal(read.headers['x-strongroom-quarantined'], undefined, 'report does not quarantine')
  })

  it('enforce: what is not clean is quarantined, and a GET says so', async () => {
    const set = await gw.cli('bucket', 'scan-policy', B, 'enforce')
    assert.equal(set.code, 0, set.stderr)
    await a.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'good.pt',
        Body: bytesOf('benign-torch-zip-state-dict'),
      }),
    )
    const denied = await gw.call(gw.alice, { method: 'GET', path: `/${B}/evil.pt` })
    assert.equal(denied.status, 403)
    assert.match(errorOf(denied.text).Message ?? '', /quarantined/)
    const good = await gw.call(gw.alice, { method: 'GET', path: `/${B}/good.pt` })
    assert.equal(good.status, 200)
  })

  it('bucket verdicts: every version, worst first, exit status 1 while any is not clean', async () => {
    const all = await gw.cli('bucket', 'verdicts', B)
    assert.equal(all.code, 1)
    assert.equal(
      all.stdout,
      [
        `bucket ${B} (scan policy enforce):`,
        'malicious  quarantined evil.pt  pickle.dangerous-global: imports os.system: os can run commands, code or I/O when called',
        'clean      good.pt',
        '',
      ].join('\n'),
    )
  })

  it('bucket verdicts filters: --quarantined --json, --verdict clean (exit 0), an unknown verdict (exit 2)', async () => {
    const q = await gw.cli('bucket', 'verdicts', B, '--quarantined', '--json')
    assert.equal(q.code, 1)
    const listed = JSON.parse(q.stdout) as {
      ScanPolicy: string
      Versions: { Key: string; Quarantined: boolean; Verdict: string }[]
    }
    assert.equal(listed.ScanPolicy, 'enforce')
    assert.deepEqual(
      listed.Versions.map((v) => [v.Key, v.Verdict, v.Quarantined]),
      [['evil.pt', 'malicious', true]],
    )
    const clean = await gw.cli('bucket', 'verdicts', B, '--verdict', 'clean')
    assert.deepEqual(
      [clean.code, clean.stdout],
      [0, `bucket ${B} (scan policy enforce):\nclean      good.pt\n`],
    )
    const none = await gw.cli('bucket', 'verdicts', B, '--prefix', 'zzz')
    assert.deepEqual(
      [none.code, none.stdout],
      [0, `bucket ${B} (scan policy enforce):\n  no object versions\n`],
    )
    const bad = await gw.cli('bucket', 'verdicts', B, '--verdict', 'evil')
    assert.equal(bad.code, 2)
    assert.equal(
      bad.stderr,
      'strongroom: --verdict must be one of clean, suspicious, malicious, unscanned, got `evil` [USAGE]\n',
    )
    const missing = await gw.cli('bucket', 'verdicts', 'gw-no-such-bucket')
    assert.deepEqual(
      [missing.code, missing.stderr],
      [2, 'strongroom: there is no bucket `gw-no-such-bucket`; see `aws s3 ls` [USAGE]\n'],
    )
  })

  it('rescan --all scans every version again: one JSON line each, before and after; exit 1 while any is not clean', async () => {
    const r = await gw.cli('rescan', B, '--all', '--json')
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { Key: string; Before: string; Verdict: string })
    assert.deepEqual(lines.map((l) => [l.Key, l.Before, l.Verdict]).sort(), [
      ['evil.pt', 'malicious', 'malicious'],
      ['good.pt', 'clean', 'clean'],
    ])
    const human = await gw.cli('rescan', B, '--all')
    assert.match(human.stdout, /^rescanned 2 of 2 object versions \(rules [0-9a-f]{12}\)\n$/m)
  })

  it('a scan policy that does not exist is a usage error', async () => {
    const r = await gw.cli('bucket', 'scan-policy', B, 'sometimes')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /`sometimes` is not a scan policy/)
  })
})
