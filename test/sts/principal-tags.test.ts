/**
 * aws:PrincipalTag/* as AWS sets it: an IAM user's tags; a role session's role tags, with its
 * session tags winning over a role tag of the same key; attribute-based policies read them.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltag
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-tags
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { doc, harness, keys, type Harness, type Keys } from '../iam-api/client.ts'
import type { Creds } from '../api/inprocess.ts'

let h: Harness
let dev: Creds
/** Read the bucket named by the caller's team tag, nothing else. */
const BY_TEAM = doc([
  { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::${aws:PrincipalTag/team}/*' },
  { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
])

before(async () => {
  h = await harness('principal-tags')
  const id = h.g.app.identity
  const t = await id.tenant('acme')
  const user = await id.createUser(t, 'dev')
  await id.putUserPolicy(user, 'by-team', BY_TEAM)
  await id.putUserPolicy(
    user,
    'assume',
    doc([{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: '*' }]),
  )
  await id.tag(t.id, 'user', 'dev', [{ key: 'team', value: 'vision' }])
  const k = await id.createAccessKey(user)
  dev = { id: k.accessKeyId, secret: k.secretAccessKey }
  const { role } = await id.createRole(t, {
    name: 'reader',
    trustPolicy: doc([
      { Effect: 'Allow', Principal: { AWS: t.id }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
    ]),
  })
  await id.putRolePolicy(role, 'by-team', BY_TEAM)
  await id.tag(t.id, 'role', 'reader', [{ key: 'team', value: 'vision' }])
  const admin = h.s3(h.g.admin)
  for (const Bucket of ['vision', 'audio']) {
    await admin.send(new CreateBucketCommand({ Bucket }))
    await admin.send(new PutObjectCommand({ Bucket, Key: 'x', Body: Bucket }))
  }
})
after(() => h.close())

const read = (k: Creds | Keys, Bucket: string) =>
  h
    .s3(k)
    .send(new GetObjectCommand({ Bucket, Key: 'x' }))
    .then(
      (r) => r.Body?.transformToString(),
      (e: unknown) => (e instanceof Error ? e.name : String(e)),
    )

async function session(tags?: { Key: string; Value: string }[]): Promise<Keys> {
  const sts = new STSClient({
    endpoint: h.g.running.url,
    region: 'us-east-1',
    credentials: keys(dev),
    maxAttempts: 1,
  })
  const r = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${h.account}:role/reader`,
      RoleSessionName: 'tagged',
      Tags: tags,
    }),
  )
  return {
    accessKeyId: r.Credentials?.AccessKeyId ?? '',
    secretAccessKey: r.Credentials?.SecretAccessKey ?? '',
    sessionToken: r.Credentials?.SessionToken ?? '',
  }
}

describe('aws:PrincipalTag', () => {
  it('an IAM user’s tags', async () => {
    assert.equal(await read(dev, 'vision'), 'vision')
    assert.equal(await read(dev, 'audio'), 'AccessDenied')
  })

  it('a role session: the role’s tags, and a session tag of the same key over them', async () => {
    const plain = await session()
    assert.equal(await read(plain, 'vision'), 'vision')
    assert.equal(await read(plain, 'audio'), 'AccessDenied')
    const audio = await session([{ Key: 'Team', Value: 'audio' }])
    assert.equal(await read(audio, 'audio'), 'audio')
    assert.equal(await read(audio, 'vision'), 'AccessDenied')
  })
})
