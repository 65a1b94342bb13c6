/**
 * The gateway end to end: a real `strongroom serve` over TLS with its own CA,
 * driven by real clients — the aws CLI (v1 on the machine's Python and
 * Debian's v2), boto3 (current, which sends CRC32 trailers, and Debian's),
 * the AWS SDK for JavaScript, rclone and s3cmd. .ci/run installs them; without one,
 * the tests that need it skip with one line naming the package (test/e2e/sdk-*.test.ts
 * cover the same behaviour with the SDK alone).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  BIN,
  alice,
  aws,
  awsV2,
  bob,
  ca,
  dataDir,
  endpoint,
  fetchTls,
  loggedDecisions,
  needs,
  policyFile,
  python,
  rawTls,
  sdk,
  start,
  stop,
  strongroom,
  work,
} from './harness.ts'

/** Debian's aws CLI v2 sets a bucket policy from a file, as alice. */
function putBucketPolicy(bucket: string, file: string): void {
  const r = awsV2(
    alice,
    's3api',
    'put-bucket-policy',
    '--bucket',
    bucket,
    '--policy',
    `file://${file}`,
  )
  assert.equal(r.code, 0, r.stderr)
}

/** Every test finds vision-data with `readme` and `old-boto`, whichever clients ran before it. */
before(async () => {
  await start()
  const client = sdk(alice)
  await client.send(new CreateBucketCommand({ Bucket: 'vision-data' }))
  await client.send(new PutObjectCommand({ Bucket: 'vision-data', Key: 'readme', Body: 'hi' }))
  await client.send(
    new PutObjectCommand({ Bucket: 'vision-data', Key: 'old-boto', Body: 'x'.repeat(1000) }),
  )
  client.destroy()
})
after(stop)

