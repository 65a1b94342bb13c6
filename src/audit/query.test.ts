/**
 * Audit query filters: each filter alone selects exactly the events it names, and they combine
 * with AND; times parse as ISO 8601 or ages; sources match by address, IPv4 CIDR block or VPC
 * endpoint (CloudTrail's sourceIPAddress and vpcEndpointId fields:
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AuditEvent } from './event.ts'
import { checkFilter, matches, parseTime, sourceMatches, type EventFilter } from './query.ts'
import { sampleEvent } from './sinks/testing.ts'

const user = (account: string, name: string): AuditEvent['userIdentity'] => ({
  type: 'IAMUser',
  principalId: 'AIDAEXAMPLE',
  arn: `arn:aws:iam::${account}:user/${name}`,
  accountId: account,
})
const A = '111122223333'
const B = '444455556666'
const events: AuditEvent[] = [
  {
    ...sampleEvent(0),
    userIdentity: user(A, 'alice'),
    eventTime: '2026-12-01T10:00:00Z',
    recipientAccountId: A,
  },
  {
    ...sampleEvent(1, { eventName: 'DeleteObject', decision: 'ImplicitDeny' }),
    userIdentity: user(B, 'bob'),
    eventTime: '2026-12-01T11:00:00Z',
    errorCode: 'AccessDenied',
    sourceIPAddress: '10.1.2.3',
    recipientAccountId: A,
  },
  {
    ...sampleEvent(2),
    eventTime: '2026-12-01T12:00:00Z',
    vpcEndpointId: 'vpce-0abc',
    recipientAccountId: B,
    strongroom: {
      ...sampleEvent(2).strongroom,
      evaluations: [{ action: 's3:GetObject', resource: 'x', decision: 'Allow' }],
    },
  },
]
const pick = (f: EventFilter) =>
  events.filter((e) => matches(e, checkFilter(f))).map((e) => e.requestID)

describe('audit query filters', () => {
  it('each filter alone', () => {
    assert.deepEqual(pick({}), ['req-0', 'req-1', 'req-2'])
    assert.deepEqual(pick({ since: Date.parse('2026-12-01T11:00:00Z') }), ['req-1', 'req-2'])
    assert.deepEqual(pick({ until: Date.parse('2026-12-01T11:00:00Z') }), ['req-0'])
    assert.deepEqual(pick({ account: B }), ['req-1', 'req-2'])
    assert.deepEqual(pick({ principal: `arn:aws:iam::${A}:user/alice` }), ['req-0'])
    assert.deepEqual(pick({ principal: 'arn:aws:iam::4*' }), ['req-1'])
    assert.deepEqual(pick({ action: 'DeleteObject' }), ['req-1'])
    assert.deepEqual(pick({ action: 's3:GetObject' }), ['req-2'])
    assert.deepEqual(pick({ resourcePrefix: 'arn:aws:s3:::models/weights/1' }), ['req-1'])
    assert.deepEqual(pick({ decision: 'ImplicitDeny' }), ['req-1'])
    assert.deepEqual(pick({ errorCode: 'AccessDenied' }), ['req-1'])
    assert.deepEqual(pick({ source: '10.0.0.0/8' }), ['req-1'])
    assert.deepEqual(pick({ source: '192.0.2.10' }), ['req-0', 'req-2'])
    assert.deepEqual(pick({ source: 'vpce-0abc' }), ['req-2'])
  })

  it('filters combine with AND', () => {
    assert.deepEqual(pick({ account: B, decision: 'Allow' }), ['req-2'])
    assert.deepEqual(pick({ account: A, errorCode: 'AccessDenied', source: '10.1.0.0/16' }), [
      'req-1',
    ])
    assert.deepEqual(pick({ account: A, source: '172.16.0.0/12' }), [])
  })

  it('times: ISO 8601 or an age before now; nonsense is a usage error', () => {
    const now = Date.parse('2026-12-01T12:00:00Z')
    assert.equal(parseTime('2026-12-01T10:00:00Z', now), Date.parse('2026-12-01T10:00:00Z'))
    assert.equal(parseTime('2h', now), Date.parse('2026-12-01T10:00:00Z'))
    assert.equal(parseTime('7d', now), now - 7 * 86400_000)
    assert.throws(() => parseTime('yesterday', now), /is not a time/)
    // Without its zone a time would depend on the machine's TZ (outside review of issue 15).
    assert.throws(() => parseTime('2026-12-01T10:00:00', now), /with its zone/)
    assert.equal(parseTime('2026-12-01T10:00:00+01:00', now), Date.parse('2026-12-01T09:00:00Z'))
    assert.equal(parseTime('2026-12-01', now), Date.parse('2026-12-01T00:00:00Z'))
    assert.throws(() => checkFilter({ source: '127.0.0.1/33' }), /not an IPv4 CIDR block/)
    assert.throws(() => checkFilter({ since: 2, until: 1 }), /--since must be before --until/)
    assert.throws(() => checkFilter({ source: '10.0.0.0/8x' }), /not an IPv4 CIDR block/)
  })

  it('CIDR blocks at their edges', () => {
    assert.equal(sourceMatches('10.0.0.0/8', '10.255.255.255', undefined), true)
    assert.equal(sourceMatches('10.0.0.0/8', '11.0.0.0', undefined), false)
    assert.equal(sourceMatches('0.0.0.0/0', '203.0.113.9', undefined), true)
    assert.equal(sourceMatches('192.0.2.10/32', '192.0.2.10', undefined), true)
    assert.equal(sourceMatches('192.0.2.10/32', '192.0.2.11', undefined), false)
    assert.equal(sourceMatches('10.0.0.0/33', '10.0.0.1', undefined), false)
  })
})
