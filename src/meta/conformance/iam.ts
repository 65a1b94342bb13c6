/**
 * IamStore conformance: role and user changes and deletions (refused while anything still
 * hangs on them), IAM tags, customer-managed policies (versions, the default, at most five),
 * attachments, and access keys' last use.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError, type ErrorCode } from '../../errors.ts'
import type { ManagedPolicyRecord } from '../policies.ts'
import type { RoleRecord, TenantRecord, UserRecord } from '../identity.ts'
import type { MetadataStore } from '../store.ts'
import { tenant, using, type MakeStore } from './fixtures.ts'

const T0 = 1_700_000_000_000

const roleOf = (t: TenantRecord, name: string, n: number): RoleRecord => ({
  tenantId: t.id,
  name,
  id: `AROA${String(n).padStart(17, '0')}`,
  path: '/ml/',
  description: '',
  trustPolicy: '{"trust":1}',
  maxSessionSeconds: 3600,
  createdAt: T0 + n,
})

const userOf = (t: TenantRecord, name: string, n: number): UserRecord => ({
  tenantId: t.id,
  name,
  id: `AIDA${String(n).padStart(16, '0')}`,
  createdAt: T0 + n,
})

const policyOf = (t: TenantRecord, name: string, n: number): ManagedPolicyRecord => ({
  tenantId: t.id,
  name,
  id: `ANPA${String(n).padStart(17, '0')}`,
  path: '/',
  description: `policy ${n}`,
  defaultVersion: 1,
  createdAt: T0 + n,
  updatedAt: T0 + n,
})

const refused = (code: ErrorCode) => (e: unknown) => isStrongroomError(e, code)

async function withTenants(store: MetadataStore): Promise<[TenantRecord, TenantRecord]> {
  const a = tenant(1, 'vision')
  const b = tenant(2, 'audio')
  await store.createTenant(a)
  await store.createTenant(b)
  return [a, b]
}

export function iamConformance(make: MakeStore): void {
  describe('IamStore', () => {
    it('updates a role in place; ROLE_NOT_FOUND for one that is not there', () =>
      using(make, async (store) => {
        const [a] = await withTenants(store)
        await store.createRole(roleOf(a, 'Trainer', 1))
        const changed = {
          ...roleOf(a, 'Trainer', 1),
          description: 'd',
          trustPolicy: '{"trust":2}',
          maxSessionSeconds: 7200,
        }
        await store.updateRole(changed)
        assert.deepEqual(await store.getRole(a.id, 'trainer'), changed)
        await assert.rejects(store.updateRole(roleOf(a, 'ghost', 2)), refused('ROLE_NOT_FOUND'))
      }))

    it('deletes a role only once it has no inline or attached policy, its tags with it', () =>
      using(make, async (store) => {
        const [a, b] = await withTenants(store)
        await store.createRole(roleOf(a, 'Trainer', 1))
        await store.createRole(roleOf(b, 'Trainer', 2))
        await store.tagResource(a.id, 'role', 'Trainer', [{ key: 'k', value: 'v' }], 50)
        await store.putRolePolicy({
          tenantId: a.id,
          roleName: 'Trainer',
          name: 'p',
          document: '{}',
        })
        await store.createPolicy(policyOf(a, 'shared', 3), '{"v":1}')
        await assert.rejects(store.deleteRole(a.id, 'trainer'), refused('DELETE_CONFLICT'))
        assert.equal(await store.deleteRolePolicy(a.id, 'Trainer', 'p'), true)
        assert.equal(await store.deleteRolePolicy(a.id, 'Trainer', 'p'), false)
        assert.equal(await store.attachPolicy(a.id, 'role', 'Trainer', 'shared', 10), true)
        await assert.rejects(store.deleteRole(a.id, 'Trainer'), refused('DELETE_CONFLICT'))
        assert.equal(await store.detachPolicy(a.id, 'role', 'Trainer', 'shared'), true)
        assert.equal(await store.detachPolicy(a.id, 'role', 'Trainer', 'shared'), false)
        await store.deleteRole(a.id, 'TRAINER')
        assert.equal(await store.getRole(a.id, 'Trainer'), undefined)
        assert.deepEqual(await store.listTags(a.id, 'role', 'Trainer'), [])
        // The other tenant's role of the same name is untouched.
        assert.deepEqual(await store.getRole(b.id, 'Trainer'), roleOf(b, 'Trainer', 2))
        await assert.rejects(store.deleteRole(a.id, 'Trainer'), refused('ROLE_NOT_FOUND'))
      }))

    it('deletes a user only once it has no access key and no policy', () =>
      using(make, async (store) => {
        const [a] = await withTenants(store)
        await store.createUser(userOf(a, 'alice', 1))
        await store.createAccessKey({
          id: 'AKIA0000000000000001',
          tenantId: a.id,
          userName: 'alice',
          secret: Buffer.from('sealed'),
          status: 'Active',
          createdAt: T0,
        })
        await store.putUserPolicy({ tenantId: a.id, userName: 'alice', name: 'p', document: '{}' })
        await assert.rejects(store.deleteUser(a.id, 'alice'), refused('DELETE_CONFLICT'))
        await store.deleteAccessKey('AKIA0000000000000001')
        await assert.rejects(store.deleteUser(a.id, 'alice'), refused('DELETE_CONFLICT'))
        assert.equal(await store.deleteUserPolicy(a.id, 'alice', 'p'), true)
        await store.tagResource(a.id, 'user', 'alice', [{ key: 'k', value: 'v' }], 50)
        await store.deleteUser(a.id, 'alice')
        assert.equal(await store.getUser(a.id, 'alice'), undefined)
        assert.deepEqual(await store.listTags(a.id, 'user', 'alice'), [])
        await assert.rejects(store.deleteUser(a.id, 'alice'), refused('USER_NOT_FOUND'))
      }))

    it('finds users regardless of case and refuses a name taken in another case', () =>
      using(make, async (store) => {
        const [a] = await withTenants(store)
        await store.createUser(userOf(a, 'Alice', 1))
        assert.deepEqual(await store.getUser(a.id, 'alice'), userOf(a, 'Alice', 1))
        await assert.rejects(store.createUser(userOf(a, 'ALICE', 2)), refused('USER_EXISTS'))
      }))

    it('tags by key regardless of case, within a limit that writes nothing when passed', () =>
      using(make, async (store) => {
        const [a, b] = await withTenants(store)
        await store.tagResource(
          a.id,
          'role',
          'r',
          [
            { key: 'team', value: 'nlp' },
            { key: 'cost', value: '1' },
          ],
          3,
        )
        await store.tagResource(a.id, 'role', 'r', [{ key: 'TEAM', value: 'cv' }], 3)
        assert.deepEqual(await store.listTags(a.id, 'role', 'r'), [
          { key: 'cost', value: '1' },
          { key: 'TEAM', value: 'cv' },
        ])
        await assert.rejects(
          store.tagResource(
            a.id,
            'role',
            'r',
            [
              { key: 'x', value: '' },
              { key: 'y', value: '' },
            ],
            3,
          ),
          refused('LIMIT_EXCEEDED'),
        )
        assert.equal((await store.listTags(a.id, 'role', 'r')).length, 2)
        assert.deepEqual(await store.listTags(a.id, 'user', 'r'), [])
        assert.deepEqual(await store.listTags(b.id, 'role', 'r'), [])
        await store.untagResource(a.id, 'role', 'r', ['team', 'absent'])
        assert.deepEqual(await store.listTags(a.id, 'role', 'r'), [{ key: 'cost', value: '1' }])
      }))

    it('records an access key’s last use; undefined before', () =>
      using(make, async (store) => {
        const [a] = await withTenants(store)
        await store.createUser(userOf(a, 'alice', 1))
        const key = {
          id: 'AKIA0000000000000002',
          tenantId: a.id,
          userName: 'alice',
          secret: Buffer.from('sealed'),
          status: 'Active' as const,
          createdAt: T0,
        }
        await store.createAccessKey(key)
        assert.equal(await store.accessKeyUse(key.id), undefined)
        await store.recordAccessKeyUse(key.id, { at: T0 + 5, service: 's3', region: 'eu-west-1' })
        assert.deepEqual(await store.accessKeyUse(key.id), {
          at: T0 + 5,
          service: 's3',
          region: 'eu-west-1',
        })
        assert.deepEqual(
          { ...(await store.getAccessKey(key.id)), secret: undefined },
          { ...key, secret: undefined },
          'the key itself is unchanged',
        )
        await store.recordAccessKeyUse('AKIA0000000000000099', {
          at: 1,
          service: 's3',
          region: 'x',
        })
        assert.equal(await store.accessKeyUse('AKIA0000000000000099'), undefined)
      }))

    it('keeps managed policies per tenant, unique regardless of case, v1 the default', () =>
      using(make, async (store) => {
        const [a, b] = await withTenants(store)
        await store.createPolicy(policyOf(a, 'Read', 1), '{"v":1}')
        await store.createPolicy(policyOf(b, 'read', 2), '{"v":2}')
        await assert.rejects(
          store.createPolicy(policyOf(a, 'READ', 3), '{}'),
          refused('ENTITY_EXISTS'),
        )
        assert.deepEqual(await store.getPolicy(a.id, 'read'), policyOf(a, 'Read', 1))
        assert.deepEqual(await store.getPolicyVersion(a.id, 'Read', 1), {
          version: 1,
          document: '{"v":1}',
          createdAt: T0 + 1,
        })
        assert.deepEqual(await store.listPolicies(b.id), [
          { ...policyOf(b, 'read', 2), attachments: 0, boundaries: 0 },
        ])
        assert.equal(await store.getPolicy(a.id, 'ghost'), undefined)
      }))

    it('adds versions up to five, sets the default, and deletes all but the default', () =>
      using(make, async (store) => {
        const [a] = await withTenants(store)
        await store.createPolicy(policyOf(a, 'p', 1), '{"v":1}')
        assert.equal(await store.addPolicyVersion(a.id, 'p', '{"v":2}', T0 + 10, false), 2)
        assert.equal(await store.addPolicyVersion(a.id, 'p', '{"v":3}', T0 + 11, true), 3)
        assert.equal((await store.getPolicy(a.id, 'p'))?.defaultVersion, 3)
        assert.equal((await store.getPolicy(a.id, 'p'))?.updatedAt, T0 + 11)
        await store.addPolicyVersion(a.id, 'p', '{"v":4}', T0 + 12, false)
        await store.addPolicyVersion(a.id, 'p', '{"v":5}', T0 + 13, false)
        await assert.rejects(
          store.addPolicyVersion(a.id, 'p', '{"v":6}', T0 + 14, false),
          refused('LIMIT_EXCEEDED'),
        )
        assert.deepEqual(
          (await store.listPolicyVersions(a.id, 'p')).map((v) => v.version),
          [5, 4, 3, 2, 1],
        )
        await assert.rejects(store.deletePolicyVersion(a.id, 'p', 3), refused('DELETE_CONFLICT'))
        await assert.rejects(store.deletePolicy(a.id, 'p'), refused('DELETE_CONFLICT'))
        await store.deletePolicyVersion(a.id, 'p', 5)
        await assert.rejects(store.deletePolicyVersion(a.id, 'p', 5), refused('NO_SUCH_ENTITY'))
        // Numbers are not reused: the next is 6.
        assert.equal(await store.addPolicyVersion(a.id, 'p', '{"v":6}', T0 + 15, false), 6)
        await store.setDefaultPolicyVersion(a.id, 'p', 6, T0 + 16)
        await assert.rejects(
          store.setDefaultPolicyVersion(a.id, 'p', 9, T0 + 17),
          refused('NO_SUCH_ENTITY'),
        )
        for (const v of [1, 2, 3, 4]) await store.deletePolicyVersion(a.id, 'p', v)
        await store.deletePolicy(a.id, 'p')
        assert.equal(await store.getPolicy(a.id, 'p'), undefined)
        await assert.rejects(store.deletePolicy(a.id, 'p'), refused('NO_SUCH_ENTITY'))
      }))

    it('attaches to existing principals only, within a limit; the default version’s document is what counts', () =>
      using(make, async (store) => {
        const [a, b] = await withTenants(store)
        await store.createRole(roleOf(a, 'r', 1))
        await store.createUser(userOf(a, 'u', 2))
        await store.createPolicy(policyOf(a, 'p1', 3), '{"v":1}')
        await store.createPolicy(policyOf(a, 'p2', 4), '{"w":1}')
        assert.equal(await store.attachPolicy(a.id, 'role', 'ghost', 'p1', 10), false)
        assert.equal(await store.attachPolicy(a.id, 'role', 'r', 'ghost', 10), false)
        assert.equal(await store.attachPolicy(b.id, 'role', 'r', 'p1', 10), false)
        assert.equal(await store.attachPolicy(a.id, 'role', 'R', 'p1', 10), true)
        assert.equal(await store.attachPolicy(a.id, 'role', 'r', 'p1', 10), true)
        await assert.rejects(
          store.attachPolicy(a.id, 'role', 'r', 'p2', 1),
          refused('LIMIT_EXCEEDED'),
        )
        assert.deepEqual(await store.listAttachedPolicies(a.id, 'role', 'r'), [
          policyOf(a, 'p1', 3),
        ])
        assert.equal(await store.attachPolicy(a.id, 'user', 'u', 'p1', 10), true)
        assert.deepEqual(
          (await store.listPolicies(a.id)).map((p) => [p.name, p.attachments]),
          [
            ['p1', 2],
            ['p2', 0],
          ],
        )
        assert.deepEqual(await store.policyEntities(a.id, 'P1', 'attached'), [
          { kind: 'role', name: 'r', id: roleOf(a, 'r', 1).id, path: '/ml/' },
          { kind: 'user', name: 'u', id: userOf(a, 'u', 2).id, path: '/' },
        ])
        assert.deepEqual(await store.policyEntities(a.id, 'p1', 'boundary'), [])
        await assert.rejects(store.deletePolicy(a.id, 'p1'), refused('DELETE_CONFLICT'))
        await store.addPolicyVersion(a.id, 'p1', '{"v":2}', T0 + 20, true)
        assert.deepEqual(
          (await store.attachedDocuments(a.id, 'user', 'u')).map((d) => [
            d.policy.name,
            d.document,
          ]),
          [['p1', '{"v":2}']],
        )
        assert.deepEqual(await store.attachedDocuments(a.id, 'user', 'other'), [])
      }))
    it('sets and removes a permissions boundary; a policy in use as one cannot be deleted', () =>
      using(make, async (store) => {
        const [a, b] = await withTenants(store)
        await store.createRole(roleOf(a, 'Trainer', 1))
        await store.createUser(userOf(a, 'alice', 2))
        await store.createPolicy(policyOf(a, 'Bound', 3), '{"b":1}')
        assert.equal(await store.permissionsBoundary(a.id, 'role', 'Trainer'), undefined)
        assert.equal(await store.setPermissionsBoundary(a.id, 'role', 'trainer', 'bound'), true)
        assert.equal(await store.setPermissionsBoundary(a.id, 'user', 'alice', 'Bound'), true)
        assert.equal(await store.setPermissionsBoundary(a.id, 'role', 'ghost', 'Bound'), false)
        assert.equal(await store.setPermissionsBoundary(a.id, 'role', 'Trainer', 'ghost'), false)
        assert.equal(await store.setPermissionsBoundary(b.id, 'role', 'Trainer', 'Bound'), false)
        assert.deepEqual(await store.permissionsBoundary(a.id, 'role', 'Trainer'), {
          policy: policyOf(a, 'Bound', 3),
          document: '{"b":1}',
        })
        await store.addPolicyVersion(a.id, 'Bound', '{"b":2}', T0 + 9, true)
        assert.equal((await store.permissionsBoundary(a.id, 'user', 'alice'))?.document, '{"b":2}')
        assert.deepEqual(
          (await store.listPolicies(a.id)).map((p) => [p.name, p.attachments, p.boundaries]),
          [['Bound', 0, 2]],
        )
        assert.deepEqual(await store.policyEntities(a.id, 'bound', 'boundary'), [
          { kind: 'role', name: 'Trainer', id: roleOf(a, 'Trainer', 1).id, path: '/ml/' },
          { kind: 'user', name: 'alice', id: userOf(a, 'alice', 2).id, path: '/' },
        ])
        await store.deletePolicyVersion(a.id, 'Bound', 1)
        await assert.rejects(store.deletePolicy(a.id, 'Bound'), refused('DELETE_CONFLICT'))
        assert.equal(await store.setPermissionsBoundary(a.id, 'role', 'Trainer', null), true)
        assert.equal(await store.setPermissionsBoundary(a.id, 'user', 'alice', null), true)
        assert.equal(await store.permissionsBoundary(a.id, 'role', 'Trainer'), undefined)
        await store.deletePolicy(a.id, 'Bound')
      }))
  })
}
