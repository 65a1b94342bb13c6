/**
 * PrincipalStore conformance: a user's, a role's and an access key's state, exactly what the
 * neighbouring ports hold, read together; nothing of another principal or tenant.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AccessKeyRecord, RoleRecord, TenantRecord, UserRecord } from '../identity.ts'
import type { ManagedPolicyRecord } from '../policies.ts'
import type { MetadataStore } from '../store.ts'
import { tenant, using, type MakeStore } from './fixtures.ts'

const T0 = 1_700_000_000_000

const userOf = (t: TenantRecord, name: string, n: number): UserRecord => ({
  tenantId: t.id,
  name,
  id: `AIDA${String(n).padStart(16, '0')}`,
  createdAt: T0 + n,
})

const roleOf = (t: TenantRecord, name: string, n: number): RoleRecord => ({
  tenantId: t.id,
  name,
  id: `AROA${String(n).padStart(17, '0')}`,
  path: '/ml/',
  description: 'trains',
  trustPolicy: '{"trust":1}',
  maxSessionSeconds: 7200,
  createdAt: T0 + n,
})

const policyOf = (t: TenantRecord, name: string, n: number): ManagedPolicyRecord => ({
  tenantId: t.id,
  name,
  id: `ANPA${String(n).padStart(17, '0')}`,
  path: '/',
  description: '',
  defaultVersion: 1,
  createdAt: T0 + n,
  updatedAt: T0 + n,
})

const keyOf = (t: TenantRecord, user: string, n: number): AccessKeyRecord => ({
  id: `AKIA${String(n).padStart(16, '0')}`,
  tenantId: t.id,
  userName: user,
  secret: new Uint8Array(Buffer.from(`sealed-${n}`)),
  status: 'Active',
  createdAt: T0 + n,
})

/** Two tenants; in the first a user and a role with one of everything, and a bystander of each. */
async function populate(store: MetadataStore): Promise<[TenantRecord, TenantRecord]> {
  const a = tenant(1, 'vision')
  const b = tenant(2, 'audio')
  await store.createTenant(a)
  await store.createTenant(b)
  await store.createUser(userOf(a, 'Alice', 1))
  await store.createUser(userOf(a, 'bob', 2))
  await store.createUser(userOf(b, 'alice', 3))
  await store.createRole(roleOf(a, 'trainer', 4))
  await store.createRole(roleOf(a, 'other', 5))
  await store.createPolicy(policyOf(a, 'read', 6), '{"read":1}')
  await store.createPolicy(policyOf(a, 'fence', 7), '{"fence":1}')
  await store.createPolicy(policyOf(a, 'shared', 8), '{"shared":1}')
  assert.equal(await store.addPolicyVersion(a.id, 'read', '{"read":2}', T0 + 9, true), 2)
  await store.putUserPolicy({
    tenantId: a.id,
    userName: 'Alice',
    name: 'own',
    document: '{"own":1}',
  })
  await store.putUserPolicy({ tenantId: a.id, userName: 'bob', name: 'bobs', document: '{"b":1}' })
  await store.putRolePolicy({
    tenantId: a.id,
    roleName: 'trainer',
    name: 'inline',
    document: '{"r":1}',
  })
  await store.putRolePolicy({ tenantId: a.id, roleName: 'other', name: 'x', document: '{"x":1}' })
  assert.equal(await store.attachPolicy(a.id, 'user', 'Alice', 'read', 10), true)
  assert.equal(await store.attachPolicy(a.id, 'role', 'trainer', 'read', 10), true)
  assert.equal(await store.setPermissionsBoundary(a.id, 'user', 'Alice', 'fence'), true)
  assert.equal(await store.setPermissionsBoundary(a.id, 'role', 'trainer', 'fence'), true)
  await store.createGroup({
    tenantId: a.id,
    name: 'readers',
    id: 'AGPA00000000000000011',
    path: '/',
    createdAt: T0 + 11,
  })
  assert.equal(await store.addUserToGroup(a.id, 'readers', 'Alice', 10), true)
  await store.putGroupPolicy({
    tenantId: a.id,
    groupName: 'readers',
    name: 'g',
    document: '{"g":1}',
  })
  assert.equal(await store.attachPolicy(a.id, 'group', 'readers', 'shared', 10), true)
  await store.tagResource(a.id, 'user', 'Alice', [{ key: 'team', value: 'vision' }], 50)
  await store.tagResource(a.id, 'role', 'trainer', [{ key: 'cost', value: 'ml' }], 50)
  await store.tagResource(a.id, 'user', 'bob', [{ key: 'team', value: 'other' }], 50)
  return [a, b]
}

