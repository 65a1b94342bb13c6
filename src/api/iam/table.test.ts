/**
 * Every IAM declaration names a real IAM action (one the AWS SDK for JavaScript has a command
 * for), decides that very action (iam:NAME), once, and refuses parameters it does not take.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import * as iam from '@aws-sdk/client-iam'
import { onlyKnown } from '../protocols/query.ts'
import { IAM_OPERATIONS } from './table.ts'

it('names real IAM actions, each once, and decides iam:NAME', () => {
  const names = IAM_OPERATIONS.map((o) => o.name)
  assert.equal(new Set(names).size, names.length, 'no action is declared twice')
  assert.ok(names.length >= 77, String(names.length))
  for (const o of IAM_OPERATIONS) {
    assert.equal(o.service, 'iam', o.name)
    assert.equal(o.action, `iam:${o.name}`, o.name)
    assert.equal(typeof (iam as Record<string, unknown>)[`${o.name}Command`], 'function', o.name)
  }
})

it('refuses a parameter an action does not take (a misspelt one is never ignored)', () => {
  for (const o of IAM_OPERATIONS)
    assert.throws(
      () => onlyKnown(new Map([['PolicyDocumnet', '{}']]), o.name, o.params),
      /does not take the parameter PolicyDocumnet/,
      o.name,
    )
})
