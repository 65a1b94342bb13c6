/** IdentityStore conformance: tenants, users, access keys and inline policies. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import type { AccessKeyRecord, RoleRecord, UserRecord } from '../identity.ts'
import { tenant, using, type MakeStore } from './fixtures.ts'

const user = (tenantId: string, name: string, n: number): UserRecord => ({
  tenantId,
  name,
  id: `AIDA${String(n).padStart(16, '0')}`,
  createdAt: 1_700_000_000_000 + n,
})

const accessKey = (u: UserRecord, id: string, createdAt: number): AccessKeyRecord => ({
  id,
  tenantId: u.tenantId,
  userName: u.name,
  secret: Buffer.from(`sealed secret of ${id}`),
  status: 'Active',
  createdAt,
})

const plain = (k: AccessKeyRecord | undefined) =>
  k === undefined ? undefined : { ...k, secret: Buffer.from(k.secret) }

export function identityConformance(make: MakeStore): void {
  describe('IdentityStore', () => {
    it('finds a tenant by name and by id; an unknown one is undefined', () =>
      using(make, async (store) => {
        const t = tenant(1, 'vision')
        await store.createTenant(t)
        assert.deepEqual(await store.getTenant('vision'), t)
        assert.deepEqual(await store.getTenantById(t.id), t)
        assert.equal(await store.getTenant('nobody'), undefined)
        assert.equal(await store.getTenantById('999999999999'), undefined)
      }))

    it('refuses a tenant name that is taken with TENANT_EXISTS and keeps the first', () =>
      using(make, async (store) => {
        await store.createTenant(tenant(1, 'vision'))
        await assert.rejects(store.createTenant(tenant(2, 'vision')), (e) =>
          isStrongroomError(e, 'TENANT_EXISTS'),
        )
        assert.deepEqual(await store.listTenants(), [tenant(1, 'vision')])
        assert.equal(await store.getTenantById(tenant(2).id), undefined)
      }))

    it('lists tenants by name', () =>
      using(make, async (store) => {
        for (const [n, name] of [
          [1, 'nlp'],
          [2, 'audio'],
          [3, 'vision'],
        ] as const)
          await store.createTenant(tenant(n, name))
        assert.deepEqual(
          (await store.listTenants()).map((t) => t.name),
          ['audio', 'nlp', 'vision'],
        )
      }))

    it('keeps users per tenant: the same name in two tenants, USER_EXISTS within one', () =>
      using(make, async (store) => {
        const a = tenant(1, 'a')
        const b = tenant(2, 'b')
        await store.createTenant(a)
        await store.createTenant(b)
        await store.createUser(user(a.id, 'alice', 1))
        await store.createUser(user(b.id, 'alice', 2))
        await assert.rejects(store.createUser(user(a.id, 'alice', 3)), (e) =>
          isStrongroomError(e, 'USER_EXISTS'),
        )
        assert.deepEqual(await store.getUser(a.id, 'alice'), user(a.id, 'alice', 1))
        assert.deepEqual(await store.getUser(b.id, 'alice'), user(b.id, 'alice', 2))
        assert.equal(await store.getUser(a.id, 'bob'), undefined)
      }))

    it('refuses a user of a tenant that does not exist, as a rejection, writing nothing', () =>
      using(make, async (store) => {
        let pending: Promise<void> | undefined
        assert.doesNotThrow(() => {
          pending = store.createUser(user('999999999999', 'ghost', 1))
        }, 'a failure is a rejected promise, never a synchronous throw')
        await assert.rejects(pending ?? Promise.resolve())
        assert.deepEqual(await store.listUsers('999999999999'), [])
      }))

    it('lists a tenant’s users by name, and only its own', () =>
      using(make, async (store) => {
        const a = tenant(1, 'a')
        const b = tenant(2, 'b')
        await store.createTenant(a)
        await store.createTenant(b)
        await store.createUser(user(a.id, 'carol', 1))
        await store.createUser(user(a.id, 'alice', 2))
        await store.createUser(user(b.id, 'bob', 3))
        assert.deepEqual(
          (await store.listUsers(a.id)).map((u) => u.name),
          ['alice', 'carol'],
        )
        assert.deepEqual(await store.listUsers('000000000000'), [])
      }))

    it('stores access keys with their sealed secret, lists a user’s oldest first', () =>
      using(make, async (store) => {
        const t = tenant(1)
        await store.createTenant(t)
        const alice = user(t.id, 'alice', 1)
        const bob = user(t.id, 'bob', 2)
        await store.createUser(alice)
        await store.createUser(bob)
        const k2 = accessKey(alice, 'AKIA0000000000000002', 20)
        const k1 = accessKey(alice, 'AKIA0000000000000001', 10)
        const k3 = accessKey(alice, 'AKIA0000000000000000', 20)
        await store.createAccessKey(k2)
        await store.createAccessKey(k1)
        await store.createAccessKey(k3)
        await store.createAccessKey(accessKey(bob, 'AKIA0000000000000009', 5))
        assert.deepEqual(plain(await store.getAccessKey(k1.id)), k1)
        assert.equal(await store.getAccessKey('AKIA0000000000000404'), undefined)
        assert.deepEqual(
          (await store.listAccessKeys(t.id, 'alice')).map((k) => k.id),
          [k1.id, k3.id, k2.id],
          'by creation time, then id',
        )
      }))

    it('deactivates, reactivates and deletes an access key', () =>
      using(make, async (store) => {
        const t = tenant(1)
        await store.createTenant(t)
        const alice = user(t.id, 'alice', 1)
        await store.createUser(alice)
        const k = accessKey(alice, 'AKIA0000000000000001', 10)
        await store.createAccessKey(k)
        await store.setAccessKeyStatus(k.id, 'Inactive')
        assert.equal((await store.getAccessKey(k.id))?.status, 'Inactive')
        await store.setAccessKeyStatus(k.id, 'Active')
        assert.equal((await store.getAccessKey(k.id))?.status, 'Active')
        await store.deleteAccessKey(k.id)
        assert.equal(await store.getAccessKey(k.id), undefined)
        assert.deepEqual(await store.listAccessKeys(t.id, 'alice'), [])
      }))

    it('replaces a user policy of the same name and lists them by name', () =>
      using(make, async (store) => {
        const t = tenant(1)
        await store.createTenant(t)
        await store.createUser(user(t.id, 'alice', 1))
        await store.createUser(user(t.id, 'bob', 2))
        const p = (userName: string, name: string, document: string) => ({
          tenantId: t.id,
          userName,
          name,
          document,
        })
        await store.putUserPolicy(p('alice', 'write', '{"v":1}'))
        await store.putUserPolicy(p('alice', 'read', '{"v":2}'))
        await store.putUserPolicy(p('alice', 'write', '{"v":3}'))
        await store.putUserPolicy(p('bob', 'other', '{"v":4}'))
        assert.deepEqual(await store.listUserPolicies(t.id, 'alice'), [
          p('alice', 'read', '{"v":2}'),
          p('alice', 'write', '{"v":3}'),
        ])
        assert.deepEqual(await store.listUserPolicies(t.id, 'carol'), [])
      }))

    it('keeps roles per tenant, unique regardless of case, and their policies by role', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        const b = tenant(2, 'audio')
        await store.createTenant(a)
        await store.createTenant(b)
        const role = (tenantId: string, name: string, n: number): RoleRecord => ({
          tenantId,
          name,
          id: `AROA${String(n).padStart(17, '0')}`,
          path: '/',
          description: '',
          trustPolicy: '{"trust":1}',
          maxSessionSeconds: 3600,
          createdAt: 1_700_000_000_000 + n,
        })
        await store.createRole(role(a.id, 'Trainer', 1))
        await store.createRole(role(b.id, 'trainer', 2))
        await assert.rejects(store.createRole(role(a.id, 'TRAINER', 3)), (e) =>
          isStrongroomError(e, 'ROLE_EXISTS'),
        )
        assert.deepEqual(await store.getRole(a.id, 'trainer'), role(a.id, 'Trainer', 1))
        assert.equal(await store.getRole(a.id, 'other'), undefined)
        assert.deepEqual(await store.listRoles(b.id), [role(b.id, 'trainer', 2)])
        const p = (name: string, document: string) => ({
          tenantId: a.id,
          roleName: 'Trainer',
          name,
          document,
        })
        await store.putRolePolicy(p('write', '{"v":1}'))
        await store.putRolePolicy(p('read', '{"v":2}'))
        await store.putRolePolicy(p('write', '{"v":3}'))
        assert.deepEqual(await store.listRolePolicies(a.id, 'Trainer'), [
          p('read', '{"v":2}'),
          p('write', '{"v":3}'),
        ])
        assert.deepEqual(await store.listRolePolicies(b.id, 'trainer'), [])
        // A policy of a role that does not exist is refused, writing nothing.
        await assert.rejects(
          store.putRolePolicy({ tenantId: a.id, roleName: 'ghost', name: 'x', document: '{}' }),
        )
      }))
  })
}
