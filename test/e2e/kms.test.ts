/**
 * KMS's API through the clients people use, on the gateway's one URL: `aws kms encrypt` and
 * `aws kms decrypt` (v1 and v2) round-trip a file, boto3 makes a key, encrypts with an
 * encryption context and decrypts without naming the key, and a key made through the API
 * becomes a bucket's default key that seals the objects written to it.
 * https://docs.aws.amazon.com/cli/latest/reference/kms/encrypt.html,
 * https://docs.aws.amazon.com/cli/latest/reference/kms/decrypt.html
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  aws,
  awsV2,
  ca,
  endpoint,
  env,
  needs,
  newUser,
  run,
  start,
  stop,
  work,
  type Creds,
} from './harness.ts'

let keeper: Creds

before(async () => {
  await start()
  keeper = newUser('vision', 'keeper', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' }],
  })
})
after(stop)

describe('KMS through the aws CLI and boto3', () => {
  it('aws kms create-key, encrypt and decrypt round-trip a file (v1 and v2)', (t) => {
    if (!needs(t, 'aws', 'awsV2')) return
    for (const cli of [aws, awsV2]) {
      const made = cli(keeper, 'kms', 'create-key', '--description', 'cli key', '--output', 'json')
      assert.equal(made.code, 0, made.stderr)
      const keyId = (JSON.parse(made.stdout) as { KeyMetadata: { KeyId: string } }).KeyMetadata
        .KeyId
      const secret = randomBytes(200)
      const file = join(work, 'secret.bin')
      writeFileSync(file, secret)
      const enc = cli(
        keeper,
        'kms',
        'encrypt',
        '--key-id',
        keyId,
        '--plaintext',
        `fileb://${file}`,
        '--encryption-context',
        'team=vision',
        '--output',
        'text',
        '--query',
        'CiphertextBlob',
      )
      assert.equal(enc.code, 0, enc.stderr)
      const blob = join(work, 'secret.enc')
      writeFileSync(blob, Buffer.from(enc.stdout.trim(), 'base64'))
      const dec = cli(
        keeper,
        'kms',
        'decrypt',
        '--ciphertext-blob',
        `fileb://${blob}`,
        '--encryption-context',
        'team=vision',
        '--output',
        'text',
        '--query',
        'Plaintext',
      )
      assert.equal(dec.code, 0, dec.stderr)
      assert.deepEqual(Buffer.from(dec.stdout.trim(), 'base64'), secret)
      const wrong = cli(keeper, 'kms', 'decrypt', '--ciphertext-blob', `fileb://${blob}`)
      assert.notEqual(wrong.code, 0)
      assert.match(wrong.stderr, /InvalidCiphertextException/)
    }
  })

  it('docs/gateway.md: the KMS example, as written', (t) => {
    if (!needs(t, 'aws')) return
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'gateway.md'), 'utf8')
    const section = page.slice(page.indexOf('### The KMS API'))
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    assert.match(block, /aws kms encrypt/)
    // alias/s3-default is made with the tenant's first bucket.
    assert.equal(aws(keeper, 's3api', 'create-bucket', '--bucket', 'doc-kms').code, 0)
    const secret = randomBytes(64)
    writeFileSync(join(work, 'secret.bin'), secret)
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block], {
      cwd: work,
      env: { ...env(keeper), STRONGROOM_ENDPOINT: endpoint },
    })
    assert.equal(r.status, 0, r.stderr.toString())
    assert.deepEqual(r.stdout, secret)
  })

  it('boto3: a key made through the API seals a bucket’s objects as its default key', (t) => {
    if (!needs(t, 'boto3')) return
    const r = run(
      'python3',
      [
        '-c',
        [
          'import boto3, json',
          `kms = boto3.client('kms', endpoint_url='${endpoint}', verify='${ca}')`,
          `s3 = boto3.client('s3', endpoint_url='${endpoint}', verify='${ca}')`,
          "key = kms.create_key(Description='models')['KeyMetadata']",
          "c = kms.encrypt(KeyId=key['Arn'], Plaintext=b'hello', EncryptionContext={'a': 'b'})",
          "p = kms.decrypt(CiphertextBlob=c['CiphertextBlob'], EncryptionContext={'a': 'b'})",
          "s3.create_bucket(Bucket='kms-models')",
          "s3.put_bucket_encryption(Bucket='kms-models', ServerSideEncryptionConfiguration={'Rules': [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': key['Arn']}}]})",
          "s3.put_object(Bucket='kms-models', Key='w.bin', Body=b'weights')",
          "head = s3.head_object(Bucket='kms-models', Key='w.bin')",
          "body = s3.get_object(Bucket='kms-models', Key='w.bin')['Body'].read()",
          "print(json.dumps({'plain': p['Plaintext'].decode(), 'same': p['KeyId'] == key['Arn'], 'sse': head.get('SSEKMSKeyId'), 'arn': key['Arn'], 'body': body.decode()}))",
        ].join('\n'),
      ],
      keeper,
    )
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as Record<string, unknown>
    assert.equal(out.plain, 'hello')
    assert.equal(out.same, true)
    assert.equal(out.sse, out.arn)
    assert.equal(out.body, 'weights')
  })
})
