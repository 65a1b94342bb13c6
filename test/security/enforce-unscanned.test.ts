/**
 * Objects written while a bucket's scan policy was `off` stayed readable
 * after it became `enforce` (issue 9, item 6): they had no verdict, and only
 * a verdict that was not clean quarantined. Now an object without a verdict
 * is unscanned, and under `enforce` an unscanned object is quarantined until
 * it is scanned: GET answers as for a quarantined object, saying it awaits
 * scanning; `strongroom bucket scan-policy BUCKET enforce` scans what is
 * unscanned, with progress (`--no-scan` leaves it to `strongroom rescan`).
 * Malicious and clean bodies come from the scanner's corpus, as in
 * test/e2e/scanning.test.ts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3'
import { CASES } from '../scan/corpus.ts'
import { alice, sdk, start, stop, strongroom, strongroomRun } from '../e2e/harness.ts'
import { responseHeaders } from '../e2e/sdk-util.ts'

before(() => start())
after(stop)

const bytesOf = (name: string) => {
  const c = CASES.find((x) => x.name === name)
  assert.ok(c !== undefined, name)
  return c.bytes
}
/** A protocol-2 pickle that calls os.system. */
const MALICIOUS = bytesOf('pickle-p2-os-system')
const CLEAN = bytesOf('benign-torch-zip-state-dict')

async function get(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket, Key }))
    return Buffer.from((await r.Body?.transformToByteArray()) ?? []).toString('base64')
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${String(e.$metadata.httpStatusCode)} ${e.name}: ${e.message}`
  }
}
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')

/** A bucket whose two objects were written with scanning off: nothing about them is known. */
async function unscannedBucket(s3: S3Client, Bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket }))
  strongroom(['bucket', 'scan-policy', Bucket, 'off'])
  await s3.send(new PutObjectCommand({ Bucket, Key: 'evil.pkl', Body: MALICIOUS }))
  await s3.send(new PutObjectCommand({ Bucket, Key: 'good.pt', Body: CLEAN }))
  assert.equal(await get(s3, Bucket, 'evil.pkl'), b64(MALICIOUS), 'off does not block')
}

describe('objects written while scanning was off, under enforce', () => {
  it('a malicious pickle written under off is refused once the policy is enforce, before and after its scan; a clean one becomes readable after its scan', async () => {
    const s3 = sdk(alice)
    const Bucket = 'late-enforce'
    await unscannedBucket(s3, Bucket)
    const set = strongroomRun(['bucket', 'scan-policy', Bucket, 'enforce', '--no-scan'])
    assert.equal(set.status, 0, set.stderr)
    assert.match(
      set.stdout,
      /2 unscanned object versions stay quarantined until `strongroom rescan late-enforce`/,
    )

    const awaiting =
      /^403 AccessDenied: Access Denied: the object is quarantined: it awaits scanning .*strongroom:GetQuarantinedObject$/
    assert.match(await get(s3, Bucket, 'evil.pkl'), awaiting)
    assert.match(await get(s3, Bucket, 'good.pt'), awaiting, 'unscanned is not clean')
    const head = await responseHeaders(s3, (c) =>
      c.send(new HeadObjectCommand({ Bucket, Key: 'good.pt' })),
    )
    assert.equal(head['x-strongroom-quarantined'], 'true')
    await assert.rejects(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'copy.pkl', CopySource: `${Bucket}/evil.pkl` })),
      /awaits scanning/,
      'a copy cannot launder an unscanned object',
    )

    const rescan = strongroomRun(['rescan', Bucket])
    assert.equal(rescan.status, 1, 'something in it is not clean')
    assert.match(rescan.stdout, /late-enforce\/evil\.pkl: unscanned -> malicious/)
    assert.match(
      await get(s3, Bucket, 'evil.pkl'),
      /^403 AccessDenied: Access Denied: the object is quarantined: the model scanner found it malicious \(pickle\.dangerous-global/,
    )
    assert.equal(await get(s3, Bucket, 'good.pt'), b64(CLEAN))
    s3.destroy()
  })

  it('switching to enforce scans what is unscanned, with progress, and quarantines what is not clean', async () => {
    const s3 = sdk(alice)
    const Bucket = 'switch-scans'
    await unscannedBucket(s3, Bucket)
    const set = strongroomRun(['bucket', 'scan-policy', Bucket, 'enforce'])
    assert.equal(set.status, 0, set.stderr)
    assert.equal(
      set.stdout,
      [
        'bucket switch-scans: scan policy off -> enforce',
        'scanning 2 unscanned object versions of switch-scans (each stays quarantined until it is scanned clean)',
        '[1/2] evil.pkl: malicious (quarantined)',
        '[2/2] good.pt: clean',
        'scanned 2 of 2 unscanned versions',
        '',
      ].join('\n'),
    )
    assert.match(
      await get(s3, Bucket, 'evil.pkl'),
      /quarantined: the model scanner found it malicious/,
    )
    assert.equal(await get(s3, Bucket, 'good.pt'), b64(CLEAN))
    const again = strongroomRun(['bucket', 'scan-policy', Bucket, 'enforce', '--json'])
    assert.deepEqual(JSON.parse(again.stdout), {
      Bucket,
      ScanPolicy: 'enforce',
      Scanned: [],
    })
    s3.destroy()
  })
})
