/**
 * Outside review of issue 11 (2026-12-02), four findings, each a test here:
 *
 * 1. BlockPublicPolicy let through bucket policies that grant to every principal under a
 *    condition that holds for every request: `Null {aws:SourceIp: false}` (the key is always
 *    present), `ForAllValues:StringEquals` (true when the key is absent), and `0.0.0.0/1` +
 *    `128.0.0.0/1` (all of IPv4). Any signed user of another tenant could then list, re-tag
 *    and delete objects. S3 calls a policy non-public only when a *fixed* value of one of its
 *    narrowing keys restricts it ("The meaning of public",
 *    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
 * 2. RestrictPublicBuckets refused anonymous callers only. S3: with it on, a bucket with a
 *    public policy is reachable "only [by] AWS service principals and authorized users within
 *    the bucket owner's account" (same page): other tenants are refused too.
 * 3. The bucket-owner rule's "administrator" (who may always read and replace a bucket policy
 *    that denies them) was anyone whose policies matched action `*` on resource `*`, which
 *    every NotAction statement does: a PowerUserAccess-shaped user deleted a bucket policy
 *    that denied them and regained access. On AWS only the account's root user is past such a
 *    Deny (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html).
 * 4. DeleteObjects took a missing or element-valued <Key> as the empty key and wrote a delete
 *    marker for it, and of two <Key>s used the first; CreateBucket took an element-valued
 *    LocationConstraint. Both are MalformedXML now, and nothing is written.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TenantRecord } from '../../src/meta/store.ts'
import { startInProcess, type Creds, type InProcess } from '../api/inprocess.ts'

const B = 'vault'
const allow = (condition?: object) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Everyone',
        Effect: 'Allow',
        Principal: '*',
        Action: ['s3:ListBucket', 's3:DeleteObject', 's3:PutObjectTagging'],
        Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
        ...(condition === undefined ? {} : { Condition: condition }),
      },
    ],
  })
const pab = (block: boolean, restrict: boolean) =>
  `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>${block}</BlockPublicPolicy><RestrictPublicBuckets>${restrict}</RestrictPublicBuckets></PublicAccessBlockConfiguration>`

describe('public bucket policies and the public access block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-public-'))
  let g: InProcess
  let outsider: Creds
  let powerUser: Creds
  let tenantId: string
  before(async () => {
    g = await startInProcess(dir)
    const acme = await g.app.identity.findTenant('acme')
    assert.ok(acme)
    tenantId = acme.id
    /** A user of `tenant` whose one identity policy has `statement`, and its access key. */
    const userWith = async (tenant: TenantRecord, name: string, statement: object) => {
      const user = await g.app.identity.createUser(tenant, name)
      const policy = { Version: '2012-10-17', Statement: [statement] }
      await g.app.identity.putUserPolicy(user, 'policy', JSON.stringify(policy))
      const k = await g.app.identity.createAccessKey(user)
      return { id: k.accessKeyId, secret: k.secretAccessKey }
    }
    const other = await g.app.identity.createTenant('other')
    outsider = await userWith(other, 'bob', {
      Effect: 'Allow',
      Action: ['s3:*', 'kms:*'],
      Resource: '*',
    })
    // AWS's PowerUserAccess.
    powerUser = await userWith(acme, 'carol', {
      Effect: 'Allow',
      NotAction: ['iam:*', 'organizations:*', 'account:*'],
      Resource: '*',
    })
    assert.equal((await g.send(g.admin, { method: 'PUT', path: `/${B}` })).status, 200)
    const put = await g.send(g.admin, { method: 'PUT', path: `/${B}/victim`, body: 'weights' })
    assert.equal(put.status, 200, put.body)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const setPab = async (block: boolean, restrict: boolean) => {
    const r = await g.send(g.admin, {
      method: 'PUT',
      path: `/${B}?publicAccessBlock`,
      body: pab(block, restrict),
    })
    assert.equal(r.status, 200, r.body)
  }
  const putPolicy = (c: Creds, policy: string) =>
    g.send(c, { method: 'PUT', path: `/${B}?policy`, body: policy })

  for (const [what, condition] of [
    ['Null aws:SourceIp false (the key is always present)', { Null: { 'aws:SourceIp': 'false' } }],
    [
      'ForAllValues:StringEquals aws:SourceAccount (true when the key is absent)',
      { 'ForAllValues:StringEquals': { 'aws:SourceAccount': '111111111111' } },
    ],
    [
      'aws:SourceIp 0.0.0.0/1 and 128.0.0.0/1 (all of IPv4)',
      { IpAddress: { 'aws:SourceIp': ['0.0.0.0/1', '128.0.0.0/1'] } },
    ],
    ['aws:SourceIp 10.0.0.0/7 (wider than a /8)', { IpAddress: { 'aws:SourceIp': '10.0.0.0/7' } }],
    [
      'StringNotEquals aws:SourceAccount (negated)',
      { StringNotEquals: { 'aws:SourceAccount': '111111111111' } },
    ],
    [
      'StringEqualsIfExists aws:SourceAccount (holds when absent)',
      { StringEqualsIfExists: { 'aws:SourceAccount': '111111111111' } },
    ],
    [
      'a policy variable as the value',
      { StringEquals: { 'aws:PrincipalAccount': '${aws:PrincipalAccount}' } },
    ],
  ] as const)
    it(`BlockPublicPolicy refuses a grant to everyone "narrowed" by ${what}`, async () => {
      await setPab(true, true)
      const r = await putPolicy(g.admin, allow(condition))
      assert.equal(r.status, 403, r.body)
      assert.match(r.body, /Everyone grants public access/)
      const list = await g.send(outsider, { method: 'GET', path: `/${B}?list-type=2` })
      assert.equal(list.status, 403, list.body)
    })

  it('BlockPublicPolicy accepts a grant narrowed by fixed values (an account, a /16)', async () => {
    await setPab(true, true)
    for (const condition of [
      { StringEquals: { 'aws:SourceAccount': '111111111111' } },
      { IpAddress: { 'aws:SourceIp': '203.0.113.0/16' } },
      { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } },
    ]) {
      const r = await putPolicy(g.admin, allow(condition))
      assert.equal(r.status, 204, `${JSON.stringify(condition)}: ${r.body}`)
    }
    assert.equal((await g.send(g.admin, { method: 'DELETE', path: `/${B}?policy` })).status, 204)
  })

  it('RestrictPublicBuckets refuses another tenant a public policy grants, and keeps the owner in', async () => {
    await setPab(false, true)
    assert.equal((await putPolicy(g.admin, allow())).status, 204)
    const list = await g.send(outsider, { method: 'GET', path: `/${B}?list-type=2` })
    assert.equal(list.status, 403, list.body)
    const del = await g.send(outsider, { method: 'DELETE', path: `/${B}/victim` })
    assert.equal(del.status, 403, del.body)
    // The owner's own principals are decided as before.
    const own = await g.send(g.admin, { method: 'GET', path: `/${B}?list-type=2` })
    assert.equal(own.status, 200, own.body)
    assert.match(own.body, /<Key>victim<\/Key>/)
    // With the switch off the same policy opens the bucket to the other tenant, as in S3.
    await setPab(false, false)
    const open = await g.send(outsider, { method: 'GET', path: `/${B}?list-type=2` })
    assert.equal(open.status, 200, open.body)
    assert.equal((await g.send(g.admin, { method: 'DELETE', path: `/${B}?policy` })).status, 204)
    await setPab(true, true)
  })

  it('a NotAction (PowerUser) identity cannot remove a bucket policy that denies it; the administrator can', async () => {
    const deny = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyCarol',
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${tenantId}:user/carol` },
          Action: 's3:*',
          Resource: [`arn:aws:s3:::${B}`, `arn:aws:s3:::${B}/*`],
        },
      ],
    })
    assert.equal((await putPolicy(g.admin, deny)).status, 204)
    for (const [method, path] of [
      ['GET', `/${B}/victim`],
      ['GET', `/${B}?policy`],
      ['DELETE', `/${B}?policy`],
    ] as const) {
      const r = await g.send(powerUser, { method, path })
      assert.equal(r.status, 403, `${method} ${path}: ${r.body}`)
    }
    assert.equal((await putPolicy(powerUser, allow())).status, 403)
    const still = await g.send(g.admin, { method: 'GET', path: `/${B}?policy` })
    assert.match(still.body, /DenyCarol/)
    // AdministratorAccess's unconditional Allow * on * is the way back in.
    assert.equal((await g.send(g.admin, { method: 'DELETE', path: `/${B}?policy` })).status, 204)
  })

  const deleteBody = (objects: string) => {
    const body = `<Delete>${objects}</Delete>`
    return {
      method: 'POST',
      path: `/${B}?delete`,
      body,
      headers: { 'content-md5': createHash('md5').update(body).digest('base64') },
    }
  }
  for (const [what, objects] of [
    ['an Object without a Key', '<Object></Object>'],
    ['an empty Key', '<Object><Key></Key></Object>'],
    ['a Key holding an element', '<Object><Key><x>1</x></Key></Object>'],
    ['two Keys in one Object', '<Object><Key>victim</Key><Key>other</Key></Object>'],
    [
      'two VersionIds in one Object',
      '<Object><Key>victim</Key><VersionId>a</VersionId><VersionId>b</VersionId></Object>',
    ],
  ] as const)
    it(`DeleteObjects with ${what}: 400 MalformedXML, nothing deleted`, async () => {
      const r = await g.send(g.admin, deleteBody(objects))
      assert.equal(r.status, 400, r.body)
      assert.match(r.body, /<Code>MalformedXML<\/Code>/)
      const get = await g.send(g.admin, { method: 'GET', path: `/${B}/victim` })
      assert.equal(get.status, 200, get.body)
      assert.equal(get.body, 'weights')
      const versions = await g.send(g.admin, { method: 'GET', path: `/${B}?versions` })
      assert.doesNotMatch(versions.body, /<DeleteMarker>/)
    })

  it('a public access block document that names a switch twice, or wraps it in an element, is MalformedXML', async () => {
    await setPab(true, true)
    for (const body of [
      '<PublicAccessBlockConfiguration><BlockPublicPolicy>false</BlockPublicPolicy><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>',
      '<PublicAccessBlockConfiguration><BlockPublicPolicy><x/>true</BlockPublicPolicy></PublicAccessBlockConfiguration>',
    ]) {
      const r = await g.send(g.admin, { method: 'PUT', path: `/${B}?publicAccessBlock`, body })
      assert.equal(r.status, 400, r.body)
      assert.match(r.body, /<Code>MalformedXML<\/Code>/)
    }
    const now = await g.send(g.admin, { method: 'GET', path: `/${B}?publicAccessBlock` })
    assert.match(now.body, /<BlockPublicPolicy>true<\/BlockPublicPolicy>/)
  })

  it('CreateBucket with a LocationConstraint holding an element: 400 MalformedXML, no bucket', async () => {
    const r = await g.send(g.admin, {
      method: 'PUT',
      path: '/newbucket1',
      body: '<CreateBucketConfiguration><LocationConstraint><x/></LocationConstraint></CreateBucketConfiguration>',
    })
    assert.equal(r.status, 400, r.body)
    assert.match(r.body, /<Code>MalformedXML<\/Code>/)
    const head = await g.send(g.admin, { method: 'HEAD', path: '/newbucket1' })
    assert.equal(head.status, 404)
  })
})
