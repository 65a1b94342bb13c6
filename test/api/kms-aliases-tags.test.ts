/**
 * KMS's aliases, tags, ReEncrypt and on-demand rotation through the API (JSON 1.1), each decided
 * as KMS decides it:
 * - aliases: several per key; CreateAlias, UpdateAlias and DeleteAlias need the action on the
 *   alias in an identity policy and on each key in its key policy
 *   (https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html);
 * - lists page with Limit and an opaque Marker
 *   (https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html);
 * - tags follow TagResource's rules and grant access through aws:ResourceTag
 *   (https://docs.aws.amazon.com/kms/latest/developerguide/tag-authorization.html);
 * - ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination
 *   (https://docs.aws.amazon.com/kms/latest/APIReference/API_ReEncrypt.html);
 * - RotateKeyOnDemand at most 10 times a key, listed by ListKeyRotations
 *   (https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TenantRecord } from '../../src/meta/identity.ts'
import {
  ALLOW_ALL,
  callJson,
  startInProcess,
  userWith,
  type Creds,
  type InProcess,
} from './inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-kms-aliases-'))
let g: InProcess
let acme: TenantRecord
let rival: Creds
let rivalKey = ''

const kms = (c: Creds | undefined, op: string, input: unknown) =>
  callJson(g.running.url, c, 'kms', `TrentService.${op}`, input)

async function newKey(input: Record<string, unknown> = {}): Promise<{ id: string; arn: string }> {
  const r = await kms(g.admin, 'CreateKey', input)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const m = r.body.KeyMetadata as { KeyId: string; Arn: string }
  return { id: m.KeyId, arn: m.Arn }
}

/** A user of acme with exactly these identity-policy statements, and its access key. */
const aUser = (name: string, statements: unknown[]) => userWith(g.app, acme, name, statements)

/** A key policy that lets the account's IAM policies decide, and `extra` statements. */
const keyPolicy = (extra: unknown[] = []) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${acme.id}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      ...extra,
    ],
  })

