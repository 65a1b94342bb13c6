/** IdentityService over SQLite: names checked, secrets sealed, times from the injected clock. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fixedClock } from '../clock.ts'
import { isStrongroomError } from '../errors.ts'
import { LocalKms } from '../kms/local.ts'
import { SqliteMetadataStore } from '../meta/sqlite/store.ts'
import { outcome } from '../meta/conformance/fixtures.ts'
import { roleArn } from './roles.ts'
import { IdentityService } from './service.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-identity-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const T0 = Date.UTC(2030, 5, 6, 7, 8, 9)

function fixture(name: string) {
  const clock = fixedClock(T0)
  const store = SqliteMetadataStore.open(join(dir, `${name}.sqlite`), { create: true })
  const kms = new LocalKms(store, randomBytes(32), { region: 'us-east-1', clock })
  return { clock, store, identity: new IdentityService(store, kms, clock) }
}

describe('IdentityService', () => {
  it('stamps tenants, users and access keys with the clock’s time', async () => {
    const { clock, identity } = fixture('times')
    const t = await identity.createTenant('vision')
    clock.advance(1)
    const u = await identity.createUser(t, 'alice')
    clock.advance(1)
    const k = await identity.createAccessKey(u)
    assert.equal(t.createdAt, T0)
    assert.equal((await identity.tenantById(t.id))?.createdAt, T0)
    assert.equal((await identity.findUser(t.id, 'alice'))?.createdAt, T0 + 1)
    assert.equal((await identity.accessKey(k.accessKeyId))?.createdAt, T0 + 2)
  })

  it('keeps the secret only sealed, and opens it again for its own id alone', async () => {
    const { identity, store } = fixture('secrets')
    const t = await identity.createTenant('vision')
    const u = await identity.createUser(t, 'alice')
    const k = await identity.createAccessKey(u)
    const row = await identity.accessKey(k.accessKeyId)
    assert.ok(row)
    assert.equal(Buffer.from(row.secret).includes(Buffer.from(k.secretAccessKey)), false)
    assert.equal(identity.secretOf(row).toString('utf8'), k.secretAccessKey)
    // The same sealed secret under another key id does not open: the label is bound.
    const moved = { ...row, id: 'AKIA0000000000000000' }
    assert.throws(
      () => identity.secretOf(moved),
      (e) => isStrongroomError(e, 'ROOT_KEY_WRONG'),
    )
    await store.close()
  })

  it('gives the stored policies of an access key’s user, by name, as stored', async () => {
    const { identity } = fixture('stored')
    const t = await identity.createTenant('vision')
    const alice = await identity.createUser(t, 'alice')
    const bob = await identity.createUser(t, 'bob')
    const doc = (action: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
      })
    await identity.putUserPolicy(alice, 'write', doc('s3:PutObject'))
    await identity.putUserPolicy(alice, 'read', doc('s3:GetObject'))
    await identity.putUserPolicy(bob, 'all', doc('*'))
    const k = await identity.createAccessKey(alice)
    const row = await identity.accessKey(k.accessKeyId)
    assert.ok(row)
    assert.deepEqual(await identity.storedPolicies(row), [
      { tenantId: t.id, userName: 'alice', name: 'read', document: doc('s3:GetObject') },
      { tenantId: t.id, userName: 'alice', name: 'write', document: doc('s3:PutObject') },
    ])
  })

  it('finds a user’s access key only through its owner', async () => {
    const { identity } = fixture('owner')
    const t = await identity.createTenant('vision')
    const alice = await identity.createUser(t, 'alice')
    await identity.createUser(t, 'bob')
    const k = await identity.createAccessKey(alice)
    assert.equal((await identity.userAccessKey(t, 'alice', k.accessKeyId)).userName, 'alice')
    await assert.rejects(identity.userAccessKey(t, 'bob', k.accessKeyId), (e) =>
      isStrongroomError(e, 'USER_NOT_FOUND'),
    )
    await identity.setAccessKeyStatus(k.accessKeyId, 'Inactive')
    assert.deepEqual(
      (await identity.listAccessKeys(alice)).map((x) => x.status),
      ['Inactive'],
    )
  })

  it('names what is missing: TENANT_NOT_FOUND, USER_NOT_FOUND; invalid names are refused', async () => {
    const { identity } = fixture('missing')
    await assert.rejects(identity.tenant('nope'), (e) => isStrongroomError(e, 'TENANT_NOT_FOUND'))
    const t = await identity.createTenant('vision')
    await assert.rejects(identity.user(t, 'nope'), (e) => isStrongroomError(e, 'USER_NOT_FOUND'))
    await assert.rejects(identity.createTenant('Not Valid'), (e) =>
      isStrongroomError(e, 'NAME_INVALID'),
    )
    await assert.rejects(identity.createUser(t, 'bad/name'), (e) =>
      isStrongroomError(e, 'NAME_INVALID'),
    )
  })

  it('roles: AROA ids, ARNs with their path, names unique regardless of case, every limit IAM sets', async () => {
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    const { identity } = fixture('roles')
    const t = await identity.createTenant('vision')
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${t.id}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    })
    const { role } = await identity.createRole(t, {
      name: 'Trainer',
      trustPolicy: trust,
      path: '/ml/',
      maxSessionSeconds: 7200,
    })
    assert.match(role.id, /^AROA[A-Z2-7]{17}$/)
    assert.equal(roleArn(t.id, role), `arn:aws:iam::${t.id}:role/ml/Trainer`)
    assert.equal(role.createdAt, T0)
    assert.deepEqual(await identity.role(t, 'trainer'), role)
    assert.equal(
      await outcome(identity.createRole(t, { name: 'TRAINER', trustPolicy: trust })),
      'ROLE_EXISTS',
    )
    assert.equal(
      await outcome(identity.createRole(t, { name: 'a/b', trustPolicy: trust })),
      'NAME_INVALID',
    )
    assert.equal(
      await outcome(identity.createRole(t, { name: 'x'.repeat(65), trustPolicy: trust })),
      'NAME_INVALID',
    )
    assert.equal(
      await outcome(identity.createRole(t, { name: 'p', trustPolicy: trust, path: 'ml/' })),
      'NAME_INVALID',
    )
    for (const maxSessionSeconds of [3599, 43_201, 3600.5])
      assert.equal(
        await outcome(identity.createRole(t, { name: 'd', trustPolicy: trust, maxSessionSeconds })),
        'CONFIG_INVALID',
      )
    // A trust policy needs a Principal; the error says where.
    const noPrincipal = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }],
    })
    await assert.rejects(
      identity.createRole(t, { name: 'np', trustPolicy: noPrincipal }),
      (e) => isStrongroomError(e, 'MALFORMED_POLICY') && /1:\d+: .*Principal/.test(e.message),
    )
    await assert.rejects(
      identity.role(t, 'nope'),
      (e) =>
        isStrongroomError(e, 'ROLE_NOT_FOUND') && e.message.includes('strongroom role create nope'),
    )
    assert.deepEqual(
      (await identity.listRoles(t)).map((r) => r.name),
      ['Trainer'],
    )
  })

  it('a role’s inline policies are validated, replaced by name, and compiled', async () => {
    const { identity } = fixture('role-policies')
    const t = await identity.createTenant('vision')
    const { role } = await identity.createRole(t, {
      name: 'trainer',
      trustPolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: t.id }, Action: 'sts:AssumeRole' }],
      }),
    })
    const doc = (action: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
      })
    await identity.putRolePolicy(role, 'read', doc('s3:GetObject'))
    await identity.putRolePolicy(role, 'read', doc('s3:ListBucket'))
    await identity.putRolePolicy(role, 'write', doc('s3:PutObject'))
    assert.deepEqual(
      (await identity.storedRolePolicies(role)).map((p) => [p.name, p.document]),
      [
        ['read', doc('s3:ListBucket')],
        ['write', doc('s3:PutObject')],
      ],
    )
    assert.equal((await identity.rolePolicies(role)).length, 2)
    await assert.rejects(identity.putRolePolicy(role, 'bad', '{"Version":"2012-10-17"}'), (e) =>
      isStrongroomError(e, 'MALFORMED_POLICY'),
    )
  })
})
