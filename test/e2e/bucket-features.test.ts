/**
 * Versioning, object tagging (and the tag condition keys), default bucket
 * encryption with per-request key choice, the public access block and
 * UploadPartCopy, end to end with boto3 against a real gateway over TLS.
 * Expected behaviour is S3's, from its API reference:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import {
  alice,
  awsV2,
  bob,
  fetchTls,
  needs,
  newKey,
  policyFile,
  python,
  sdk,
  start,
  stop,
  strongroom,
  work,
} from './harness.ts'

before(() => start())
after(stop)

function ok(r: { stdout: string; stderr: string }) {
  assert.equal(r.stdout.trim().split('\n').at(-1), 'ok', r.stderr)
}

/** Python helper: `expect(code, fn)` asserts that fn fails with that S3 error code. */
const EXPECT = `
def expect(code, fn):
    try:
        fn()
    except s3.exceptions.ClientError as e:
        got = e.response['Error']['Code']
        assert got == code, (code, e.response)
        return e.response
    raise SystemExit('expected ' + code)
`

describe('bucket and object features with boto3', () => {
  it('versioning: version ids, delete markers, GET/HEAD/DELETE by version, listing and pagination', (t) => {
    if (!needs(t, 'boto3')) return
    ok(
      python(
        alice,
        `${EXPECT}
b = 'vision-versions'
s3.create_bucket(Bucket=b)
assert 'Status' not in s3.get_bucket_versioning(Bucket=b)
r0 = s3.put_object(Bucket=b, Key='m.pt', Body=b'v0')
assert 'VersionId' not in r0, r0
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})
assert s3.get_bucket_versioning(Bucket=b)['Status'] == 'Enabled'
v1 = s3.put_object(Bucket=b, Key='m.pt', Body=b'v1')['VersionId']
v2 = s3.put_object(Bucket=b, Key='m.pt', Body=b'v2')['VersionId']
assert len({v1, v2, 'null'}) == 3
g = s3.get_object(Bucket=b, Key='m.pt')
assert g['Body'].read() == b'v2' and g['VersionId'] == v2
assert s3.get_object(Bucket=b, Key='m.pt', VersionId=v1)['Body'].read() == b'v1'
assert s3.get_object(Bucket=b, Key='m.pt', VersionId='null')['Body'].read() == b'v0'
assert s3.head_object(Bucket=b, Key='m.pt', VersionId=v1)['ContentLength'] == 2
d = s3.delete_object(Bucket=b, Key='m.pt')
assert d['DeleteMarker'] is True
marker = d['VersionId']
expect('NoSuchKey', lambda: s3.get_object(Bucket=b, Key='m.pt'))
h = expect('404', lambda: s3.head_object(Bucket=b, Key='m.pt'))
assert h['ResponseMetadata']['HTTPHeaders']['x-amz-delete-marker'] == 'true'
expect('MethodNotAllowed', lambda: s3.get_object(Bucket=b, Key='m.pt', VersionId=marker))
expect('NoSuchVersion', lambda: s3.get_object(Bucket=b, Key='m.pt', VersionId='A' * 32))
expect('InvalidArgument', lambda: s3.get_object(Bucket=b, Key='m.pt', VersionId='not-ours'))
lv = s3.list_object_versions(Bucket=b)
assert [(v['VersionId'], v['IsLatest']) for v in lv['Versions']] == [(v2, False), (v1, False), ('null', False)], lv
assert [(m['VersionId'], m['IsLatest']) for m in lv['DeleteMarkers']] == [(marker, True)], lv
assert s3.list_objects_v2(Bucket=b)['KeyCount'] == 0
# Removing the delete marker brings the object back; removing the current version promotes the one before.
assert s3.delete_object(Bucket=b, Key='m.pt', VersionId=marker)['DeleteMarker'] is True
assert s3.get_object(Bucket=b, Key='m.pt')['Body'].read() == b'v2'
s3.delete_object(Bucket=b, Key='m.pt', VersionId=v2)
assert s3.get_object(Bucket=b, Key='m.pt')['Body'].read() == b'v1'
expect('NoSuchVersion', lambda: s3.get_object(Bucket=b, Key='m.pt', VersionId=v2))
# Restoring an old version is a copy of it onto the same key.
c = s3.copy_object(Bucket=b, Key='m.pt', CopySource={'Bucket': b, 'Key': 'm.pt', 'VersionId': 'null'})
assert c['CopySourceVersionId'] == 'null' and c['VersionId'] not in (v1, 'null')
assert s3.get_object(Bucket=b, Key='m.pt')['Body'].read() == b'v0'
# Pagination through versions with key and version-id markers.
made = [s3.put_object(Bucket=b, Key='p.bin', Body=b'%d' % i)['VersionId'] for i in range(5)]
seen, kw = [], {}
while True:
    page = s3.list_object_versions(Bucket=b, Prefix='p.bin', MaxKeys=2, **kw)
    seen += [v['VersionId'] for v in page['Versions']]
    if not page['IsTruncated']:
        break
    kw = {'KeyMarker': page['NextKeyMarker'], 'VersionIdMarker': page['NextVersionIdMarker']}
assert seen == made[::-1], (seen, made)
# DeleteObjects with version ids removes those versions for good.
r = s3.delete_objects(Bucket=b, Delete={'Objects': [{'Key': 'p.bin', 'VersionId': v} for v in made[:2]]})
assert sorted(x['VersionId'] for x in r['Deleted']) == sorted(made[:2]), r
assert len(s3.list_object_versions(Bucket=b, Prefix='p.bin')['Versions']) == 3
# Suspended: new writes replace the one null version.
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Suspended'})
assert s3.put_object(Bucket=b, Key='m.pt', Body=b's1').get('VersionId') == 'null'
s3.put_object(Bucket=b, Key='m.pt', Body=b's2')
vs = s3.list_object_versions(Bucket=b, Prefix='m.pt')['Versions']
assert [v['VersionId'] for v in vs].count('null') == 1 and vs[0]['IsLatest'] and vs[0]['Size'] == 2, vs
assert s3.get_object(Bucket=b, Key='m.pt')['Body'].read() == b's2'
expect('MalformedXML', lambda: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Off'}))
# A bucket holding only old versions or delete markers is not empty.
s3.delete_object(Bucket=b, Key='m.pt')
expect('BucketNotEmpty', lambda: s3.delete_bucket(Bucket=b))
for v in s3.list_object_versions(Bucket=b).get('Versions', []) + s3.list_object_versions(Bucket=b).get('DeleteMarkers', []):
    s3.delete_object(Bucket=b, Key=v['Key'], VersionId=v['VersionId'])
s3.delete_bucket(Bucket=b)
print('ok')
`,
      ),
    )
  })

  it('object tagging: x-amz-tagging, Put/Get/DeleteObjectTagging, limits, and tag condition keys', (t) => {
    if (!needs(t, 'boto3')) return
    strongroom(['user', 'create', '--tenant', 'vision', 'carol'])
    const doc = policyFile('carol.json', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::vision-tags/*',
          Condition: { StringEquals: { 's3:ExistingObjectTag/stage': 'prod' } },
        },
        {
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:PutObjectTagging'],
          Resource: 'arn:aws:s3:::vision-tags/*',
          Condition: { StringEquals: { 's3:RequestObjectTag/team': 'vision' } },
        },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
      ],
    })
    strongroom([
      'user',
      'put-policy',
      '--tenant',
      'vision',
      '--user',
      'carol',
      '--name',
      'tags',
      '--document',
      doc,
    ])
    const carol = newKey('vision', 'carol')
    ok(
      python(
        alice,
        `${EXPECT}
b = 'vision-tags'
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key='model.pt', Body=b'w', Tagging='stage=prod&team=vision%20core')
t = s3.get_object_tagging(Bucket=b, Key='model.pt')['TagSet']
assert t == [{'Key': 'stage', 'Value': 'prod'}, {'Key': 'team', 'Value': 'vision core'}], t
assert s3.get_object(Bucket=b, Key='model.pt')['TagCount'] == 2
s3.put_object(Bucket=b, Key='draft.pt', Body=b'd', Tagging='stage=dev')
s3.put_object_tagging(Bucket=b, Key='draft.pt', Tagging={'TagSet': [{'Key': 'stage', 'Value': 'review'}]})
assert s3.get_object_tagging(Bucket=b, Key='draft.pt')['TagSet'] == [{'Key': 'stage', 'Value': 'review'}]
s3.delete_object_tagging(Bucket=b, Key='draft.pt')
assert s3.get_object_tagging(Bucket=b, Key='draft.pt')['TagSet'] == []
many = {'TagSet': [{'Key': 'k%d' % i, 'Value': 'v'} for i in range(11)]}
expect('BadRequest', lambda: s3.put_object_tagging(Bucket=b, Key='draft.pt', Tagging=many))
dup = {'TagSet': [{'Key': 'a', 'Value': '1'}, {'Key': 'a', 'Value': '2'}]}
expect('InvalidTag', lambda: s3.put_object_tagging(Bucket=b, Key='draft.pt', Tagging=dup))
expect('InvalidTag', lambda: s3.put_object(Bucket=b, Key='x', Body=b'', Tagging='aws:owner=me'))
expect('NoSuchKey', lambda: s3.get_object_tagging(Bucket=b, Key='missing'))
print('ok')
`,
      ),
    )
    ok(
      python(
        carol,
        `${EXPECT}
b = 'vision-tags'
assert s3.get_object(Bucket=b, Key='model.pt')['Body'].read() == b'w'
expect('AccessDenied', lambda: s3.get_object(Bucket=b, Key='draft.pt'))
s3.put_object(Bucket=b, Key='mine.pt', Body=b'c', Tagging='team=vision')
expect('AccessDenied', lambda: s3.put_object(Bucket=b, Key='mine.pt', Body=b'c'))
expect('AccessDenied', lambda: s3.put_object(Bucket=b, Key='mine.pt', Body=b'c', Tagging='team=audio'))
print('ok')
`,
      ),
    )
  })

  it("bucket encryption and x-amz-server-side-encryption-aws-kms-key-id choose the tenant's key; another tenant's key is refused", (t) => {
    if (!needs(t, 'boto3')) return
    const models = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'vision', '--alias', 'models', '--json']),
    ) as { KeyId: string; Arn: string }
    const audioKey = JSON.parse(
      strongroom(['key', 'create', '--tenant', 'audio', '--alias', 'speech', '--json']),
    ) as { KeyId: string; Arn: string }
    ok(
      python(
        alice,
        `${EXPECT}
b = 'vision-enc'
s3.create_bucket(Bucket=b)
rule = s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]
default_arn = rule['ApplyServerSideEncryptionByDefault']['KMSMasterKeyID']
assert rule['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'] == 'aws:kms' and default_arn != '${models.Arn}'
cfg = lambda key: {'Rules': [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': key}}]}
s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=cfg('alias/models'))
got = s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]
assert got['ApplyServerSideEncryptionByDefault']['KMSMasterKeyID'] == '${models.Arn}', got
p = s3.put_object(Bucket=b, Key='a', Body=b'sealed under models')
assert p['ServerSideEncryption'] == 'aws:kms' and p['SSEKMSKeyId'] == '${models.Arn}', p
q = s3.put_object(Bucket=b, Key='b', Body=b'sealed under default', ServerSideEncryption='aws:kms', SSEKMSKeyId='alias/s3-default')
assert q['SSEKMSKeyId'] == default_arn, q
assert s3.head_object(Bucket=b, Key='b')['SSEKMSKeyId'] == default_arn
assert s3.get_object(Bucket=b, Key='a')['Body'].read() == b'sealed under models'
assert s3.get_object(Bucket=b, Key='b')['Body'].read() == b'sealed under default'
# Multipart uploads and copies take the key they are given.
u = s3.create_multipart_upload(Bucket=b, Key='mp', ServerSideEncryption='aws:kms', SSEKMSKeyId='${models.KeyId}')
assert u['SSEKMSKeyId'] == '${models.Arn}'
e = s3.upload_part(Bucket=b, Key='mp', UploadId=u['UploadId'], PartNumber=1, Body=b'part')['ETag']
s3.complete_multipart_upload(Bucket=b, Key='mp', UploadId=u['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e}]})
assert s3.head_object(Bucket=b, Key='mp')['SSEKMSKeyId'] == '${models.Arn}'
c = s3.copy_object(Bucket=b, Key='b', CopySource={'Bucket': b, 'Key': 'b'}, ServerSideEncryption='aws:kms', SSEKMSKeyId='${models.Arn}')
assert s3.head_object(Bucket=b, Key='b')['SSEKMSKeyId'] == '${models.Arn}'
# Someone else's key, by ARN or by id, never seals this tenant's objects: it answers as a key
# that does not exist (test/security/key-existence-oracle.test.ts), so it tells nothing about it.
expect('KMS.NotFoundException', lambda: s3.put_object(Bucket=b, Key='x', Body=b'x', ServerSideEncryption='aws:kms', SSEKMSKeyId='${audioKey.Arn}'))
expect('KMS.NotFoundException', lambda: s3.put_object(Bucket=b, Key='x', Body=b'x', ServerSideEncryption='aws:kms', SSEKMSKeyId='${audioKey.KeyId}'))
expect('KMS.NotFoundException', lambda: s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=cfg('${audioKey.Arn}')))
expect('KMS.NotFoundException', lambda: s3.put_object(Bucket=b, Key='x', Body=b'x', ServerSideEncryption='aws:kms', SSEKMSKeyId='alias/nope'))
expect('InvalidArgument', lambda: s3.put_object(Bucket=b, Key='x', Body=b'x', ServerSideEncryption='aws:fsx'))
s3.delete_bucket_encryption(Bucket=b)
got = s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]
assert got['ApplyServerSideEncryptionByDefault']['KMSMasterKeyID'] == default_arn
print('ok')
`,
      ),
    )
    // And the other tenant cannot point its own bucket at vision's key either.
    ok(
      python(
        bob,
        `${EXPECT}
s3.create_bucket(Bucket='audio-enc')
expect('KMS.NotFoundException', lambda: s3.put_object(Bucket='audio-enc', Key='x', Body=b'x', ServerSideEncryption='aws:kms', SSEKMSKeyId='${models.Arn}'))
print('ok')
`,
      ),
    )
  })

  it('public access block: on by default, blocks public policies, and anonymous access needs it off', async (t) => {
    if (!needs(t, 'boto3')) return
    const anonymous = async (path: string) => String((await fetchTls(path)).status)
    ok(
      python(
        alice,
        `${EXPECT}
import json
b = 'vision-public'
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key='readme', Body=b'hi')
pab = s3.get_public_access_block(Bucket=b)['PublicAccessBlockConfiguration']
assert pab == {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}, pab
public = json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': '*', 'Action': ['s3:ListBucket', 's3:GetObject'], 'Resource': ['arn:aws:s3:::vision-public', 'arn:aws:s3:::vision-public/*']}]})
r = expect('AccessDenied', lambda: s3.put_bucket_policy(Bucket=b, Policy=public))
assert 'BlockPublicPolicy' in r['Error']['Message']
# Narrowed to fixed source addresses, the same grant is not public.
narrowed = json.loads(public)
narrowed['Statement'][0]['Condition'] = {'IpAddress': {'aws:SourceIp': '10.0.0.0/8'}}
s3.put_bucket_policy(Bucket=b, Policy=json.dumps(narrowed))
s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': False, 'RestrictPublicBuckets': True})
s3.put_bucket_policy(Bucket=b, Policy=public)
print('ok')
`,
      ),
    )
    assert.equal(
      await anonymous('/vision-public'),
      '403',
      'RestrictPublicBuckets still refuses anonymous callers',
    )
    ok(
      python(
        alice,
        `s3.delete_public_access_block(Bucket='vision-public')
try:
    s3.get_public_access_block(Bucket='vision-public')
    raise SystemExit('a deleted public access block was answered')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'NoSuchPublicAccessBlockConfiguration', e
print('ok')`,
      ),
    )
    assert.equal(await anonymous('/vision-public'), '200', 'the public policy now lets anyone list')
    assert.equal(
      await anonymous('/vision-public/readme'),
      '403',
      'but an object sealed under a KMS key is never readable anonymously',
    )
    assert.equal(await anonymous('/vision-data'), '403', 'other buckets stay closed')
  })

  it('UploadPartCopy: parts copied from ranges of an existing object', (t) => {
    if (!needs(t, 'boto3')) return
    ok(
      python(
        alice,
        `${EXPECT}
import hashlib, os
b = 'vision-parts'
s3.create_bucket(Bucket=b)
src = os.urandom(6 * 1024 * 1024 + 123)
s3.put_object(Bucket=b, Key='src.bin', Body=src)
u = s3.create_multipart_upload(Bucket=b, Key='dst.bin')['UploadId']
cut = 5 * 1024 * 1024
p1 = s3.upload_part_copy(Bucket=b, Key='dst.bin', UploadId=u, PartNumber=1, CopySource={'Bucket': b, 'Key': 'src.bin'}, CopySourceRange='bytes=0-%d' % (cut - 1))
p2 = s3.upload_part_copy(Bucket=b, Key='dst.bin', UploadId=u, PartNumber=2, CopySource={'Bucket': b, 'Key': 'src.bin'}, CopySourceRange='bytes=%d-%d' % (cut, len(src) - 1))
assert p1['CopyPartResult']['ETag'] == '"%s"' % hashlib.md5(src[:cut]).hexdigest()
expect('InvalidRange', lambda: s3.upload_part_copy(Bucket=b, Key='dst.bin', UploadId=u, PartNumber=3, CopySource={'Bucket': b, 'Key': 'src.bin'}, CopySourceRange='bytes=0-%d' % len(src)))
expect('NoSuchKey', lambda: s3.upload_part_copy(Bucket=b, Key='dst.bin', UploadId=u, PartNumber=3, CopySource={'Bucket': b, 'Key': 'nope'}))
parts = [{'PartNumber': 1, 'ETag': p1['CopyPartResult']['ETag']}, {'PartNumber': 2, 'ETag': p2['CopyPartResult']['ETag']}]
s3.complete_multipart_upload(Bucket=b, Key='dst.bin', UploadId=u, MultipartUpload={'Parts': parts})
assert s3.get_object(Bucket=b, Key='dst.bin')['Body'].read() == src
print('ok')
`,
      ),
    )
  })

  it('checksums: CRC64NVME from the AWS SDK for JavaScript is verified, stored and returned', async () => {
    const client = sdk(alice)
    await client.send(new CreateBucketCommand({ Bucket: 'vision-crc' }))
    const body = Buffer.from('weights '.repeat(10_000))
    await client.send(
      new PutObjectCommand({
        Bucket: 'vision-crc',
        Key: 'crc64',
        Body: body,
        ChecksumAlgorithm: 'CRC64NVME',
      }),
    )
    const got = await client.send(
      new GetObjectCommand({ Bucket: 'vision-crc', Key: 'crc64', ChecksumMode: 'ENABLED' }),
    )
    // The SDK compares the returned checksum with its own computation of the body it reads.
    assert.deepEqual(Buffer.from((await got.Body?.transformToByteArray()) ?? []), body)
    assert.equal(Buffer.from(got.ChecksumCRC64NVME ?? '', 'base64').length, 8)
    const wrong = client.send(
      new PutObjectCommand({
        Bucket: 'vision-crc',
        Key: 'crc64-bad',
        Body: body,
        ChecksumCRC64NVME: 'AAAAAAAAAAA=',
      }),
    )
    await assert.rejects(
      wrong,
      (e: unknown) => e instanceof S3ServiceException && e.name === 'BadDigest',
    )
    client.destroy()
  })

  it("Debian's aws CLI v2: versioning, version ids, tagging and bucket encryption", (t) => {
    if (!needs(t, 'awsV2')) return
    const cli = (...args: string[]) => {
      const r = awsV2(alice, ...args)
      assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
      return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>)
    }
    const b = ['--bucket', 'vision-cli-versions']
    cli('s3api', 'create-bucket', ...b)
    cli('s3api', 'put-bucket-versioning', ...b, '--versioning-configuration', 'Status=Enabled')
    assert.deepEqual(cli('s3api', 'get-bucket-versioning', ...b), { Status: 'Enabled' })
    const body = join(work, 'cli-version.txt')
    writeFileSync(body, 'first')
    const v1 = cli('s3api', 'put-object', ...b, '--key', 'k', '--body', body).VersionId as string
    writeFileSync(body, 'second')
    const v2 = cli(
      's3api',
      'put-object',
      ...b,
      '--key',
      'k',
      '--body',
      body,
      '--tagging',
      'stage=prod',
    ).VersionId as string
    assert.notEqual(v1, v2)
    const versions = cli('s3api', 'list-object-versions', ...b).Versions as { VersionId: string }[]
    assert.deepEqual(
      versions.map((v) => v.VersionId),
      [v2, v1],
    )
    const out = join(work, 'cli-version.out')
    cli('s3api', 'get-object', ...b, '--key', 'k', '--version-id', v1, out)
    assert.equal(readFileSync(out, 'utf8'), 'first')
    assert.deepEqual(cli('s3api', 'get-object-tagging', ...b, '--key', 'k').TagSet, [
      { Key: 'stage', Value: 'prod' },
    ])
    const enc = cli('s3api', 'get-bucket-encryption', ...b) as {
      ServerSideEncryptionConfiguration: {
        Rules: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: string } }[]
      }
    }
    assert.equal(
      enc.ServerSideEncryptionConfiguration.Rules[0]?.ApplyServerSideEncryptionByDefault
        .SSEAlgorithm,
      'aws:kms',
    )
    const pab = cli('s3api', 'get-public-access-block', ...b) as {
      PublicAccessBlockConfiguration: Record<string, boolean>
    }
    assert.equal(Object.values(pab.PublicAccessBlockConfiguration).every(Boolean), true)
  })
})