before(async () => {
  g = await startInProcess(dir)
  const found = await g.app.identity.findTenant('acme')
  assert.ok(found)
  acme = found
  rival = await userWith(g.app, await g.app.identity.createTenant('rival'), 'root', ALLOW_ALL)
  const r = await kms(rival, 'CreateKey', {})
  rivalKey = (r.body.KeyMetadata as { KeyId: string }).KeyId
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('KMS aliases', () => {
  it('several aliases per key: created, used as KeyId, listed, moved and deleted', async () => {
    const a = await newKey()
    const b = await newKey()
    for (const AliasName of ['alias/models', 'alias/models-v2'])
      assert.equal(
        (await kms(g.admin, 'CreateAlias', { AliasName, TargetKeyId: a.id })).status,
        200,
      )
    const Plaintext = Buffer.from('w').toString('base64')
    const enc = await kms(g.admin, 'Encrypt', { KeyId: 'alias/models-v2', Plaintext })
    assert.equal(enc.body.KeyId, a.arn)
    const byArn = await kms(g.admin, 'DescribeKey', {
      KeyId: `arn:aws:kms:us-east-1:${acme.id}:alias/models`,
    })
    assert.equal((byArn.body.KeyMetadata as { KeyId: string }).KeyId, a.id)

    const listed = await kms(g.admin, 'ListAliases', { KeyId: a.arn })
    assert.deepEqual(
      (listed.body.Aliases as Record<string, unknown>[]).map((x) => [
        x.AliasName,
        x.AliasArn,
        x.TargetKeyId,
        typeof x.CreationDate,
        typeof x.LastUpdatedDate,
      ]),
      [
        ['alias/models', `arn:aws:kms:us-east-1:${acme.id}:alias/models`, a.id, 'number', 'number'],
        [
          'alias/models-v2',
          `arn:aws:kms:us-east-1:${acme.id}:alias/models-v2`,
          a.id,
          'number',
          'number',
        ],
      ],
    )
    assert.equal(listed.body.Truncated, false)

    assert.equal(
      (await kms(g.admin, 'UpdateAlias', { AliasName: 'alias/models', TargetKeyId: b.arn })).status,
      200,
    )
    const moved = await kms(g.admin, 'Encrypt', { KeyId: 'alias/models', Plaintext })
    assert.equal(moved.body.KeyId, b.arn)
    assert.equal((await kms(g.admin, 'DeleteAlias', { AliasName: 'alias/models' })).status, 200)
    assert.equal(
      (await kms(g.admin, 'DescribeKey', { KeyId: 'alias/models' })).type,
      'NotFoundException',
    )
    assert.deepEqual(
      ((await kms(g.admin, 'ListAliases', { KeyId: b.id })).body.Aliases as unknown[]).length,
      0,
    )
  })

  it('refuses what KMS refuses: a taken name, a missing alias, alias/aws/, an alias as target, a key pending deletion', async () => {
    const a = await newKey()
    assert.equal(
      (await kms(g.admin, 'CreateAlias', { AliasName: 'alias/taken', TargetKeyId: a.id })).status,
      200,
    )
    const cases: [string, Record<string, unknown>, string][] = [
      ['CreateAlias', { AliasName: 'alias/taken', TargetKeyId: a.id }, 'AlreadyExistsException'],
      ['UpdateAlias', { AliasName: 'alias/none', TargetKeyId: a.id }, 'NotFoundException'],
      ['DeleteAlias', { AliasName: 'alias/none' }, 'NotFoundException'],
      ['CreateAlias', { AliasName: 'alias/aws/s3', TargetKeyId: a.id }, 'ValidationException'],
      ['CreateAlias', { AliasName: 'alias/', TargetKeyId: a.id }, 'ValidationException'],
      ['CreateAlias', { AliasName: 'x', TargetKeyId: 'alias/taken' }, 'ValidationException'],
      ['CreateAlias', { AliasName: 'alias/r', TargetKeyId: rivalKey }, 'NotFoundException'],
      ['CreateAlias', { AliasName: 'alias/r', TargetKeyId: 'nope' }, 'NotFoundException'],
    ]
    for (const [op, input, type] of cases)
      assert.equal((await kms(g.admin, op, input)).type, type, `${op} ${JSON.stringify(input)}`)
    await kms(g.admin, 'ScheduleKeyDeletion', { KeyId: a.id, PendingWindowInDays: 7 })
    assert.equal(
      (await kms(g.admin, 'CreateAlias', { AliasName: 'alias/late', TargetKeyId: a.id })).type,
      'KMSInvalidStateException',
    )
    // Another account's alias of the same name is its own.
    assert.equal(
      (await kms(rival, 'CreateAlias', { AliasName: 'alias/taken', TargetKeyId: rivalKey })).status,
      200,
    )
  })

  it('attack: an alias is decided on the alias in identity policies and on each key in its key policy', async () => {
    const open = await newKey()
    const closed = await newKey({
      Policy: keyPolicy([
        {
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
          Resource: '*',
          Condition: { StringLike: { 'aws:username': 'aliaser' } },
        },
      ]),
    })
    const aliaser = await aUser('aliaser', [
      {
        Effect: 'Allow',
        Action: ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
        Resource: [`arn:aws:kms:us-east-1:${acme.id}:alias/team-*`, `arn:aws:kms:*:*:key/*`],
      },
    ])
    // Allowed on the alias and the key.
    assert.equal(
      (await kms(aliaser, 'CreateAlias', { AliasName: 'alias/team-a', TargetKeyId: open.id }))
        .status,
      200,
    )
    // An alias outside the identity policy's ARN.
    const outside = await kms(aliaser, 'CreateAlias', {
      AliasName: 'alias/other',
      TargetKeyId: open.id,
    })
    assert.equal(outside.type, 'AccessDeniedException')
    assert.match(String(outside.body.message), /alias\/other/)
    // The key policy of the new key, or of the key the alias points at now, denies.
    for (const [op, input] of [
      ['CreateAlias', { AliasName: 'alias/team-b', TargetKeyId: closed.id }],
      ['UpdateAlias', { AliasName: 'alias/team-a', TargetKeyId: closed.id }],
    ] as const)
      assert.equal((await kms(aliaser, op, input)).type, 'AccessDeniedException', op)
    await kms(g.admin, 'CreateAlias', { AliasName: 'alias/team-c', TargetKeyId: closed.id })
    for (const [op, input] of [
      ['UpdateAlias', { AliasName: 'alias/team-c', TargetKeyId: open.id }],
      ['DeleteAlias', { AliasName: 'alias/team-c' }],
    ] as const)
      assert.equal((await kms(aliaser, op, input)).type, 'AccessDeniedException', op)
    const still = await kms(g.admin, 'ListAliases', { KeyId: closed.id })
    assert.deepEqual(
      (still.body.Aliases as { AliasName: string }[]).map((a) => a.AliasName),
      ['alias/team-c'],
    )
  })

  it('ListAliases and ListKeys page with Limit and Marker, and refuse a Marker they did not make', async () => {
    const k = await newKey()
    const names = ['alias/page-a', 'alias/page-b', 'alias/page-c']
    for (const AliasName of names)
      await kms(g.admin, 'CreateAlias', { AliasName, TargetKeyId: k.id })
    const seen: string[] = []
    let Marker: string | undefined
    for (let i = 0; i < 5; i++) {
      const r = await kms(g.admin, 'ListAliases', {
        KeyId: k.id,
        Limit: 2,
        ...(Marker === undefined ? {} : { Marker }),
      })
      seen.push(...(r.body.Aliases as { AliasName: string }[]).map((a) => a.AliasName))
      if (r.body.Truncated !== true) {
        assert.equal(r.body.NextMarker, undefined)
        break
      }
      Marker = String(r.body.NextMarker)
    }
    assert.deepEqual(seen, names)
    const all = ((await kms(g.admin, 'ListKeys', {})).body.Keys as { KeyId: string }[]).map(
      (x) => x.KeyId,
    )
    const paged: string[] = []
    let m: string | undefined
    do {
      const r = await kms(g.admin, 'ListKeys', {
        Limit: 3,
        ...(m === undefined ? {} : { Marker: m }),
      })
      assert.ok((r.body.Keys as unknown[]).length <= 3)
      paged.push(...(r.body.Keys as { KeyId: string }[]).map((x) => x.KeyId))
      m = r.body.Truncated === true ? String(r.body.NextMarker) : undefined
    } while (m !== undefined)
    assert.deepEqual(paged, all)
    for (const Marker of ['', 'not base64 !', 'QQ=='])
      assert.equal(
        (await kms(g.admin, 'ListAliases', { Marker })).type,
        'InvalidMarkerException',
        Marker,
      )
    assert.equal((await kms(g.admin, 'ListKeys', { Limit: 0 })).type, 'ValidationException')
  })
})

describe('KMS tags', () => {
  it('CreateKey’s Tags, TagResource (a key set again takes the new value), UntagResource, ListResourceTags', async () => {
    const k = await newKey({
      Tags: [
        { TagKey: 'team', TagValue: 'vision' },
        { TagKey: 'Owner', TagValue: '' },
      ],
    })
    const tags = async () => (await kms(g.admin, 'ListResourceTags', { KeyId: k.id })).body.Tags
    assert.deepEqual(await tags(), [
      { TagKey: 'Owner', TagValue: '' },
      { TagKey: 'team', TagValue: 'vision' },
    ])
    await kms(g.admin, 'TagResource', {
      KeyId: k.arn,
      Tags: [
        { TagKey: 'team', TagValue: 'nlp' },
        { TagKey: 'cost', TagValue: '42' },
      ],
    })
    assert.deepEqual(await tags(), [
      { TagKey: 'Owner', TagValue: '' },
      { TagKey: 'cost', TagValue: '42' },
      { TagKey: 'team', TagValue: 'nlp' },
    ])
    await kms(g.admin, 'UntagResource', { KeyId: k.id, TagKeys: ['Owner', 'absent'] })
    assert.deepEqual(await tags(), [
      { TagKey: 'cost', TagValue: '42' },
      { TagKey: 'team', TagValue: 'nlp' },
    ])
    const page = await kms(g.admin, 'ListResourceTags', { KeyId: k.id, Limit: 1 })
    assert.deepEqual(
      [page.body.Tags, page.body.Truncated],
      [[{ TagKey: 'cost', TagValue: '42' }], true],
    )
  })

  it('refuses tags KMS refuses: aws: keys, long keys, a key given twice, more than 50 on a key', async () => {
    const k = await newKey()
    const bad: unknown[] = [
      [{ TagKey: 'aws:owner', TagValue: 'x' }],
      [{ TagKey: 'x'.repeat(129), TagValue: 'x' }],
      [{ TagKey: 'a', TagValue: 'x'.repeat(257) }],
      [{ TagKey: 'semi;colon', TagValue: 'x' }],
      [
        { TagKey: 'a', TagValue: '1' },
        { TagKey: 'a', TagValue: '2' },
      ],
      [{ TagKey: 'a' }],
      [],
    ]
    for (const Tags of bad)
      assert.equal(
        (await kms(g.admin, 'TagResource', { KeyId: k.id, Tags })).type,
        'TagException',
        JSON.stringify(Tags),
      )
    const fifty = Array.from({ length: 50 }, (_, i) => ({ TagKey: `k${String(i)}`, TagValue: '' }))
    assert.equal((await kms(g.admin, 'TagResource', { KeyId: k.id, Tags: fifty })).status, 200)
    assert.equal(
      (await kms(g.admin, 'TagResource', { KeyId: k.id, Tags: [{ TagKey: 'one', TagValue: '' }] }))
        .type,
      'LimitExceededException',
    )
    assert.equal(
      (await kms(g.admin, 'CreateKey', { Tags: [{ TagKey: 'aws:x', TagValue: '' }] })).type,
      'TagException',
    )
  })

  it('attack: a tag grants only what its condition names (aws:ResourceTag, aws:RequestTag)', async () => {
    const tagged = await newKey({ Tags: [{ TagKey: 'project', TagValue: 'llm' }] })
    const untagged = await newKey()
    const abac = await aUser('abac', [
      {
        Effect: 'Allow',
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/project': 'llm' } },
      },
      {
        Effect: 'Allow',
        Action: 'kms:TagResource',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestTag/project': 'llm' } },
      },
    ])
    const Plaintext = Buffer.from('x').toString('base64')
    assert.equal((await kms(abac, 'Encrypt', { KeyId: tagged.id, Plaintext })).status, 200)
    assert.equal(
      (await kms(abac, 'Encrypt', { KeyId: untagged.id, Plaintext })).type,
      'AccessDeniedException',
    )
    // Tagging itself into access: only with the tag its policy allows setting.
    assert.equal(
      (
        await kms(abac, 'TagResource', {
          KeyId: untagged.id,
          Tags: [{ TagKey: 'project', TagValue: 'other' }],
        })
      ).type,
      'AccessDeniedException',
    )
    assert.equal(
      (
        await kms(abac, 'TagResource', {
          KeyId: untagged.id,
          Tags: [{ TagKey: 'project', TagValue: 'llm' }],
        })
      ).status,
      200,
    )
    assert.equal((await kms(abac, 'Encrypt', { KeyId: untagged.id, Plaintext })).status, 200)
  })
})

describe('KMS tags and encryption contexts against case games', () => {
  it('attack: tag keys that differ only in case, to hide a protected tag from a policy (second review)', async () => {
    // Condition keys match regardless of case: Classification and classification would be one
    // aws:ResourceTag key, and the later one would decide.
    const denied = await aUser('case-dev', [
      { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'kms:*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/Classification': 'secret' } },
      },
    ])
    assert.equal(
      (
        await kms(g.admin, 'CreateKey', {
          Tags: [
            { TagKey: 'Classification', TagValue: 'secret' },
            { TagKey: 'classification', TagValue: 'x' },
          ],
        })
      ).type,
      'TagException',
    )
    const k = await newKey({ Tags: [{ TagKey: 'Classification', TagValue: 'secret' }] })
    const hide = await kms(g.admin, 'TagResource', {
      KeyId: k.id,
      Tags: [{ TagKey: 'classification', TagValue: 'public' }],
    })
    assert.equal(hide.type, 'TagException')
    const Plaintext = Buffer.from('x').toString('base64')
    assert.equal(
      (await kms(denied, 'Encrypt', { KeyId: k.id, Plaintext })).type,
      'AccessDeniedException',
    )
    // The same key named again with the same case takes the new value, as KMS does.
    assert.equal(
      (
        await kms(g.admin, 'TagResource', {
          KeyId: k.id,
          Tags: [{ TagKey: 'Classification', TagValue: 'public' }],
        })
      ).status,
      200,
    )
    assert.equal((await kms(denied, 'Encrypt', { KeyId: k.id, Plaintext })).status, 200)
  })

  it('attack: an encryption context with keys that differ only in case, to slip past a kms:EncryptionContext condition (second review)', async () => {
    const k = await newKey()
    const r = await kms(g.admin, 'Encrypt', {
      KeyId: k.id,
      Plaintext: Buffer.from('x').toString('base64'),
      EncryptionContext: { Purpose: 'train', purpose: 'serve' },
    })
    assert.equal(r.type, 'ValidationException')
  })

  it('attack: a tag condition on a bucket’s key, bypassed by reading the object through S3 (second review)', async () => {
    const dev = await aUser('s3-dev', [
      { Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'kms:*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceTag/Classification': 'secret' } },
      },
    ])
    const k = await newKey({ Tags: [{ TagKey: 'Classification', TagValue: 'secret' }] })
    assert.equal((await g.send(g.admin, { method: 'PUT', path: '/vault' })).status, 200)
    const put = await g.send(g.admin, {
      method: 'PUT',
      path: '/vault/doc.txt',
      headers: {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': k.id,
      },
      body: 'top secret',
    })
    assert.equal(put.status, 200, put.body)
    const read = await g.send(dev, { method: 'GET', path: '/vault/doc.txt' })
    assert.equal(read.status, 403, read.body)
    assert.equal(
      (await g.send(g.admin, { method: 'GET', path: '/vault/doc.txt' })).body,
      'top secret',
    )
  })
})

