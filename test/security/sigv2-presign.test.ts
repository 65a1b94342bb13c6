/**
 * Issue 9, item 11: aws CLI v1's `aws s3 presign` makes Signature Version 2 query URLs by
 * default. SigV2 stays refused, as S3 refuses it for every bucket created since June 2020
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation),
 * but the 400 says exactly that, and how to fix the CLI.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { alice, aws, endpoint, env, needs, sdk, start, stop, work } from '../e2e/harness.ts'
import { call, errorOf, presign, send } from './http.ts'

const BUCKET = 'vision-sigv2'
const MESSAGE =
  'AWS Signature Version 2 is not supported: sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256). aws CLI v1 presigns with Signature Version 2 by default; fix it with: aws configure set default.s3.signature_version s3v4'

before(async () => {
  await start()
  const s3 = sdk(alice)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'model.bin', Body: 'weights' }))
  s3.destroy()
})
after(stop)

function refusedAsSigV2(r: { status: number; body: string }): void {
  assert.equal(r.status, 400, r.body)
  assert.deepEqual(errorOf(r.body), { code: 'InvalidRequest', message: MESSAGE })
}

describe('Signature Version 2 is refused with the fix in the message', () => {
  it('a SigV2 presigned URL (AWSAccessKeyId, Signature, Expires) gets 400 naming the aws CLI fix', async () => {
    const r = await send({
      method: 'GET',
      path: `/${BUCKET}/model.bin?AWSAccessKeyId=${alice.id}&Signature=c2lnbmF0dXJl%2B%3D&Expires=4102444800`,
    })
    refusedAsSigV2(r)
  })

  it('a SigV2 Authorization header gets the same 400', async () => {
    const r = await call(undefined, {
      method: 'GET',
      path: `/${BUCKET}/model.bin`,
      headers: { authorization: `AWS ${alice.id}:c2lnbmF0dXJl`, date: new Date().toUTCString() },
    })
    refusedAsSigV2(r)
  })

  it('a SigV4 presigned URL still works', async () => {
    const r = await send({
      method: 'GET',
      path: '',
      url: await presign(alice, 'GET', `/${BUCKET}/model.bin`),
    })
    assert.equal(r.status, 200, r.body)
    assert.equal(r.body, 'weights')
  })

  it('the real `aws s3 presign` of aws CLI v1: its SigV2 URL gets the message, and s3v4 works', async (t) => {
    if (!needs(t, 'aws')) return
    const version = aws(alice, '--version')
    const v1 = /aws-cli\/1\./.test(version.stdout + version.stderr)
    const url = aws(alice, 's3', 'presign', `s3://${BUCKET}/model.bin`).stdout.trim()
    assert.ok(url.startsWith(endpoint), url)
    if (url.includes('AWSAccessKeyId=')) {
      refusedAsSigV2(await send({ method: 'GET', path: '', url }))
      // The fix the message gives, as a config file says it.
      const config = join(work, 'aws-s3v4.cfg')
      writeFileSync(config, '[default]\ns3 =\n    signature_version = s3v4\n')
      const fixed = spawnSync(
        'aws',
        ['--endpoint-url', endpoint, 's3', 'presign', `s3://${BUCKET}/model.bin`],
        { env: { ...env(alice), AWS_CONFIG_FILE: config }, encoding: 'utf8' },
      ).stdout.trim()
      assert.match(fixed, /X-Amz-Signature=/)
      const r = await send({ method: 'GET', path: '', url: fixed })
      assert.equal(r.status, 200, r.body)
      assert.equal(r.body, 'weights')
    } else {
      t.diagnostic(`aws ${v1 ? 'v1' : 'v2'} presigned with SigV4 here: ${url.slice(0, 80)}`)
      const r = await send({ method: 'GET', path: '', url })
      assert.equal(r.status, 200, r.body)
    }
  })
})
