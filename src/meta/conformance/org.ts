/** OrgStore conformance: policies by type and name, updates, deletion while attached, attachments. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import type { OrgPolicyRecord } from '../org.ts'
import { using, type MakeStore } from './fixtures.ts'

const scp = (n: number, name = `scp-${n}`): OrgPolicyRecord => ({
  id: `p-${String(n).padStart(8, '0')}`,
  type: 'SERVICE_CONTROL_POLICY',
  name,
  description: `policy ${n}`,
  content: `{"n":${n}}`,
  createdAt: 1_700_000_000_000 + n,
})

export function orgConformance(make: MakeStore): void {
  describe('OrgStore', () => {
    it('creates, reads, lists by name, updates and refuses a taken name per type', () =>
      using(make, async (store) => {
        const [a, b] = [scp(1, 'beta'), scp(2, 'alpha')]
        await store.createOrgPolicy(a)
        await store.createOrgPolicy(b)
        assert.deepEqual(await store.getOrgPolicy(a.id), a)
        assert.equal(await store.getOrgPolicy('p-none0000'), undefined)
        assert.deepEqual(
          (await store.listOrgPolicies()).map((p) => p.name),
          ['alpha', 'beta'],
        )
        await assert.rejects(store.createOrgPolicy(scp(3, 'beta')), (e) =>
          isStrongroomError(e, 'ENTITY_EXISTS'),
        )
        // The same name as another type's policy is allowed.
        await store.createOrgPolicy({ ...scp(4, 'beta'), type: 'RESOURCE_CONTROL_POLICY' })
        const changed = { ...a, name: 'gamma', description: 'd', content: '{}' }
        assert.equal(await store.updateOrgPolicy(changed), true)
        assert.deepEqual(await store.getOrgPolicy(a.id), changed)
        assert.equal(await store.updateOrgPolicy(scp(9)), false)
        await assert.rejects(store.updateOrgPolicy({ ...changed, name: 'alpha' }), (e) =>
          isStrongroomError(e, 'ENTITY_EXISTS'),
        )
      }))

    it('attaches policies to targets together, refuses a second attachment or a policy that is gone, detaches, and deletes only what is attached nowhere', () =>
      using(make, async (store) => {
        const p = scp(1)
        const managed = ['p-FullAWSAccess']
        await store.createOrgPolicy(p)
        assert.equal(
          await store.attachOrgPolicies('111122223333', ['p-FullAWSAccess', p.id], managed),
          'attached',
        )
        assert.equal(await store.attachOrgPolicies('r-abcd', [p.id], managed), 'attached')
        // One already attached: nothing changes.
        assert.equal(
          await store.attachOrgPolicies('r-abcd', ['p-FullAWSAccess', p.id], managed),
          'duplicate',
        )
        // A policy neither AWS's nor stored is never attached, nor what came with it.
        assert.equal(
          await store.attachOrgPolicies('r-abcd', ['p-FullAWSAccess', 'p-gone0000'], managed),
          'missing',
        )
        assert.deepEqual(await store.listOrgAttachments(), [
          { policyId: p.id, targetId: '111122223333' },
          { policyId: 'p-FullAWSAccess', targetId: '111122223333' },
          { policyId: p.id, targetId: 'r-abcd' },
        ])
        assert.equal(await store.deleteOrgPolicy(p.id), 'attached')
        const keep = { type: 'SERVICE_CONTROL_POLICY' as const, awsManaged: managed }
        // The target's last SCP is kept; without the rule it goes.
        assert.equal(await store.detachOrgPolicy('r-abcd', p.id, keep), 'last')
        assert.equal(await store.detachOrgPolicy('r-abcd', p.id), 'detached')
        assert.equal(await store.detachOrgPolicy('r-abcd', p.id), 'missing')
        assert.equal(await store.detachOrgPolicy('111122223333', p.id, keep), 'detached')
        assert.equal(await store.detachOrgPolicy('111122223333', 'p-FullAWSAccess', keep), 'last')
        assert.equal(await store.deleteOrgPolicy(p.id), 'deleted')
        assert.equal(await store.deleteOrgPolicy(p.id), 'missing')
        assert.deepEqual(await store.listOrgAttachments(), [
          { policyId: 'p-FullAWSAccess', targetId: '111122223333' },
        ])
      }))

    it('two detaches at once never take a target’s last two SCPs', () =>
      using(make, async (store) => {
        const managed = ['p-FullAWSAccess']
        const p = scp(1)
        await store.createOrgPolicy(p)
        const keep = { type: 'SERVICE_CONTROL_POLICY' as const, awsManaged: managed }
        for (let round = 0; round < 5; round++) {
          assert.equal(
            await store.attachOrgPolicies('111122223333', ['p-FullAWSAccess', p.id], managed),
            'attached',
          )
          const r = await Promise.all([
            store.detachOrgPolicy('111122223333', 'p-FullAWSAccess', keep),
            store.detachOrgPolicy('111122223333', p.id, keep),
          ])
          assert.deepEqual([...r].sort(), ['detached', 'last'], `round ${String(round)}`)
          const left = await store.listOrgAttachments()
          assert.equal(left.length, 1)
          await store.detachOrgPolicy('111122223333', left[0]?.policyId ?? '')
        }
      }))
  })
}