describe('S3 gateway with real clients', () => {
  it('serves HTTPS with the CA it wrote to DATA_DIR/ca.pem, and a health endpoint', async () => {
    assert.match(endpoint, /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(existsSync(ca))
    const r = await fetchTls('/_health')
    assert.equal(r.status, 200)
    assert.equal(r.text, 'ok\n')
  })

  it('aws CLI v2: bucket lifecycle, put, list, get, delete', (t) => {
    if (!needs(t, 'awsV2')) return
    assert.equal(awsV2(alice, 's3', 'mb', 's3://vision-models').code, 0)
    writeFileSync(join(work, 'a.txt'), 'weights v1\n')
    assert.equal(
      awsV2(alice, 's3', 'cp', join(work, 'a.txt'), 's3://vision-models/resnet/a.txt').code,
      0,
    )
    assert.match(awsV2(alice, 's3', 'ls', 's3://vision-models/resnet/').stdout, /\s11 a\.txt/)
    assert.equal(
      awsV2(alice, 's3', 'cp', 's3://vision-models/resnet/a.txt', '-').stdout,
      'weights v1\n',
    )
    assert.match(awsV2(alice, 's3', 'ls').stdout, /vision-models/)
    const rb = awsV2(alice, 's3', 'rb', 's3://vision-models')
    assert.notEqual(rb.code, 0)
    assert.match(rb.stderr, /BucketNotEmpty/)
    assert.equal(awsV2(alice, 's3', 'rm', 's3://vision-models/resnet/a.txt').code, 0)
    assert.equal(awsV2(alice, 's3', 'rb', 's3://vision-models').code, 0)
    assert.match(awsV2(alice, 's3api', 'head-bucket', '--bucket', 'vision-models').stderr, /404/)
  })

  it('aws CLI on the machine (current botocore): put and get with checksum trailers', (t) => {
    if (!needs(t, 'aws')) return
    assert.equal(aws(alice, 's3', 'mb', 's3://vision-ckpt').code, 0)
    const data = randomBytes(2 * 1024 * 1024 + 3)
    writeFileSync(join(work, 'ckpt.bin'), data)
    const put = aws(alice, 's3', 'cp', join(work, 'ckpt.bin'), 's3://vision-ckpt/epoch-1.bin')
    assert.equal(put.code, 0, put.stderr)
    const got = aws(alice, 's3', 'cp', 's3://vision-ckpt/epoch-1.bin', '-')
    assert.deepEqual(got.raw, data)
    const head = JSON.parse(
      aws(alice, 's3api', 'head-object', '--bucket', 'vision-ckpt', '--key', 'epoch-1.bin').stdout,
    ) as Record<string, string>
    assert.equal(
      head.ETag,
      `"${createHash('md5').update(data).digest('hex')}"`,
      'the ETag is the MD5 of the plaintext',
    )
    assert.equal(head.ServerSideEncryption, 'aws:kms')
  })

  it('boto3: put, ranged get, list with delimiter, missing key, wrong Content-MD5', (t) => {
    if (!needs(t, 'boto3')) return
    const r = python(
      alice,
      `
data = bytes(range(256)) * 5000
s3.put_object(Bucket='vision-data', Key='sets/train.bin', Body=data, Metadata={'owner': 'alice'})
s3.put_object(Bucket='vision-data', Key='sets/val.bin', Body=b'val')
s3.put_object(Bucket='vision-data', Key='readme', Body=b'hi')
assert s3.get_object(Bucket='vision-data', Key='sets/train.bin')['Body'].read() == data
g = s3.get_object(Bucket='vision-data', Key='sets/train.bin', Range='bytes=1000-1999')
assert g['Body'].read() == data[1000:2000] and g['ContentRange'] == 'bytes 1000-1999/%d' % len(data)
# The scan verdict is in x-strongroom-* headers, never in the user's metadata (docs/scanner.md).
h = s3.head_object(Bucket='vision-data', Key='sets/train.bin')
assert h['Metadata'] == {'owner': 'alice'}, h['Metadata']
assert h['ResponseMetadata']['HTTPHeaders']['x-strongroom-scan'] == 'suspicious', h
assert h['ResponseMetadata']['HTTPHeaders']['x-strongroom-scan-finding'] == 'format.unknown', h
l = s3.list_objects_v2(Bucket='vision-data', Delimiter='/')
assert [o['Key'] for o in l['Contents']] == ['old-boto', 'readme'] and l['CommonPrefixes'] == [{'Prefix': 'sets/'}], l
p = s3.list_objects_v2(Bucket='vision-data', MaxKeys=1)
assert p['IsTruncated'] and p['KeyCount'] == 1
q = s3.list_objects_v2(Bucket='vision-data', MaxKeys=5, ContinuationToken=p['NextContinuationToken'])
assert [o['Key'] for o in q['Contents']] == ['readme', 'sets/train.bin', 'sets/val.bin'], q
for call, code in [(lambda: s3.get_object(Bucket='vision-data', Key='nope'), 'NoSuchKey'),
                   (lambda: s3.get_object(Bucket='no-such-bucket-x', Key='k'), 'NoSuchBucket'),
                   (lambda: s3.put_object(Bucket='vision-data', Key='bad', Body=b'abc', ContentMD5='1B2M2Y8AsgTpgAmY7PhCfg=='), 'BadDigest')]:
    try:
        call(); raise SystemExit('expected ' + code)
    except s3.exceptions.ClientError as e:
        assert e.response['Error']['Code'] == code, e.response
try:
    s3.head_object(Bucket='vision-data', Key='bad'); raise SystemExit('a rejected upload is visible')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == '404'
print('ok')
`,
    )
    assert.equal(r.stdout.trim(), 'ok', r.stderr)
  })

  it("Debian's boto3: put and get", (t) => {
    if (!needs(t, 'debianBoto3')) return
    const r = python(
      alice,
      "s3.put_object(Bucket='vision-data', Key='old-boto', Body=b'x' * 1000)\nprint(len(s3.get_object(Bucket='vision-data', Key='old-boto')['Body'].read()))",
      '/usr/bin/python3',
    )
    assert.equal(r.stdout.trim(), '1000', r.stderr)
  })

  it('AWS SDK for JavaScript: put, get, presigned GET and PUT', async () => {
    const client = sdk(alice)
    const body = randomBytes(100_000)
    await client.send(
      new PutObjectCommand({ Bucket: 'vision-data', Key: 'js/blob.bin', Body: body }),
    )
    const got = await client.send(
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'js/blob.bin' }),
    )
    assert.deepEqual(Buffer.from((await got.Body?.transformToByteArray()) ?? []), body)
    const getUrl = await getSignedUrl(
      client,
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'js/blob.bin' }),
      { expiresIn: 60 },
    )
    const fetched = await fetchTls(getUrl)
    assert.equal(fetched.status, 200)
    assert.deepEqual(fetched.body, body)
    const putUrl = await getSignedUrl(
      client,
      new PutObjectCommand({ Bucket: 'vision-data', Key: 'js/presigned.txt' }),
      { expiresIn: 60 },
    )
    const put = await fetchTls(putUrl, { method: 'PUT', body: 'uploaded by URL' })
    assert.equal(put.status, 200, put.text)
    const back = await client.send(
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'js/presigned.txt' }),
    )
    assert.equal(await back.Body?.transformToString(), 'uploaded by URL')
    client.destroy()
  })

  it('presigned URLs: SigV4 works, SigV2 gets a clear error, an expired URL is refused', async (t) => {
    if (!needs(t, 'awsV2')) return
    const url = awsV2(
      alice,
      's3',
      'presign',
      's3://vision-data/readme',
      '--expires-in',
      '60',
    ).stdout.trim()
    assert.equal((await fetchTls(url)).text, 'hi')
    const v2 = new URL(url)
    const sigv2 = `${v2.origin}${v2.pathname}?AWSAccessKeyId=${alice.id}&Signature=abc&Expires=9999999999`
    assert.match(
      (await fetchTls(sigv2)).text,
      /<Code>InvalidRequest<\/Code><Message>AWS Signature Version 2 is not supported/,
    )
  })

  it('refuses a presigned URL once it has expired', async () => {
    const client = sdk(alice)
    const url = await getSignedUrl(
      client,
      new GetObjectCommand({ Bucket: 'vision-data', Key: 'readme' }),
      { expiresIn: 1 },
    )
    client.destroy()
    await new Promise((r) => setTimeout(r, 2100))
    assert.match(
      (await fetchTls(url)).text,
      /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/,
    )
  })

  it('refuses wrong secrets, unknown keys and anonymous requests with S3 errors', async (t) => {
    if (!needs(t, 'awsV2')) return
    assert.match(
      awsV2({ id: alice.id, secret: 'wrong-secret-wrong-secret' }, 's3', 'ls').stderr,
      /SignatureDoesNotMatch/,
    )
    assert.match(
      awsV2({ id: 'AKIANOSUCHKEY0000000', secret: 'x'.repeat(30) }, 's3', 'ls').stderr,
      /InvalidAccessKeyId/,
    )
    const anon = (await fetchTls('/vision-data/readme')).text
    assert.match(anon, /<Code>AccessDenied<\/Code>/)
  })

  it('bucket policies: a Deny in the bucket policy wins over the identity Allow', (t) => {
    if (!needs(t, 'awsV2')) return
    const policy = policyFile('deny-delete.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'NoDeletes',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:DeleteObject',
          Resource: 'arn:aws:s3:::vision-data/*',
        },
      ],
    })
    putBucketPolicy('vision-data', policy)
    const del = awsV2(alice, 's3', 'rm', 's3://vision-data/readme')
    assert.match(del.stderr, /AccessDenied/)
    assert.equal(
      awsV2(alice, 's3', 'cp', 's3://vision-data/readme', '-').stdout,
      'hi',
      'the object is still there',
    )
    const bad = awsV2(
      alice,
      's3api',
      'put-bucket-policy',
      '--bucket',
      'vision-data',
      '--policy',
      '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}',
    )
    assert.match(bad.stderr, /MalformedPolicy/)
  })

  it('cross-tenant: a bucket policy naming the other tenant is not enough, the key policy still refuses', async (t) => {
    if (!needs(t, 'awsV2')) return
    const audio = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
      id: string
      name: string
    }[]
    const audioId = audio.find((t) => t.name === 'audio')?.id ?? ''
    const policy = policyFile('share.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'NoDeletes',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:DeleteObject',
          Resource: 'arn:aws:s3:::vision-data/*',
        },
        {
          Sid: 'CarelessShare',
          Effect: 'Allow',
          Principal: { AWS: audioId },
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::vision-data', 'arn:aws:s3:::vision-data/*'],
        },
      ],
    })
    putBucketPolicy('vision-data', policy)
    assert.match(
      awsV2(bob, 's3', 'ls', 's3://vision-data/').stdout,
      /readme/,
      'listing is shared by the bucket policy',
    )
    const read = awsV2(bob, 's3', 'cp', 's3://vision-data/readme', '-')
    assert.notEqual(read.code, 0)
    assert.match(
      read.stderr,
      /403|Forbidden|AccessDenied/,
      "but the data stays sealed under vision's key",
    )
    // It was the key policy that refused: S3 allowed the read, kms:Decrypt did not.
    const decisions = (await loggedDecisions())
      .filter((d) => d.principal.includes('user/bob') && d.action === 'kms:Decrypt')
      .map((d) => d.decision)
    assert.ok(decisions.includes('ImplicitDeny'), 'a kms:Decrypt denial for bob is recorded')
  })

  it('rclone and s3cmd copy files in and out', (t) => {
    if (!needs(t, 'rclone', 's3cmd')) return
    const conf = join(work, 'rclone.conf')
    writeFileSync(
      conf,
      `[sr]\ntype = s3\nprovider = Other\naccess_key_id = ${alice.id}\nsecret_access_key = ${alice.secret}\nendpoint = ${endpoint}\nregion = us-east-1\n`,
    )
    const src = join(work, 'rclone-src')
    spawnSync('mkdir', ['-p', src])
    writeFileSync(join(src, 'model.bin'), randomBytes(300_000))
    // rclone reads AWS_* variables too; it gets only its config file.
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')),
    )
    const rc = (...args: string[]) =>
      spawnSync('rclone', ['--config', conf, '--ca-cert', ca, ...args], {
        encoding: 'utf8',
        env: clean,
      })
    assert.equal(rc('copy', src, 'sr:vision-data/rclone').status, 0)
    const check = rc('check', src, 'sr:vision-data/rclone')
    assert.equal(check.status, 0, check.stderr)
    const s3cfg = join(work, 's3cfg')
    const hostPort = endpoint.replace('https://', '')
    writeFileSync(
      s3cfg,
      `[default]\naccess_key = ${alice.id}\nsecret_key = ${alice.secret}\nhost_base = ${hostPort}\nhost_bucket = ${hostPort}\nuse_https = True\nca_certs_file = ${ca}\nsignature_v2 = False\nbucket_location = us-east-1\n`,
    )
    const put = spawnSync(
      's3cmd',
      ['-c', s3cfg, 'put', join(src, 'model.bin'), 's3://vision-data/s3cmd/model.bin'],
      { encoding: 'utf8' },
    )
    assert.equal(put.status, 0, put.stderr)
    const out = join(work, 'back.bin')
    const get = spawnSync(
      's3cmd',
      ['-c', s3cfg, 'get', '--force', 's3://vision-data/s3cmd/model.bin', out],
      { encoding: 'utf8' },
    )
    assert.equal(get.status, 0, get.stderr)
    assert.deepEqual(readFileSync(out), readFileSync(join(src, 'model.bin')))
  })

  it('CopyObject: within and across buckets, metadata directive, conditions', (t) => {
    if (!needs(t, 'awsV2', 'aws', 'boto3')) return
    assert.equal(awsV2(alice, 's3', 'mb', 's3://vision-copies').code, 0)
    assert.equal(
      awsV2(alice, 's3', 'cp', 's3://vision-data/old-boto', 's3://vision-copies/copied').code,
      0,
    )
    assert.equal(
      awsV2(alice, 's3', 'cp', 's3://vision-copies/copied', '-').stdout,
      'x'.repeat(1000),
    )
    const r = python(
      alice,
      `
def code(call):
    try:
        call(); return 'ok'
    except s3.exceptions.ClientError as e:
        return e.response['Error']['Code']
s3.put_object(Bucket='vision-copies', Key='src', Body=b'payload', Metadata={'a': '1'}, ContentType='text/x-model')
s3.copy_object(Bucket='vision-copies', Key='kept', CopySource={'Bucket': 'vision-copies', 'Key': 'src'})
h = s3.head_object(Bucket='vision-copies', Key='kept')
print(h['Metadata'], h['ContentType'])
s3.copy_object(Bucket='vision-copies', Key='replaced', CopySource='vision-copies/src', MetadataDirective='REPLACE', Metadata={'b': '2'})
print(s3.head_object(Bucket='vision-copies', Key='replaced')['Metadata'])
print(code(lambda: s3.copy_object(Bucket='vision-copies', Key='src', CopySource='vision-copies/src')))
print(code(lambda: s3.copy_object(Bucket='vision-copies', Key='x', CopySource='vision-copies/src', CopySourceIfMatch='"nope"')))
print(code(lambda: s3.copy_object(Bucket='vision-copies', Key='x', CopySource='vision-copies/missing')))
`,
    )
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      [
        "{'a': '1'} text/x-model",
        "{'b': '2'}",
        'InvalidRequest',
        'PreconditionFailed',
        'NoSuchKey',
      ],
      r.stderr,
    )
    assert.equal(
      aws(alice, 's3', 'mv', 's3://vision-copies/kept', 's3://vision-copies/moved').code,
      0,
    )
    assert.equal(aws(alice, 's3', 'cp', 's3://vision-copies/moved', '-').stdout, 'payload')
  })

  it('multipart: a 1 GiB file through the aws CLI, verified by SHA-256', (t) => {
    if (!needs(t, 'aws')) return
    assert.equal(aws(alice, 's3', 'mb', 's3://vision-large').code, 0)
    const file = join(work, 'large.bin')
    const fd = openSync(file, 'w')
    const block = randomBytes(1 << 20)
    const hash = createHash('sha256')
    for (let i = 0; i < 1024; i++) {
      block.writeUInt32BE(i, 0) // every MiB differs, so a misplaced part cannot hide
      writeSync(fd, block)
      hash.update(block)
    }
    closeSync(fd)
    const want = hash.digest('hex')
    const up = aws(alice, 's3', 'cp', file, 's3://vision-large/model.safetensors', '--quiet')
    assert.equal(up.code, 0, up.stderr)
    rmSync(file)
    const head = JSON.parse(
      aws(alice, 's3api', 'head-object', '--bucket', 'vision-large', '--key', 'model.safetensors')
        .stdout,
    ) as { ContentLength: number; ETag: string }
    assert.equal(head.ContentLength, 1 << 30)
    assert.match(head.ETag, /^"[0-9a-f]{32}-\d+"$/, 'a multipart ETag')
    const down = aws(alice, 's3', 'cp', 's3://vision-large/model.safetensors', file, '--quiet')
    assert.equal(down.code, 0, down.stderr)
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), want)
    rmSync(file)
    assert.equal(aws(alice, 's3', 'rm', 's3://vision-large/model.safetensors').code, 0)
  })

  it('multipart: part rules and errors as S3 has them', (t) => {
    if (!needs(t, 'boto3')) return
    const r = python(
      alice,
      `
def code(call):
    try:
        call(); return 'ok'
    except s3.exceptions.ClientError as e:
        return e.response['Error']['Code']
b, k = 'vision-data', 'mp/obj'
u = s3.create_multipart_upload(Bucket=b, Key=k)['UploadId']
small = s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=1, Body=b'a' * 100)['ETag']
last = s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=2, Body=b'b' * 100)['ETag']
assert [p['PartNumber'] for p in s3.list_parts(Bucket=b, Key=k, UploadId=u)['Parts']] == [1, 2]
assert u in [x['UploadId'] for x in s3.list_multipart_uploads(Bucket=b)['Uploads']]
parts = lambda *ps: {'Parts': [{'PartNumber': n, 'ETag': e} for n, e in ps]}
print(code(lambda: s3.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload=parts((1, small), (2, last)))))
print(code(lambda: s3.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload=parts((2, last), (1, small)))))
print(code(lambda: s3.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload=parts((1, '"0123456789abcdef0123456789abcdef"')))))
print(code(lambda: s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=10001, Body=b'x')))
big = s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=1, Body=b'a' * (5 * 1024 * 1024))['ETag']
print(code(lambda: s3.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload=parts((1, big), (2, last)))))
body = s3.get_object(Bucket=b, Key=k)['Body'].read()
assert body == b'a' * (5 * 1024 * 1024) + b'b' * 100
print(code(lambda: s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=3, Body=b'x')))
u2 = s3.create_multipart_upload(Bucket=b, Key=k)['UploadId']
s3.abort_multipart_upload(Bucket=b, Key=k, UploadId=u2)
print(code(lambda: s3.list_parts(Bucket=b, Key=k, UploadId=u2)))
`,
    )
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      [
        'EntityTooSmall',
        'InvalidPartOrder',
        'InvalidPart',
        'InvalidArgument',
        'ok',
        'NoSuchUpload',
        'NoSuchUpload',
      ],
      r.stderr,
    )
  })

  it('bad input: oversized headers get 431, a body shorter than its Content-Length leaves no object', async (t) => {
    if (!needs(t, 'awsV2', 'boto3')) return
    const raw = rawTls
    const big = await raw(
      `GET /vision-data/readme HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
      false,
    )
    assert.match(big, /^HTTP\/1\.1 431 /)
    assert.match(big, /<Code>InvalidRequest<\/Code><Message>Your request headers are too large/)
    assert.equal(awsV2(alice, 's3', 'mb', 's3://vision-bad-input').code, 0)
    const client = sdk(alice)
    const url = new URL(
      await getSignedUrl(
        client,
        new PutObjectCommand({ Bucket: 'vision-bad-input', Key: 'short-body' }),
        { expiresIn: 60 },
      ),
    )
    client.destroy()
    await raw(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(500)}`,
      true,
    )
    const head = python(
      alice,
      "print(s3.list_objects_v2(Bucket='vision-bad-input').get('KeyCount'))",
    )
    assert.equal(head.stdout.trim(), '0', 'a partial upload must not become visible')
    // Control: the same raw request with its whole body is accepted, so the check above can fail.
    const whole = await raw(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${'x'.repeat(1000)}`,
      false,
    )
    assert.match(whole, /^HTTP\/1\.1 200 /)
    assert.equal(
      python(
        alice,
        "print(s3.list_objects_v2(Bucket='vision-bad-input').get('KeyCount'))",
      ).stdout.trim(),
      '1',
    )
  })

  it('treats keys as data: ../, NUL-free unicode and 1,024-byte keys round-trip; longer keys are refused', (t) => {
    if (!needs(t, 'boto3')) return
    const r = python(
      alice,
      `
keys = ['../../etc/passwd', 'a/./b/../c', 'données/модель 🤖.pt', 'k' * 1024, ' leading and trailing ']
for k in keys:
    s3.put_object(Bucket='vision-data', Key=k, Body=k.encode())
    assert s3.get_object(Bucket='vision-data', Key=k)['Body'].read() == k.encode(), k
try:
    s3.put_object(Bucket='vision-data', Key='k' * 1025, Body=b'x'); raise SystemExit('accepted a 1025-byte key')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'KeyTooLongError', e.response
print('ok')
`,
    )
    assert.equal(r.stdout.trim(), 'ok', r.stderr)
    assert.equal(existsSync(join(dataDir, '..', 'etc')), false)
  })

  it('keeps the trace of every denial for the admin, by request id', async () => {
    const denied = (await fetchTls('/vision-data/readme')).text
    const id = /<RequestId>([0-9A-F]+)<\/RequestId>/.exec(denied)?.[1]
    assert.ok(id)
    const rec = (await loggedDecisions()).filter((d) => d.requestId === id)
    assert.deepEqual(
      rec.map((r) => [r.action, r.decision]),
      [['s3:GetObject', 'ImplicitDeny']],
    )
    const explained = spawnSync(process.execPath, [BIN, 'explain', id, '--data-dir', dataDir], {
      encoding: 'utf8',
    })
    assert.equal(explained.status, 1, 'a denied request explains with exit status 1')
    assert.match(
      explained.stdout,
      /GetObject: ImplicitDeny for \*\n {2}s3:GetObject on arn:aws:s3:::vision-data\/readme/,
    )
  })

  it('explains a denial with the statement and condition that decided it', async (t) => {
    if (!needs(t, 'awsV2')) return
    const r = awsV2(alice, 's3', 'rm', 's3://vision-data/readme')
    assert.match(r.stderr, /AccessDenied/)
    const last = (await loggedDecisions()).findLast((d) => d.action === 's3:DeleteObject') ?? {
      requestId: '',
    }
    const explained = spawnSync(
      process.execPath,
      [BIN, 'explain', last.requestId, '--data-dir', dataDir],
      { encoding: 'utf8' },
    )
    assert.match(
      explained.stdout,
      /decided by: explicit Deny in resource policy `bucket policy of vision-data`, statement `NoDeletes`/,
    )
  })
})
