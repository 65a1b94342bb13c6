/** GroupStore conformance: groups, members, inline policies, and what reaches a member. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError, type ErrorCode } from '../../errors.ts'
import type { GroupRecord } from '../groups.ts'
import type { TenantRecord, UserRecord } from '../identity.ts'
import { tenant, using, type MakeStore } from './fixtures.ts'

const T0 = 1_700_000_000_000

const groupOf = (t: TenantRecord, name: string, n: number, path = '/'): GroupRecord => ({
  tenantId: t.id,
  name,
  id: `AGPA${String(n).padStart(17, '0')}`,
  path,
  createdAt: T0 + n,
})

const userOf = (t: TenantRecord, name: string, n: number): UserRecord => ({
  tenantId: t.id,
  name,
  id: `AIDA${String(n).padStart(16, '0')}`,
  createdAt: T0 + n,
})

const refused = (code: ErrorCode) => (e: unknown) => isStrongroomError(e, code)

export function groupsConformance(make: MakeStore): void {
  describe('GroupStore', () => {
    it('keeps groups per tenant, unique regardless of case, listed by name', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        const b = tenant(2, 'audio')
        await store.createTenant(a)
        await store.createTenant(b)
        await store.createGroup(groupOf(a, 'Readers', 1, '/ml/'))
        await store.createGroup(groupOf(a, 'admins', 2))
        await store.createGroup(groupOf(b, 'readers', 3))
        await assert.rejects(store.createGroup(groupOf(a, 'READERS', 4)), refused('ENTITY_EXISTS'))
        assert.deepEqual(await store.getGroup(a.id, 'readers'), groupOf(a, 'Readers', 1, '/ml/'))
        assert.deepEqual(
          (await store.listGroups(a.id)).map((g) => g.name),
          ['admins', 'Readers'],
        )
        assert.equal(await store.getGroup(a.id, 'ghost'), undefined)
      }))

    it('adds members of the same tenant only, within a limit, and lists both ways', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        const b = tenant(2, 'audio')
        await store.createTenant(a)
        await store.createTenant(b)
        await store.createUser(userOf(a, 'alice', 1))
        await store.createUser(userOf(b, 'bob', 2))
        await store.createGroup(groupOf(a, 'g1', 1))
        await store.createGroup(groupOf(a, 'g2', 2))
        assert.equal(await store.addUserToGroup(a.id, 'g1', 'alice', 10), true)
        assert.equal(await store.addUserToGroup(a.id, 'G1', 'ALICE', 10), true)
        assert.equal(await store.addUserToGroup(a.id, 'g1', 'bob', 10), false)
        assert.equal(await store.addUserToGroup(a.id, 'ghost', 'alice', 10), false)
        await assert.rejects(
          store.addUserToGroup(a.id, 'g2', 'alice', 1),
          refused('LIMIT_EXCEEDED'),
        )
        assert.deepEqual(await store.groupMembers(a.id, 'g1'), ['alice'])
        assert.deepEqual(await store.groupMembers(a.id, 'g2'), [])
        assert.deepEqual(
          (await store.groupsOfUser(a.id, 'alice')).map((g) => g.name),
          ['g1'],
        )
        await assert.rejects(store.deleteUser(a.id, 'alice'), refused('DELETE_CONFLICT'))
        await assert.rejects(store.deleteGroup(a.id, 'g1'), refused('DELETE_CONFLICT'))
        assert.equal(await store.removeUserFromGroup(a.id, 'g1', 'alice'), true)
        assert.equal(await store.removeUserFromGroup(a.id, 'g1', 'alice'), false)
        await store.deleteGroup(a.id, 'g1')
        assert.equal(await store.getGroup(a.id, 'g1'), undefined)
        await assert.rejects(store.deleteGroup(a.id, 'g1'), refused('NO_SUCH_ENTITY'))
      }))

    it('keeps inline policies; a member gets every group policy, inline and attached (default version)', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        await store.createTenant(a)
        await store.createUser(userOf(a, 'alice', 1))
        await store.createGroup(groupOf(a, 'g1', 1))
        await store.createGroup(groupOf(a, 'g2', 2))
        const p = (groupName: string, name: string, document: string) => ({
          tenantId: a.id,
          groupName,
          name,
          document,
        })
        await store.putGroupPolicy(p('g1', 'b', '{"v":1}'))
        await store.putGroupPolicy(p('g1', 'a', '{"v":2}'))
        await store.putGroupPolicy(p('g1', 'b', '{"v":3}'))
        assert.deepEqual(await store.listGroupPolicies(a.id, 'g1'), [
          p('g1', 'a', '{"v":2}'),
          p('g1', 'b', '{"v":3}'),
        ])
        await store.createPolicy(
          {
            tenantId: a.id,
            name: 'm',
            id: 'ANPA00000000000000001',
            path: '/x/',
            description: '',
            defaultVersion: 1,
            createdAt: T0,
            updatedAt: T0,
          },
          '{"m":1}',
        )
        assert.equal(await store.attachPolicy(a.id, 'group', 'g2', 'm', 10), true)
        assert.deepEqual(await store.policyEntities(a.id, 'm', 'attached'), [
          { kind: 'group', name: 'g2', id: groupOf(a, 'g2', 2).id, path: '/' },
        ])
        assert.deepEqual(await store.groupPolicyDocuments(a.id, 'alice'), [])
        await store.addUserToGroup(a.id, 'g1', 'alice', 10)
        await store.addUserToGroup(a.id, 'g2', 'alice', 10)
        assert.deepEqual(await store.groupPolicyDocuments(a.id, 'alice'), [
          { group: 'g1', kind: 'inline', name: 'a', document: '{"v":2}' },
          { group: 'g1', kind: 'inline', name: 'b', document: '{"v":3}' },
          { group: 'g2', kind: 'managed', name: '/x/m', document: '{"m":1}' },
        ])
        await assert.rejects(store.deleteGroup(a.id, 'g2'), refused('DELETE_CONFLICT'))
        assert.equal(await store.deleteGroupPolicy(a.id, 'g1', 'a'), true)
        assert.equal(await store.deleteGroupPolicy(a.id, 'g1', 'a'), false)
        await assert.rejects(store.putGroupPolicy(p('ghost', 'x', '{}')))
      }))
  })
}
