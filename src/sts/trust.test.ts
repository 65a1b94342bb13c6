/**
 * Whether a role trusts its own account, as the IAM engine decides a trust policy
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RoleRecord } from '../meta/identity.ts'
import { accountMayAssume } from './trust.ts'

const A = '111122223333'
const role = (Statement: object[]): RoleRecord => ({
  tenantId: A,
  name: 'trainer',
  id: 'AROAEXAMPLEEXAMPLE123',
  path: '/',
  description: '',
  trustPolicy: JSON.stringify({ Version: '2012-10-17', Statement }),
  maxSessionSeconds: 3600,
  createdAt: 0,
})
const assume = (principal: object, extra: object = {}) => ({
  Effect: 'Allow',
  Principal: principal,
  Action: 'sts:AssumeRole',
  ...extra,
})
const decide = (r: RoleRecord, session = 'run-1') =>
  accountMayAssume(r, session, Date.UTC(2026, 11, 2)).decision

describe('accountMayAssume', () => {
  it('a trust policy naming the account, by id or root ARN: Allow', () => {
    assert.equal(decide(role([assume({ AWS: A })])), 'Allow')
    assert.equal(decide(role([assume({ AWS: `arn:aws:iam::${A}:root` })])), 'Allow')
  })

  it('naming only a user, another account or a service: ImplicitDeny', () => {
    assert.equal(decide(role([assume({ AWS: `arn:aws:iam::${A}:user/alice` })])), 'ImplicitDeny')
    assert.equal(decide(role([assume({ AWS: '444455556666' })])), 'ImplicitDeny')
    assert.equal(decide(role([assume({ Service: 'ec2.amazonaws.com' })])), 'ImplicitDeny')
  })

  it('a Deny for everyone wins: ExplicitDeny', () => {
    const r = role([
      assume({ AWS: A }),
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
    ])
    assert.equal(decide(r), 'ExplicitDeny')
  })

  it('conditions on sts:RoleSessionName are read', () => {
    const r = role([
      assume({ AWS: A }, { Condition: { StringLike: { 'sts:RoleSessionName': 'train-*' } } }),
    ])
    assert.equal(decide(r, 'train-7'), 'Allow')
    assert.equal(decide(r, 'run-7'), 'ImplicitDeny')
  })
})
