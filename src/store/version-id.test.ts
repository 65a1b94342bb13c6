import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isVersionId, newVersionId } from './objects.ts'

describe('version ids', () => {
  it('every id the store makes is one a client may name, and so is null', () => {
    for (let i = 0; i < 1000; i++) assert.equal(isVersionId(newVersionId()), true)
    assert.equal(isVersionId('null'), true)
  })

  // A CI run failed when an id began with `-`: `aws s3api get-object --version-id -5S…` took it
  // for an option (test/e2e/bucket-features.test.ts). One id in 64 would start so.
  it('no id starts with "-", so a command line never reads it as an option', () => {
    const firsts = new Set<string>()
    for (let i = 0; i < 20_000; i++) firsts.add(newVersionId().charAt(0))
    assert.equal(firsts.has('-'), false)
    assert.equal(firsts.size, 63)
  })

  it('anything else is not: wrong length, other characters, path tricks', () => {
    for (const bad of [
      '',
      'NULL',
      'a'.repeat(31),
      'a'.repeat(33),
      `${'a'.repeat(31)}/`,
      `../${'a'.repeat(29)}`,
    ])
      assert.equal(isVersionId(bad), false, bad)
    fc.assert(
      fc.property(fc.string({ minLength: 32, maxLength: 32 }), (s) =>
        assert.equal(isVersionId(s), /^[A-Za-z0-9_-]{32}$/.test(s)),
      ),
    )
  })
})
