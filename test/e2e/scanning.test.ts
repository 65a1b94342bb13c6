/**
 * Model scanning in the store, end to end with the AWS SDK for JavaScript:
 * every upload is scanned under its bucket's policy (report, enforce,
 * reject), the verdict is kept with the object and shown by HEAD, a
 * quarantined object is readable only with strongroom:GetQuarantinedObject,
 * every verdict is an audit event, and `strongroom rescan` redoes them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { concat, p } from '../scan/builders.ts'
import { responseHeaders } from './sdk-util.ts'
import { CASES } from '../scan/corpus.ts'
import {
  alice,
  loggedEvents,
  newKey,
  policyFile,
  sdk,
  start,
  stop,
  strongroom,
  strongroomRun,
} from './harness.ts'

before(() => start())
after(stop)

const bytesOf = (name: string) => {
  const c = CASES.find((x) => x.name === name)
  assert.ok(c !== undefined, name)
  return c.bytes
}
const BENIGN = bytesOf('benign-torch-zip-state-dict')
const MALICIOUS = bytesOf('torch-zip-payload')
/** More than the 1 MiB kept in memory while sealing: scanned by reading the sealed body back. */
const LARGE_MALICIOUS = (() => {
  const b = p().proto(4).emptyList().mark()
  for (let i = 0; i < 400_000; i++) b.float(i)
  return b.appends().pop().call('os', 'system', 'id', true).stop().done()
})()

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return `${e.name}: ${e.message}`
  }
  return 'ok'
}

async function read(s3: S3Client, key: string): Promise<Uint8Array> {
  const r = await s3.send(new GetObjectCommand({ Bucket: 'vision-models', Key: key }))
  return (await r.Body?.transformToByteArray()) ?? new Uint8Array(0)
}

/** The verdict headers HEAD answers with (x-strongroom-*: never user metadata). */
const verdict = async (s3: S3Client, key: string) => {
  const h = await responseHeaders(s3, (c) =>
    c.send(new HeadObjectCommand({ Bucket: 'vision-models', Key: key })),
  )
  return Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('x-strongroom-')))
}
const head = (s3: S3Client, key: string) =>
  s3.send(new HeadObjectCommand({ Bucket: 'vision-models', Key: key }))