describe('ReEncrypt and on-demand rotation', () => {
  it('ReEncrypt moves a ciphertext to another key and context without showing the plaintext', async () => {
    const from = await newKey()
    const to = await newKey()
    const Plaintext = Buffer.from('checkpoint key').toString('base64')
    const enc = await kms(g.admin, 'Encrypt', {
      KeyId: from.id,
      Plaintext,
      EncryptionContext: { stage: 'train' },
    })
    const re = await kms(g.admin, 'ReEncrypt', {
      CiphertextBlob: enc.body.CiphertextBlob,
      SourceEncryptionContext: { stage: 'train' },
      DestinationKeyId: to.arn,
      DestinationEncryptionContext: { stage: 'serve' },
    })
    assert.equal(re.status, 200, JSON.stringify(re.body))
    assert.equal(re.body.SourceKeyId, from.arn)
    assert.equal(re.body.KeyId, to.arn)
    assert.equal(re.body.Plaintext, undefined)
    const dec = await kms(g.admin, 'Decrypt', {
      CiphertextBlob: re.body.CiphertextBlob,
      EncryptionContext: { stage: 'serve' },
    })
    assert.equal(dec.body.Plaintext, Plaintext)
    assert.equal(dec.body.KeyId, to.arn)
    const wrongContext = await kms(g.admin, 'ReEncrypt', {
      CiphertextBlob: enc.body.CiphertextBlob,
      DestinationKeyId: to.id,
    })
    assert.equal(wrongContext.type, 'InvalidCiphertextException')
    const wrongSource = await kms(g.admin, 'ReEncrypt', {
      CiphertextBlob: enc.body.CiphertextBlob,
      SourceEncryptionContext: { stage: 'train' },
      SourceKeyId: to.id,
      DestinationKeyId: to.id,
    })
    assert.equal(wrongSource.type, 'IncorrectKeyException')
  })

  it('attack: ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination', async () => {
    const from = await newKey()
    const to = await newKey()
    const enc = await kms(g.admin, 'Encrypt', {
      KeyId: from.id,
      Plaintext: Buffer.from('x').toString('base64'),
    })
    const only = async (name: string, actions: string[]) =>
      kms(await aUser(name, [{ Effect: 'Allow', Action: actions, Resource: '*' }]), 'ReEncrypt', {
        CiphertextBlob: enc.body.CiphertextBlob,
        DestinationKeyId: to.id,
      })
    const fromOnly = await only('re-from', ['kms:ReEncryptFrom'])
    assert.equal(fromOnly.type, 'AccessDeniedException')
    assert.match(
      String(fromOnly.body.message),
      new RegExp(`kms:ReEncryptTo on resource: ${to.arn}`),
    )
    const toOnly = await only('re-to', ['kms:ReEncryptTo'])
    assert.match(
      String(toOnly.body.message),
      new RegExp(`kms:ReEncryptFrom on resource: ${from.arn}`),
    )
    assert.equal((await only('re-both', ['kms:ReEncrypt*'])).status, 200)
    // kms:ReEncryptOnSameKey: a policy may allow re-encryption only under the same key.
    const same = await aUser('re-same', [
      {
        Effect: 'Allow',
        Action: 'kms:ReEncrypt*',
        Resource: '*',
        Condition: { Bool: { 'kms:ReEncryptOnSameKey': 'true' } },
      },
    ])
    const base = { CiphertextBlob: enc.body.CiphertextBlob }
    assert.equal(
      (await kms(same, 'ReEncrypt', { ...base, DestinationKeyId: to.id })).type,
      'AccessDeniedException',
    )
    assert.equal((await kms(same, 'ReEncrypt', { ...base, DestinationKeyId: from.id })).status, 200)
  })

  it('RotateKeyOnDemand: a new version for new data, old ciphertexts still open, listed, at most 10', async () => {
    const k = await newKey()
    const Plaintext = Buffer.from('old').toString('base64')
    const old = await kms(g.admin, 'Encrypt', { KeyId: k.id, Plaintext })
    assert.deepEqual((await kms(g.admin, 'ListKeyRotations', { KeyId: k.id })).body.Rotations, [])
    const r = await kms(g.admin, 'RotateKeyOnDemand', { KeyId: k.arn })
    assert.deepEqual([r.status, r.body.KeyId], [200, k.id])
    const dec = await kms(g.admin, 'Decrypt', { CiphertextBlob: old.body.CiphertextBlob })
    assert.equal(dec.body.Plaintext, Plaintext)
    const fresh = await kms(g.admin, 'Encrypt', { KeyId: k.id, Plaintext })
    assert.notEqual(fresh.body.CiphertextBlob, old.body.CiphertextBlob)
    for (let i = 1; i < 10; i++) await kms(g.admin, 'RotateKeyOnDemand', { KeyId: k.id })
    const listed = await kms(g.admin, 'ListKeyRotations', { KeyId: k.id, Limit: 4 })
    const rotations = listed.body.Rotations as Record<string, unknown>[]
    assert.deepEqual(
      rotations.map((x) => [x.KeyId, x.RotationType, typeof x.RotationDate]),
      Array.from({ length: 4 }, () => [k.id, 'ON_DEMAND', 'number']),
    )
    assert.equal(listed.body.Truncated, true)
    assert.equal(
      (await kms(g.admin, 'RotateKeyOnDemand', { KeyId: k.id })).type,
      'LimitExceededException',
    )
    const d = await newKey()
    await kms(g.admin, 'DisableKey', { KeyId: d.id })
    assert.equal(
      (await kms(g.admin, 'RotateKeyOnDemand', { KeyId: d.id })).type,
      'DisabledException',
    )
  })
})
