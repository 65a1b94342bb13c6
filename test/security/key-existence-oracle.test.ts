/**
 * Issue 9, item 8 (first half): another tenant's KMS key, named by id or by
 * ARN, must answer exactly as a key that does not exist. Before, the gateway
 * said "belongs to another tenant" (AccessDenied) for a real key and
 * KMS.NotFoundException for a random one, so any tenant could probe which key
 * ids exist elsewhere.
 *
 * AWS KMS resolves a bare key id in the caller's own account only ("If the KMS
 * key doesn't exist in the same account that's issuing the command, you must use
 * the full Key ARN not the Key ID":
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, SSEKMSKeyId),
 * so another account's key id is simply not found there; and a bucket's objects
 * are sealed only under its owner's keys here, so a key ARN of another tenant is
 * answered the same way as a key that does not exist.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { bob, sdk, start, stop, strongroom, strongroomRun } from '../e2e/harness.ts'

before(() => start())
after(stop)

interface Key {
  KeyId: string
  Arn: string
}

/** The references to compare: another tenant's key by id and ARN, and keys that do not exist. */
function probes(vision: Key, audioAccount: string): Record<string, string> {
  const visionAccount = vision.Arn.split(':')[4] ?? ''
  return {
    'other tenant key id': vision.KeyId,
    'other tenant key ARN': vision.Arn,
    'random uuid': randomUUID(),
    'random uuid in other tenant ARN': `arn:aws:kms:us-east-1:${visionAccount}:key/${randomUUID()}`,
    'random uuid in own ARN': `arn:aws:kms:us-east-1:${audioAccount}:key/${randomUUID()}`,
  }
}

/** What the gateway answered, with the echoed reference replaced so answers can be compared. */
async function answer(send: Promise<unknown>, ref: string): Promise<string> {
  try {
    await send
  } catch (e) {
    assert.ok(e instanceof S3ServiceException, String(e))
    return JSON.stringify([e.$metadata.httpStatusCode, e.name, e.message.replaceAll(ref, '<REF>')])
  }
  assert.fail(`the key ${ref} was accepted`)
}

describe("another tenant's key answers as a key that does not exist", () => {
  let vision: Key
  let audio: Key
  before(() => {
    vision = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'vision', '--alias', 'oracle-models', '--json']),
    ) as Key
    audio = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'audio', '--alias', 'oracle-speech', '--json']),
    ) as Key
  })

  it('x-amz-server-side-encryption-aws-kms-key-id naming another tenant key by id or ARN answers as a random uuid', async () => {
    const s3 = sdk(bob)
    await s3.send(new CreateBucketCommand({ Bucket: 'oracle-audio' }))
    const seen = new Map<string, string>()
    for (const [what, ref] of Object.entries(probes(vision, audio.Arn.split(':')[4] ?? ''))) {
      const put = await answer(
        s3.send(
          new PutObjectCommand({
            Bucket: 'oracle-audio',
            Key: 'x',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: ref,
          }),
        ),
        ref,
      )
      const mpu = await answer(
        s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'oracle-audio',
            Key: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: ref,
          }),
        ),
        ref,
      )
      assert.equal(mpu, put, what)
      seen.set(what, put)
    }
    assert.deepEqual(
      new Set(seen.values()),
      new Set(['[400,"KMS.NotFoundException","Invalid keyId <REF>: no such key"]']),
      JSON.stringify(Object.fromEntries(seen)),
    )
  })

  it('bucket encryption naming another tenant key by id or ARN answers as a random uuid', async () => {
    const s3 = sdk(bob)
    await s3.send(new CreateBucketCommand({ Bucket: 'oracle-audio-enc' }))
    const seen = new Map<string, string>()
    for (const [what, ref] of Object.entries(probes(vision, audio.Arn.split(':')[4] ?? ''))) {
      seen.set(
        what,
        await answer(
          s3.send(
            new PutBucketEncryptionCommand({
              Bucket: 'oracle-audio-enc',
              ServerSideEncryptionConfiguration: {
                Rules: [
                  {
                    ApplyServerSideEncryptionByDefault: {
                      SSEAlgorithm: 'aws:kms',
                      KMSMasterKeyID: ref,
                    },
                  },
                ],
              },
            }),
          ),
          ref,
        ),
      )
    }
    assert.deepEqual(
      new Set(seen.values()),
      new Set(['[400,"KMS.NotFoundException","Invalid keyId <REF>: no such key"]']),
      JSON.stringify(Object.fromEntries(seen)),
    )
  })

  it('the CLI key commands with --tenant answer for another tenant key as for a random uuid', () => {
    for (const cmd of [['describe'], ['schedule-deletion']]) {
      const seen = new Map<string, string>()
      for (const [what, ref] of Object.entries(probes(vision, audio.Arn.split(':')[4] ?? ''))) {
        const r = strongroomRun(['key', ...cmd, '--tenant', 'audio', '--key', ref])
        seen.set(what, JSON.stringify([r.status, r.stdout, r.stderr.replaceAll(ref, '<REF>')]))
      }
      assert.deepEqual(
        new Set(seen.values()),
        new Set([
          JSON.stringify([
            1,
            '',
            'strongroom: tenant `audio` has no key `<REF>`; list its keys with `strongroom key list --tenant audio` [KEY_NOT_FOUND]\n',
          ]),
        ]),
        `${cmd.join(' ')}: ${JSON.stringify(Object.fromEntries(seen))}`,
      )
    }
    // And the key is still there, untouched, for its owner.
    const still = JSON.parse(
      strongroom(['key', 'describe', '--tenant', 'vision', '--key', vision.KeyId, '--json']),
    ) as { KeyState: string }
    assert.equal(still.KeyState, 'Enabled')
  })
})
