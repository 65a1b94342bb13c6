/** OidcStore conformance: providers per tenant by issuer, audiences, thumbprints, inline JWKS. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import type { OidcProviderRecord } from '../oidc.ts'
import { tenant, using, type MakeStore } from './fixtures.ts'

const provider = (tenantId: string, url: string, n: number): OidcProviderRecord => ({
  tenantId,
  url,
  clientIds: ['sts.amazonaws.com'],
  thumbprints: ['a'.repeat(40)],
  jwks: n % 2 === 0 ? '{"keys":[]}' : null,
  createdAt: 1_700_000_000_000 + n,
})

export function oidcConformance(make: MakeStore): void {
  describe('OidcStore', () => {
    it('keeps providers per tenant by issuer; ENTITY_EXISTS for the same issuer twice', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        const b = tenant(2, 'audio')
        await store.createTenant(a)
        await store.createTenant(b)
        await store.createOidcProvider(provider(a.id, 'token.example.com', 1))
        await store.createOidcProvider(provider(a.id, 'idp.example.com/realms/ml', 2))
        await store.createOidcProvider(provider(b.id, 'token.example.com', 3))
        await assert.rejects(
          store.createOidcProvider(provider(a.id, 'token.example.com', 4)),
          (e) => isStrongroomError(e, 'ENTITY_EXISTS'),
        )
        assert.deepEqual(
          await store.getOidcProvider(a.id, 'idp.example.com/realms/ml'),
          provider(a.id, 'idp.example.com/realms/ml', 2),
        )
        assert.deepEqual(
          (await store.listOidcProviders(a.id)).map((p) => p.url),
          ['idp.example.com/realms/ml', 'token.example.com'],
        )
        assert.equal(await store.getOidcProvider(a.id, 'other.example.com'), undefined)
        await store.tagResource(
          a.id,
          'oidc-provider',
          'token.example.com',
          [{ key: 'k', value: 'v' }],
          50,
        )
        assert.equal(await store.deleteOidcProvider(a.id, 'token.example.com'), true)
        assert.equal(await store.deleteOidcProvider(a.id, 'token.example.com'), false)
        assert.deepEqual(await store.listTags(a.id, 'oidc-provider', 'token.example.com'), [])
        assert.deepEqual(
          await store.getOidcProvider(b.id, 'token.example.com'),
          provider(b.id, 'token.example.com', 3),
        )
      }))

    it('adds and removes audiences within a limit, and replaces thumbprints', () =>
      using(make, async (store) => {
        const a = tenant(1, 'vision')
        await store.createTenant(a)
        await store.createOidcProvider(provider(a.id, 'token.example.com', 1))
        assert.equal(await store.addOidcClientId(a.id, 'token.example.com', 'ci', 3), true)
        assert.equal(await store.addOidcClientId(a.id, 'token.example.com', 'ci', 3), true)
        assert.equal(await store.addOidcClientId(a.id, 'token.example.com', 'k8s', 3), true)
        await assert.rejects(store.addOidcClientId(a.id, 'token.example.com', 'x', 3), (e) =>
          isStrongroomError(e, 'LIMIT_EXCEEDED'),
        )
        assert.equal(await store.addOidcClientId(a.id, 'ghost', 'ci', 3), false)
        assert.deepEqual((await store.getOidcProvider(a.id, 'token.example.com'))?.clientIds, [
          'sts.amazonaws.com',
          'ci',
          'k8s',
        ])
        assert.equal(await store.removeOidcClientId(a.id, 'token.example.com', 'ci'), true)
        assert.equal(await store.removeOidcClientId(a.id, 'ghost', 'ci'), false)
        assert.equal(
          await store.setOidcThumbprints(a.id, 'token.example.com', ['b'.repeat(40)]),
          true,
        )
        assert.equal(await store.setOidcThumbprints(a.id, 'ghost', []), false)
        const p = await store.getOidcProvider(a.id, 'token.example.com')
        assert.deepEqual(p?.clientIds, ['sts.amazonaws.com', 'k8s'])
        assert.deepEqual(p.thumbprints, ['b'.repeat(40)])
      }))
  })
}