describe('model scanning in the store', () => {
  it('report: verdicts are kept with each object and shown by HEAD; nothing is blocked', async () => {
    const s3 = sdk(alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'vision-models' }))
    await s3.send(new PutObjectCommand({ Bucket: 'vision-models', Key: 'good.pt', Body: BENIGN }))
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'vision-models', Key: 'evil.pt', Body: MALICIOUS }),
    )
    assert.equal(put.$metadata.httpStatusCode, 200)
    await s3.send(
      new PutObjectCommand({ Bucket: 'vision-models', Key: 'large.pkl', Body: LARGE_MALICIOUS }),
    )
    assert.deepEqual(await verdict(s3, 'good.pt'), { 'x-strongroom-scan': 'clean' })
    assert.deepEqual(await verdict(s3, 'evil.pt'), {
      'x-strongroom-scan': 'malicious',
      'x-strongroom-scan-finding': 'pickle.dangerous-global os.system',
    })
    assert.equal((await verdict(s3, 'large.pkl'))['x-strongroom-scan'], 'malicious')
    assert.deepEqual((await head(s3, 'evil.pt')).Metadata, {}, 'no metadata the client never wrote')
    assert.deepEqual(await read(s3, 'evil.pt'), MALICIOUS, 'report does not block')
    // A client cannot vouch for its own upload: the verdict is not in its metadata, and the
    // names that carried verdicts before are reserved (dropped).
    await s3.send(
      new PutObjectCommand({
        Bucket: 'vision-models',
        Key: 'spoofed.pt',
        Body: MALICIOUS,
        Metadata: { 'strongroom-scan': 'clean', owner: 'mallory' },
      }),
    )
    assert.deepEqual((await head(s3, 'spoofed.pt')).Metadata, { owner: 'mallory' })
    assert.deepEqual(await verdict(s3, 'spoofed.pt'), {
      'x-strongroom-scan': 'malicious',
      'x-strongroom-scan-finding': 'pickle.dangerous-global os.system',
    })
    s3.destroy()
  })

  it('enforce: what is not clean is quarantined, readable only with strongroom:GetQuarantinedObject', async () => {
    strongroom(['bucket', 'scan-policy', 'vision-models', 'enforce'])
    const s3 = sdk(alice)
    const denied = await code(read(s3, 'evil.pt'))
    assert.match(denied, /AccessDenied: Access Denied: the object is quarantined/)
    assert.match(denied, /strongroom:GetQuarantinedObject/)
    assert.equal((await verdict(s3, 'evil.pt'))['x-strongroom-quarantined'], 'true')
    assert.deepEqual(await read(s3, 'good.pt'), BENIGN)
    assert.match(
      await code(
        s3.send(
          new CopyObjectCommand({
            Bucket: 'vision-models',
            Key: 'laundered.pt',
            CopySource: 'vision-models/evil.pt',
          }),
        ),
      ),
      /AccessDenied: .*quarantined/,
      'a copy cannot launder a quarantined object',
    )
    // New uploads that are not clean are stored quarantined.
    await s3.send(
      new PutObjectCommand({ Bucket: 'vision-models', Key: 'evil2.pt', Body: MALICIOUS }),
    )
    assert.match(await code(read(s3, 'evil2.pt')), /quarantined/)
    s3.destroy()

    strongroom(['user', 'create', '--tenant', 'vision', 'secops'])
    const doc = policyFile('secops.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 'strongroom:GetQuarantinedObject'],
          Resource: 'arn:aws:s3:::vision-models/*',
        },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
      ],
    })
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'secops',
      '--name',
      'q',
      '--document',
      doc,
    ])
    const secops = sdk(newKey('vision', 'secops'))
    assert.deepEqual(await read(secops, 'evil.pt'), MALICIOUS)
    secops.destroy()
  })

  it('reject: an upload that is not clean fails and leaves nothing, single or multipart', async () => {
    strongroom(['bucket', 'scan-policy', 'vision-models', 'reject'])
    const s3 = sdk(alice)
    const put = await code(
      s3.send(
        new PutObjectCommand({ Bucket: 'vision-models', Key: 'rejected.pt', Body: MALICIOUS }),
      ),
    )
    assert.match(
      put,
      /InvalidRequest: the bucket's scan policy rejects malicious uploads: rejected\.pt/,
    )
    assert.match(await code(head(s3, 'rejected.pt')), /NotFound/)
    const up = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'vision-models', Key: 'mp.pkl' }),
    )
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: 'vision-models',
        Key: 'mp.pkl',
        UploadId: up.UploadId,
        PartNumber: 1,
        Body: LARGE_MALICIOUS,
      }),
    )
    assert.match(
      await code(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'vision-models',
            Key: 'mp.pkl',
            UploadId: up.UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        ),
      ),
      /InvalidRequest: the bucket's scan policy rejects malicious uploads/,
    )
    assert.match(await code(head(s3, 'mp.pkl')), /NotFound/)
    // Clean uploads still go through.
    await s3.send(
      new PutObjectCommand({ Bucket: 'vision-models', Key: 'fine.pt', Body: concat(BENIGN) }),
    )
    assert.equal((await verdict(s3, 'fine.pt'))['x-strongroom-scan'], 'clean')
    s3.destroy()
  })

  it('every verdict is an audit event; verdicts are listed and rescanned from the CLI', async () => {
    const events = await scanVerdicts()
    const outcome = (key: string) => events.filter((e) => e.key === key).map((e) => e.outcome)
    assert.deepEqual(outcome('good.pt'), ['stored'])
    assert.deepEqual(outcome('evil2.pt'), ['quarantined'])
    assert.deepEqual(outcome('rejected.pt'), ['rejected'])
    assert.deepEqual(outcome('mp.pkl'), ['rejected'])

    // Both exit 1: something in the bucket is not clean.
    const verdicts = strongroomRun(['bucket', 'verdicts', 'vision-models', '--json'])
    assert.equal(verdicts.status, 1, verdicts.stderr)
    const listed = JSON.parse(verdicts.stdout) as {
      ScanPolicy: string
      Versions: { Key: string; Verdict: string }[]
    }
    assert.equal(listed.ScanPolicy, 'reject')
    assert.deepEqual(listed.Versions.map((v) => `${v.Key}=${v.Verdict}`).sort(), [
      'evil.pt=malicious',
      'evil2.pt=malicious',
      'fine.pt=clean',
      'good.pt=clean',
      'large.pkl=malicious',
      'spoofed.pt=malicious',
    ])
    const rescanned = strongroomRun(['rescan', 'vision-models', '--all'])
    assert.equal(rescanned.status, 1, rescanned.stderr)
    assert.match(rescanned.stdout, /^rescanned 6 of 6 object versions \(rules [0-9a-f]{12}\)$/m)
    // The gateway holds the log: the CLI's verdicts reach it through its inbox within a second.
    let after = await scanVerdicts()
    for (let i = 0; i < 50 && after.length < events.length + 6; i++) {
      await new Promise((r) => setTimeout(r, 100))
      after = await scanVerdicts()
    }
    assert.equal(after.length, events.length + 6)
    assert.deepEqual(
      after.slice(events.length).map((e) => e.uploadedBy),
      Array(6).fill('strongroom rescan'),
    )
  })
})

/** The ScanVerdict events of the audit log, their parameters. */
async function scanVerdicts(): Promise<{ key: string; outcome: string; uploadedBy: string }[]> {
  const out: { key: string; outcome: string; uploadedBy: string }[] = []
  for (const e of await loggedEvents())
    if (e.eventName === 'ScanVerdict')
      out.push(e.requestParameters as { key: string; outcome: string; uploadedBy: string })
  return out
}
