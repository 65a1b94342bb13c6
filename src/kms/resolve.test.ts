import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { KeyRecord } from '../meta/store.ts'
import { resolveKey, type KeyLookup } from './resolve.ts'

const A = '111111111111'
const B = '222222222222'
const key = (id: string, tenantId: string, alias: string | null): KeyRecord =>
  ({ id, tenantId, alias, state: 'Enabled' }) as unknown as KeyRecord
const keys = [key('k-a', A, 'alias/a'), key('k-b', B, 'alias/b')]
const lookup: KeyLookup = {
  getKey: (id) => Promise.resolve(keys.find((k) => k.id === id)),
  getKeyByAlias: (t, alias) =>
    Promise.resolve(keys.find((k) => k.tenantId === t && k.alias === alias)),
}

describe('resolveKey', () => {
  it('finds a tenant key by id, alias, key ARN and alias ARN', async () => {
    for (const ref of [
      'k-a',
      'alias/a',
      `arn:aws:kms:us-east-1:${A}:key/k-a`,
      `arn:aws:kms:us-east-1:${A}:alias/a`,
    ])
      assert.equal((await resolveKey(lookup, A, ref))?.id, 'k-a', ref)
  })
  it("answers another tenant's key exactly as a missing one: undefined", async () => {
    for (const ref of [
      'k-b',
      'alias/b',
      `arn:aws:kms:us-east-1:${B}:key/k-b`,
      `arn:aws:kms:us-east-1:${A}:key/k-b`,
      'nope',
    ])
      assert.equal(await resolveKey(lookup, A, ref), undefined, ref)
  })
})