export function principalsConformance(make: MakeStore): void {
  describe('PrincipalStore', () => {
    it("reads a user's record, inline, attached and group policies, boundary and tags together", () =>
      using(make, async (store) => {
        const [a] = await populate(store)
        const s = await store.userState(a.id, 'ALICE')
        assert.deepEqual(s?.record, userOf(a, 'Alice', 1))
        assert.deepEqual(
          s.inline.map((p) => [p.name, p.document]),
          [['own', '{"own":1}']],
        )
        // The attached policy's default version: v2, made the default after v1.
        assert.deepEqual(
          s.attached.map((p) => [p.policy.name, p.policy.defaultVersion, p.document]),
          [['read', 2, '{"read":2}']],
        )
        assert.deepEqual(
          s.groups.map((g) => [g.group, g.kind, g.name, g.document]),
          [
            ['readers', 'inline', 'g', '{"g":1}'],
            ['readers', 'managed', '/shared', '{"shared":1}'],
          ],
        )
        assert.deepEqual([s.boundary?.policy.name, s.boundary?.document], ['fence', '{"fence":1}'])
        assert.deepEqual(s.tags, [{ key: 'team', value: 'vision' }])
      }))

    it("reads a role's record, policies, boundary, tags and a session's managed policies; no groups", () =>
      using(make, async (store) => {
        const [a] = await populate(store)
        const s = await store.roleState(a.id, 'trainer')
        assert.deepEqual(s?.record, roleOf(a, 'trainer', 4))
        assert.deepEqual(
          s.inline.map((p) => [p.name, p.document]),
          [['inline', '{"r":1}']],
        )
        assert.deepEqual(
          s.attached.map((p) => [p.policy.name, p.document]),
          [['read', '{"read":2}']],
        )
        assert.deepEqual(s.groups, [])
        assert.equal(s.boundary?.document, '{"fence":1}')
        assert.deepEqual(s.tags, [{ key: 'cost', value: 'ml' }])
        assert.deepEqual(s.sessionPolicies, [])
        // A session's managed policies: those that exist, in the order asked.
        const session = await store.roleState(a.id, 'trainer', ['shared', 'missing', 'read'])
        assert.deepEqual(
          session?.sessionPolicies.map((p) => [p.policy.name, p.document]),
          [
            ['shared', '{"shared":1}'],
            ['read', '{"read":2}'],
          ],
        )
        const user = await store.userState(a.id, 'alice', ['fence'])
        assert.deepEqual(
          user?.sessionPolicies.map((p) => p.document),
          ['{"fence":1}'],
        )
        const other = await store.roleState(a.id, 'other')
        assert.deepEqual(
          [other?.inline.length, other?.attached, other?.boundary, other?.tags],
          [1, [], undefined, []],
        )
      }))

    it('reads an access key with its user; the user gone leaves the key without one', () =>
      using(make, async (store) => {
        const [a] = await populate(store)
        await store.createAccessKey(keyOf(a, 'Alice', 20))
        await store.createAccessKey(keyOf(a, 'bob', 21))
        const found = await store.accessKeyState(keyOf(a, 'Alice', 20).id)
        assert.deepEqual(found?.key, keyOf(a, 'Alice', 20))
        assert.deepEqual(found.user?.record, userOf(a, 'Alice', 1))
        assert.deepEqual(found.user.tags, [{ key: 'team', value: 'vision' }])
        await store.deleteAccessKey(keyOf(a, 'bob', 21).id)
        assert.equal(await store.accessKeyState(keyOf(a, 'bob', 21).id), undefined)
        assert.equal(await store.accessKeyState('AKIA0000000000000099'), undefined)
      }))

    it('answers undefined for a principal that is not there, in this tenant or at all', () =>
      using(make, async (store) => {
        const [a, b] = await populate(store)
        assert.equal(await store.userState(a.id, 'carol'), undefined)
        assert.equal(await store.roleState(b.id, 'trainer'), undefined)
        // Another tenant's user of the same name has none of the first's policies or tags.
        const other = await store.userState(b.id, 'alice')
        assert.deepEqual(
          [
            other?.record.id,
            other?.inline,
            other?.attached,
            other?.groups,
            other?.boundary,
            other?.tags,
          ],
          ['AIDA0000000000000003', [], [], [], undefined, []],
        )
      }))
  })
}
